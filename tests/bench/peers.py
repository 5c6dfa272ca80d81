#!/usr/bin/env python3
"""mod_meeting next to the Go peer (issue 18), in one run: make bench-peers.

The peers rig (a folder outside the repository: PEERS_SRC, default
../shared/peers next to the checkout) is copied into build/peers and set up
there (its setup.sh: Go, gin, pgx from Debian, then builds). This script then
brings up mod_meeting's benchmark stack (tests/bench/bench.py's Stack, seed
and tokens, the template's MPM and DBD sizing), with PostgreSQL's durability
off as the rig's own PostgreSQL has it, and for each round runs the rig's
run.sh on the Go peer and mod_meeting, in alternating order (go, mm / mm, go),
plus, in the same round, mod_meeting's bare one-query mod_dbd handler and
request B with every sender in one meeting (a hot meeting) for both. It prints
the ratios with the issue's goals, writes results to build/bench/peers/ and
draws two charts into docs/ (gnuplot).

Environment: PEERS_SRC (the rig), PEERS_ROUNDS=4, PEERS_DURATION=10,
PEERS_WARMUP=3, PEERS_CHARTS=docs (where the SVGs go; empty: none).
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from bench import ROOT, Data, Stack, log, run  # noqa: E402

RIG_SRC = Path(os.environ.get("PEERS_SRC") or ROOT.parent / "shared" / "peers")
RIG = ROOT / "build" / "peers"
ROUNDS = int(os.environ.get("PEERS_ROUNDS", "4"))
DURATION = int(os.environ.get("PEERS_DURATION", "10"))
WARMUP = int(os.environ.get("PEERS_WARMUP", "3"))
CHARTS = os.environ.get("PEERS_CHARTS", str(ROOT / "docs"))
OUT = ROOT / "build" / "bench" / "peers"
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
GO_PORT = 18081

# mod_meeting as the template ships it (conf/httpd.conf.in: MPM and DBD
# sizing), plus what a fair comparison needs: rate limits out of the way, the
# reference handler. Keep-alive (100 requests a connection) and the access
# log stay as the template has them (the Go peer keeps every connection and
# writes no log).
EXTRA = """
MeetingRateLimit * 60000000/min
MeetingBcryptCost 4
MeetingRateLimitSlots 65536
LoadModule bench_bare_module "{bare}"
<Location /bench/dbd>
    SetHandler bench-dbd
</Location>
"""
DURABILITY_OFF = ("-c shared_buffers=512MB -c fsync=off -c synchronous_commit=off "
                  "-c full_page_writes=off")


class PeersStack(Stack):
    def pg_start(self):
        run(bench.STACK, "pg-start", self.pgdir, self.pgport, DURABILITY_OFF)
        self.pg_started = True
        run(bench.STACK, "migrate", self.pgport)

    def httpd_start(self, limits="raised"):
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        extra = self.state / "extra.conf"
        extra.write_text(EXTRA.format(bare=bench.BARE_SO))
        run(bench.STACK, "render", self.state, self.port, self.pgport, self.sigport, extra)
        r = run(bench.HTTPD, "-f", self.conf, "-k", "start", check=False)
        if r.returncode != 0:
            raise RuntimeError("httpd did not start: " + r.stderr + self.error_log())
        self.httpd_up = True
        self.wait_up()


# --- the rig ----------------------------------------------------------------------

def rig_copy():
    if not (RIG_SRC / "run.sh").is_file():
        sys.exit(f"bench-peers: the peers rig is not at {RIG_SRC} (its run.sh is missing): "
                 "set PEERS_SRC to the folder that holds it (it is not part of the "
                 "repository)")
    RIG.mkdir(parents=True, exist_ok=True)
    for src in RIG_SRC.iterdir():
        if src.name in (".run", "results") or src.name.startswith("."):
            continue
        dst = RIG / src.name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    run("chmod", "-R", "u+w", RIG)
    if not (RIG / "go" / "peer-go").exists():
        log(f"setting up the rig in {RIG} (setup.sh: Debian packages, builds)")
        r = run(RIG / "setup.sh", check=False, capture_output=False)
        if r.returncode:
            sys.exit("bench-peers: the rig's setup.sh failed")


def rig(cmd, env=None, **kw):
    """A command in a shell that has sourced the rig's lib.sh."""
    return run("bash", "-c", f". {RIG}/lib.sh; {cmd}",
               env={**os.environ, "PEERS_KEEP_PG": "1", **(env or {})}, **kw)


