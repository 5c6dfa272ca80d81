"""Integration harness: a private PostgreSQL and httpd (with mod_meeting and the
signald it supervises) in a temporary directory on free ports, built from the
same template and scripts as the dev stack. Nothing is mocked.

Fixtures:
  pg          session PostgreSQL (migrated); pg.sql(query, *args) runs SQL
  stack       session httpd with test settings (cheap bcrypt, limits raised)
  make_stack  factory for an httpd with extra directives, stopped after the test
"""
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

import procstat
from envelopes import assert_compact

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.sh"
HTTPD = "/usr/sbin/apache2"
SIGNALD = str(ROOT / "build" / "signald")

# Test defaults: bcrypt at its cheapest and limits out of the way, except in
# the tests that are about them (they pass their own directives).
# Webhook retries come within seconds, not hours, and a receiver that does
# not answer is given up on after 5 s (test_webhooks.py).
TEST_CONF = """
MeetingBcryptCost 4
MeetingRateLimit * 1000000/min
MeetingRateLimitSlots 4096
MeetingMaxOngoingMeetings 1000
MeetingWebhookRetrySchedule 200ms 400ms 600ms 800ms 1s 1s 1s
MeetingWebhookTimeout 5
"""

_counter = itertools.count(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix="u"):
    return f"{prefix}{os.getpid()}_{next(_counter)}_{int(time.time() * 1000) % 100000}"


