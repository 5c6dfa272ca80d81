"""Webhook deliveries per second to a local receiver (make bench-webhooks).

Brings up the test stack (a private PostgreSQL, httpd and the signald that
delivers), a receiver on 127.0.0.1 that answers 200 at once, writes events
straight into the outbox (mm_webhook_emit, as the actions do) and times how
long the deliverer takes to post them all. Two shapes: all events in one
meeting (each waits for the one before it: the ordered, one-at-a-time rate)
and the same number spread over many meetings (in flight side by side, up to
MeetingWebhookConnections). Prints the rates; asserts nothing.

  BENCH_WH_EVENTS=2000     events per scenario
  BENCH_WH_MEETINGS=50     meetings of the second scenario
"""
import http.server
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import conftest  # noqa: E402  (the integration tests' stack, unchanged)

EVENTS = int(os.environ.get("BENCH_WH_EVENTS", "2000"))
MEETINGS = int(os.environ.get("BENCH_WH_MEETINGS", "50"))


class Receiver:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with outer.lock:
                    outer.count += 1

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def scenario(stack, rec, user, meetings, label):
    rec.count = 0
    mids = []
    for _ in range(meetings):
        r = stack.api("POST", "/meetings", token=user["token"], json={
            "title": "bench", "start_time": "2025-10-03T10:00:00Z",
            "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
            "meeting_type": "video"})
        mids.append(r.json()["data"]["meeting_id"])
    per = EVENTS // meetings
    t0 = time.time()
    stack.sql("SELECT mm_webhook_emit(m, 'chat.message', jsonb_build_object('n', i))"
              " FROM unnest(%s::bigint[]) m, generate_series(1, %s) i",
              "{" + ",".join(map(str, mids)) + "}", per)
    total = per * meetings
    deadline = time.time() + 600
    while rec.count < total and time.time() < deadline:
        time.sleep(0.05)
    took = time.time() - t0
    print(f"{label:<40} {rec.count:>6} of {total:<6} {took:7.2f} s {rec.count / took:9.1f}/s")


def main():
    base = Path(tempfile.mkdtemp(prefix="whbench-"))
    base.chmod(0o755)
    pg = conftest.Postgres(base)
    pg.start()
    stack = None
    try:
        pg.migrate()
        stack = conftest.Stack(base, pg)
        stack.start()
        rec = Receiver()
        user = stack.new_user()
        r = stack.api("POST", "/webhooks", token=user["token"],
                      json={"url": rec.url, "events": ["chat.message"]})
        assert r.status_code == 201, r.text
        print(f"{'scenario':<40} {'delivered':>15} {'time':>9} {'rate':>11}")
        scenario(stack, rec, user, 1, "one meeting (ordered, one at a time)")
        scenario(stack, rec, user, MEETINGS, f"{MEETINGS} meetings (4 in flight per endpoint)")
    finally:
        if stack:
            stack.stop()
        pg.stop()


if __name__ == "__main__":
    main()
