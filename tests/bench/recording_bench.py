"""Post-processing time of server recordings (make bench-recording; also the
last part of make bench): a 3-participant recording of BENCH_REC_SECONDS
(default 60) whose publishers start 0, 5 and 10 s in, written as Janus's
.mjr files (tests/integration/mjr.py), queued as a job in a private
PostgreSQL, then processed by build/recworker --once. Prints the wall time
and the time per minute of meeting; nothing is asserted."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import mjr  # noqa: E402

STACK = ROOT / "scripts" / "stack.sh"
SECONDS = int(os.environ.get("BENCH_REC_SECONDS", "60"))
RUNS = int(os.environ.get("BENCH_REC_RUNS", "2"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(port, sql):
    return subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                           "-p", str(port), "-U", "postgres", "-d", "meeting", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def queue(port, rid, raw):
    psql(port, f"""
        INSERT INTO recordings (recording_id, meeting_id, started_by, status, source, raw_dir,
                                keep_raw, stopped_at)
        SELECT '{rid}', meeting_id, creator_id, 'processing', 'server', '{raw}', true, now()
          FROM meetings LIMIT 1;
        INSERT INTO recording_jobs (recording_id) VALUES ('{rid}');""")


def main():
    work = Path(tempfile.mkdtemp(prefix="mm-recbench-"))
    work.chmod(0o755)
    port = free_port()
    pgdir = work / "pg"
    try:
        subprocess.run([STACK, "pg-start", pgdir, str(port)], check=True, capture_output=True)
        subprocess.run([STACK, "migrate", str(port)], check=True, capture_output=True)
        psql(port, """
            INSERT INTO users (username, email, password_hash) VALUES ('bench', 'b@x', '-');
            INSERT INTO meetings (title, start_time, end_time, max_participants, meeting_type,
                                  creator_id, status)
            SELECT 'bench', now(), now() + interval '1 hour', 10, 'video', user_id, 'ended'
              FROM users;""")
        recdir = work / "recordings"
        raw = recdir / "raw"
        raw.mkdir(parents=True)
        t0 = 1_765_000_000_000_000
        made = time.monotonic()
        for i, (color, freq) in enumerate([("red", 440), ("blue", 660), ("green", 880)]):
            mjr.participant(str(raw), 1, 100 + i, t0 + i * 5_000_000, SECONDS - 5 * i,
                            color, freq)
        print(f"recording bench: {SECONDS} s, 3 participants, .mjr files made in "
              f"{time.monotonic() - made:.1f} s", flush=True)
        for run in range(RUNS):
            rid = f"rec_bench{run}"
            queue(port, rid, raw)
            start = time.monotonic()
            subprocess.run([ROOT / "build" / "recworker", "--db",
                            f"host=127.0.0.1 port={port} dbname=meeting user=meeting",
                            "--recording-dir", str(recdir), "--once", "--settle", "0",
                            "--min-free", "0"], check=True, stderr=subprocess.DEVNULL)
            took = time.monotonic() - start
            status, duration, size = psql(
                port, f"SELECT status, duration, size FROM recordings "
                      f"WHERE recording_id = '{rid}'").split("|")
            print(f"recording bench: run {run + 1}: {status}, {duration} s, {size} bytes, "
                  f"processed in {took:.1f} s = {took * 60 / SECONDS:.1f} s per minute "
                  f"of meeting", flush=True)
    finally:
        subprocess.run([STACK, "pg-stop", pgdir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
