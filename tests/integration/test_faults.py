"""Faults under load (issue 7, "Faults"): PostgreSQL stopped and crashed while
threads hammer reads and writes, signald killed with SIGKILL under live
WebSocket connections, graceful and hard restarts of httpd under load, and
races of two API calls on one meeting.

Each scenario records every response on the client side and then checks it:
what a client saw (503 with Retry-After, never a 500, never a hang, never a
refused connection) and that nothing acknowledged was lost (every 2xx write,
i.e. register -> user, join -> participant, message -> message, recording
start/stop -> recording, is in the database afterwards).

Every scenario runs on its own httpd (make_stack or a private Stack), so the
session stack's error log stays clean; the scenarios check their own logs for
crashes."""
import asyncio
import collections
import contextlib
import itertools
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
import websockets

import coredump
import procstat
from conftest import Postgres, Stack, unique
from jwtutil import access_claims, secret_of, sign
from rowlock import RowLock

PGBIN = "/usr/lib/postgresql/15/bin"
CRASH = re.compile(r"AH00052|AH00051|AH00060|Segmentation fault|seg fault|\[meeting:crit\]")


# ----------------------------------------------------------------- helpers

def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json().get("data")


def crashes(stack):
    return [line for line in stack.log_text().splitlines() if CRASH.search(line)]


@contextlib.contextmanager
def core_dumps(workdir):
    """A directory for core files, for an httpd started inside the block (its
    children inherit RLIMIT_CORE from it); removed afterwards."""
    cores = tempfile.mkdtemp(prefix="cores-", dir=workdir)
    os.chmod(cores, 0o777)  # the children run as www-data
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    try:
        yield cores
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
        shutil.rmtree(cores, ignore_errors=True)


def crashes_but_the_mpm_race(stack, cores):
    """crashes() less the segfaults whose core shows httpd's own event MPM
    race on an ungraceful stop (coredump.py). A crash without a core to read
    (kernel.core_pattern sends it elsewhere, or two crashes wrote one "core")
    stays a crash."""
    lines = crashes(stack)
    ours = []
    for line in lines:
        m = re.search(r"child pid (\d+) exit signal Segmentation fault", line)
        core = m and coredump.core_of(cores, int(m.group(1)), len(lines) == 1)
        if not (core and coredump.is_event_mpm_close_race(core, int(m.group(1)))):
            ours.append(line)
    return ours


def wait_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def started(make_stack, extra=""):
    """make_stack(extra), started with a patient wait: the first request of a new
    child (a database connection and 31 statements to prepare) can take longer
    than the one second conftest's wait_up() allows a busy two-CPU machine."""
    s = make_stack(extra, start=False)
    r = s.httpd("-k", "start")
    assert r.returncode == 0, r.stderr
    wait_healthy(s)
    return s


