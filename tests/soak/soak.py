#!/usr/bin/python3
"""Soak run (issue 7, "Load"): a private PostgreSQL and httpd on loopback, mixed
REST traffic from several threads and several hundred WebSocket clients for a
bounded time, then a verdict.

    make soak                      # SOAK_SECONDS=180 by default
    SOAK_SECONDS=60 make soak
    SOAK_MPM=shipped make soak     # the template's MPM and DBD sizing, not the soak's
    SOAK_ALLOC=default make soak   # httpd's and glibc's allocator defaults
    SOAK_WS=0 / SOAK_THREADS=0     # REST only / WebSockets only

WebSocket clients: each joins its meeting over REST for a room_url, connects,
pings, relays offers/answers/ICE candidates with a partner and reads every
push (chat, recordings); a few drop and reconnect (joining again for a fresh
ticket) all the time. REST threads: reads of every kind, chat, joins and
leaves, recordings, registrations, whole meeting lifecycles, and one thread
that deliberately overruns a rate limit (its 429s are the only errors allowed).

Printed: RSS of httpd's parent, each child and signald over time, open file
descriptors (idle before, under load at the start and at the end, idle after),
request and frame counts, and every error. Exit status 0 when: no error other
than the intended 429s, no memory growth past the allowance, and no
descriptor left behind. A JSON summary goes to build/soak-report.json.
"""
import asyncio
import collections
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import requests          # noqa: E402  (Debian: python3-requests)
import websockets        # noqa: E402  (Debian: python3-websockets)

from conftest import Postgres, Stack, unique        # noqa: E402
from jwtutil import access_claims, sign             # noqa: E402
from procstat import children, fd_count, rss_kib    # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "180"))
MEETINGS = int(os.environ.get("SOAK_MEETINGS", "30"))
PER_MEETING = int(os.environ.get("SOAK_PER_MEETING", "10"))     # WebSocket clients each
REST_THREADS = int(os.environ.get("SOAK_THREADS", "6"))
WS = os.environ.get("SOAK_WS", "1") != "0"          # SOAK_WS=0: REST only
SAMPLES = int(os.environ.get("SOAK_SAMPLES", "12"))
# Allowed RSS growth of a process between the first sample under full load and
# the last: the larger of this share and this many KiB.
GROW_SHARE, GROW_KIB = 0.10, 4096
# Descriptors an idle httpd child may hold after the run beyond its idle count
# before it: the database connections mod_dbd keeps (DBDKeep, 4 in the
# template; 8 when the runs in docs/reliability.md were made).
DBD_KEEP = 8
LIMITED = "profile.get"          # the endpoint the rate-limit thread overruns
LIMIT_PER_MIN = 60

EXTRA = f"MeetingRateLimit {LIMITED} {LIMIT_PER_MIN}/min\n"
# Each proxied WebSocket holds an httpd worker thread for its whole life
# (mod_proxy_wstunnel in 2.4): sized here for the soak's sockets plus the API,
# with DBDMax x ServerLimit kept under PostgreSQL's max_connections, as in the
# runs docs/reliability.md reports. SOAK_MPM=shipped keeps the template's
# (1024 workers; before issue 7's fix it had 100, and the API starved once 100
# sockets were open).
MPM = "" if os.environ.get("SOAK_MPM") == "shipped" else (
    "ServerLimit 8\nThreadsPerChild 64\nMaxRequestWorkers 512\nDBDMax 16\n")
# Memory that allocators keep for reuse is not a leak, but it looks like one in
# a short run: every worker thread's APR allocator keeps up to MaxMemFree (2 MB
# by default) and glibc gives busy threads arenas of their own, so RSS creeps up
# for a long while before it levels off. Capped here (MaxMemFree 64 KB, two
# malloc arenas) so that what still grows is what is really kept;
# SOAK_ALLOC=default measures with httpd's and glibc's defaults.
ALLOC = "" if os.environ.get("SOAK_ALLOC") == "default" else "MaxMemFree 64\n"
if os.environ.get("SOAK_ALLOC") != "default":
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")     # inherited by httpd and signald


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ------------------------------------------------------------ processes

def processes(stack):
    """{label: pid}: httpd's parent, its children (by pid) and signald."""
    parent = stack.pid()
    out = {"parent": parent}
    for pid, _ in children(parent):
        try:
            exe = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
        except (OSError, IndexError, ValueError):
            continue
        if exe.endswith("signald"):
            out["signald"] = pid
        elif "apache2" in exe:
            out[f"child {pid}"] = pid
    return out


