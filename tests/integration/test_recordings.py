"""Recordings (seed 3.14-3.16, SPEC.md 3 "Recording"): start, stop, list, and
the recording's file: streamed upload, pre-signed and Bearer download through
httpd's own file machinery (Range, ETag, conditional requests)."""
import contextlib
import hashlib
import hmac
import os
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

REC_ID = re.compile(r"^rec_[0-9a-f]{32}$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WEBM = "video/webm;codecs=vp8,opus"


# -- helpers ----------------------------------------------------------------

def create_meeting(s, user, **settings):
    body = {"title": "rec test", "start_time": "2025-10-03T10:00:00Z",
            "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
            "meeting_type": "video",
            "settings": {"enable_recording": True, **settings}}
    r = s.api("POST", "/meetings", token=user["token"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def start_meeting(s, user, mid):
    r = s.api("POST", f"/meetings/{mid}/start", token=user["token"])
    assert r.status_code == 200, r.text


def end_meeting(s, user, mid):
    r = s.api("POST", f"/meetings/{mid}/end", token=user["token"])
    assert r.status_code == 200, r.text


def add_member(s, host, mid, user, role="participant"):
    r = s.api("POST", f"/meetings/{mid}/participants", token=host["token"],
              json={"user_id": user["user_id"], "role": role})
    assert r.status_code in (200, 201), r.text


def ongoing(s, **settings):
    """A fresh host and an ongoing meeting of theirs."""
    host = s.new_user()
    mid = create_meeting(s, host, **settings)
    start_meeting(s, host, mid)
    return host, mid


def rec_start(s, user, mid):
    return s.api("POST", f"/meetings/{mid}/recording/start", token=user["token"])


def rec_stop(s, user, mid):
    return s.api("POST", f"/meetings/{mid}/recording/stop", token=user["token"])


def started(s, user, mid):
    r = rec_start(s, user, mid)
    assert r.status_code == 200, r.text
    return r.json()["data"]["recording_id"]


def listing(s, user, mid):
    r = s.api("GET", f"/meetings/{mid}/recordings", token=user["token"])
    assert r.status_code == 200, r.text
    return {x["recording_id"]: x for x in r.json()["data"]["recordings"]}


def upload(s, user, mid, rid, data, ctype=WEBM, headers=None):
    h = {"Content-Type": ctype, **(headers or {})} if ctype else dict(headers or {})
    return s.api("PUT", f"/meetings/{mid}/recordings/{rid}/file", token=user["token"],
                 data=data, headers=h)


def file_path(s, rid):
    return s.state / "recordings" / rid


def temp_files(s):
    return [p.name for p in (s.state / "recordings").iterdir() if p.name.startswith(".")]


def sign(s, mid, rid, expires):
    key = (s.state / "jwt.secret").read_bytes().rstrip()
    msg = f"recording:{mid}:{rid}:{expires}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def raw_get(url, headers=None):
    """A GET with nothing but what is given (no session, no token)."""
    return requests.get(url, headers=headers or {}, timeout=30)


def assert_error(r, status, error):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["code"] == status and body["error"] == error, body
    assert body.get("field", "x"), body  # no "field": "" on an error
    return body


@pytest.fixture
def recorded(stack):
    """An ongoing meeting with a stopped recording holding a 1000-byte file."""
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    assert rec_stop(stack, host, mid).status_code == 200
    data = os.urandom(1000)
    r = upload(stack, host, mid, rid, data)
    assert r.status_code == 200, r.text
    return host, mid, rid, data


# -- start / stop / list -------------------------------------------------------

def test_start_stop_list_follow_the_seed(stack):
    host, mid = ongoing(stack)
    r = rec_start(stack, host, mid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200 and body["message"] == "Recording started successfully"
    rid = body["data"]["recording_id"]
    assert REC_ID.match(rid), rid

    r = stack.api("GET", f"/meetings/{mid}/recordings", token=host["token"])
    assert r.status_code == 200 and r.json()["code"] == 200
    recs = r.json()["data"]["recordings"]
    assert len(recs) == 1
    item = recs[0]
    for key in ("recording_id", "meeting_id", "file_url", "duration", "size", "created_at"):
        assert key in item, item
    assert item["recording_id"] == rid and item["meeting_id"] == mid
    assert item["size"] == 0 and isinstance(item["duration"], int)
    assert TS.match(item["created_at"])
    assert item["file_url"].startswith(stack.url + f"/api/v1/meetings/{mid}/recordings/{rid}/file?")

    # duration is set when the recording stops: pretend it ran 42 s
    stack.sql("UPDATE recordings SET created_at = created_at - interval '42 seconds' "
              "WHERE recording_id = %s", rid)
    r = rec_stop(stack, host, mid)
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 200, "message": "Recording stopped successfully"}
    item = listing(stack, host, mid)[rid]
    assert item["duration"] in (42, 43), item
    assert item.get("status", "completed") == "completed"
    time.sleep(1.1)
    assert listing(stack, host, mid)[rid]["duration"] == item["duration"]  # fixed at stop


def test_recording_ids_are_unguessable_and_distinct(stack):
    host, mid = ongoing(stack)
    ids = []
    for _ in range(4):
        ids.append(started(stack, host, mid))
        assert rec_stop(stack, host, mid).status_code == 200
    assert all(REC_ID.match(i) for i in ids), ids
    assert len(set(ids)) == 4
    assert set(listing(stack, host, mid)) == set(ids)


def test_only_hosts_and_moderators_record(stack):
    host, mid = ongoing(stack)
    mod, part, stranger = stack.new_user(), stack.new_user(), stack.new_user()
    add_member(stack, host, mid, mod, "moderator")
    add_member(stack, host, mid, part, "participant")

    assert_error(rec_start(stack, part, mid), 403, "forbidden")
    assert_error(rec_start(stack, stranger, mid), 403, "forbidden")
    started(stack, mod, mid)
    assert_error(rec_stop(stack, part, mid), 403, "forbidden")
    assert_error(rec_stop(stack, stranger, mid), 403, "forbidden")
    assert rec_stop(stack, mod, mid).status_code == 200
    # a participant reads the list; a stranger does not
    assert len(listing(stack, part, mid)) == 1
    assert_error(stack.api("GET", f"/meetings/{mid}/recordings", token=stranger["token"]),
                 403, "forbidden")
    # a role check precedes the state check
    assert_error(rec_stop(stack, part, mid), 403, "forbidden")


def test_missing_meeting_and_no_token(stack):
    u = stack.new_user()
    for method, path in [("POST", "/meetings/999999999/recording/start"),
                         ("POST", "/meetings/999999999/recording/stop"),
                         ("GET", "/meetings/999999999/recordings")]:
        assert_error(stack.api(method, path, token=u["token"]), 404, "not_found")
        r = stack.api(method, path)
        assert_error(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(stack.api("GET", "/meetings/abc/recordings", token=u["token"]), 404,
                 "not_found")


def test_only_an_ongoing_meeting_records(stack):
    host = stack.new_user()
    mid = create_meeting(stack, host)
    assert_error(rec_start(stack, host, mid), 409, "conflict")  # scheduled
    start_meeting(stack, host, mid)
    started(stack, host, mid)
    end_meeting(stack, host, mid)
    assert_error(rec_start(stack, host, mid), 409, "conflict")  # ended
    assert_error(rec_stop(stack, host, mid), 409, "conflict")


def test_recording_turned_off_is_403_before_state(stack):
    host = stack.new_user()
    mid = create_meeting(stack, host, enable_recording=False)
    assert_error(rec_start(stack, host, mid), 403, "forbidden")  # scheduled: 403 first
    start_meeting(stack, host, mid)
    assert_error(rec_start(stack, host, mid), 403, "forbidden")
    assert listing(stack, host, mid) == {}


def test_one_active_recording_and_stop_needs_one(stack):
    host, mid = ongoing(stack)
    assert_error(rec_stop(stack, host, mid), 409, "conflict")
    rid = started(stack, host, mid)
    assert_error(rec_start(stack, host, mid), 409, "conflict")
    assert rec_stop(stack, host, mid).status_code == 200
    assert_error(rec_stop(stack, host, mid), 409, "conflict")
    rid2 = started(stack, host, mid)
    assert rid2 != rid
    assert len(listing(stack, host, mid)) == 2


def test_concurrent_starts_admit_exactly_one(stack):
    import concurrent.futures
    host, mid = ongoing(stack)
    mod = stack.new_user()
    add_member(stack, host, mid, mod, "moderator")

    def go(i):
        u = host if i % 2 else mod
        return requests.post(f"{stack.url}/api/v1/meetings/{mid}/recording/start",
                             headers={"Authorization": "Bearer " + u["token"]}, timeout=30)
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        codes = sorted(r.status_code for r in ex.map(go, range(12)))
    assert codes == [200] + [409] * 11
    assert len(listing(stack, host, mid)) == 1


def test_start_accepts_no_body_or_empty_object_only(stack):
    host, mid = ongoing(stack)
    r = stack.api("POST", f"/meetings/{mid}/recording/start", token=host["token"], json={})
    assert r.status_code == 200, r.text
    r = stack.api("POST", f"/meetings/{mid}/recording/stop", token=host["token"],
                  json={"status": "completed"})
    assert_error(r, 400, "unknown_field")
    r = stack.api("POST", f"/meetings/{mid}/recording/stop", token=host["token"],
                  data="x", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert rec_stop(stack, host, mid).status_code == 200


def test_ending_the_meeting_stops_the_recording(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    stack.sql("UPDATE recordings SET created_at = created_at - interval '7 seconds' "
              "WHERE recording_id = %s", rid)
    end_meeting(stack, host, mid)
    item = listing(stack, host, mid)[rid]
    assert item.get("status", "completed") == "completed"
    assert item["duration"] in (7, 8)
    assert stack.sql("SELECT status, stopped_at IS NOT NULL FROM recordings "
                     "WHERE recording_id = %s", rid) == [["completed", "t"]]


# -- upload -------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", [WEBM, "video/webm", "video/mp4", "audio/webm",
                                   "audio/ogg", "Video/WebM; codecs=\"vp9\""])
def test_upload_accepts_the_media_types(stack, ctype):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)  # while recording
    data = os.urandom(4096)
    r = upload(stack, host, mid, rid, data, ctype)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200
    assert body["data"] == {"recording_id": rid, "size": 4096}
    assert file_path(stack, rid).read_bytes() == data
    assert listing(stack, host, mid)[rid]["size"] == 4096


@pytest.mark.parametrize("ctype", ["text/plain", "application/json", "video/webmx",
                                   "application/octet-stream", None])
def test_upload_refuses_other_types(stack, ctype):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    assert_error(upload(stack, host, mid, rid, b"x" * 100, ctype), 415,
                 "unsupported_media_type")
    assert not file_path(stack, rid).exists()
    assert listing(stack, host, mid)[rid]["size"] == 0


def test_upload_permissions_and_unknown_recording(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    mod, part, stranger = stack.new_user(), stack.new_user(), stack.new_user()
    add_member(stack, host, mid, mod, "moderator")
    add_member(stack, host, mid, part)
    assert_error(upload(stack, part, mid, rid, b"x"), 403, "forbidden")
    assert_error(upload(stack, stranger, mid, rid, b"x"), 403, "forbidden")
    # the role check precedes the body checks
    assert_error(upload(stack, part, mid, rid, b"x", "text/plain"), 403, "forbidden")
    assert upload(stack, mod, mid, rid, b"abc").status_code == 200
    ghost = "rec_" + os.urandom(16).hex()
    body = assert_error(upload(stack, host, mid, ghost, b"x"), 404, "not_found")
    assert body.get("field") == "recording_id"
    # the request's own faults (415) precede the unknown recording (404)
    assert_error(upload(stack, host, mid, ghost, b"x", "text/plain"), 415,
                 "unsupported_media_type")
    # a recording of another meeting is not found here
    host2, mid2 = ongoing(stack)
    assert_error(upload(stack, host2, mid2, rid, b"x"), 404, "not_found")
    assert_error(upload(stack, host, 999999999, rid, b"x"), 404, "not_found")
    # not a recording id at all: the path is unknown
    assert_error(upload(stack, host, mid, "rec_XYZ", b"x"), 404, "not_found")
    assert_error(upload(stack, host, mid, "../../etc", b"x"), 404, "not_found")
    r = stack.api("PUT", f"/meetings/{mid}/recordings/{rid}/file", data=b"x",
                  headers={"Content-Type": "video/webm"})
    assert_error(r, 401, "unauthorized")
    assert file_path(stack, rid).read_bytes() == b"abc"


def test_upload_after_stop_and_after_the_meeting_ended(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    assert rec_stop(stack, host, mid).status_code == 200
    assert upload(stack, host, mid, rid, b"a" * 10).status_code == 200
    end_meeting(stack, host, mid)
    r = upload(stack, host, mid, rid, b"b" * 20, "audio/ogg")
    assert r.status_code == 200, r.text
    assert file_path(stack, rid).read_bytes() == b"b" * 20
    assert listing(stack, host, mid)[rid]["size"] == 20
    r = stack.api("GET", f"/meetings/{mid}/recordings/{rid}/file", token=host["token"])
    assert r.status_code == 200 and r.content == b"b" * 20
    assert r.headers["Content-Type"].startswith("audio/ogg")


def test_empty_upload(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    r = upload(stack, host, mid, rid, b"")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["size"] == 0


def _children(parent):
    kids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            kids.append(int(d.name))
    return kids


def _rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def test_large_upload_is_streamed_not_buffered(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    size_mb = 300
    block = os.urandom(1 << 20)
    parent = stack.pid()
    first, peak = {}, {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in _children(parent):
                rss = _rss_kb(pid)
                if rss is None:
                    continue
                first.setdefault(pid, rss)
                peak[pid] = max(peak.get(pid, 0), rss)
            time.sleep(0.02)

    def body():
        for _ in range(size_mb):
            yield block

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    time.sleep(0.2)
    try:
        r = upload(stack, host, mid, rid, body())  # a generator: chunked encoding
    finally:
        stop.set()
        sampler.join()
    assert r.status_code == 200, r.text
    size = size_mb << 20
    assert r.json()["data"]["size"] == size
    assert file_path(stack, rid).stat().st_size == size
    assert listing(stack, host, mid)[rid]["size"] == size
    growth_kb = max(peak[p] - first[p] for p in peak)
    assert growth_kb < 32 * 1024, f"an httpd child grew by {growth_kb} kB for a {size_mb} MB upload"
    assert temp_files(stack) == []
    file_path(stack, rid).unlink()  # spare the disk


def _interrupted_put(s, token, mid, rid, declared, sent):
    host, port = urlsplit(s.url).hostname, urlsplit(s.url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        head = (f"PUT /api/v1/meetings/{mid}/recordings/{rid}/file HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: video/webm\r\nContent-Length: {declared}\r\n\r\n")
        sock.sendall(head.encode())
        sock.sendall(b"z" * sent)
        time.sleep(0.3)


def test_interrupted_upload_leaves_the_previous_file(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    good = os.urandom(5000)
    assert upload(stack, host, mid, rid, good).status_code == 200
    before = file_path(stack, rid).stat().st_mtime_ns

    _interrupted_put(stack, host["token"], mid, rid, 1_000_000, 300_000)
    deadline = time.time() + 10
    while temp_files(stack) and time.time() < deadline:
        time.sleep(0.1)
    assert temp_files(stack) == []
    assert file_path(stack, rid).read_bytes() == good
    assert file_path(stack, rid).stat().st_mtime_ns == before
    assert listing(stack, host, mid)[rid]["size"] == 5000

    # and with no previous file, nothing appears
    rid2 = (rec_stop(stack, host, mid), started(stack, host, mid))[1]
    _interrupted_put(stack, host["token"], mid, rid2, 1_000_000, 100_000)
    deadline = time.time() + 10
    while temp_files(stack) and time.time() < deadline:
        time.sleep(0.1)
    assert temp_files(stack) == []
    assert not file_path(stack, rid2).exists()
    assert listing(stack, host, mid)[rid2]["size"] == 0
    # the server still works
    assert upload(stack, host, mid, rid2, b"ok").status_code == 200


@contextlib.contextmanager
def upload_in_flight(s, token, mid, rid, size=200000):
    """A PUT of size bytes of which half are sent and streaming into a temporary
    file; yields finish(), which sends the rest and returns the raw reply."""
    addr = (urlsplit(s.url).hostname, urlsplit(s.url).port)
    with socket.create_connection(addr, timeout=10) as sock:
        head = (f"PUT /api/v1/meetings/{mid}/recordings/{rid}/file HTTP/1.1\r\n"
                f"Host: {addr[0]}:{addr[1]}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: video/webm\r\nContent-Length: {size}\r\n"
                f"Connection: close\r\n\r\n")
        sock.sendall(head.encode() + b"q" * (size // 2))
        deadline = time.time() + 5
        while not temp_files(s) and time.time() < deadline:
            time.sleep(0.05)
        assert temp_files(s), "the upload did not start"

        def finish():
            sock.sendall(b"q" * (size - size // 2))
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            return reply
        yield finish


def test_meeting_deleted_during_an_upload_leaves_no_file(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    end_meeting(stack, host, mid)
    with upload_in_flight(stack, host["token"], mid, rid) as finish:
        r = stack.api("DELETE", f"/meetings/{mid}", token=host["token"])
        assert r.status_code == 200, r.text
        reply = finish()
    status = int(reply.split(b" ", 2)[1])
    assert status == 404, reply
    assert temp_files(stack) == []
    assert not file_path(stack, rid).exists()


def test_an_upload_leaves_its_database_connection_to_other_requests(make_stack):
    """A recording streams in for as long as its client takes; meanwhile the
    child's pooled connection serves other requests. One child with one
    connection: a request made while an upload waits for its body answers, and
    the upload completes after it."""
    s = make_stack("StartServers 1\nServerLimit 1\nMaxRequestWorkers 64\n"
                   "MinSpareThreads 1\nMaxSpareThreads 64\n"
                   "DBDMin 1\nDBDKeep 1\nDBDMax 1\n")
    host, mid = ongoing(s)
    rid = started(s, host, mid)
    with upload_in_flight(s, host["token"], mid, rid) as finish:
        r = requests.get(f"{s.url}/api/v1/meetings/{mid}",
                         headers={"Authorization": f"Bearer {host['token']}"}, timeout=5)
        assert r.status_code == 200, r.text
        reply = finish()
    assert reply.startswith(b"HTTP/1.1 200 "), reply
    assert file_path(s, rid).stat().st_size == 200000
    assert listing(s, host, mid)[rid]["size"] == 200000


def test_size_cap_and_url_lifetime_from_directives(make_stack):
    s = make_stack("MeetingRecordingMaxSize 1048576\nMeetingDownloadURLLifetime 10")
    host, mid = ongoing(s)
    rid = started(s, host, mid)
    issued = time.time()
    url = listing(s, host, mid)[rid]["file_url"]
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert abs(expires - (issued + 10)) <= 2

    assert upload(s, host, mid, rid, b"k" * 1048576).status_code == 200  # exactly the cap
    # declared too large: refused before reading
    assert_error(upload(s, host, mid, rid, b"x" * (1048576 + 1)), 413, "body_too_large")

    # chunked, no declared length: refused once the stream passes the cap
    def body():
        for _ in range(4):
            yield b"y" * (512 * 1024)
    assert_error(upload(s, host, mid, rid, body()), 413, "body_too_large")
    assert temp_files(s) == []
    assert file_path(s, rid).read_bytes() == b"k" * 1048576
    assert listing(s, host, mid)[rid]["size"] == 1048576

    assert raw_get(url).status_code == 200
    time.sleep(max(0.0, expires + 1.2 - time.time()))
    assert_error(raw_get(url), 403, "forbidden")


def test_httpd_body_limit_and_download_rate_limit(make_stack):
    """Whichever limit an upload passes first, httpd's LimitRequestBody or the
    module's cap, the answer is a JSON 413 and no file is left."""
    s = make_stack("<Location /api/v1>\nLimitRequestBody 100000\n</Location>\n"
                   "MeetingRateLimit recording.download 3")
    host, mid = ongoing(s)
    rid = started(s, host, mid)
    assert upload(s, host, mid, rid, b"a" * 1000).status_code == 200

    # (same stack) a signed download is rate-limited by client IP, a Bearer one by user
    url = listing(s, host, mid)[rid]["file_url"]
    assert [raw_get(url).status_code for _ in range(3)] == [200] * 3
    r = raw_get(url)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    r = s.api("GET", f"/meetings/{mid}/recordings/{rid}/file", token=host["token"])
    assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == "3"
    assert_error(upload(s, host, mid, rid, b"x" * 200000), 413, "body_too_large")

    def body():
        for _ in range(4):
            yield b"y" * 50000
    assert_error(upload(s, host, mid, rid, body()), 413, "body_too_large")
    assert temp_files(s) == []
    assert file_path(s, rid).read_bytes() == b"a" * 1000


# -- download -----------------------------------------------------------------------

def test_download_with_bearer_members_only(stack, recorded):
    host, mid, rid, data = recorded
    part, stranger = stack.new_user(), stack.new_user()
    add_member(stack, host, mid, part)
    path = f"/meetings/{mid}/recordings/{rid}/file"
    for u in (host, part):
        r = stack.api("GET", path, token=u["token"])
        assert r.status_code == 200, r.text
        assert r.content == data
        assert r.headers["Content-Type"].startswith("video/webm")
        assert r.headers["Content-Length"] == "1000"
    assert_error(stack.api("GET", path, token=stranger["token"]), 403, "forbidden")
    r = stack.api("GET", path)
    assert_error(r, 401, "unauthorized")
    assert "WWW-Authenticate" in r.headers
    ghost = "rec_" + os.urandom(16).hex()
    assert_error(stack.api("GET", f"/meetings/{mid}/recordings/{ghost}/file",
                           token=host["token"]), 404, "not_found")
    assert_error(stack.api("GET", f"/meetings/999999999/recordings/{rid}/file",
                           token=host["token"]), 404, "not_found")


def test_downloads_tell_browsers_not_to_sniff(stack, recorded):
    """The stored type is the uploader's claim: every download, signed or with a
    token, whole or a range, says nosniff so no browser runs it as HTML."""
    host, mid, rid, _ = recorded
    url = listing(stack, host, mid)[rid]["file_url"]
    answers = [raw_get(url), raw_get(url, {"Range": "bytes=0-9"}),
               stack.api("GET", f"/meetings/{mid}/recordings/{rid}/file", token=host["token"])]
    assert [r.status_code for r in answers] == [200, 206, 200]
    for r in answers:
        assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers


def test_download_without_a_file_yet_is_404(stack):
    host, mid = ongoing(stack)
    rid = started(stack, host, mid)
    assert_error(stack.api("GET", f"/meetings/{mid}/recordings/{rid}/file",
                           token=host["token"]), 404, "not_found")


def test_signed_url_alone_is_enough(stack, recorded):
    host, mid, rid, data = recorded
    url = listing(stack, host, mid)[rid]["file_url"]
    q = parse_qs(urlsplit(url).query)
    assert set(q) == {"expires", "sig"}
    assert int(q["expires"][0]) > time.time() + 3000  # default: one hour
    r = raw_get(url)
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["Content-Type"].startswith("video/webm")
    # a stranger holding the URL plays it too (that is what a pre-signed URL is for)
    stranger = stack.new_user()
    r = raw_get(url, {"Authorization": "Bearer " + stranger["token"]})
    assert r.status_code == 200 and r.content == data


def test_bad_signatures_are_403(stack, recorded):
    host, mid, rid, data = recorded
    url = listing(stack, host, mid)[rid]["file_url"]
    base = url.split("?")[0]
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    sig, exp = q["sig"], int(q["expires"])
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    bad = [
        {"expires": exp, "sig": flipped},                 # tampered signature
        {"expires": exp + 1, "sig": sig},                 # tampered expiry
        {"expires": exp, "sig": sig[:-2]},                # truncated
        {"expires": exp, "sig": ""},
        {"expires": exp},                                 # half a signature
        {"sig": sig},
        {"expires": "soon", "sig": sig},
        {"expires": int(time.time()) - 5,                 # genuine but expired
         "sig": sign(stack, mid, rid, int(time.time()) - 5)},
    ]
    for params in bad:
        r = raw_get(base + "?" + urlencode(params))
        assert_error(r, 403, "forbidden")
    # a bad signature is refused even alongside a member's token
    r = raw_get(base + "?" + urlencode({"expires": exp, "sig": flipped}),
                {"Authorization": "Bearer " + host["token"]})
    assert_error(r, 403, "forbidden")

    # a signature crafted with the server's key is accepted (the test's signer is right) ...
    later = int(time.time()) + 60
    assert raw_get(base + "?" + urlencode({"expires": later,
                                           "sig": sign(stack, mid, rid, later)})).status_code == 200
    # ... but a signature for another recording or meeting is foreign here
    host2, mid2 = ongoing(stack)
    rid2 = started(stack, host2, mid2)
    assert upload(stack, host2, mid2, rid2, b"other").status_code == 200
    other = listing(stack, host2, mid2)[rid2]["file_url"]
    oq = parse_qs(urlsplit(other).query)
    r = raw_get(base + "?" + urlencode({"expires": oq["expires"][0], "sig": oq["sig"][0]}))
    assert_error(r, 403, "forbidden")
    r = raw_get(f"{stack.url}/api/v1/meetings/{mid2}/recordings/{rid}/file?"
                + urlencode({"expires": exp, "sig": sig}))
    assert_error(r, 403, "forbidden")
    # neither a signature nor a token
    assert_error(raw_get(base), 401, "unauthorized")


def test_range_requests(stack, recorded):
    host, mid, rid, data = recorded
    url = listing(stack, host, mid)[rid]["file_url"]
    r = raw_get(url, {"Range": "bytes=0-99"})
    assert r.status_code == 206, r.text
    assert r.headers["Content-Range"] == "bytes 0-99/1000"
    assert r.headers["Content-Length"] == "100"
    assert r.content == data[:100]
    r = raw_get(url, {"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = raw_get(url, {"Range": "bytes=990-"})
    assert r.status_code == 206 and r.content == data[990:]
    r = stack.api("GET", f"/meetings/{mid}/recordings/{rid}/file", token=host["token"],
                  headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers.get("Accept-Ranges") == "bytes"

    r = raw_get(url, {"Range": "bytes=5000-6000"})
    assert_error(r, 416, "range_not_satisfiable")


def test_etag_last_modified_and_conditional_get(stack, recorded):
    host, mid, rid, data = recorded
    url = listing(stack, host, mid)[rid]["file_url"]
    r = raw_get(url)
    etag, lm = r.headers.get("ETag"), r.headers.get("Last-Modified")
    assert etag and lm, r.headers
    r = raw_get(url, {"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    r = raw_get(url, {"If-Modified-Since": lm})
    assert r.status_code == 304
    r = raw_get(url, {"If-None-Match": '"something-else"'})
    assert r.status_code == 200 and r.content == data
    # a new upload (of another size) changes the validator
    assert upload(stack, host, mid, rid, b"new content").status_code == 200
    r = raw_get(url, {"If-None-Match": etag})
    assert r.status_code == 200 and r.content == b"new content"
    assert r.headers["ETag"] != etag
    # HEAD: the headers without the body
    r = requests.head(url, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(b"new content"))


def test_deleting_an_ended_meeting_removes_its_files(stack):
    host, mid = ongoing(stack)
    rids = []
    for i in range(2):
        rid = started(stack, host, mid)
        assert rec_stop(stack, host, mid).status_code == 200
        assert upload(stack, host, mid, rid, b"file %d" % i).status_code == 200
        rids.append(rid)
    rids.append(started(stack, host, mid))  # never uploaded, still recording
    url = listing(stack, host, mid)[rids[0]]["file_url"]

    # a neighbour meeting whose file must stay
    host2, mid2 = ongoing(stack)
    other = started(stack, host2, mid2)
    assert upload(stack, host2, mid2, other, b"keep me").status_code == 200

    # stopping and ending remove nothing
    end_meeting(stack, host, mid)
    assert all(file_path(stack, r).exists() for r in rids[:2])
    r = stack.api("DELETE", f"/meetings/{mid}", token=host["token"])
    assert r.status_code == 200, r.text
    assert not any(file_path(stack, r).exists() for r in rids)
    assert file_path(stack, other).read_bytes() == b"keep me"
    assert stack.sql("SELECT count(*) FROM recordings WHERE meeting_id = %s", mid) == [["0"]]
    assert_error(raw_get(url), 404, "not_found")
    assert_error(stack.api("GET", f"/meetings/{mid}/recordings", token=host["token"]), 404,
                 "not_found")