def wait_healthy(s, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(s.url + "/api/v1/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "httpd did not come up\n" + s.log_text()[-2000:]
        time.sleep(0.05)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def meeting_body(**over):
    b = {"title": "faults", "start_time": "2030-01-01T10:00:00Z",
         "end_time": "2030-01-01T11:00:00Z", "max_participants": 1000,
         "meeting_type": "video", "settings": {"enable_recording": True}}
    b.update(over)
    return b


def sql_ids(stack, query, ids):
    """The subset of ids the query (with {ids} for the list) finds."""
    found = set()
    ids = sorted(ids)
    for i in range(0, len(ids), 500):
        part = ",".join(f"'{x}'" if isinstance(x, str) else str(int(x)) for x in ids[i:i + 500])
        found |= {row[0] for row in stack.sql(query.format(ids=part))}
    return found


class World:
    """What the load needs: a host with an ongoing meeting for chat and joins,
    one meeting per thread to record in, and users who have never joined
    (made in SQL, with tokens minted with the stack's key: fast and many)."""

    def __init__(self, stack, threads, joiners=600):
        self.stack = stack
        self.host = stack.new_user(nickname="Host")
        self.mid = ok(stack.api("POST", "/meetings", token=self.host["token"],
                                json=meeting_body()), 201)["meeting_id"]
        ok(stack.api("POST", f"/meetings/{self.mid}/start", token=self.host["token"]))
        self.rec_mids = []
        for _ in range(threads):
            m = ok(stack.api("POST", "/meetings", token=self.host["token"],
                             json=meeting_body()), 201)["meeting_id"]
            ok(stack.api("POST", f"/meetings/{m}/start", token=self.host["token"]))
            self.rec_mids.append(m)
        tag = unique("j")
        rows = stack.sql(
            "INSERT INTO users (username, email, password_hash) "
            "SELECT %s || g, %s || g || '@example.com', 'x' FROM generate_series(1, "
            + str(joiners) + ") g RETURNING user_id", tag, tag)
        secret = secret_of(stack)
        self.joiners = [(int(uid), sign(secret, access_claims(int(uid), ttl=3600)))
                        for (uid,) in rows]
        self._next = itertools.count()

    def next_joiner(self):
        i = next(self._next)
        return self.joiners[i] if i < len(self.joiners) else None


class Load:
    """Threads that send a mix of reads and writes until stopped, and record
    every answer: (t0, t1, op, status, retry_after, error, ack)."""

    OPS = ["profile", "meeting", "participants", "messages", "health",
           "message", "message", "join", "join", "register", "recording"]

    def __init__(self, world, threads=8, keepalive=True, timeout=15, ops=None, seed=7):
        self.world = world
        self.url = world.stack.url + "/api/v1"
        self.threads = threads
        self.keepalive = keepalive
        self.timeout = timeout
        self.ops = ops or self.OPS
        self.records = []
        self.stopping = threading.Event()
        self.paused = threading.Event()
        self.busy = [False] * threads
        self.workers = [threading.Thread(target=self.run, args=(i, seed + i), daemon=True)
                        for i in range(threads)]

    def __enter__(self):
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for w in self.workers:
            w.join(self.timeout + 10)

    def request(self, sess, method, path, token=None, body=None):
        h = {} if self.keepalive else {"Connection": "close"}
        if token:
            h["Authorization"] = "Bearer " + token
        return sess.request(method, self.url + path, json=body, headers=h, timeout=self.timeout)

    def run(self, i, seed):
        rnd = random.Random(seed)
        sess = requests.Session()
        w = self.world
        host = w.host["token"]
        rec = {"mid": w.rec_mids[i % len(w.rec_mids)], "active": None}
        while not self.stopping.is_set():
            if self.paused.is_set():
                self.busy[i] = False
                time.sleep(0.01)
                continue
            self.busy[i] = True
            op = rnd.choice(self.ops)
            ack = intent = None
            t0 = time.monotonic()
            try:
                if op == "profile":
                    r = self.request(sess, "GET", "/users/profile", host)
                elif op == "meeting":
                    r = self.request(sess, "GET", f"/meetings/{w.mid}", host)
                elif op == "participants":
                    r = self.request(sess, "GET", f"/meetings/{w.mid}/participants", host)
                elif op == "messages":
                    r = self.request(sess, "GET", f"/meetings/{w.mid}/messages?page_size=5", host)
                elif op == "health":
                    r = self.request(sess, "GET", "/health")
                elif op == "message":
                    text = unique(f"m{i}-")
                    intent = ("message", text)
                    r = self.request(sess, "POST", f"/meetings/{w.mid}/messages", host,
                                     {"content": text})
                    if r.status_code == 200:
                        ack = ("message", r.json()["data"]["message_id"], text)
                elif op == "join":
                    j = w.next_joiner()
                    if j is None:
                        continue
                    intent = ("participant", j[0])
                    r = self.request(sess, "POST", f"/meetings/{w.mid}/join", j[1])
                    if r.status_code == 200:
                        ack = ("participant", r.json()["data"]["participant_id"], j[0])
                elif op == "register":
                    name = unique("reg")
                    intent = ("user", name)
                    r = self.request(sess, "POST", "/auth/register", None, {
                        "username": name, "email": f"{name}@example.com",
                        "password": "secret123"})
                    if r.status_code == 200:
                        ack = ("user", r.json()["data"]["user_id"], name)
                elif op == "recording":
                    if not rec["active"]:
                        r = self.request(sess, "POST", f"/meetings/{rec['mid']}/recording/start",
                                         host)
                        if r.status_code == 200:
                            rec["active"] = r.json()["data"]["recording_id"]
                            ack = ("recording", rec["active"], rec["mid"])
                        elif r.status_code == 409:
                            rec["active"] = "unknown"
                    else:
                        r = self.request(sess, "POST", f"/meetings/{rec['mid']}/recording/stop",
                                         host)
                        if r.status_code == 200 and rec["active"] != "unknown":
                            ack = ("recording_stopped", rec["active"], rec["mid"])
                        if r.status_code in (200, 409):
                            rec["active"] = None
                status, retry, err = r.status_code, r.headers.get("Retry-After"), None
                if status >= 400:
                    body = r.json()
                    assert body["code"] == status and body["error"], body
                    err = body["error"]
            except Exception as e:          # connection refused, reset, timeout, bad JSON
                status, retry, err = None, None, f"{type(e).__name__}: {e}"[:200]
            self.records.append((t0, time.monotonic(), op, status, retry, err, ack, intent))

    def pause(self):
        """Stops sending and waits for the requests in flight to finish."""
        self.paused.set()
        assert wait_for(lambda: not any(self.busy), self.timeout + 5)

    def resume(self):
        self.paused.clear()

    # -- what was seen ----------------------------------------------------
    def between(self, a=0.0, b=float("inf")):
        return [r for r in self.records if a <= r[0] < b]

    def statuses(self, records=None):
        return collections.Counter(r[3] for r in (self.records if records is None else records))

    def failures(self, records=None):
        return [r for r in (self.records if records is None else records) if r[3] is None]

    def acks(self):
        return [r[6] for r in self.records if r[6]]

    def unexpected(self, records=None):
        """Answers other than 200 (a recording start after an unanswered one may
        meet the recording it started: 409 there is the client's doing)."""
        return collections.Counter(
            r[3] for r in (self.records if records is None else records)
            if r[3] != 200 and not (r[2] == "recording" and r[3] == 409))

    def processed_failures(self, stack):
        """Of the writes that got no answer, those the database has anyway: done,
        but the client cannot know (not acknowledged, so not 'lost')."""
        done = 0
        for r in self.failures():
            intent = r[7]
            if not intent:
                continue
            kind, key = intent
            q = {"message": "SELECT 1 FROM messages WHERE content = %s AND meeting_id = %s",
                 "user": "SELECT 1 FROM users WHERE username = %s AND %s IS NOT NULL",
                 "participant": "SELECT 1 FROM participants WHERE user_id = %s "
                                "AND meeting_id = %s"}[kind]
            done += bool(stack.sql(q, key, self.world.mid))
        return done


def assert_nothing_acknowledged_was_lost(stack, acks, world=None):
    by = collections.defaultdict(dict)
    for kind, key, extra in acks:
        by[kind][key] = extra
    assert by, "no write was acknowledged"
    if by["user"]:
        found = {int(x) for x in sql_ids(stack, "SELECT user_id FROM users WHERE user_id IN ({ids})",
                                         by["user"])}
        assert found == set(by["user"]), set(by["user"]) - found
    if by["message"]:
        rows = stack.sql("SELECT message_id, content FROM messages WHERE message_id IN ("
                         + ",".join(str(int(x)) for x in by["message"]) + ")")
        assert {int(m): c for m, c in rows} == by["message"]
    if by["participant"]:
        rows = stack.sql("SELECT participant_id, user_id FROM participants WHERE participant_id IN ("
                         + ",".join(str(int(x)) for x in by["participant"]) + ")")
        assert {int(p): int(u) for p, u in rows} == by["participant"]
    if by["recording"]:
        found = sql_ids(stack, "SELECT recording_id FROM recordings WHERE recording_id IN ({ids})",
                        by["recording"])
        assert found == set(by["recording"]), set(by["recording"]) - found
    if by["recording_stopped"]:
        found = sql_ids(stack, "SELECT recording_id FROM recordings WHERE status = 'completed' "
                        "AND recording_id IN ({ids})", by["recording_stopped"])
        assert found == set(by["recording_stopped"]), set(by["recording_stopped"]) - found
    return {k: len(v) for k, v in by.items()}


def report(name, **figures):
    """One line per scenario on stdout (pytest -s shows it; docs/reliability.md
    quotes these)."""
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# ------------------------------------------------- 1. PostgreSQL under load

def pg_ctl_stop(pg, mode):
    subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/pg_ctl", "-D", str(pg.dir),
                    "-m", mode, "-w", "-t", "60", "stop"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def outage(workdir):
    """Runs the scenario once: load for 2 s; PostgreSQL stopped (fast) for 3 s;
    back for 5 s; crashed (immediate) for 2 s; back for 6 s. (A restart with no
    request in flight is test_a_quiet_database_restart_leaves_no_500s.)"""
    pg = Postgres(workdir, unique("pgf"))
    pg.start()
    pg.migrate()
    stack = Stack(workdir, pg, "MeetingDBRetryAfter 2\n")
    stack.start()
    world = World(stack, threads=8)
    marks = {}
    try:
        with Load(world, threads=8) as load:
            start = time.monotonic()
            time.sleep(2)
            marks["fast_stop"] = time.monotonic()
            pg.stop()
            marks["fast_stopped"] = time.monotonic()
            time.sleep(3)
            marks["fast_start"] = time.monotonic()
            pg.start()
            marks["fast_up"] = time.monotonic()
            time.sleep(5)
            marks["crash"] = time.monotonic()
            pg_ctl_stop(pg, "immediate")
            marks["crashed"] = time.monotonic()
            time.sleep(2)
            marks["crash_start"] = time.monotonic()
            pg.start()
            marks["crash_up"] = time.monotonic()
            time.sleep(6)
            marks["end"] = time.monotonic()
        marks = {k: v - start for k, v in marks.items()}
        load.records = [(t0 - start, t1 - start, *rest) for t0, t1, *rest in load.records]
        yield stack, world, load, marks
    finally:
        stack.stop()
        pg.stop()


def test_outage_was_seen_and_answered_503_with_retry_after(outage):
    stack, world, load, m = outage
    down = load.between(m["fast_stopped"] + 0.5, m["fast_start"]) + \
        load.between(m["crashed"] + 0.5, m["crash_start"])
    st = load.statuses(down)
    report("db-outage", requests=len(load.records), statuses=dict(load.statuses()),
           while_down=dict(st), marks={k: round(v, 2) for k, v in m.items()})
    # While the database is down every answer that needs it is 503; health too.
    # A meeting detail read may still come from httpd's cache (MeetingDetailCache,
    # issue 18), which needs no database: 200 or 503, nothing else.
    assert st[503] > 50, st
    needing = load.statuses([r for r in down if r[2] != "meeting"])
    assert set(needing) == {503}, needing
    assert set(st) <= {200, 503}, st
    for r in load.records:
        if r[3] == 503:
            assert r[4] == "2" and r[5] == "service_unavailable", r


def test_outage_never_hangs_and_never_refuses_a_connection(outage):
    stack, world, load, m = outage
    slowest = max(r[1] - r[0] for r in load.records)
    report("db-outage", slowest_request_s=round(slowest, 3),
           failures=len(load.failures()))
    assert not load.failures(), load.failures()[:5]
    # DBD connect_timeout=3 in the template; loopback refusals are immediate.
    assert slowest < 4.0, slowest
    assert not crashes(stack), crashes(stack)


def test_outage_loses_nothing_acknowledged(outage):
    stack, world, load, m = outage
    counts = assert_nothing_acknowledged_was_lost(stack, load.acks())
    report("db-outage", acknowledged=counts)
    assert counts.get("participant") and counts.get("message") and counts.get("user")


def test_signald_reconnects_to_the_database_after_the_outage(outage):
    stack, world, load, m = outage
    d = ok(stack.api("POST", f"/meetings/{world.mid}/join", token=world.host["token"]))
    u = urlsplit(d["room_url"])
    url = f"{stack.ws_base}{u.path}?{u.query}"

    async def connect():
        async with websockets.connect(url, close_timeout=2) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert asyncio.run(connect())["type"] == "joined"


def test_outage_never_answers_500_and_recovers_without_a_restart(outage):
    stack, world, load, m = outage
    st = load.statuses()
    after = load.between(m["crash_up"] + 3, m["end"])
    report("db-outage", status_500=st[500],
           after_recovery=dict(load.statuses(after)))
    assert st[500] == 0, st
    # Recovery without a restart. A pooled connection first used after the
    # outage can still answer a 503 (open in issue 7's note), so this asks
    # for 99 % rather than all.
    done = load.statuses(after)
    assert set(done) <= {200, 503}, done
    assert done[200] >= 0.99 * sum(done.values()), done


def burst(url, token, threads=12, each=40):
    """threads x each GET /users/profile at once: statuses (or exception names)."""
    counts = collections.Counter()

    def go():
        sess = requests.Session()
        for _ in range(each):
            try:
                counts[sess.get(url + "/api/v1/users/profile", timeout=15,
                                headers={"Authorization": "Bearer " + token}).status_code] += 1
            except requests.RequestException as e:
                counts[type(e).__name__] += 1
    ts = [threading.Thread(target=go) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return counts


@contextlib.contextmanager
def warmed_stack(workdir, tag):
    """A PostgreSQL and an httpd of their own, a user, and the pool filled by a
    burst that all answered 200: (pg, stack, user)."""
    pg = Postgres(workdir, unique(tag))
    pg.start()
    pg.migrate()
    stack = Stack(workdir, pg, "MeetingDBRetryAfter 2\n")
    try:
        assert stack.httpd("-k", "start").returncode == 0
        wait_healthy(stack)
        u = stack.new_user()
        warm = burst(stack.url, u["token"])
        assert set(warm) == {200}, warm
        yield pg, stack, u
    finally:
        stack.stop()
        pg.stop()


def test_a_quiet_database_restart_leaves_no_500s(workdir):
    """The deterministic form of the outage's 500s (before db.c's fix every burst
    after the restart had them, more each time; later one 503 per stale pooled
    connection): a pool filled by concurrent requests, PostgreSQL restarted
    while nothing is in flight, then bursts. Each stale connection must be
    found and replaced before it is used."""
    with warmed_stack(workdir, "pgq") as (pg, stack, u):
        pg.stop()
        pg.start()
        after = [burst(stack.url, u["token"]) for _ in range(3)]
        report("db-quiet-restart", bursts_after=[dict(b) for b in after],
               mm0203=stack.log_text().count("MM0203"))
        # The database is up again before the first burst, so no answer may
        # be a 503 either: each pooled connection sees the goodbye its old
        # backend left on its socket and reconnects before it is used.
        assert all(set(b) == {200} for b in after), after
        assert not crashes(stack), crashes(stack)


def module_backends(stack):
    """The module's PostgreSQL sessions (signald and psql give an application_name)."""
    return [int(p) for (p,) in stack.sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = 'meeting' AND usename = 'meeting' "
        "AND application_name = ''")]


def terminate(stack, pids):
    stack.sql("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid",
              "{" + ",".join(map(str, pids)) + "}")
    assert wait_for(lambda: not set(pids) & {int(p) for (p,) in stack.sql(
        "SELECT pid FROM pg_stat_activity")}, 5), "the backends did not go"


def test_statements_are_prepared_again_on_a_reset_connection(workdir):
    """Both ways a pooled connection gets a new PostgreSQL session must give the
    session the statements before one runs: (1) its backend terminated while it
    idles (the module resets it before use); (2) its backend terminated while a
    write runs: that request answers 503 in the envelope and is not run again (the
    meeting keeps its title), and mod_dbd resets the connection when it next hands
    it out. Then every request succeeds, without ever finding a statement missing
    (MM0208, the SQLSTATE 26000 fallback, which would hide a lost reset)."""
    with warmed_stack(workdir, "pgr") as (pg, stack, u):
        sessions = [stack.log_text().count("MM0206")]

        terminate(stack, module_backends(stack))
        idle = [burst(stack.url, u["token"]) for _ in range(2)]
        sessions.append(stack.log_text().count("MM0206"))

        mid = ok(stack.api("POST", "/meetings", token=u["token"], json=meeting_body()), 201)[
            "meeting_id"]
        lock = RowLock(stack, mid)
        assert wait_for(lambda: stack.sql(
            "SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction'"), 5)
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("r", stack.api(
            "PUT", f"/meetings/{mid}", token=u["token"], json={"title": "renamed"})))
        t.start()
        try:
            assert wait_for(lambda: lock.waiters() >= 1, 5), ("the update did not queue", out)
            terminate(stack, [int(p) for (p,) in stack.sql(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = 'meeting'")])
            t.join(15)
        finally:
            lock.release()
        r = out["r"]
        assert r.status_code == 503 and r.headers["Retry-After"] == "2", r.text
        assert r.json()["code"] == 503 and r.json()["error"] == "service_unavailable", r.text
        assert stack.sql("SELECT title FROM meetings WHERE meeting_id = %s", mid) == [["faults"]]
        killed = [burst(stack.url, u["token"]) for _ in range(2)]
        sessions.append(stack.log_text().count("MM0206"))
        report("db-terminated-backends", idle=[dict(b) for b in idle],
               mid_statement=[dict(b) for b in killed], new_sessions=sessions,
               mm0208=stack.log_text().count("MM0208"))
        assert all(set(b) == {200} for b in idle + killed), (idle, killed)
        assert sessions[0] < sessions[1] < sessions[2], sessions
        assert "MM0208" not in stack.log_text()
        assert not crashes(stack), crashes(stack)


# ------------------------------------------------- 2. signald killed (SIGKILL)

async def open_peer(url):
    ws = await websockets.connect(url, close_timeout=2, open_timeout=5)
    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert m["type"] == "joined", m
    return ws


async def until(ws, type_, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if m["type"] == type_:
            return m


def room_urls(stack, world, n):
    """n members joined to the world's meeting: (user_id, url) each."""
    out = []
    for _ in range(n):
        uid, token = world.next_joiner()
        d = ok(stack.api("POST", f"/meetings/{world.mid}/join", token=token))
        u = urlsplit(d["room_url"])
        out.append((uid, f"{stack.ws_base}{u.path}?{u.query}"))
    return out


@pytest.mark.allow_errors
def test_signald_sigkill_under_live_connections(make_stack):
    s = started(make_stack)
    world = World(s, threads=2, joiners=80)
    peers = room_urls(s, world, 40)
    (pid,) = wait_for(s.signald_pids, 5)
    figures = {}

    async def scenario():
        socks = await asyncio.gather(*(open_peer(url) for _, url in peers))
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        # Every live socket is closed by the proxy when its backend dies.
        codes = []
        for ws in socks:
            try:
                await asyncio.wait_for(ws.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
            codes.append(ws.close_code)
        # A new signald, and a first successful reconnect.
        new = await asyncio.to_thread(
            wait_for, lambda: [p for p in s.signald_pids() if p != pid], 3)
        figures["restart_s"] = round(time.monotonic() - killed, 3)
        assert new, "signald was not restarted"
        first = None
        while time.monotonic() - killed < 10:
            try:
                ws = await open_peer(peers[0][1])
                first = time.monotonic() - killed
                break
            except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError,
                    AssertionError):
                await asyncio.sleep(0.05)
        assert first is not None, "no reconnect within 10 s"
        figures["first_reconnect_s"] = round(first, 3)
        # Everyone reconnects with the ticket they had (still valid), seats kept.
        again = [ws] + list(await asyncio.gather(*(open_peer(url) for _, url in peers[1:])))
        figures["reconnected"] = len(again)
        # Relays work between pairs of reconnected peers.
        for k in range(0, len(again) - 1, 2):
            await again[k].send(json.dumps({"type": "offer", "target_user_id": peers[k + 1][0],
                                            "sdp": f"v=0 {k}"}))
        for k in range(0, len(again) - 1, 2):
            m = await until(again[k + 1], "offer")
            assert m["from_user_id"] == peers[k][0] and m["sdp"] == f"v=0 {k}", m
        for ws in again:
            await ws.close()
        return codes

    codes = asyncio.run(scenario())
    report("signald-sigkill", sockets=len(peers), close_codes=dict(collections.Counter(codes)),
           **figures)
    assert figures["restart_s"] <= 2.0, figures
    assert len(s.signald_pids()) == 1
    assert not crashes(s), crashes(s)
    d = ok(s.api("GET", f"/meetings/{world.mid}/participants", token=world.host["token"]))
    online = {p["user_id"] for p in d["participants"] if p["status"] == "online"}
    assert {uid for uid, _ in peers} <= online


@pytest.mark.allow_errors
def test_rest_traffic_is_untouched_by_a_signald_kill(make_stack):
    s = started(make_stack)
    world = World(s, threads=4, joiners=300)
    with Load(world, threads=4) as load:
        time.sleep(1.5)
        for _ in range(3):
            (pid,) = wait_for(s.signald_pids, 5)
            os.kill(pid, signal.SIGKILL)
            time.sleep(1.0)
        time.sleep(1.0)
    st = load.statuses()
    report("signald-sigkill-rest", requests=len(load.records), statuses=dict(st))
    assert not load.failures() and not load.unexpected(), (st, load.failures()[:3])
    assert_nothing_acknowledged_was_lost(s, load.acks())
    assert not crashes(s)


def test_websockets_do_not_starve_the_api(make_stack):
    t0 = time.monotonic()
    s = started(make_stack)
    world = World(s, threads=1, joiners=110)
    # One more than the 100 workers the template used to allow: each proxied
    # socket holds a worker thread (mod_proxy_wstunnel in httpd 2.4).
    peers = room_urls(s, world, 101)
    figures = {"setup_s": round(time.monotonic() - t0, 1)}

    async def scenario():
        async def one(url):
            try:
                return await asyncio.wait_for(open_peer(url), 4)
            except Exception as e:          # the ones past the last free worker
                return e
        socks = await asyncio.gather(*(one(url) for _, url in peers))
        opened = [ws for ws in socks if not isinstance(ws, Exception)]
        figures["sockets_open"] = len(opened)
        t = time.monotonic()
        try:
            r = await asyncio.to_thread(requests.get, s.url + "/api/v1/health", timeout=4)
            figures["api"] = r.status_code
        except requests.RequestException as e:
            figures["api"] = type(e).__name__
        figures["api_s"] = round(time.monotonic() - t, 2)
        t = time.monotonic()
        await asyncio.gather(*(ws.close() for ws in opened))
        figures["close_s"] = round(time.monotonic() - t, 2)
    asyncio.run(scenario())
    report("ws-starvation", **figures)
    assert figures["api"] == 200 and figures["api_s"] < 1.0, figures
    assert figures["sockets_open"] == len(peers), figures


# ----------------------------------------- 3. graceful and hard restarts

def httpd_restart(s, how):
    r = s.httpd("-k", how)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("keepalive", [False, True], ids=["new-connections", "keep-alive"])
def test_graceful_restart_under_load_drops_nothing(make_stack, keepalive):
    """httpd's promise for a graceful restart: the listeners stay open and old
    children finish what they have. A client that opens a connection per request
    sees no failure at all; one that reuses keep-alive connections may find an
    idle one closed under it (the RFC 9112 9.3.1 race every HTTP client handles by
    retrying an idempotent request), so for it the figure is measured and the
    requests that did fail are shown never to have been processed."""
    s = started(make_stack)
    world = World(s, threads=8)
    with Load(world, threads=8, keepalive=keepalive) as load:
        time.sleep(1.0)
        for _ in range(3):
            httpd_restart(s, "graceful")
            time.sleep(0.8)
        time.sleep(0.5)
    st = load.statuses()
    fails = load.failures()
    done = load.processed_failures(s)
    report("graceful-" + ("keepalive" if keepalive else "close"), requests=len(load.records),
           statuses=dict(st), failures=len(fails), failed_writes_done_anyway=done,
           failure_kinds=dict(collections.Counter(f[5].split(":")[0] for f in fails)))
    assert not load.unexpected() - collections.Counter({None: len(fails)}), st
    if not keepalive:
        assert not fails, fails[:5]
    else:
        # Only requests sent on a reused connection the server had just closed
        # (RemoteDisconnected / reset before any answer): at most one per client
        # connection and restart, none of them processed.
        assert len(fails) <= 8 * 3, fails[:5]
        assert all("ConnectionError" in f[5] for f in fails), fails[:5]
        assert done == 0
    assert_nothing_acknowledged_was_lost(s, load.acks())
    assert not crashes(s), crashes(s)
    assert len(s.signald_pids()) == 1


def test_graceful_restart_keeps_live_websockets(make_stack):
    s = started(make_stack)
    world = World(s, threads=1, joiners=20)
    peers = room_urls(s, world, 10)

    async def scenario():
        socks = await asyncio.gather(*(open_peer(url) for _, url in peers))
        await asyncio.to_thread(httpd_restart, s, "graceful")
        await asyncio.sleep(2.0)
        for ws in socks:
            await ws.send(json.dumps({"type": "ping"}))
            assert (await until(ws, "pong"))["type"] == "pong"
        await socks[0].send(json.dumps({"type": "offer", "target_user_id": peers[1][0],
                                        "sdp": "after graceful"}))
        assert (await until(socks[1], "offer"))["sdp"] == "after graceful"
        for ws in socks:
            await ws.close()
    asyncio.run(scenario())
    assert not crashes(s)


def test_hard_restart_under_load(make_stack, workdir):
    """apachectl -k restart kills the children: what they hold at that instant
    (requests in progress, connections accepted but not yet read) is dropped,
    and httpd promises no more. What must hold: the listening socket stays open
    (no connection is refused, nothing hangs), only requests started around a
    restart fail, every answer given is a 200, httpd serves fully again at once,
    and nothing acknowledged is lost. A write whose connection was dropped may
    have been done (reported: not acknowledged, so the client must not assume
    either way). No child crashes, except in the event MPM's own race on an
    ungraceful stop (coredump.py), which a stopping child's core proves."""
    with core_dumps(workdir) as cores:
        s = started(make_stack, f"CoreDumpDirectory {cores}\n")
        check_hard_restart_under_load(s, cores)


def check_hard_restart_under_load(s, cores):
    world = World(s, threads=8)
    restarts = []
    with Load(world, threads=8, keepalive=False) as load:
        time.sleep(1.0)
        for _ in range(2):
            restarts.append(time.monotonic())
            httpd_restart(s, "restart")
            time.sleep(2.0)
        time.sleep(1.0)
        end = time.monotonic()
    st = load.statuses()
    fails = load.failures()
    kinds = collections.Counter(f[5].split(":")[0] for f in fails)
    report("hard-restart", requests=len(load.records), statuses=dict(st), failures=len(fails),
           failure_kinds=dict(kinds), failed_writes_done_anyway=load.processed_failures(s),
           failure_offsets_s=sorted({round(min((f[0] - t for t in restarts), key=abs), 1)
                                     for f in fails}))
    assert not load.unexpected() - collections.Counter({None: len(fails)}), st
    assert not any("refused" in f[5].lower() for f in fails), fails[:5]
    assert not any("Timeout" in f[5] for f in fails), fails[:5]
    for f in fails:     # in flight at a restart, or sent while the children came back
        assert any(f[0] <= t + 3 and f[1] >= t for t in restarts), (f, restarts)
    assert load.statuses(load.between(end - 0.8, end)) .keys() <= {200, 409}
    assert_nothing_acknowledged_was_lost(s, load.acks())
    assert not crashes_but_the_mpm_race(s, cores), crashes(s)
    assert wait_for(lambda: len(s.signald_pids()) == 1, 3)


def test_a_child_segfault_outside_the_mpm_race_is_a_crash(make_stack, workdir):
    """The hard-restart test forgives only the event MPM's race: a child that
    segfaults anywhere else (here: wherever SIGSEGV finds it) is a crash, read
    from its core."""
    with core_dumps(workdir) as cores:
        s = started(make_stack, f"CoreDumpDirectory {cores}\n")
        signald = set(s.signald_pids())
        child = next(p for p, _ in procstat.children(s.pid()) if p not in signald)
        os.kill(child, signal.SIGSEGV)
        assert wait_for(lambda: crashes(s), 10)
        if not coredump.core_of(cores, child, True):
            pytest.skip("kernel.core_pattern does not write cores into CoreDumpDirectory")
        assert crashes_but_the_mpm_race(s, cores) == crashes(s) != []


@pytest.mark.parametrize("how", ["graceful", "restart"])
def test_signald_dies_after_a_restart_and_comes_back(make_stack, how):
    s = started(make_stack)
    world = World(s, threads=1, joiners=4)
    (pid,) = wait_for(s.signald_pids, 5)
    parent = s.pid()
    httpd_restart(s, how)
    time.sleep(1.0)
    wait_healthy(s)
    assert s.signald_pids() == [pid]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    uid, url = room_urls(s, world, 1)[0]

    async def connect():
        while time.monotonic() - killed < 5:
            try:
                ws = await open_peer(url)
                await ws.close()
                return time.monotonic() - killed
            except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError,
                    AssertionError):
                await asyncio.sleep(0.1)
    took = asyncio.run(connect())
    assert alive(parent), "httpd's parent died:\n" + "\n".join(crashes(s))
    assert took is not None and took <= 3.0, "no signaling after the restart:\n" + \
        "\n".join(s.log_text().splitlines()[-6:])
    assert not crashes(s), crashes(s)


# ------------------------------------------------------------ 4. races

def race_delete_then(s, action):
    """An ended meeting; its delete and then `action` queue behind a row lock;
    the lock goes, the delete runs first. Returns the action's answer."""
    host, member, stranger = s.new_user(), s.new_user(), s.new_user()
    mid = ok(s.api("POST", "/meetings", token=host["token"], json=meeting_body()), 201)[
        "meeting_id"]
    ok(s.api("POST", f"/meetings/{mid}/participants", token=host["token"],
             json={"user_id": member["user_id"]}))
    ok(s.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    ok(s.api("POST", f"/meetings/{mid}/end", token=host["token"]))
    # Each of these waits for the meeting's row lock. Not so a role change or a
    # leave, which do not take it, nor a message, a start or an end, whose
    # conditional UPDATE skips the ended meeting's row without waiting (they
    # answer 409 at once: the meeting was ended when they ran): they cannot be
    # queued this way.
    actions = {
        "add": ("POST", f"/meetings/{mid}/participants", {"user_id": stranger["user_id"]}),
        "update": ("PUT", f"/meetings/{mid}", {"title": "renamed"}),
        "remove": ("DELETE", f"/meetings/{mid}/participants/{member['user_id']}", None),
        "delete": ("DELETE", f"/meetings/{mid}", None),
        "recording start": ("POST", f"/meetings/{mid}/recording/start", None),
        "recording stop": ("POST", f"/meetings/{mid}/recording/stop", None),
    }
    lock = RowLock(s, mid)
    out = {}

    def call(name, method, path, body=None):
        out[name] = s.api(method, path, token=host["token"], json=body)
    calls = [("first delete", "DELETE", f"/meetings/{mid}", None), (action, *actions[action])]
    threads = []
    for n, c in enumerate(calls):
        t = threading.Thread(target=call, args=c)
        t.start()
        threads.append(t)
        assert wait_for(lambda: lock.waiters() >= n + 1, 5), "the call did not queue"
    lock.release()
    for t in threads:
        t.join(30)
    assert out["first delete"].status_code == 200, out["first delete"].text
    assert not s.sql("SELECT 1 FROM meetings WHERE meeting_id = %s", mid)
    return out[action]


def test_participant_add_racing_a_delete_is_404(make_stack):
    s = started(make_stack)
    r = race_delete_then(s, "add")
    assert r.status_code == 404, r.text


def test_meeting_update_racing_a_delete_is_404(make_stack):
    s = started(make_stack)
    r = race_delete_then(s, "update")
    assert r.status_code == 404, r.text


def test_every_meeting_write_racing_a_delete_is_404(make_stack):
    """A write that waited for the meeting's row lock while its delete committed
    finds the meeting gone: 404, never a 500 or a 200 for a change that did not
    happen, nor the 409 the ended meeting would have answered."""
    s = started(make_stack)
    answers = {a: race_delete_then(s, a) for a in (
        "remove", "delete", "recording start", "recording stop")}
    assert {a: r.status_code for a, r in answers.items()} == dict.fromkeys(answers, 404), \
        {a: r.text for a, r in answers.items()}
    for r in answers.values():
        assert r.json()["error"] == "not_found"