class Sampler:
    def __init__(self, stack):
        self.stack = stack
        self.rows = []              # (t, {label: rss}, counters)
        self.columns = []

    def sample(self, t, counters):
        procs = processes(self.stack)
        rss = {k: rss_kib(pid) for k, pid in procs.items()}
        for k in rss:
            if k not in self.columns:
                self.columns.append(k)
        self.rows.append((t, rss, dict(counters)))

    def fds(self):
        return {k: fd_count(pid) for k, pid in processes(self.stack).items()}


# ------------------------------------------------------------ the world

class World:
    def __init__(self, stack):
        self.stack = stack
        self.url = stack.url + "/api/v1"
        secret = (stack.state / "jwt.secret").read_bytes().rstrip()
        ttl = SECONDS + 3600
        tag = unique("s")
        n = MEETINGS * PER_MEETING + 400
        rows = stack.sql(
            "INSERT INTO users (username, email, password_hash, nickname) "
            "SELECT %s || g, %s || g || '@example.com', 'x', 'soak ' || g "
            f"FROM generate_series(1, {n}) g RETURNING user_id", tag, tag)
        users = [(int(u), sign(secret, access_claims(int(u), ttl=ttl))) for (u,) in rows]
        self.ws_users = users[:MEETINGS * PER_MEETING]
        self.spare = users[MEETINGS * PER_MEETING:]
        self.meetings = []          # (mid, host_token, [(uid, token)])
        for m in range(MEETINGS):
            members = self.ws_users[m * PER_MEETING:(m + 1) * PER_MEETING]
            host_uid, host_tok = members[0]
            mid = self.ok("POST", "/meetings", host_tok, {
                "title": f"soak {m}", "description": "soak run",
                "start_time": "2030-01-01T10:00:00Z", "end_time": "2030-01-01T11:00:00Z",
                "max_participants": PER_MEETING + 20, "meeting_type": "video",
                "settings": {"enable_recording": True}}, 201)["meeting_id"]
            for uid, _ in members[1:]:
                self.ok("POST", f"/meetings/{mid}/participants", host_tok, {"user_id": uid})
            self.ok("POST", f"/meetings/{mid}/start", host_tok)
            self.meetings.append((mid, host_tok, members))

    def ok(self, method, path, token=None, body=None, status=200):
        h = {"Authorization": "Bearer " + token} if token else {}
        r = requests.request(method, self.url + path, json=body, headers=h, timeout=30)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json().get("data")


# ------------------------------------------------------------ REST load

