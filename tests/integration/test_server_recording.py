"""Server-side recording (SPEC 7, seed 3.14-3.16): recording/start names a
folder for the SFU's .mjr files, stop queues a job, and the recording worker
(build/recworker) turns them into one MP4 with janus-pp-rec and ffmpeg.

Janus itself is not run here: the .mjr files are written by mjr.py in Janus's
own format and naming, from media ffmpeg encodes, into the folder the API
named; from there on everything is real (httpd, PostgreSQL, the worker,
janus-pp-rec, ffmpeg). The jobs' faults are real too: the worker is killed
with SIGKILL, PostgreSQL is stopped and started, two workers race, and a
small tmpfs stands for a full disk."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

import mjr
import procstat
from conftest import HTTPD, ROOT, Postgres, Stack, run, unique, wait_for

WORKER = ROOT / "build" / "recworker"
EXTRA = "MeetingServerRecording On\nMeetingRecordingMinFree 0\n"
GRID = (1280, 720)
T0 = 1_765_000_000_000_000


@pytest.fixture(scope="module")
def rec_pg(workdir):
    """A PostgreSQL of this module's own: one test restarts it."""
    p = Postgres(workdir, "pg-rec")
    p.start()
    p.migrate()
    p.migrate()     # the schema changes apply again to a database that has them
    yield p
    p.stop()


@pytest.fixture(scope="module")
def rec_stack(workdir, rec_pg):
    s = Stack(workdir, rec_pg, EXTRA)
    s.start()
    yield s
    s.stop()


