"""A meeting's row lock held by a psql session of its own, so that API calls
started meanwhile queue behind it in a known order."""

import subprocess
import time

# An advisory lock the session asks for after the row's: once it is granted,
# the row lock is held (psql runs the statements in order).
MARKER = 19


class RowLock:
    def __init__(self, stack, mid):
        self.stack = stack
        self.p = subprocess.Popen(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(stack.pg.port), "-U", "postgres",
             "-d", "meeting", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.p.stdin.write(f"BEGIN; SELECT 1 FROM meetings WHERE meeting_id = {mid} FOR UPDATE;"
                           f" SELECT pg_advisory_lock({MARKER});\n")
        self.p.stdin.flush()
        deadline = time.monotonic() + 20
        while self.count(f"locktype = 'advisory' AND objid = {MARKER} AND granted") != 1:
            assert time.monotonic() < deadline, "psql did not take the lock"
            time.sleep(0.05)

    def count(self, where):
        return int(self.stack.sql(f"SELECT count(*) FROM pg_locks WHERE {where}")[0][0])

    def waiters(self):
        return int(self.stack.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                                  "wait_event_type = 'Lock' AND datname = 'meeting'")[0][0])

    def release(self):
        self.p.stdin.write("COMMIT;\n")
        self.p.stdin.close()
        self.p.wait(30)