class Rest:
    """Threads of mixed REST traffic; counts every answer by (op, status)."""

    def __init__(self, world, stop):
        self.w = world
        self.stop = stop
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.races = collections.Counter()     # keep-alive reuse races, by op
        self.failed_writes = []                # (kind, key) of writes without an answer
        self.acks = collections.defaultdict(list)
        self.spare = list(world.spare)
        self.limited_user = self.spare.pop()       # its own bucket: nobody else's 429
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(REST_THREADS)]
        self.threads.append(threading.Thread(target=self.limited, daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(60)

    def call(self, sess, op, method, path, token=None, body=None, want=(200,)):
        h = {"Authorization": "Bearer " + token} if token else {}
        try:
            r = sess.request(method, self.w.url + path, json=body, headers=h, timeout=30)
        except requests.RequestException as e:
            with self.lock:
                # httpd closed an idle keep-alive connection (KeepAliveTimeout,
                # the event MPM shedding keep-alive connections when busy, or a
                # child retiring) as the request went out on it: no answer at
                # all (RFC 9112 9.3.1). Counted apart, and the writes among them
                # are checked in the database afterwards (none may have been done).
                if "RemoteDisconnected" in str(e) or "Connection reset" in str(e):
                    self.races[op] += 1
                else:
                    self.errors[(op, type(e).__name__, str(e)[-90:])] += 1
            return None
        with self.lock:
            self.counts[(op, r.status_code)] += 1
            if r.status_code not in want:
                self.errors[(op, r.status_code, r.text[:120])] += 1
        return r

    def run(self, i):
        rnd = random.Random(i)
        sess = requests.Session()
        w = self.w
        rec = {}
        while not self.stop.is_set():
            mid, host, members = rnd.choice(w.meetings)
            uid, tok = rnd.choice(members[1:])      # members[0] is the host
            op = rnd.choices(["read", "chat", "join", "recording", "register", "lifecycle"],
                             [50, 20, 10, 8, 4, 8])[0]
            if op == "read":
                path = rnd.choice(["/users/profile", f"/meetings/{mid}",
                                   f"/meetings/{mid}/participants",
                                   f"/meetings/{mid}/messages?page=1&page_size=20",
                                   f"/meetings/{mid}/recordings",
                                   "/meetings?page=1&page_size=10&keyword=soak", "/health"])
                self.call(sess, "read", "GET", path, tok)
            elif op == "chat":
                text = unique("chat ")
                r = self.call(sess, "chat", "POST", f"/meetings/{mid}/messages", tok,
                              {"content": text})
                if r is None:
                    self.failed_writes.append(("message", text))
                elif r.status_code == 200:
                    self.acks["message"].append(r.json()["data"]["message_id"])
            elif op == "join":
                # A WebSocket client's own join is idempotent; spare users come
                # and go through join and leave.
                with self.lock:
                    spare = self.spare.pop() if self.spare else None
                if spare is None:
                    continue
                r = self.call(sess, "join", "POST", f"/meetings/{mid}/join", spare[1])
                if r is None:
                    self.failed_writes.append(("participant", spare[0]))
                elif r.status_code == 200:
                    self.acks["participant"].append(r.json()["data"]["participant_id"])
                    self.call(sess, "leave", "POST", f"/meetings/{mid}/leave", spare[1])
            elif op == "recording":
                if rec.get(mid):
                    self.call(sess, "recording", "POST", f"/meetings/{mid}/recording/stop", host,
                              want=(200, 409))
                    rec[mid] = None
                else:
                    r = self.call(sess, "recording", "POST", f"/meetings/{mid}/recording/start",
                                  host, want=(200, 409))
                    if r is not None and r.status_code == 200:
                        rec[mid] = r.json()["data"]["recording_id"]
                        self.acks["recording"].append(rec[mid])
            elif op == "register":
                name = unique("sr")
                r = self.call(sess, "register", "POST", "/auth/register", None, {
                    "username": name, "email": f"{name}@example.com", "password": "secret123"})
                if r is None:
                    self.failed_writes.append(("user", name))
                elif r.status_code == 200:
                    self.acks["user"].append(r.json()["data"]["user_id"])
            elif op == "lifecycle":
                r = self.call(sess, "lifecycle", "POST", "/meetings", host, {
                    "title": "scratch", "start_time": "2030-01-01T10:00:00Z",
                    "end_time": "2030-01-01T11:00:00Z", "max_participants": 5,
                    "meeting_type": "audio"}, want=(201,))
                if r is None or r.status_code != 201:
                    continue
                sm = r.json()["data"]["meeting_id"]
                # Each step needs the one before: a step without an answer ends it.
                for method, path, body in [
                        ("PUT", f"/meetings/{sm}", {"title": "renamed"}),
                        ("POST", f"/meetings/{sm}/participants", {"user_id": uid}),
                        ("POST", f"/meetings/{sm}/start", None),
                        ("DELETE", f"/meetings/{sm}/participants/{uid}", None),
                        ("POST", f"/meetings/{sm}/end", None),
                        ("DELETE", f"/meetings/{sm}", None)]:
                    if self.call(sess, "lifecycle", method, path, host, body) is None:
                        break

    def limited(self):
        """Overruns the limit of one endpoint on purpose: 429 expected."""
        sess = requests.Session()
        _, tok = self.limited_user
        while not self.stop.is_set():
            self.call(sess, "limited", "GET", "/users/profile", tok, want=(200, 429))
            time.sleep(0.02)


# ------------------------------------------------------------ WebSocket load

class Sockets:
    def __init__(self, world, stop_at):
        self.w = world
        self.stop_at = stop_at
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.open = 0
        self.partner = {}
        for mid, _, members in world.meetings:
            for k in range(0, len(members) - 1, 2):
                self.partner[members[k][0]] = members[k + 1][0]
                self.partner[members[k + 1][0]] = members[k][0]

    async def join(self, mid, token):
        def go():
            return requests.post(f"{self.w.url}/meetings/{mid}/join",
                                 headers={"Authorization": "Bearer " + token}, timeout=30)
        r = await asyncio.to_thread(go)
        if r.status_code != 200:
            self.errors[("join", r.status_code, r.text[:100])] += 1
            return None
        u = urlsplit(r.json()["data"]["room_url"])
        return f"{self.w.stack.ws_base}{u.path}?{u.query}"

    async def client(self, mid, uid, token, rnd):
        await asyncio.sleep(rnd.random() * 10)          # ramp up over 10 s
        while time.monotonic() < self.stop_at:
            url = await self.join(mid, token)
            if url is None:
                await asyncio.sleep(1)
                continue
            try:
                async with websockets.connect(url, close_timeout=2, open_timeout=10,
                                              max_size=None) as ws:
                    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if first.get("type") != "joined":
                        self.errors[("ws-first-frame", first.get("type"))] += 1
                        continue
                    self.counts["connects"] += 1
                    self.open += 1
                    try:
                        await self.session(ws, uid, rnd)
                    finally:
                        self.open -= 1
            except websockets.ConnectionClosed as e:
                if time.monotonic() < self.stop_at:
                    self.errors[("ws-closed", e.code)] += 1
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
                self.errors[("ws", type(e).__name__)] += 1
                await asyncio.sleep(1)

    async def session(self, ws, uid, rnd):
        """Until the end (or a planned drop): pings, relays, and read everything."""
        peer = self.partner.get(uid)
        next_act = time.monotonic() + rnd.uniform(1, 4)
        drop_at = time.monotonic() + rnd.uniform(20, 120)
        while True:
            now = time.monotonic()
            if now >= self.stop_at:
                await ws.close()
                return
            if now >= drop_at:                          # churn: leave and come back
                self.counts["drops"] += 1
                await ws.close()
                return
            if now >= next_act:
                kind = rnd.choice(["ping", "offer", "answer", "ice-candidate", "media-state"])
                if kind == "ping" or peer is None:
                    await ws.send(json.dumps({"type": "ping"}))
                    self.counts["pings"] += 1
                elif kind == "media-state":
                    await ws.send(json.dumps({"type": "media-state", "audio_enabled": True,
                                              "video_enabled": rnd.random() < 0.5,
                                              "screen_sharing": False}))
                else:
                    frame = {"type": kind, "target_user_id": peer}
                    frame["candidate" if kind == "ice-candidate" else "sdp"] = \
                        "v=0 " + "x" * rnd.randint(10, 2000)
                    await ws.send(json.dumps(frame))
                    self.counts["relays-sent"] += 1
                next_act = now + rnd.uniform(2, 5)
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), max(0.05, next_act - now)))
            except asyncio.TimeoutError:
                continue
            t = m.get("type")
            self.counts["frames-in"] += 1
            if t == "pong":
                self.counts["pongs"] += 1
            elif t in ("offer", "answer", "ice-candidate"):
                self.counts["relays-received"] += 1
            elif t == "error":
                # A partner between a drop and its reconnect: expected churn.
                key = "target-away" if m.get("code") == "TARGET_NOT_FOUND" else m.get("code")
                if key != "target-away":
                    self.errors[("ws-error-frame", key)] += 1
                self.counts[key] += 1
            elif t == "chat":
                self.counts["chat-pushed"] += 1

    async def run(self):
        tasks = []
        rnd = random.Random(42)
        for mid, _, members in self.w.meetings:
            for uid, tok in members:
                tasks.append(asyncio.create_task(
                    self.client(mid, uid, tok, random.Random(rnd.random()))))
        await asyncio.gather(*tasks)


