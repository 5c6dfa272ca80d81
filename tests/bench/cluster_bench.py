"""make bench, more than one node (docs/cluster.md): API throughput through
haproxy with three nodes, then with one, and one node without haproxy (what
the proxy costs), on this machine. Runs inside the network namespace that
tests/cluster/run.sh --bench makes. Timings are printed, never asserted: on
two cores, three nodes share the same two cores and gain nothing; the point is
that it works and what it costs."""
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cluster"))
from cluster import HTTP_PORT, Client, Cluster  # noqa: E402

USERS = 60
THREADS = 2
CONNS = 32
SECONDS = 10


def tokens(cluster):
    client = Client("10.231.0.101")
    out = []
    for i in range(USERS):
        name = f"b{i}_{time.time_ns() % 10**9}"
        r = client.request("POST", cluster.lb + "/api/v1/auth/register",
                           json={"username": name, "email": f"{name}@example.com",
                                 "password": "secret123"})
        assert r.status_code == 200, r.text
        r = client.request("POST", cluster.lb + "/api/v1/auth/login",
                           json={"username": name, "password": "secret123"})
        out.append(r.json()["data"]["token"])
    return out


def wrk(url, path, seconds=SECONDS):
    r = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNS), "-d", f"{seconds}s",
                        "--timeout", "10s", "-s", str(HERE / "requests.lua"), url, "--",
                        str(path), str(THREADS)], capture_output=True, text=True)
    m = re.search(r"@@RESULT (\{.*\})", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed: {r.stdout[-1500:]} {r.stderr[-1500:]}")
    res = json.loads(m.group(1))
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


def statuses(cluster, offsets):
    """Non-2xx answers the nodes logged since offsets: what the errors were."""
    counts = {}
    for n, off in zip(cluster.nodes, offsets):
        p = n.state / "logs" / "access.log"
        with open(p, "rb") as f:
            f.seek(off)
            for line in f:
                m = re.search(rb'" (\d{3}) ', line)
                if m and not m.group(1).startswith(b"2"):
                    counts[m.group(1).decode()] = counts.get(m.group(1).decode(), 0) + 1
    return counts


def measured(cluster, url, path):
    offsets = [(n.state / "logs" / "access.log").stat().st_size for n in cluster.nodes]
    res = wrk(url, path)
    res["why"] = statuses(cluster, offsets)
    return res


def wait_down(cluster, gone, toks, timeout=30):
    """Until haproxy's health check has taken the stopped nodes out: every user's
    request is answered, by a node still running."""
    deadline = time.time() + timeout
    client = Client("10.231.0.102")
    while time.time() < deadline:
        try:
            served = [client.request("GET", cluster.lb + "/api/v1/users/profile", token=t)
                      for t in toks]
            if all(r.status_code == 200 and r.headers["X-Meeting-Node"] not in gone
                   for r in served):
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError("haproxy still sends to the stopped nodes")


def main():
    cluster = Cluster("MeetingRateLimit * off\n")
    rows = []
    try:
        cluster.start()
        toks = tokens(cluster)
        path = Path(tempfile.mkdtemp()) / "profile.txt"
        path.write_text("".join(f"GET\t/api/v1/users/profile\t{t}\t-\n" for t in toks))
        # Warm-up, not counted: every node starts its children and database
        # connections as the load comes.
        wrk(cluster.lb, path, 5)
        rows.append(("3 nodes through haproxy", measured(cluster, cluster.lb, path)))
        for n in cluster.nodes[1:]:
            n.stop()
        wait_down(cluster, {n.name for n in cluster.nodes[1:]}, toks)
        rows.append(("1 node through haproxy", measured(cluster, cluster.lb, path)))
        rows.append(("1 node, no haproxy",
                     measured(cluster, f"http://{cluster.nodes[0].addr}:{HTTP_PORT}", path)))
    finally:
        cluster.stop()
    print(f"GET /users/profile, {USERS} users, wrk -t{THREADS} -c{CONNS} -d{SECONDS}s "
          "(a token each: haproxy hashes by user)")
    print(f"{'setup':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  "
          "non-2xx the nodes logged")
    for name, r in rows:
        errors = r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
        print(f"{name:<26} {r['rps']:>8.0f} {r['p50'] / 1000:>8.2f} "
              f"{r['p99'] / 1000:>8.2f} {errors:>7}  {r['why'] or '-'}")


if __name__ == "__main__":
    main()
