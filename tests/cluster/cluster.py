"""A cluster on one machine, inside the network namespace tests/cluster/run.sh
made: one PostgreSQL, three nodes (each its own httpd + signald, own ports and
run directory, addresses 10.231.0.1-3), a shared recording directory, and
haproxy (10.231.0.10) rendered from conf/haproxy.cfg.in. Used by the cluster
test and by the cluster benchmark."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.sh"
HTTPD = "/usr/sbin/apache2"
SIGNALD = str(ROOT / "build" / "signald")
PG_PORT = 5432                       # the namespace's own loopback: nothing else uses it
HTTP_PORT = 8080
LB = "10.231.0.10"
LB_PORT = 80
NODE_TIMEOUT = 4                     # MeetingNodeTimeout of the test's nodes

# As the integration tests (cheap bcrypt, limits out of the way) plus what a
# node behind haproxy needs: the client's address from X-Forwarded-For, the
# node's name and URL, the shared recording directory.
NODE_CONF = """
MeetingBcryptCost 4
MeetingRateLimit * 1000000/min
MeetingRateLimitSlots 4096
MeetingMaxOngoingMeetings 1000
LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy {lb}
MeetingSignalingURL ws://{lb}:{lb_port}/ws/signaling
MeetingNodeName {name}
MeetingNodeSignalingURL ws://{lb}:{lb_port}/ws/signaling?node={name}
MeetingNodeTimeout {timeout}
MeetingRecordingDir "{shared}"
"""


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                          **kw)


def pids_matching(*needles):
    """Processes whose command line holds every needle (bytes)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes()
        except OSError:
            continue
        if all(n in cmd for n in needles):
            found.append(int(d))
    return found


class SourceAdapter(HTTPAdapter):
    """Connections from one of the namespace's client addresses."""

    def __init__(self, source, **kw):
        self.source = source
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kw)


class Client:
    """HTTP from one client address: to haproxy, or straight to a node."""

    def __init__(self, source):
        self.source = source
        self.session = requests.Session()
        self.session.mount("http://", SourceAdapter(source))

    def request(self, method, url, token=None, **kw):
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return self.session.request(method, url, headers=headers, timeout=30, **kw)


class Node:
    def __init__(self, base, index, extra):
        self.index = index
        self.name = f"n{index}"
        self.addr = f"10.231.0.{index}"
        self.url = f"http://{self.addr}:{HTTP_PORT}"
        self.sigport = 8100 + index
        self.state = base / self.name
        self.state.mkdir()
        self.state.chmod(0o755)
        # Every node signs and verifies with the same secret (docs/cluster.md).
        shutil.copy(base / "jwt.secret", self.state / "jwt.secret")
        self.conf = self.state / "httpd.conf"
        conf = NODE_CONF.format(lb=LB, lb_port=LB_PORT, name=self.name, timeout=NODE_TIMEOUT,
                                shared=base / "recordings") + extra
        (self.state / "extra.conf").write_text(conf)
        run(STACK, "render", self.state, HTTP_PORT, PG_PORT, self.sigport,
            self.state / "extra.conf")
        text = self.conf.read_text().replace(f"Listen 127.0.0.1:{HTTP_PORT}",
                                             f"Listen {self.addr}:{HTTP_PORT}")
        self.conf.write_text(text)

    def start(self):
        r = subprocess.run([HTTPD, "-f", str(self.conf), "-k", "start"], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr + self.log()

    def stop(self):
        subprocess.run([HTTPD, "-f", str(self.conf), "-k", "stop"], capture_output=True)

    def kill(self):
        """SIGKILL to the httpd (parent and children) and its signald: a node dies."""
        pids = pids_matching(str(self.conf).encode()) + pids_matching(
            SIGNALD.encode(), f"127.0.0.1:{self.sigport}".encode())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while pids_matching(str(self.conf).encode()) and time.time() < deadline:
            time.sleep(0.1)

    def log(self):
        p = self.state / "logs" / "error.log"
        return p.read_text() if p.exists() else ""

    def access_lines(self, needle):
        p = self.state / "logs" / "access.log"
        return [l for l in p.read_text().splitlines() if needle in l] if p.exists() else []


class Cluster:
    def __init__(self, extra=""):
        self.base = Path(tempfile.mkdtemp(prefix="mm-cluster-"))
        self.base.chmod(0o755)
        shared = self.base / "recordings"
        shared.mkdir()
        shutil.chown(shared, "www-data", "www-data")
        self.pgdir = self.base / "pg"
        run(STACK, "secret", self.base / "jwt.secret")
        self.nodes = [Node(self.base, i, extra) for i in (1, 2, 3)]
        self.lb = f"http://{LB}:{LB_PORT}"
        self.haproxy_cfg = self.base / "haproxy.cfg"
        self.haproxy = None

    def start(self):
        run(STACK, "pg-start", self.pgdir, PG_PORT)
        run(STACK, "migrate", PG_PORT)
        for n in self.nodes:
            n.start()
        run(STACK, "haproxy-render", self.haproxy_cfg, f"{LB}:{LB_PORT}",
            self.base / "haproxy.pid", *[f"{n.name}={n.addr}:{HTTP_PORT}" for n in self.nodes])
        self.haproxy = subprocess.Popen(["haproxy", "-f", str(self.haproxy_cfg), "-db"],
                                        stdout=open(self.base / "haproxy.log", "w"),
                                        stderr=subprocess.STDOUT)
        self.wait_live({n.name for n in self.nodes})

    def wait_live(self, names, timeout=60):
        """Until haproxy answers and exactly these nodes beat in the registry."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            live = {r[0] for r in self.sql(
                "SELECT node_id FROM nodes WHERE seen_at + dead_after > now()")}
            try:
                up = requests.get(self.lb + "/api/v1/health", timeout=1).status_code == 200
            except requests.RequestException:
                up = False
            if up and live == names:
                return
            time.sleep(0.2)
        raise AssertionError(f"nodes {names} not live: {self.logs()}")

    def stop(self):
        if self.haproxy:
            self.haproxy.terminate()
            self.haproxy.wait(10)
        for n in self.nodes:
            n.stop()
        time.sleep(1)
        run(STACK, "pg-stop", self.pgdir)
        shutil.rmtree(self.base, ignore_errors=True)

    def sql(self, query, *args):
        lits = tuple("NULL" if a is None else "'" + str(a).replace("'", "''") + "'"
                     for a in args)
        out = run("psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                  "-h", "127.0.0.1", "-p", PG_PORT, "-U", "postgres", "-d", "meeting",
                  "-c", query % lits).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def logs(self):
        return "\n".join(f"== {n.name}\n{n.log()[-3000:]}" for n in self.nodes)