def rig_value(name):
    return rig(f'echo "${name}"').stdout.strip()


# --- measuring ----------------------------------------------------------------------

def pgroup_pids(pgid):
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                out.append(int(p.name))
    return out


def tree_pids(root):
    return [root] + [p for p, _ in bench.children(root)]


def ticks(pids):
    return bench.cpu_ticks(pids)


def parse_wrk(text):
    def ms(v):
        for unit, f in (("us", 1e-3), ("ms", 1), ("s", 1e3), ("m", 6e4)):
            if v.endswith(unit):
                return float(v[:-len(unit)]) * f
        return float(v)
    res = {"pct": {}}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in ("50%", "75%", "90%", "99%"):
            res["pct"][f[0]] = ms(f[1])
        elif line.startswith("Requests/sec:"):
            res["rps"] = float(f[1])
        elif " requests in " in line:
            res["requests"] = int(f[0])
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errs += sum(map(int, m.groups())) if m else 0
    res["errors"] = errs
    return res


def measure(url, script, tokens, srv_pids, pg_root, label):
    """wrk --latency -t2 -c64 as the rig runs it, with the CPU of the server's
    processes and of PostgreSQL per request, and the load average."""
    env = {**os.environ, "TOKENS_FILE": str(tokens), "WRK_LUA_DIR": str(RIG / "wrk")}
    args = ["wrk", "--latency", "-t2", "-c64", "--timeout", "5s", "-s", str(script), url]
    subprocess.run(args[:1] + [f"-d{WARMUP}s"] + args[1:], env=env, capture_output=True)
    time.sleep(1)
    srv, pg = srv_pids(), tree_pids(pg_root)
    s0, p0, load0 = ticks(srv), ticks(pg), os.getloadavg()[0]
    r = subprocess.run(args[:1] + [f"-d{DURATION}s"] + args[1:], env=env,
                       capture_output=True, text=True)
    srv, pg = srv_pids(), tree_pids(pg_root)
    s1, p1 = ticks(srv), ticks(pg)
    res = parse_wrk(r.stdout)
    n = max(1, res.get("requests", 0))
    res.update(label=label, srv_us=(s1 - s0) * TICK_US / n, pg_us=(p1 - p0) * TICK_US / n,
               load=round((load0 + os.getloadavg()[0]) / 2, 2))
    log(f"  {label}: {res.get('rps', 0):.0f} req/s, p50 {res['pct'].get('50%', 0):.2f} ms, "
        f"p99 {res['pct'].get('99%', 0):.2f} ms, errors {res['errors']}, "
        f"srv {res['srv_us']:.0f} us/req, pg {res['pg_us']:.0f} us/req, load {res['load']}")
    return res


def rig_round(order, stack, tokens, rnd):
    """The rig's own run.sh, one round, targets in this order: its rows."""
    env = {"ROUNDS": "1", "DURATION": str(DURATION), "WARMUP": str(WARMUP),
           "MM_URL": f"http://127.0.0.1:{stack.port}", "MM_TOKENS_FILE": str(tokens),
           "MM_JWT_SECRET": stack_secret(stack).decode(),
           "MM_PGID": str(stack.httpd_pid()), "MM_PG_POSTMASTER": str(stack.pg_pids()[0]),
           "PEERS_KEEP_PG": "1"}
    r = run(RIG / "run.sh", *order, env={**os.environ, **env}, check=False)
    sys.stderr.write(r.stderr[-3000:])
    m = re.search(r"raw wrk output, smoke logs and versions: (\S+)", r.stdout)
    if r.returncode or not m:
        raise RuntimeError(f"the rig's run.sh failed ({r.returncode}): {r.stdout[-2000:]}")
    out = Path(m.group(1))
    rows = list(csv.DictReader(open(out / "results.tsv"), delimiter="\t"))
    for row in rows:
        wrk_out = out / f"{row['target']}-{row['request']}-r1.txt"
        row["pct"] = parse_wrk(wrk_out.read_text())["pct"] if wrk_out.exists() else {}
        row["round"] = rnd
    return rows, out


def stack_secret(stack):
    return (stack.state / "jwt.secret").read_bytes().rstrip()