class Worker:
    """One recworker process; its log in a file for the test to read."""

    def __init__(self, stack, name, *extra, directory=None):
        self.log = stack.state / f"worker-{name}.log"
        pg = stack.pg
        self.proc = subprocess.Popen(
            [str(WORKER), "--db", f"host=127.0.0.1 port={pg.port} dbname=meeting user=meeting"
             " connect_timeout=3", "--recording-dir", str(directory or stack.state / "recordings"),
             "--name", name, "--lease", "6", "--settle", "1", "--poll", "1",
             "--retry-delay", "1", *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

    def text(self):
        return self.log.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def workers(rec_stack):
    started = []

    def factory(name=None, *extra, directory=None):
        w = Worker(rec_stack, name or unique("w"), *extra, directory=directory)
        started.append(w)
        return w

    yield factory
    for w in started:
        w.stop()


def recording_meeting(stack):
    host = stack.new_user()
    r = stack.api("POST", "/meetings", token=host["token"], json={
        "title": "recorded", "start_time": "2030-01-01T10:00:00Z",
        "end_time": "2030-01-01T11:00:00Z", "max_participants": 10, "meeting_type": "video",
        "settings": {"enable_recording": True}})
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    assert stack.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    return host, mid


def start_recording(stack, host, mid):
    r = stack.api("POST", f"/meetings/{mid}/recording/start", token=host["token"])
    assert r.status_code == 200, r.text
    return r.json()["data"]["recording_id"]


def raw_dir(stack, rid):
    """The folder convention: <MeetingRecordingDir>/<recording_id>.raw."""
    return stack.state / "recordings" / f"{rid}.raw"


def record(stack, host, mid, tracks):
    """Start, the SFU's files written as Janus would, stop. tracks: (user,
    offset s, length s, colour, tone Hz)."""
    rid = start_recording(stack, host, mid)
    folder = raw_dir(stack, rid)
    assert folder.is_dir()      # made by the module for the SFU
    for user, offset, length, color, freq in tracks:
        mjr.participant(str(folder), mid, user, T0 + int(offset * 1e6), length, color, freq)
    assert stack.api("POST", f"/meetings/{mid}/recording/stop",
                     token=host["token"]).status_code == 200
    return rid


THREE = [(11, 0.0, 8, "red", 440), (12, 1.5, 7, "blue", 660), (13, 3.0, 5, "green", 880)]


def item(stack, host, mid, rid):
    r = stack.api("GET", f"/meetings/{mid}/recordings", token=host["token"])
    assert r.status_code == 200
    return next(x for x in r.json()["data"]["recordings"] if x["recording_id"] == rid)


def wait_status(stack, host, mid, rid, want, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        it = item(stack, host, mid, rid)
        if it["status"] in ("completed", "failed"):
            assert it["status"] == want, it
            return it
        time.sleep(0.5)
    raise AssertionError(f"{rid} still {it['status']} after {timeout} s")


def probe(path):
    out = run("ffprobe", "-v", "error", "-show_entries",
              "stream=codec_type,codec_name,width,height:format=duration", "-of", "compact",
              path).stdout
    return out


def gray_frame(path, at):
    """The frame at `at` seconds, one byte of gray per pixel."""
    return subprocess.run(["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path),
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                          capture_output=True, check=True, timeout=60).stdout


def tiles_with_picture(path, at):
    """How many tiles of the 2x2 grid hold a picture (not one flat colour)
    in the frame at `at` seconds."""
    w, h = GRID
    gray = gray_frame(path, at)
    assert len(gray) == w * h
    count = 0
    for ty in range(2):
        for tx in range(2):
            px = [gray[y * w + x] for y in range(ty * h // 2, (ty + 1) * h // 2, 8)
                  for x in range(tx * w // 2, (tx + 1) * w // 2, 8)]
            mean = sum(px) / len(px)
            var = sum((p - mean) ** 2 for p in px) / len(px)
            count += var > 100
    return count


def picture_box(path, at):
    """(left, top, right, bottom) of what is not black in the frame at `at`
    seconds: where the grid put its pictures."""
    w, h = GRID
    gray = gray_frame(path, at)
    xs = [x for x in range(0, w, 4) if any(gray[y * w + x] > 24 for y in range(0, h, 4))]
    ys = [y for y in range(0, h, 4) if any(gray[y * w + x] > 24 for x in range(0, w, 4))]
    return (xs[0], ys[0], xs[-1] + 4, ys[-1] + 4) if xs else None


def near(box, want, slack=12):
    return box is not None and all(abs(a - b) <= slack for a, b in zip(box, want))


def ffmpeg_child(worker, timeout=60):
    """Waits until the worker runs ffmpeg; its pid."""
    pid = wait_for(lambda: next((pid for pid, comm in procstat.children(worker.proc.pid)
                                 if comm == "ffmpeg"), None), timeout, 0.05)
    assert pid, "the worker never ran ffmpeg:\n" + worker.text()
    return pid


def download(stack, url, dest):
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    dest.write_bytes(r.content)
    return r


def test_three_participants_become_one_mp4(rec_stack, workers, tmp_path):
    host, mid = recording_meeting(rec_stack)
    rid = record(rec_stack, host, mid, THREE)
    it = item(rec_stack, host, mid, rid)
    assert it["status"] == "processing" and it["file_url"] is None
    assert it["source"] == "server"
    workers()
    it = wait_status(rec_stack, host, mid, rid, "completed")
    assert it["content_type"] == "video/mp4"
    assert 6 <= it["duration"] <= 10          # the room lasted 8 s
    f = tmp_path / "rec.mp4"
    r = download(rec_stack, it["file_url"], f)
    assert it["size"] == len(r.content) == f.stat().st_size
    info = probe(f)
    assert f"codec_name=h264|codec_type=video|width={GRID[0]}|height={GRID[1]}" in info
    assert "codec_name=aac|codec_type=audio" in info
    duration = float(info.split("format|duration=")[1].split()[0])
    assert abs(duration - 8) <= 2
    # The grid follows who publishes (320x240 pictures, scaled to their tiles).
    # At 0.5 s only the first had started: its picture alone fills the canvas.
    box = picture_box(f, 0.5)
    assert near(box, (160, 0, 1120, 720)), box
    # At 2.2 s two publish: two tiles side by side, 640x480 pictures in them.
    box = picture_box(f, 2.2)
    assert near(box, (0, 120, 1280, 600)), box
    # At 4 s all three publish: three tiles of the 2x2 grid hold pictures.
    assert tiles_with_picture(f, 4) == 3
    # The raw streams are removed once the job is done; the file is served
    # with byte ranges like an uploaded one.
    assert not raw_dir(rec_stack, rid).exists()
    part = requests.get(it["file_url"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and len(part.content) == 100


def test_upload_refused_for_a_server_recording(rec_stack):
    host, mid = recording_meeting(rec_stack)
    rid = start_recording(rec_stack, host, mid)
    r = rec_stack.api("PUT", f"/meetings/{mid}/recordings/{rid}/file", token=host["token"],
                      data=b"x" * 10, headers={"Content-Type": "video/webm"})
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"


def test_nothing_published_fails_with_a_reason(rec_stack, workers):
    host, mid = recording_meeting(rec_stack)
    rid = start_recording(rec_stack, host, mid)
    assert rec_stack.api("POST", f"/meetings/{mid}/recording/stop",
                         token=host["token"]).status_code == 200
    workers()
    it = wait_status(rec_stack, host, mid, rid, "failed", timeout=60)
    assert "nothing was recorded" in it["reason"]
    assert it["file_url"] is None


def test_meeting_end_stops_and_processes(rec_stack, workers):
    host, mid = recording_meeting(rec_stack)
    rid = start_recording(rec_stack, host, mid)
    folder = raw_dir(rec_stack, rid)
    mjr.participant(str(folder), mid, 21, T0, 3, "yellow", 500)
    assert rec_stack.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    assert item(rec_stack, host, mid, rid)["status"] == "processing"
    workers()
    it = wait_status(rec_stack, host, mid, rid, "completed")
    assert it["size"] > 0


def test_keep_raw_and_delete_removes_files(workdir, rec_pg, workers):
    s = Stack(workdir, rec_pg, EXTRA + "MeetingRecordingKeepRaw On\n")
    s.start()
    try:
        host, mid = recording_meeting(s)
        rid = record(s, host, mid, THREE[:1])
        w = Worker(s, unique("w"))
        try:
            wait_status(s, host, mid, rid, "completed")
        finally:
            w.stop()
        final = s.state / "recordings" / rid
        assert final.exists() and raw_dir(s, rid).is_dir()
        assert any(raw_dir(s, rid).glob("*.mjr"))
        assert s.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
        assert s.api("DELETE", f"/meetings/{mid}", token=host["token"]).status_code == 200
        assert not final.exists() and not raw_dir(s, rid).exists()
    finally:
        s.stop()


def long_tracks(seconds):
    return [(31, 0.0, seconds, "red", 440), (32, 1.0, seconds - 1, "blue", 660),
            (33, 2.0, seconds - 2, "green", 880)]


def test_worker_killed_mid_ffmpeg_then_restarted(rec_stack, workers):
    host, mid = recording_meeting(rec_stack)
    rid = record(rec_stack, host, mid, long_tracks(24))
    w = workers()
    enc = ffmpeg_child(w)
    w.proc.kill()
    w.proc.wait(10)
    # Its encoder dies with it (PR_SET_PDEATHSIG) instead of writing on.
    wait_for(lambda: not procstat.cmdline(enc), 10)
    assert not procstat.cmdline(enc)
    assert item(rec_stack, host, mid, rid)["status"] == "processing"
    workers()
    it = wait_status(rec_stack, host, mid, rid, "completed")
    assert abs(it["duration"] - 24) <= 2
    attempts = rec_stack.sql("SELECT attempts FROM recording_jobs WHERE recording_id = %s", rid)
    assert attempts == [["2"]]


def test_postgres_restarted_during_processing(rec_stack, workers):
    host, mid = recording_meeting(rec_stack)
    rid = record(rec_stack, host, mid, long_tracks(20))
    w = workers()
    ffmpeg_child(w)
    rec_stack.pg.stop()
    time.sleep(2)
    rec_stack.pg.start()
    rec_stack.wait_up()
    it = wait_status(rec_stack, host, mid, rid, "completed")
    assert it["size"] > 0 and w.proc.poll() is None


def test_two_workers_do_each_job_once(rec_stack, workers):
    jobs = []
    for i in range(4):
        host, mid = recording_meeting(rec_stack)
        jobs.append((host, mid, record(rec_stack, host, mid,
                                       [(40 + i, 0.0, 4, "purple", 300 + 100 * i)])))
    a, b = workers("wa"), workers("wb")
    for host, mid, rid in jobs:
        wait_status(rec_stack, host, mid, rid, "completed")
    logs = a.text() + b.text()
    for _, _, rid in jobs:
        assert logs.count(f"processing {rid} ") == 1, logs
        assert logs.count(f"{rid} completed") == 1, logs
    rows = rec_stack.sql("SELECT attempts, worker FROM recording_jobs WHERE recording_id IN "
                         "(%s, %s, %s, %s)", *[j[2] for j in jobs])
    assert all(r[0] == "1" for r in rows)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: less than processing the recording needs."""
    d = tmp_path / "small"
    d.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d)
    yield d
    subprocess.run(["umount", str(d)], check=False)


def test_full_disk_fails_with_a_reason(rec_stack, workers, small_disk):
    host, mid = recording_meeting(rec_stack)
    rid = record(rec_stack, host, mid, THREE)
    workers(None, "--min-free", "0", directory=small_disk)
    it = wait_status(rec_stack, host, mid, rid, "failed", timeout=60)
    assert "not enough disk space" in it["reason"]
    assert it["file_url"] is None
    assert list(small_disk.iterdir()) == []     # nothing half-written left behind
    assert any(raw_dir(rec_stack, rid).glob("*.mjr"))   # the streams are kept


@pytest.mark.parametrize("line", ["MeetingRecordingMinFree lots", "MeetingRecordingMinFree -1",
                                  "MeetingServerRecording maybe",
                                  "MeetingRecordingKeepRaw 2"])
def test_configtest_names_the_bad_recording_directive(workdir, rec_pg, line):
    s = Stack(workdir, rec_pg, line + "\n")
    r = subprocess.run([HTTPD, "-f", str(s.conf), "-t"], capture_output=True, text=True)
    assert r.returncode != 0
    assert line.split()[0] in r.stderr, r.stderr


def test_min_free_refuses_a_start_the_disk_cannot_hold(workdir, rec_pg):
    s = Stack(workdir, rec_pg, "MeetingServerRecording On\n"
                               "MeetingRecordingMinFree 1125899906842624\n")
    s.start()
    try:
        host, mid = recording_meeting(s)
        r = s.api("POST", f"/meetings/{mid}/recording/start", token=host["token"])
        assert r.status_code == 503
        assert r.json()["message"] == "not enough free disk space to record"
        assert item_count(s, host, mid) == 0
        assert list((s.state / "recordings").iterdir()) == []
    finally:
        s.stop()


def item_count(stack, host, mid):
    r = stack.api("GET", f"/meetings/{mid}/recordings", token=host["token"])
    return len(r.json()["data"]["recordings"])


def supervised_workers(stack):
    """recworker processes this stack's httpd started (matched by its folder)."""
    folder = str(stack.state / "recordings").encode()
    return [p for p in procstat.pids()
            if (cmd := procstat.cmdline(p))[:1] == [str(WORKER).encode()] and folder in cmd]


def test_httpd_supervises_the_worker(workdir, rec_pg):
    """MeetingRecordingWorker: httpd starts the worker (with MeetingRecordingDir as
    its --recording-dir), starts it again when it is killed, and stops it with
    httpd; the recording completes with no worker of the test's own."""
    pg = rec_pg
    s = Stack(workdir, rec_pg, EXTRA + f'MeetingRecordingWorker "{WORKER}" --db "host=127.0.0.1 '
                                       f'port={pg.port} dbname=meeting user=meeting" --lease 6 '
                                       '--settle 1 --poll 1\n')
    s.start()
    try:
        wait_for(lambda: supervised_workers(s), 20, 0.2)
        first = supervised_workers(s)
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: supervised_workers(s) not in ([], first), 30, 0.2)
        again = supervised_workers(s)
        assert len(again) == 1 and again != first
        host, mid = recording_meeting(s)
        rid = record(s, host, mid, THREE[:2])
        it = wait_status(s, host, mid, rid, "completed")
        assert it["size"] > 0
    finally:
        s.stop()
    wait_for(lambda: not supervised_workers(s), 20, 0.2)
    assert supervised_workers(s) == []


def test_webhooks_tell_of_the_worker_s_outcome(rec_stack, workers):
    """recording.completed of a server recording is written when the worker
    completes it (with the file's duration and size), not at stop; a failed
    one gives recording.failed with its reason. The receiver is a closed
    loopback port: only the outbox rows are read."""
    host, mid = recording_meeting(rec_stack)
    r = rec_stack.api("POST", "/webhooks", token=host["token"], json={
        "url": "http://127.0.0.1:9/hook",
        "events": ["recording.completed", "recording.failed"]})
    assert r.status_code == 201, r.text
    rid = record(rec_stack, host, mid, THREE[:1])
    empty_mid = host_meeting(rec_stack, host)
    empty_rid = start_recording(rec_stack, host, empty_mid)
    assert rec_stack.api("POST", f"/meetings/{empty_mid}/recording/stop",
                         token=host["token"]).status_code == 200
    assert events(rec_stack, mid) == [] and events(rec_stack, empty_mid) == []
    workers()
    it = wait_status(rec_stack, host, mid, rid, "completed")
    assert events(rec_stack, mid) == [
        ["recording.completed", {"recording_id": rid, "duration": it["duration"],
                                 "size": it["size"]}]]
    failed = wait_status(rec_stack, host, empty_mid, empty_rid, "failed", timeout=60)
    assert events(rec_stack, empty_mid) == [
        ["recording.failed", {"recording_id": empty_rid, "reason": failed["reason"]}]]


def host_meeting(stack, host):
    """Another ongoing meeting of the same host, recording enabled."""
    r = stack.api("POST", "/meetings", token=host["token"], json={
        "title": "recorded", "start_time": "2030-01-01T10:00:00Z",
        "end_time": "2030-01-01T11:00:00Z", "max_participants": 10, "meeting_type": "video",
        "settings": {"enable_recording": True}})
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    assert stack.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    return mid


def events(stack, mid):
    rows = stack.sql("SELECT type, data::text FROM webhook_events WHERE meeting_id = %s "
                     "ORDER BY event_id", mid)
    return [[t, json.loads(d)] for t, d in rows]
