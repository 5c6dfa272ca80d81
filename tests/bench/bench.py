#!/usr/bin/env python3
"""The mod_meeting benchmark (issue 9). Run through tests/bench/run.sh (make bench),
which installs and builds what this needs; this script brings up a private
stack in a temporary directory on free ports, seeds it, runs the scenarios and
prints one table. Everything it started is stopped at the end, also on failure.

Environment (all optional):
  BENCH_DURATION=10        seconds per wrk / pgbench run
  BENCH_WARMUP=2           seconds of unrecorded warm-up before each scenario
  BENCH_CONCURRENCY=16,64  connection counts
  BENCH_ONLY=a,b           run only these scenarios (names as in the table)
  BENCH_SIG_CONNS=5000     signald connections (BENCH_SIG_ROOMS=100 rooms)
  BENCH_KEEP=1             leave the stack running at the end (prints how to stop it)
  BENCH_OUT=DIR            where results.json / results.txt go (build/bench)
  BENCH_DBD=4              DBDMin/DBDKeep/DBDMax of each httpd child
  BENCH_WORK=DIR           the stack's directory (run.sh passes one; default: a new one)
"""
import hashlib
import hmac
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STACK = ROOT / "scripts" / "stack.sh"
HTTPD = "/usr/sbin/apache2"
PGBIN = "/usr/lib/postgresql/15/bin"
BARE_SO = ROOT / "build" / "bench" / "mod_bench_bare.so"
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from conftest import free_port      # noqa: E402
from jwtutil import b64url          # noqa: E402
from procstat import busy_ticks, children, cpu_ticks, rss_kib    # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16,64").split(",")]
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
SIG_CONNS = int(os.environ.get("BENCH_SIG_CONNS", "5000"))
SIG_ROOMS = int(os.environ.get("BENCH_SIG_ROOMS", "100"))
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "build" / "bench"))
WRK_THREADS = 2
PASSWORD = "bench-password"

# Seed layout (tests/bench/seed.sql).
N_USERS = 10000
N_MEETINGS = 100000
CHAT_MEETING = 100001
BIG_MEETINGS = range(100002, 100022)
ROOMS_FIRST = 100022