# ------------------------------------------------------------ verdict

def table(sampler):
    cols = sampler.columns
    head = ["t (s)"] + cols + ["ws open", "REST req", "frames in"]
    lines = ["  ".join(f"{h:>14}" for h in head)]
    for t, rss, c in sampler.rows:
        cells = [f"{t:>14.0f}"] + [f"{(rss.get(k) or 0) / 1024:>11.1f} MB"
                                   if rss.get(k) else f"{'-':>14}" for k in cols]
        cells += [f"{c.get('open', 0):>14}", f"{c.get('rest', 0):>14}",
                  f"{c.get('frames', 0):>14}"]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def growth(sampler, start_index):
    out = {}
    first = sampler.rows[start_index][1]
    last = sampler.rows[-1][1]
    for k in sampler.columns:
        a, b = first.get(k), last.get(k)
        if a and b:
            out[k] = (a, b, b - a, b <= max(a * (1 + GROW_SHARE), a + GROW_KIB))
    return out


def check_acks(stack, acks):
    missing = {}
    for kind, ids in acks.items():
        if not ids:
            continue
        q = {"message": "SELECT count(*) FROM messages WHERE message_id IN ({})",
             "participant": "SELECT count(*) FROM participants WHERE participant_id IN ({})",
             "recording": "SELECT count(*) FROM recordings WHERE recording_id IN ({})",
             "user": "SELECT count(*) FROM users WHERE user_id IN ({})"}[kind]
        found = 0
        for i in range(0, len(ids), 500):
            part = ",".join(f"'{x}'" if isinstance(x, str) else str(x) for x in ids[i:i + 500])
            found += int(stack.sql(q.format(part))[0][0])
        if found != len(ids):
            missing[kind] = len(ids) - found
    return missing