def wait_for(cond, timeout, step=0.1):
    """Polls cond() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                          **kw)


class Postgres:
    def __init__(self, base, name="pg"):
        self.dir = base / name
        self.port = free_port()

    def start(self):
        run(STACK, "pg-start", self.dir, self.port)

    def stop(self):
        run(STACK, "pg-stop", self.dir)

    def migrate(self):
        run(STACK, "migrate", self.port)

    def sql(self, query, *args):
        """Runs query as the superuser; %s placeholders are quoted literals."""
        lits = tuple("NULL" if a is None else "'" + str(a).replace("'", "''") + "'"
                     for a in args)
        out = run("psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                  "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", "meeting",
                  "-c", query % lits).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class Stack:
    """One private httpd running the module."""

    def __init__(self, base, pg, extra="", mpm="event"):
        self.pg = pg
        self.mpm = mpm
        self.state = Path(tempfile.mkdtemp(prefix="httpd-", dir=base))
        self.state.chmod(0o755)
        self.port = free_port()
        self.sigport = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.extra = TEST_CONF + extra
        self.conf = self.state / "httpd.conf"
        self.error_log = self.state / "logs" / "error.log"
        self.session = requests.Session()
        # Every reply any test reads through the stack is held to one JSON style.
        self.session.hooks["response"].append(lambda r, *args, **kw: assert_compact(r))
        self.render()

    def render(self):
        extra = self.state / "extra.conf"
        extra.write_text(self.extra)
        run(STACK, "render", self.state, self.port, self.pg.port, self.sigport, extra)
        if self.mpm != "event":
            text = self.conf.read_text().replace(
                "mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so",
                f"mpm_{self.mpm}_module /usr/lib/apache2/modules/mod_mpm_{self.mpm}.so")
            self.conf.write_text(text)

    def httpd(self, *args):
        return subprocess.run([HTTPD, "-f", str(self.conf), *args], capture_output=True,
                              text=True)

    def start(self):
        r = self.httpd("-k", "start")
        if r.returncode != 0:
            raise RuntimeError(f"httpd failed to start: {r.stderr}{self.log_text()}")
        self.wait_up()

    def wait_up(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                requests.get(self.url + "/api/v1/health", timeout=1)
                return
            # A timeout too: the listening socket exists (and accepts) before the
            # children do, which can take seconds (MeetingBcryptCost's start-up
            # hash is computed in each configuration pass).
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        raise RuntimeError("httpd did not come up\n" + self.log_text())

    def pid(self):
        try:
            return int((self.state / "httpd.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self):
        """SIGTERM to the parent, which is what httpd -k stop sends, without
        -k stop's reading of the configuration first: a test may have left it
        broken (a directive removed, its CoreDumpDirectory gone), and then
        -k stop refused and the stack outlived the run. What is still running
        after 15 s is killed with its process group."""
        pid = self.pid()
        if not pid or str(self.conf).encode() not in procstat.cmdline(pid):
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: not procstat.cmdline(pid), 15):
            os.killpg(pid, signal.SIGKILL)

    def graceful(self):
        self.httpd("-k", "graceful")
        time.sleep(1.0)
        self.wait_up()

    def log_text(self):
        return self.error_log.read_text() if self.error_log.exists() else ""

    def log_size(self):
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def log_since(self, offset):
        if not self.error_log.exists():
            return ""
        with open(self.error_log) as f:
            f.seek(offset)
            return f.read()

    # -- API helpers ------------------------------------------------------
    def api(self, method, path, token=None, json=None, headers=None, **kw):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        return self.session.request(method, self.url + "/api/v1" + path, json=json,
                                    headers=h, timeout=30, **kw)

    def register(self, username=None, password="secret123", **fields):
        username = username or unique()
        body = {"username": username, "email": f"{username}@example.com",
                "password": password, **fields}
        r = self.api("POST", "/auth/register", json=body)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def login(self, username, password="secret123"):
        r = self.api("POST", "/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def new_user(self, **fields):
        """Registers and logs in a fresh user: dict(user_id, username, token, ...)."""
        password = "secret123"
        reg = self.register(password=password, **fields)
        tokens = self.login(reg["username"], password)
        return {**reg, "password": password, "token": tokens["token"],
                "refresh_token": tokens["refresh_token"]}

    def sql(self, query, *args):
        return self.pg.sql(query, *args)

    def signald_pids(self):
        """signald processes this stack's httpd started (matched by listen port)."""
        listen = f"127.0.0.1:{self.sigport}".encode()
        return [p for p in procstat.pids()
                if (cmd := procstat.cmdline(p))[:1] == [SIGNALD.encode()] and listen in cmd]

    def directive(self, name):
        """The arguments of each `name` line of the rendered httpd.conf, in order."""
        return [line.split()[1:] for line in self.conf.read_text().splitlines()
                if line.split()[:1] == [name]]

    def signaling_url(self):
        """MeetingSignalingURL as configured, else the module's default."""
        urls = [w[0].strip('"') for w in self.directive("MeetingSignalingURL") if len(w) == 1]
        return urls[-1] if urls else f"ws://127.0.0.1:{self.port}/ws/signaling"


@pytest.fixture(scope="session")
def workdir():
    base = Path(tempfile.mkdtemp(prefix="mm-test-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(workdir):
    p = Postgres(workdir)
    p.start()
    p.migrate()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def stack(workdir, pg):
    s = Stack(workdir, pg)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def make_stack(workdir, pg):
    started = []

    def factory(extra="", start=True, mpm="event"):
        s = Stack(workdir, pg, extra, mpm)
        if start:
            s.start()
        started.append(s)
        return s

    yield factory
    for s in started:
        s.stop()


# An httpd crash or an error the module or signald logs (signald writes to
# httpd's error log: "... signald[pid] error: ...") fails the test that caused
# it, unless the test expects errors (marker allow_errors).
CRASH = re.compile(r"AH00052|AH00051|Segmentation fault|\[meeting:(error|crit)\]"
                   r"|signald\[\d+\] error:")


@pytest.fixture(autouse=True)
def error_log_clean(request):
    if "stack" not in request.fixturenames:
        yield
        return
    s = request.getfixturevalue("stack")
    before = s.log_size()
    yield
    if request.node.get_closest_marker("allow_errors"):
        return
    bad = [line for line in s.log_since(before).splitlines() if CRASH.search(line)]
    assert not bad, "error log:\n" + "\n".join(bad)


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_errors: the test expects errors in the log")