# --- tokens -------------------------------------------------------------------------

def mm_tokens(stack, data, work):
    """meeting_id user_id token: 10,000 memberships of open-chat meetings (the
    rig's request B needs chat on and a scheduled or ongoing meeting), and the
    1,000 members of one big ongoing meeting (the hot meeting)."""
    rng = data.rng
    pairs = [(m, u) for u, m in data.member_pairs if m % 10 != 0]
    rng.shuffle(pairs)
    spread = work / "mm-tokens.txt"
    spread.write_text("".join(f"{m} {u} {data.tokens[u]}\n" for m, u in pairs[:10000]))
    big = bench.BIG_MEETINGS[0]
    hot_users = stack.psql(f"SELECT user_id FROM participants WHERE meeting_id = {big} "
                           "AND removed_at IS NULL").split()
    hot = work / "mm-hot-tokens.txt"
    hot.write_text("".join(f"{big} {u} {data.tokens[int(u)]}\n" for u in hot_users))
    return spread, hot


def go_hot_tokens(work):
    """The five members of the rig's meeting 1 (member k of meeting m is user
    ((m*7919 + k*1999) % 10000) + 1), as the rig mints them."""
    pairs = "".join(f"1 {((7919 + k * 1999) % 10000) + 1}\n" for k in range(5))
    secret = rig_value("JWT_SECRET")
    r = run("/usr/bin/python3", RIG / "tools" / "mktokens.py", "--secret", secret,
            input=pairs)
    path = work / "go-hot-tokens.txt"
    path.write_text(r.stdout)
    return path


# --- the extra measurements of a round ------------------------------------------------

def go_hot(tokens):
    pid = int(rig("start_peer go >/dev/null && echo $PEER_PID").stdout.split()[-1])
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            if subprocess.run(["curl", "-s", "-o", "/dev/null",
                               f"http://127.0.0.1:{GO_PORT}/"]).returncode == 0:
                break
            time.sleep(0.2)
        pg = int(rig("postmaster_pid").stdout.strip())
        return measure(f"http://127.0.0.1:{GO_PORT}/", RIG / "wrk" / "b.lua", tokens,
                       lambda: pgroup_pids(pid), pg, "go B hot")
    finally:
        rig(f"stop_peer {pid}", check=False)


def mm_extra(stack, hot_tokens, dbd_tokens):
    srv = lambda: pgroup_pids(stack.httpd_pid())  # noqa: E731
    pg = stack.pg_pids()[0]
    url = f"http://127.0.0.1:{stack.port}/"
    return [measure(url, RIG / "wrk" / "b.lua", hot_tokens, srv, pg, "mod_meeting B hot"),
            measure(url, HERE / "peers_dbd.lua", dbd_tokens, srv, pg,
                    "mod_meeting bare dbd")]


# --- the summary --------------------------------------------------------------------

def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def summarise(rows):
    """rows: dicts with target, request, rps, p50, p99, srv_us, pg_us, pct, load."""
    by = {}
    for r in rows:
        by.setdefault((r["target"], r["request"]), []).append(r)

    def m(key, field):
        return mean([r[field] for r in by.get(key, [])])

    out = []
    for key in sorted(by):
        rs = by[key]
        out.append({"target": key[0], "request": key[1], "rps": m(key, "rps"),
                    "rounds": [round(r["rps"]) for r in rs],
                    "p50": [r["p50"] for r in rs], "p99": [r["p99"] for r in rs],
                    "p99_mean": m(key, "p99"), "errors": sum(r["errors"] for r in rs),
                    "srv_us": m(key, "srv_us"), "pg_us": m(key, "pg_us"),
                    "load": [r["load"] for r in rs],
                    "pct": {p: mean([r["pct"].get(p) for r in rs])
                            for p in ("50%", "75%", "90%", "99%")}})
    return out


def ratio(s, a, b):
    x = next((r for r in s if (r["target"], r["request"]) == a), None)
    y = next((r for r in s if (r["target"], r["request"]) == b), None)
    return (x["rps"] / y["rps"], x, y) if x and y and y["rps"] else (None, x, y)