def processed(stack, failed_writes):
    """How many writes that got no answer the database has anyway."""
    q = {"message": "SELECT 1 FROM messages WHERE content = %s",
         "user": "SELECT 1 FROM users WHERE username = %s",
         "participant": "SELECT 1 FROM participants WHERE user_id = %s"}
    return sum(bool(stack.sql(q[kind], key)) for kind, key in failed_writes)


def main():
    base = Path(tempfile.mkdtemp(prefix="mm-soak-"))
    base.chmod(0o755)
    pg = Postgres(base)
    stack = None
    rc = 1
    try:
        pg.start()
        pg.migrate()
        stack = Stack(base, pg, EXTRA + MPM + ALLOC
                      + os.environ.get("SOAK_EXTRA", "").replace("\\n", "\n"))
        stack.start()
        log(f"stack up on {stack.url} (PostgreSQL {pg.port}); {SECONDS} s, "
            f"{MEETINGS * PER_MEETING} WebSocket clients, {REST_THREADS} REST threads, "
            f"MPM {'as shipped' if not MPM else MPM.strip().replace(chr(10), ', ')}; "
            f"allocators {'default' if not ALLOC else 'MaxMemFree 64, MALLOC_ARENA_MAX=2'}")
        world = World(stack)
        sampler = Sampler(stack)
        time.sleep(1)
        fds_idle_before = sampler.fds()
        t0 = time.monotonic()
        stop = threading.Event()
        rest = Rest(world, stop)
        socks = Sockets(world, t0 + SECONDS)
        rest.start()

        def counters():
            return {"open": socks.open, "rest": sum(rest.counts.values()),
                    "frames": socks.counts["frames-in"]}

        every = max(5.0, SECONDS / SAMPLES)
        fds = {}

        async def sample_loop():
            next_t = t0
            while time.monotonic() < t0 + SECONDS:
                now = time.monotonic()
                if now >= next_t:
                    sampler.sample(now - t0, counters())
                    log(f"t={now - t0:5.0f}s ws open {socks.open:4d}  "
                        f"REST {sum(rest.counts.values()):7d}  errors "
                        f"{sum(rest.errors.values()) + sum(socks.errors.values())}")
                    if "load_start" not in fds and now - t0 >= 15:
                        fds["load_start"] = sampler.fds()
                    next_t += every
                await asyncio.sleep(0.2)
            fds["load_end"] = sampler.fds()
            sampler.sample(time.monotonic() - t0, counters())

        async def run_all():
            await asyncio.gather(socks.run() if WS else asyncio.sleep(0), sample_loop())
        asyncio.run(run_all())
        stop.set()
        rest.join()
        time.sleep(5)                      # sockets closed, seats given back
        fds_idle_after = sampler.fds()
        elapsed = time.monotonic() - t0

        # -------------------------------------------------------- report
        print()
        print(f"RSS over time (VmRSS; {len(sampler.rows)} samples, every {every:.0f} s):")
        print(table(sampler))
        print()
        warm = next((i for i, r in enumerate(sampler.rows) if r[0] >= min(30, SECONDS / 4)), 0)
        g = growth(sampler, warm)
        print(f"RSS growth from t={sampler.rows[warm][0]:.0f}s to the end "
              f"(allowed: {GROW_SHARE:.0%} or {GROW_KIB // 1024} MB):")
        for k, (a, b, d, fine) in g.items():
            print(f"  {k:>14}: {a / 1024:7.1f} MB -> {b / 1024:7.1f} MB ({d / 1024:+.1f} MB)"
                  f"  {'ok' if fine else 'GROWTH'}")
        print()
        print("open file descriptors:")
        labels = sorted(set(fds_idle_before) | set(fds.get("load_start", {}))
                        | set(fds.get("load_end", {})) | set(fds_idle_after))
        print(f"  {'process':>14} {'idle before':>12} {'load start':>11} {'load end':>9} "
              f"{'idle after':>11}")
        fd_leaks = []
        for k in labels:
            row = [fds_idle_before.get(k), fds.get("load_start", {}).get(k),
                   fds.get("load_end", {}).get(k), fds_idle_after.get(k)]
            print(f"  {k:>14} " + " ".join(f"{'-' if v is None else v:>11}" for v in row))
            before, after = row[0], row[3]
            if before is not None and after is not None:
                slack = DBD_KEEP if k.startswith("child") else 0
                if after > before + slack:
                    fd_leaks.append((k, before, after))
        print()
        total_rest = sum(rest.counts.values())
        by_op = collections.Counter()
        for (op, st), n in rest.counts.items():
            by_op[(op, st)] += n
        print(f"REST: {total_rest} requests in {elapsed:.0f} s ({total_rest / elapsed:.0f}/s)")
        for (op, st), n in sorted(by_op.items()):
            print(f"  {op:>10} {st}: {n}")
        print(f"WebSocket: {dict(socks.counts)}")
        missing = check_acks(stack, rest.acks)
        print(f"acknowledged writes: { {k: len(v) for k, v in rest.acks.items()} }, "
              f"missing from the database: {missing or 'none'}")
        errors = collections.Counter(rest.errors)
        errors.update(socks.errors)
        intended_429 = rest.counts[("limited", 429)]
        print(f"intended 429s (the {LIMITED} overrun at {LIMIT_PER_MIN}/min): {intended_429}")
        done_anyway = processed(stack, rest.failed_writes)
        retired = [k for k in sampler.columns if k.startswith("child")
                   and not sampler.rows[-1][1].get(k)]
        print(f"keep-alive reuse races (no answer on a reused connection httpd had just "
              f"closed while idle; {len(retired)} children retired during the run): "
              f"{dict(rest.races) or 'none'}; writes among them done anyway: {done_anyway}")
        print(f"errors: {dict(errors) or 'none'}")
        crash_lines = [line for line in stack.log_text().splitlines()
                       if "AH00052" in line or "AH00060" in line or "seg fault" in line
                       or "[meeting:error]" in line or "[meeting:crit]" in line]
        print(f"error log: {len(crash_lines)} crash or [meeting:error] lines")
        for line in crash_lines[:10]:
            print("  " + line[:200])
        grown = [k for k, v in g.items() if not v[3]]
        ok = not errors and not grown and not fd_leaks and not missing and not crash_lines \
            and not done_anyway and (intended_429 > 0 or not REST_THREADS) \
            and (socks.counts["connects"] >= MEETINGS * PER_MEETING or not WS)
        report = {
            "seconds": SECONDS, "ws_clients": MEETINGS * PER_MEETING, "rest_threads": REST_THREADS,
            "rest_requests": total_rest, "rest_by_op": {f"{o} {s}": n for (o, s), n in by_op.items()},
            "ws": dict(socks.counts), "errors": {str(k): v for k, v in errors.items()},
            "rss_kib": [(round(t), rss) for t, rss, _ in sampler.rows],
            "rss_growth_kib": {k: v[2] for k, v in g.items()},
            "fds": {"idle_before": fds_idle_before, **fds, "idle_after": fds_idle_after},
            "fd_leaks": fd_leaks, "missing_acks": missing, "crash_lines": len(crash_lines),
            "intended_429": intended_429, "keepalive_races": dict(rest.races),
            "races_done_anyway": done_anyway, "children_retired": len(retired), "ok": ok,
        }
        out = ROOT / "build" / "soak-report.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=1))
        print()
        print(f"verdict: {'PASS' if ok else 'FAIL'}"
              + ("" if ok else f" (errors {len(errors)}, growth {grown}, fd leaks {fd_leaks}, "
                               f"missing {missing}, log {len(crash_lines)})"))
        rc = 0 if ok else 1
    finally:
        if stack:
            stack.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