# The stack's tuning for the benchmark (see docs/benchmarks.md): one event-MPM
# child per core with threads for c64, few PostgreSQL connections per child
# (BENCH_DBD, 4: on 2 cores more backends only add context switches), held
# open for the whole run; keep-alive without a request cap; no .htaccess
# lookups (as in Debian's own apache2.conf).
TUNING = """
<Directory />
    AllowOverride None
</Directory>
StartServers 2
ServerLimit 2
ThreadsPerChild 64
ThreadLimit 64
MaxRequestWorkers 128
MinSpareThreads 64
MaxSpareThreads 128
MaxKeepAliveRequests 0
DBDMin {dbd}
DBDKeep {dbd}
DBDMax {dbd}
DBDExptime 300
MeetingBcryptCost 4
MeetingRateLimitSlots 65536
LoadModule bench_bare_module "{bare}"
<Location /bench/fixed>
    SetHandler bench-fixed
</Location>
<Location /bench/dbd>
    SetHandler bench-dbd
</Location>
"""
DBD_PER_CHILD = int(os.environ.get("BENCH_DBD", "4"))
LIMITS = {
    "raised": "MeetingRateLimit * 60000000/min\n",
    "off": "MeetingRateLimit * off\n",
    "seed": "",
}


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def run(*args, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run([str(a) for a in args], **kw)


def jwt(secret, claims):
    """HS256, as mod_meeting/core/token.c signs and checks it."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


# --- processes and memory ------------------------------------------------------

def child_ticks():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * os.sysconf("SC_CLK_TCK")


# --- the stack -------------------------------------------------------------------

class Stack:
    def __init__(self, work):
        self.work = work
        self.pgdir = work / "pg"
        self.state = work / "httpd"
        self.pgport = free_port()
        self.port = free_port()
        self.sigport = free_port()
        self.pg_started = False
        self.httpd_up = False
        self.limits = None

    # PostgreSQL
    def pg_start(self):
        # Buffers for the whole seeded database (330 MB), as a production
        # server of this size would have: the scenarios measure the queries,
        # not reads from the kernel's page cache.
        run(STACK, "pg-start", self.pgdir, self.pgport, "-c shared_buffers=1GB")
        self.pg_started = True
        run(STACK, "migrate", self.pgport)

    def psql(self, sql=None, db="meeting", file=None, user="postgres"):
        args = ["psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h",
                "127.0.0.1", "-p", self.pgport, "-U", user, "-d", db]
        args += ["-f", file] if file else ["-c", sql]
        return run(*args).stdout

    def pg_pids(self):
        try:
            post = int(Path(self.pgdir, "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return []
        return [post] + [p for p, _ in children(post)]

    # httpd
    @property
    def conf(self):
        return self.state / "httpd.conf"

    def httpd_start(self, limits):
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        extra = self.state / "extra.conf"
        extra.write_text(TUNING.format(dbd=DBD_PER_CHILD, bare=BARE_SO) + LIMITS[limits])
        run(STACK, "render", self.state, self.port, self.pgport, self.sigport, extra)
        # A static file of the size of a meeting detail reply: the httpd ceiling.
        (self.state / "htdocs" / "bench.json").write_text(
            json.dumps({"code": 200, "data": {"meeting_id": 1, "title": "x" * 300}}))
        r = run(HTTPD, "-f", self.conf, "-k", "start", check=False)
        if r.returncode != 0:
            raise RuntimeError("httpd did not start: " + r.stderr + self.error_log())
        self.httpd_up = True
        self.limits = limits
        self.wait_up()

    def error_log(self):
        p = self.state / "logs" / "error.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    def wait_up(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /api/v1/health HTTP/1.0\r\nHost: x\r\n\r\n")
                    if b" 200 " in s.recv(100):
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("httpd did not come up\n" + self.error_log())
        # signald too (it is started by httpd)
        while time.time() < deadline:
            if self.signald_pid():
                try:
                    socket.create_connection(("127.0.0.1", self.sigport), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("signald did not come up\n" + self.error_log())

    def httpd_pid(self):
        try:
            return int((self.state / "httpd.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def httpd_stop(self):
        if not self.httpd_up:
            return
        pid = self.httpd_pid()
        run(HTTPD, "-f", self.conf, "-k", "stop", check=False)
        deadline = time.time() + 20
        while pid and time.time() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break
        self.httpd_up = False

    def workers(self):
        pid = self.httpd_pid()
        return [p for p, comm in children(pid)] if pid else []

    def httpd_children(self):
        pid = self.httpd_pid()
        return [p for p, comm in children(pid) if comm != "signald"] if pid else []

    def signald_pid(self):
        pid = self.httpd_pid()
        if not pid:
            return None
        for p, comm in children(pid):
            if comm == "signald":
                return p
        return None

    def memory(self):
        kids = self.httpd_children()
        sig = self.signald_pid()
        return {"httpd_children": len(kids),
                "httpd_rss_kib": sum(rss_kib(p) for p in kids),
                "signald_rss_kib": rss_kib(sig) if sig else 0}

    def stop(self):
        try:
            self.httpd_stop()
        finally:
            if self.pg_started:
                run(STACK, "pg-stop", self.pgdir, check=False)
                self.pg_started = False


# --- data for the scenarios --------------------------------------------------------

class Data:
    def __init__(self, stack, work):
        self.stack = stack
        self.dir = work / "requests"
        self.dir.mkdir()
        self.rng = random.Random(9)
        self.secret = (stack.state / "jwt.secret").read_bytes().rstrip()
        gens = stack.psql("SELECT user_id, token_gen FROM users ORDER BY user_id")
        self.gen = {int(u): int(g) for u, g in (l.split("\t") for l in gens.splitlines())}
        now = int(time.time())
        self.tokens = {u: jwt(self.secret, {
            "iss": "mod_meeting", "sub": str(u), "typ": "access", "gen": g, "iat": now,
            "exp": now + 3 * 3600, "jti": secrets.token_hex(16)}) for u, g in self.gen.items()}
        rows = stack.psql(f"SELECT user_id, meeting_id FROM participants "
                          f"WHERE meeting_id <= {N_MEETINGS} AND removed_at IS NULL")
        self.member_pairs = [tuple(map(int, l.split("\t"))) for l in rows.splitlines()]

    def write(self, name, lines):
        path = self.dir / f"{name}.txt"
        if len(lines) < WRK_THREADS:
            lines = lines * WRK_THREADS
        path.write_text("".join("\t".join(map(str, l)) + "\n" for l in lines))
        return path

    @staticmethod
    def lines_of(path):
        return [tuple(line.split("\t")) for line in path.read_text().splitlines() if line]

    def pairs(self, n, pred=lambda u, m: True):
        out = []
        while len(out) < n:
            u, m = self.rng.choice(self.member_pairs)
            if pred(u, m):
                out.append((u, m))
        return out

    def build(self):
        A = "/api/v1"
        n = 20000
        files = {}
        files["static file"] = self.write("static", [("GET", "/bench.json", "-", "-")])
        files["bare handler"] = self.write("fixed", [("GET", "/bench/fixed", "-", "-")])
        files["bare dbd query"] = self.write("dbd", [
            ("GET", f"/bench/dbd?id={self.rng.randint(1, N_MEETINGS)}", "-", "-")
            for _ in range(n)])
        files["meeting detail"] = self.write("detail", [
            ("GET", f"{A}/meetings/{m}", self.tokens[u], "-") for u, m in self.pairs(n)])
        users = [self.rng.randint(1, N_USERS) for _ in range(n)]
        files["list page 1"] = self.write("list", [
            ("GET", f"{A}/meetings?page=1&page_size=20", self.tokens[u], "-") for u in users])
        files["list keyword"] = self.write("list_kw", [
            ("GET", f"{A}/meetings?page=1&page_size=20&keyword={kw}", self.tokens[u], "-")
            for u, kw in zip(users, (self.rng.choice(["retro", "sync", "budget", "review"])
                                     for _ in users))])
        files["participants"] = self.write("participants", [
            ("GET", f"{A}/meetings/{m}/participants", self.tokens[u], "-")
            for u, m in self.pairs(n)])
        chat_users = [self.rng.randint(1, 1000) for _ in range(n)]
        files["chat page 1"] = self.write("chat1", [
            ("GET", f"{A}/meetings/{CHAT_MEETING}/messages?page=1&page_size=50",
             self.tokens[u], "-") for u in chat_users])
        files["chat page 100"] = self.write("chat100", [
            ("GET", f"{A}/meetings/{CHAT_MEETING}/messages?page=100&page_size=50",
             self.tokens[u], "-") for u in chat_users])
        # Chat is open in scheduled and ongoing meetings (m % 10 != 0 in the seed).
        files["send message"] = self.write("send", [
            ("POST", f"{A}/meetings/{m}/messages", self.tokens[u],
             json.dumps({"content": f"benchmark message from {u}"}))
            for u, m in self.pairs(n, lambda u, m: m % 10 != 0)])
        # What an Idempotency-Key costs (SPEC.md 9): the same sends, each with a
        # fresh key; and meeting creation with and without one.
        files["send message+key"] = self.write("send_key", [
            l + ("key",) for l in self.lines_of(files["send message"])])
        create = [("POST", f"{A}/meetings", self.tokens[u], json.dumps({
            "title": f"bench {u}", "start_time": "2030-01-01T10:00:00Z",
            "end_time": "2030-01-01T11:00:00Z", "max_participants": 10,
            "meeting_type": "video"})) for u in users]
        files["create meeting"] = self.write("create", create)
        files["create meeting+key"] = self.write("create_key", [l + ("key",) for l in create])
        files["join+leave"] = self.write("joinleave", self.join_leave())
        login_users = [self.rng.randint(1, N_USERS) for _ in range(2000)]
        files["login (bcrypt 10)"] = self.write("login", [
            ("POST", f"{A}/auth/login", "-",
             json.dumps({"username": f"bench{u}", "password": PASSWORD}))
            for u in login_users])
        return files

    def join_leave(self):
        """Seats of the big meetings, split between wrk threads; each thread joins a
        block of K seats, then leaves them in the same order, so a seat's leave
        follows its join by K requests of that thread (K far above the
        connections per thread, so the join has been answered). The leaves
        answer 200 only for a seat that is online: every 409 is a real error."""
        seats = []
        for idx, m in enumerate(BIG_MEETINGS):
            b = idx
            for j in range(1000):
                seats.append((((b * 1000 + j) % N_USERS) + 1, m))
        self.rng.shuffle(seats)
        k = 1000
        per_thread = [seats[t::WRK_THREADS] for t in range(WRK_THREADS)]
        seqs = []
        for part in per_thread:
            # wrk calls the first thread's request() once to check the script
            # and never sends that request: a health check takes that place,
            # so no leave ever lacks its join.
            seq = [("GET", "/api/v1/health", "-", "-")]
            for i in range(0, len(part) - k + 1, k):
                block = part[i:i + k]
                seq += [("POST", f"/api/v1/meetings/{m}/join", self.tokens[u], "-")
                        for u, m in block]
                seq += [("POST", f"/api/v1/meetings/{m}/leave", self.tokens[u], "-")
                        for u, m in block]
            seqs.append(seq)
        # Interleave: line i belongs to thread i % WRK_THREADS (requests.lua).
        n = min(len(s) for s in seqs)
        return [seqs[t][i] for i in range(n) for t in range(WRK_THREADS)]

    def tickets(self, conns, rooms):
        """(meeting, user, ticket) for the signaling rooms: room r seats users r*50+1.."""
        per_room = conns // rooms
        now = int(time.time())
        out = []
        for r in range(rooms):
            m = ROOMS_FIRST + r
            for j in range(per_room):
                u = r * 50 + j + 1
                out.append((m, u, jwt(self.secret, {
                    "iss": "mod_meeting", "sub": str(u), "typ": "ticket", "mid": m,
                    "gen": 0, "iat": now, "exp": now + 290, "jti": secrets.token_hex(16)})))
        return out


# --- runners ------------------------------------------------------------------------

def wrk(stack, path, conns, seconds, timeout=10):
    args = ["wrk", "-t", str(WRK_THREADS), "-c", str(conns), "-d", f"{seconds}s",
            "--timeout", f"{timeout}s", "-s", str(HERE / "requests.lua"),
            f"http://127.0.0.1:{stack.port}", "--", str(path), str(WRK_THREADS)]
    r = run(*args, check=False)
    m = re.search(r"@@RESULT (\{.*\})", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
    res = json.loads(m.group(1))
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["non2xx"] = res["status"]
    res["socket_errors"] = res["connect"] + res["read"] + res["write"] + res["timeout"]
    return res


def access_statuses(stack, offset):
    """Status counts (by route) in the access log since offset: what the errors were."""
    p = stack.state / "logs" / "access.log"
    counts = {}
    with open(p, "rb") as f:
        f.seek(offset)
        for line in f:
            m = re.search(rb'" (\d{3}) \S+ (\S+) \d+$', line.rstrip())
            if m and not m.group(1).startswith(b"2"):
                k = f"{m.group(1).decode()} {m.group(2).decode()}"
                counts[k] = counts.get(k, 0) + 1
    return counts


def log_size(stack):
    p = stack.state / "logs" / "access.log"
    return p.stat().st_size if p.exists() else 0


def pgbench(stack, conns, seconds, script=None, builtin="select-only", db="pgbench",
            user="postgres"):
    logdir = stack.work / f"pgbench-{secrets.token_hex(4)}"
    logdir.mkdir()
    logdir.chmod(0o777)
    args = [f"{PGBIN}/pgbench", "-n", "-M", "prepared", "-c", str(conns), "-j", "2",
            "-T", str(seconds), "-h", "127.0.0.1", "-p", str(stack.pgport), "-U", user,
            "--log", f"--log-prefix={logdir}/tx"]
    args += ["-f", str(script)] if script else ["-b", builtin]
    args.append(db)
    r = run(*args, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"pgbench failed: {r.stdout[-1500:]} {r.stderr[-1500:]}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", r.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    lat = []
    for f in logdir.iterdir():
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]))
    shutil.rmtree(logdir, ignore_errors=True)
    lat.sort()
    return {"rps": tps, "p50": percentile(lat, 50), "p99": percentile(lat, 99),
            "non2xx": int(failed.group(1)) if failed else 0, "socket_errors": 0,
            "requests": len(lat)}


# --- main -----------------------------------------------------------------------------

HTTP_SCENARIOS = ["static file", "bare handler", "bare dbd query", "meeting detail",
                  "list page 1", "list keyword", "participants", "chat page 1",
                  "chat page 100", "send message", "send message+key", "create meeting",
                  "create meeting+key", "join+leave"]


def want(name):
    return not ONLY or name in ONLY


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"cpus": os.cpu_count(), "cpu": model, "mem_mib": mem,
            "kernel": os.uname().release, "httpd": run(HTTPD, "-v").stdout.split("\n")[0],
            "postgres": run(f"{PGBIN}/postgres", "--version").stdout.strip(),
            "wrk": run("wrk", "--version", check=False).stdout.split("\n")[0].strip()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    # run.sh passes the directory it cleans up after; alone, one of our own.
    work = Path(os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="mm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    stack = Stack(work)
    results = []
    info = {"machine": machine(), "duration_s": DURATION, "concurrency": CONCURRENCY,
            "dbd_per_child": DBD_PER_CHILD, "tuning": TUNING.strip()}
    t_start = time.time()

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        log(f"work dir {work}; PostgreSQL :{stack.pgport}, httpd :{stack.port}, "
            f"signald :{stack.sigport}")
        stack.pg_start()
        t = time.time()
        stack.psql(file=HERE / "seed.sql")
        info["seed_s"] = round(time.time() - t, 1)
        log(f"seeded in {info['seed_s']} s")
        counts = stack.psql("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM meetings),"
                            " (SELECT count(*) FROM participants),"
                            " (SELECT count(*) FROM messages),"
                            f" (SELECT message_count FROM meetings WHERE meeting_id = {CHAT_MEETING})")
        info["seed_counts"] = dict(zip(["users", "meetings", "participants", "messages",
                                        "chat_message_count"], map(int, counts.split())))
        run("psql", "-X", "-q", "-h", "127.0.0.1", "-p", stack.pgport, "-U", "postgres",
            "-d", "postgres", "-c", "CREATE DATABASE pgbench")
        run(f"{PGBIN}/pgbench", "-i", "-q", "-s", "10", "-h", "127.0.0.1", "-p",
            stack.pgport, "-U", "postgres", "pgbench")

        stack.httpd_start("raised")
        data = Data(stack, work)
        files = data.build()
        log(f"tokens minted for {len(data.tokens)} users; request lists in {data.dir}")

        def http(name, path, label=None, conc=CONCURRENCY, timeout=10):
            label = label or name
            for i, c in enumerate(conc):
                if i == 0 and WARMUP:
                    wrk(stack, path, c, WARMUP, timeout)
                before = stack.memory()
                off = log_size(stack)
                pids = stack.httpd_children() + [stack.httpd_pid()], stack.pg_pids()
                cpu0 = (cpu_ticks(pids[0]), cpu_ticks(pids[1]), child_ticks(), busy_ticks(),
                        time.time())
                res = wrk(stack, path, c, DURATION, timeout)
                pids = stack.httpd_children() + [stack.httpd_pid()], stack.pg_pids()
                cpu1 = (cpu_ticks(pids[0]), cpu_ticks(pids[1]), child_ticks(), busy_ticks(),
                        time.time())
                after = stack.memory()
                tick = os.sysconf("SC_CLK_TCK")
                d = [b - a for a, b in zip(cpu0, cpu1)]
                n = max(1, res["requests"])
                res.update(scenario=label, c=c, mem_before=before, mem_after=after,
                           errors_by_route=access_statuses(stack, off),
                           httpd_cpu_us=d[0] / tick * 1e6 / n, pg_cpu_us=d[1] / tick * 1e6 / n,
                           wrk_cpu_us=d[2] / tick * 1e6 / n,
                           # CPU of everything else on the machine meanwhile, in
                           # % of one CPU: other work disturbs the figures.
                           other_cpu_pct=max(0.0, (d[3] - d[0] - d[1] - d[2]) / tick / d[4] * 100))
                results.append(res)
                log(f"{label:24} c{c:<3} {res['rps']:9.0f} req/s  p50 {res['p50'] / 1000:7.2f} ms"
                    f"  p99 {res['p99'] / 1000:7.2f} ms  non-2xx {res['non2xx']}"
                    f"  httpd {res['httpd_cpu_us']:.0f} us/req  pg {res['pg_cpu_us']:.0f} us/req"
                    f"  wrk {res['wrk_cpu_us']:.0f} us/req  other {res['other_cpu_pct']:.0f}%")

        for name in HTTP_SCENARIOS:
            if want(name):
                http(name, files[name])
            if name == "bare dbd query" and want("pgbench -S"):
                for c in CONCURRENCY:
                    res = pgbench(stack, c, DURATION)
                    res.update(scenario="pgbench -S", c=c)
                    results.append(res)
                    log(f"{'pgbench -S':24} c{c:<3} {res['rps']:9.0f} tps     p50 "
                        f"{res['p50'] / 1000:7.2f} ms  p99 {res['p99'] / 1000:7.2f} ms")
            if name == "meeting detail" and want("pgbench detail SQL"):
                # The SQL of one meeting detail request as the module runs it
                # (one statement: the action, which checks the token's
                # generation itself; the seed's users are all at generation
                # 0), with no httpd: what PostgreSQL alone can do of this request.
                script = work / "detail.sql"
                script.write_text(
                    "\\set m random(1, 100000)\n"
                    "\\set u ((:m - 1) * 5 * 7919) % 10000 + 1\n"
                    "SELECT code, error, field, message, data FROM mm_meeting_get(:m, :u, 0);\n")
                for c in CONCURRENCY:
                    res = pgbench(stack, c, DURATION, script=script, db="meeting",
                                  user="meeting")
                    res.update(scenario="pgbench detail SQL", c=c)
                    results.append(res)
                    log(f"{'pgbench detail SQL':24} c{c:<3} {res['rps']:9.0f} tps     p50 "
                        f"{res['p50'] / 1000:7.2f} ms  p99 {res['p99'] / 1000:7.2f} ms")

        # Login pays bcrypt at cost 10 (the seeded hashes; MeetingBcryptCost only
        # sets the cost of new hashes): reported apart.
        if want("login (bcrypt 10)"):
            http("login (bcrypt 10)", files["login (bcrypt 10)"], timeout=30)

        # The cost of rate limiting: meeting detail with limits off, and with the
        # seed's limits (100/min per user), spread over 10,000 users so none is hit.
        if want("rate limits"):
            # Alternated, twice: the difference is small next to the noise.
            for rnd in (1, 2):
                for limits, label in (("off", "detail, limits off"),
                                      ("seed", "detail, seed limits")):
                    stack.httpd_stop()
                    stack.httpd_start(limits)
                    http(label, files["meeting detail"], f"{label} #{rnd}")
            stack.httpd_stop()
            stack.httpd_start("raised")

        if want("signald"):
            results.append(signald_load(stack, data))
    except KeyboardInterrupt as e:
        log(f"interrupted ({e})")
        raise SystemExit(130)
    finally:
        info["elapsed_s"] = round(time.time() - t_start)
        if results:
            report(results, info)
        if os.environ.get("BENCH_KEEP"):
            log(f"stack left running in {work} (httpd -f {stack.conf}; PostgreSQL {stack.pgdir})")
        else:
            stack.stop()
            if os.environ.get("BENCH_WORK"):    # run.sh removes the directory
                for p in work.iterdir():
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
            else:
                shutil.rmtree(work, ignore_errors=True)


def signald_load(stack, data):
    node = shutil.which("node")
    tickets = data.tickets(SIG_CONNS, SIG_ROOMS)
    tfile = data.dir / "tickets.txt"
    tfile.write_text("".join(f"{m}\t{u}\t{t}\n" for m, u, t in tickets))
    pid = stack.signald_pid()
    before = rss_kib(pid)
    args = [node, HERE / "sigload.mjs", "--url", f"ws://127.0.0.1:{stack.sigport}/ws/signaling",
            "--tickets", tfile, "--pid", pid, "--seconds", DURATION]
    log(f"signald: {len(tickets)} connections in {SIG_ROOMS} rooms (pid {pid}, RSS {before} KiB)")
    r = run(*args, check=False, timeout=600)
    m = re.search(r"@@RESULT (\{.*\})", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"sigload failed ({r.returncode}): {r.stdout[-2000:]} "
                           f"{r.stderr[-2000:]}")
    res = json.loads(m.group(1))
    res.update(scenario="signald relay", c=res.get("held", 0), signald_rss_before_kib=before,
               signald_rss_end_kib=rss_kib(pid), mem_before={"signald_rss_kib": before},
               mem_after={"signald_rss_kib": rss_kib(pid)})
    held = max(1, res.get("held", 0))
    res["rss_per_conn_kib"] = (res["rss_held_kib"] - before) / held
    log(f"signald: held {res['held']}, relay p50 {res['p50'] / 1000:.2f} ms p99 "
        f"{res['p99'] / 1000:.2f} ms, {res['rps']:.0f} msg/s, "
        f"{res['rss_per_conn_kib']:.1f} KiB/connection")
    return res


def fmt_ms(us):
    return f"{us / 1000:.2f}" if us < 100000 else f"{us / 1000:.0f}"


def goals(results):
    """The issue's goals next to this run's figures."""
    by = {(r["scenario"], r["c"]): r for r in results}
    out = ["goals (issue 9):"]

    def line(ok, text):
        out.append(f"  [{'met' if ok else 'NOT met' if ok is not None else 'n/a'}] {text}")

    c = max(CONCURRENCY)
    d, b = by.get(("meeting detail", c)), by.get(("bare dbd query", c))
    if d and b:
        line(d["rps"] >= 0.8 * b["rps"], f"meeting detail c{c} >= 0.8 x bare dbd query: "
             f"{d['rps']:.0f} / {b['rps']:.0f} = {d['rps'] / b['rps']:.2f}")
    for name in ("meeting detail", "send message"):
        r = by.get((name, c))
        if r:
            line(None, f"{name} c{c} >= 1.5 x Go+gin+pgx on this machine: {r['rps']:.0f} req/s "
                 "(the Go peer is measured by tests/bench/peers.py, make bench-peers)")
    for cc in CONCURRENCY:
        on = [r["rps"] for r in results if r["c"] == cc
              and r["scenario"].startswith("detail, seed limits")]
        off = [r["rps"] for r in results if r["c"] == cc
               and r["scenario"].startswith("detail, limits off")]
        if on and off:
            on, off = sum(on) / len(on), sum(off) / len(off)
            diff = (off - on) / off * 100
            line(diff <= 3, f"rate limits on vs off, meeting detail c{cc} (mean of alternated "
                 f"runs): {on:.0f} vs {off:.0f} req/s ({diff:+.1f}%)")
    for name in ("list keyword", "chat page 1"):
        r = by.get((name, min(CONCURRENCY)))
        if r:
            line(r["p99"] < 20000, f"{name} c{min(CONCURRENCY)} p99 < 20 ms: "
                 f"{r['p99'] / 1000:.1f} ms")
    for r in results:
        if r["scenario"] == "signald relay":
            line(r["held"] >= SIG_CONNS and r["rss_per_conn_kib"] <= 20,
                 f"signald {SIG_CONNS} connections at <= 20 KiB each: {r['held']} held, "
                 f"{r['rss_per_conn_kib']:.1f} KiB each")
            line(r["p99"] < 5000, f"signald relay p99 < 5 ms: {r['p99'] / 1000:.1f} ms")
    growth = [(r["mem_after"]["httpd_rss_kib"] - r["mem_before"]["httpd_rss_kib"], r)
              for r in results if "httpd_rss_kib" in r.get("mem_before", {})]
    if growth:
        g, r = max(growth, key=lambda x: x[0])
        line(None, f"RSS growth: httpd children at most {g / 1024:+.1f} MiB within a scenario "
             f"({r['scenario']} c{r['c']}); see the RSS columns")
    bad = sum(r.get("non2xx", 0) + r.get("socket_errors", 0) for r in results)
    n429 = sum(v for r in results for k, v in r.get("errors_by_route", {}).items()
               if k.startswith("429"))
    line(bad == n429, f"no errors other than intended 429s: {bad} errors ({n429} of them 429)")
    return "\n".join(out) + "\n"


def report(results, info):
    ceil = {}
    for r in results:
        if r["scenario"] in ("static file", "pgbench -S", "bare dbd query"):
            ceil[(r["scenario"], r["c"])] = r["rps"]

    def ratio(r, name):
        base = ceil.get((name, r["c"]))
        return f"{r['rps'] / base:.2f}" if base and r["scenario"] != "signald relay" else "-"

    def mib(kib):
        return f"{kib / 1024:.1f}"

    head = ("scenario", "c", "req/s", "p50 ms", "p99 ms", "errors", "÷static", "÷pgbench-S",
            "÷bare-dbd", "httpd RSS MiB", "signald RSS MiB")
    rows = []
    for r in results:
        mb, ma = r.get("mem_before", {}), r.get("mem_after", {})
        errs = r.get("non2xx", 0) + r.get("socket_errors", 0)
        rows.append((r["scenario"], str(r["c"]), f"{r['rps']:.0f}", fmt_ms(r["p50"]),
                     fmt_ms(r["p99"]), str(errs), ratio(r, "static file"),
                     ratio(r, "pgbench -S"), ratio(r, "bare dbd query"),
                     f"{mib(mb['httpd_rss_kib'])}→{mib(ma['httpd_rss_kib'])}"
                     if "httpd_rss_kib" in mb else "-",
                     f"{mib(mb['signald_rss_kib'])}→{mib(ma['signald_rss_kib'])}"
                     if "signald_rss_kib" in mb else "-"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            + " |")
    notes = []
    for r in results:
        if r.get("errors_by_route"):
            notes.append(f"  {r['scenario']} c{r['c']}: " + ", ".join(
                f"{k}: {v}" for k, v in sorted(r["errors_by_route"].items())))
        if r.get("socket_errors"):
            notes.append(f"  {r['scenario']} c{r['c']}: {r['socket_errors']} socket errors/timeouts")
    sig = [r for r in results if r["scenario"] == "signald relay"]
    text = "\n".join(lines) + "\n"
    for r in sig:
        text += (f"\nsignald: {r['held']} connections held in {r['rooms']} rooms "
                 f"(connected in {r['connect_s']:.1f} s); relay p50 {fmt_ms(r['p50'])} ms, "
                 f"p99 {fmt_ms(r['p99'])} ms at {r['paced_rps']:.0f} msg/s offered; "
                 f"{r['rps']:.0f} msg/s relayed flat out; RSS {mib(r['signald_rss_before_kib'])} "
                 f"MiB idle, {mib(r['rss_held_kib'])} MiB holding them "
                 f"({r['rss_per_conn_kib']:.1f} KiB per connection), {mib(r['signald_rss_end_kib'])}"
                 f" MiB after the relay; errors {r['errors']}\n")
    cpu = [r for r in results if "httpd_cpu_us" in r]
    if cpu:
        text += ("\nCPU per request in µs (httpd | PostgreSQL | wrk), and the CPU that "
                 "other processes took meanwhile (% of one CPU):\n")
        text += "".join(f"  {r['scenario']:24} c{r['c']:<3} {r['httpd_cpu_us']:5.0f} | "
                        f"{r['pg_cpu_us']:5.0f} | {r['wrk_cpu_us']:4.0f}   other "
                        f"{r['other_cpu_pct']:3.0f}%\n" for r in cpu)
    if notes:
        text += "\nnon-2xx responses by status and route (access log):\n" + "\n".join(notes) + "\n"
    text += "\n" + goals(results)
    m = info["machine"]
    text += (f"\n{m['cpus']} CPUs ({m['cpu']}), {m['mem_mib']} MiB, kernel {m['kernel']}; "
             f"{m['httpd']}; {m['postgres']}; {m['wrk']}\n"
             f"{DURATION} s per run, wrk -t{WRK_THREADS}; seed {info.get('seed_s', '?')} s; "
             f"whole run {info['elapsed_s']} s\n")
    print()
    print(text)
    (OUT / "results.txt").write_text(text)
    (OUT / "results.json").write_text(json.dumps({"info": info, "results": results}, indent=1))
    log(f"results in {OUT}/results.txt and results.json")


if __name__ == "__main__":
    main()