def report(rows, info):
    s = summarise(rows)
    lines = ["| target | request | req/s mean (per round) | p50 ms | p99 ms | errors | "
             "srv CPU µs/req | pg CPU µs/req | load avg |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in s:
        lines.append(
            f"| {r['target']} | {r['request']} | {r['rps']:,.0f} "
            f"({', '.join(f'{x:,}' for x in r['rounds'])}) | "
            f"{' / '.join(f'{x:.2f}' for x in r['p50'])} | "
            f"{' / '.join(f'{x:.1f}' for x in r['p99'])} | {r['errors']} | "
            f"{r['srv_us']:.0f} | {r['pg_us']:.0f} | "
            f"{' / '.join(f'{x:.1f}' for x in r['load'])} |")
    goals = []

    def goal(name, value, want, ok):
        goals.append((name, value, want, ok))

    ra, a, ga = ratio(s, ("mod_meeting", "A"), ("go", "A"))
    rb, b, gb = ratio(s, ("mod_meeting", "B"), ("go", "B"))
    rh = ratio(s, ("mod_meeting", "B hot"), ("go", "B hot"))[0]
    rd = ratio(s, ("mod_meeting", "A"), ("mod_meeting", "bare dbd"))[0]
    names = {"A": "A GET /meetings/:id", "B": "B POST /meetings/:id/messages"}
    for req, r, x, g in (("A", ra, a, ga), ("B", rb, b, gb)):
        if r is None:
            continue
        goal(f"{names[req]} vs Go", f"{r:.2f}×", "≥ 1.5×", r >= 1.5)
        if req == "A":
            goal("A p99 vs Go's", f"{x['p99_mean']:.1f} vs {g['p99_mean']:.1f} ms", "≤ Go's",
                 x["p99_mean"] <= g["p99_mean"])
        goal(f"{req} server CPU per request", f"{x['srv_us']:.0f} vs {g['srv_us']:.0f} µs",
             "below Go's", x["srv_us"] < g["srv_us"])
        goal(f"{req} PostgreSQL CPU per request", f"{x['pg_us']:.0f} vs {g['pg_us']:.0f} µs",
             "≤ Go's", x["pg_us"] <= g["pg_us"])
    if rh is not None:
        goal("B, one hot meeting, vs Go", f"{rh:.2f}×", "≥ 1.5×", rh >= 1.5)
    if rd is not None:
        goal("A vs the bare one-query mod_dbd handler", f"{rd:.2f}×", "≥ 0.8×", rd >= 0.8)
    glines = ["| goal | this run | wanted | |", "|---|---|---|---|"]
    glines += [f"| {n} | {v} | {w} | {'met' if ok else 'NOT met'} |" for n, v, w, ok in goals]
    text = ("\n".join(lines) + "\n\n" + "\n".join(glines) + "\n\n"
            f"{info['rounds']} rounds, order alternating (go first in odd rounds), "
            f"{DURATION} s measured after {WARMUP} s of warm-up, wrk -t2 -c64; "
            f"load average {info['load_start']:.1f} at the start, {info['load_end']:.1f} "
            f"at the end; PostgreSQL durability off for both; mod_meeting writes its "
            f"access log and closes a connection every 100 requests, the Go peer neither. {info['started']} UTC.\n")
    return text, s


def charts(s):
    if not CHARTS or not shutil.which("gnuplot"):
        log("gnuplot missing or PEERS_CHARTS empty: no charts")
        return
    d = Path(CHARTS)
    work = Path(tempfile.mkdtemp(prefix="mm-peers-plot-"))
    try:
        rows = []
        for name, (a, b) in (("A detail", (("mod_meeting", "A"), ("go", "A"))),
                             ("B send", (("mod_meeting", "B"), ("go", "B"))),
                             ("B hot meeting", (("mod_meeting", "B hot"), ("go", "B hot"))),
                             ("A ÷ bare dbd", (("mod_meeting", "A"),
                                               ("mod_meeting", "bare dbd")))):
            r = ratio(s, a, b)[0]
            if r is not None:
                rows.append(f'"{name}" {r:.3f} {1.5 if "bare" not in name else 0.8}\n')
        (work / "ratios.dat").write_text("".join(rows))
        lat = []
        for req in ("A", "B", "B hot"):
            for tgt in ("go", "mod_meeting"):
                r = next((x for x in s if (x["target"], x["request"]) == (tgt, req)), None)
                if r:
                    p = r["pct"]
                    who = "Go" if tgt == "go" else "mm"
                    lat.append(f'"{who} {req}" ' + " ".join(
                        f"{p.get(k) or 0:.2f}" for k in ("50%", "75%", "90%", "99%")) + "\n")
        (work / "latency.dat").write_text("".join(lat))
        script = f"""
set terminal svg size 860,380 font "sans,11" background rgb "white" noenhanced
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key outside right top
set output "{d}/bench-peers-ratios.svg"
set title "mod_meeting / the Go peer (A, B, B hot) and A / the bare handler, one run (bars); goals (marks)"
set ylabel "ratio of req/s"
set yrange [0:*]
plot "{work}/ratios.dat" using 2:xtic(1) title "ratio" lc rgb "#3b7dd8", \\
     "" using 0:3 with points pt 9 ps 2.5 lc rgb "#d83b3b" title "goal"
set output "{d}/bench-peers-latency.svg"
set title "Latency percentiles at 64 connections (ms, mean of rounds; log scale)"
set ylabel "ms"
set logscale y
set yrange [0.5:*]
plot "{work}/latency.dat" using 2:xtic(1) title "p50", "" using 3 title "p75", \\
     "" using 4 title "p90", "" using 5 title "p99"
"""
        (work / "plot.gp").write_text(script)
        run("gnuplot", work / "plot.gp")
        log(f"charts: {d}/bench-peers-ratios.svg, {d}/bench-peers-latency.svg")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    rig_copy()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mm-peers-"))
    work.chmod(0o755)
    stack = PeersStack(work)
    rows = []
    info = {"rounds": ROUNDS, "load_start": os.getloadavg()[0],
            "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    try:
        stack.pg_start()
        stack.psql(file=HERE / "seed.sql")
        stack.httpd_start()
        data = Data(stack, work)
        spread, hot = mm_tokens(stack, data, work)
        dbd = work / "dbd-ids.txt"
        dbd.write_text("".join(f"{m} 0 -\n" for m, _ in
                               (line.split(" ", 1) for line in spread.read_text().splitlines())))
        rig("ensure_run_dirs; pg_ensure; make_tokens")
        go_hot_file = go_hot_tokens(work)
        for rnd in range(1, ROUNDS + 1):
            order = ["go", "mod_meeting"] if rnd % 2 else ["mod_meeting", "go"]
            log(f"round {rnd}: {' then '.join(order)} (load average {os.getloadavg()[0]:.1f})")
            got, _ = rig_round(order, stack, spread, rnd)
            for g in got:
                rows.append({"target": g["target"], "request": g["request"],
                             "rps": float(g["rps"]), "p50": float(g["p50_ms"]),
                             "p99": float(g["p99_ms"]), "errors": int(g["errors"]),
                             "srv_us": int(g["srv_ticks"]) * TICK_US / max(1, int(g["requests"]))
                             if g["srv_ticks"] not in ("-", "") else None,
                             "pg_us": int(g["pg_ticks"]) * TICK_US / max(1, int(g["requests"]))
                             if g["pg_ticks"] not in ("-", "") else None,
                             "pct": g["pct"], "load": os.getloadavg()[0]})
            extra = []
            for t in order:
                extra += [go_hot(go_hot_file)] if t == "go" else mm_extra(stack, hot, dbd)
            for e in extra:
                tgt, req = e["label"].split(" ", 1)
                rows.append({"target": tgt, "request": req, "rps": e.get("rps", 0),
                             "p50": e["pct"].get("50%", 0), "p99": e["pct"].get("99%", 0),
                             "errors": e["errors"], "srv_us": e["srv_us"], "pg_us": e["pg_us"],
                             "pct": e["pct"], "load": e["load"]})
    finally:
        stack.stop()
        rig('as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" stop -m fast', check=False)
        shutil.rmtree(work, ignore_errors=True)
    info["load_end"] = os.getloadavg()[0]
    text, s = report(rows, info)
    print("\n" + text)
    (OUT / "results.txt").write_text(text)
    (OUT / "results.json").write_text(json.dumps({"info": info, "rows": rows, "summary": s},
                                                 indent=1, default=str))
    charts(s)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        sys.exit(f"bench-peers: {' '.join(map(str, e.cmd))} failed ({e.returncode}): "
                 f"{(e.stderr or '')[-2000:]}{(e.stdout or '')[-1000:]}")
