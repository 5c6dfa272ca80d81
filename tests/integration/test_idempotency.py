"""Safe retries (SPEC.md 9, issue 19): the Idempotency-Key of the POSTs.

A first request with a key runs and its answer is stored with its change; a
retry with the same key, method, path and body gets that answer byte for byte
with `Idempotent-Replayed: true` and changes nothing; another request under the
key is 422, a retry while the first still runs 409. Keys belong to their user,
last 24 h, survive a restart of httpd, and a 401 or 429 stores nothing."""
import concurrent.futures
import json
import threading
import time
import uuid

import pytest

from envelopes import assert_error
from rowlock import RowLock

START = "2030-05-01T10:00:00Z"
END = "2030-05-01T11:00:00Z"


def meeting_body(**over):
    b = {"title": "retry me", "start_time": START, "end_time": END,
         "max_participants": 10, "meeting_type": "video",
         "settings": {"enable_recording": True}}
    b.update(over)
    return b


def key():
    return "k-" + uuid.uuid4().hex


def post(s, user, path, body=None, k=None, headers=None, **kw):
    h = dict(headers or {})
    if k is not None:
        h["Idempotency-Key"] = k
    return s.api("POST", path, token=user["token"], json=body, headers=h, **kw)


def created(r):
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def meetings_of(s, user):
    return int(s.sql("SELECT count(*) FROM meetings WHERE creator_id = %s",
                     user["user_id"])[0][0])


def assert_replay(first, again):
    assert again.headers.get("Idempotent-Replayed") == "true", again.headers
    assert again.status_code == first.status_code
    assert again.content == first.content


def ongoing(s, host, **over):
    mid = created(post(s, host, "/meetings", meeting_body(**over)))
    assert post(s, host, f"/meetings/{mid}/start").status_code == 200
    return mid


# -- replay -----------------------------------------------------------------

def test_a_retry_replays_the_answer_and_creates_nothing(stack):
    u, k = stack.new_user(), key()
    first = post(stack, u, "/meetings", meeting_body(), k)
    created(first)
    assert "Idempotent-Replayed" not in first.headers
    again = post(stack, u, "/meetings", meeting_body(), k)
    assert_replay(first, again)
    assert again.headers["Content-Type"].startswith("application/json")
    assert meetings_of(stack, u) == 1


def test_without_a_key_every_post_runs(stack):
    u = stack.new_user()
    a = created(post(stack, u, "/meetings", meeting_body()))
    b = created(post(stack, u, "/meetings", meeting_body()))
    assert a != b and meetings_of(stack, u) == 2


@pytest.mark.parametrize("action", ["join", "message", "recording", "participant"])
def test_each_keyed_post_changes_once(stack, action):
    """Without a key the second request is a new one (409, or a second
    message); with one it is the first one's answer."""
    host, other = stack.new_user(), stack.new_user()
    mid = ongoing(stack, host)
    k = key()
    if action == "join":
        first = post(stack, other, f"/meetings/{mid}/join", {}, k)
        assert first.status_code == 200, first.text
        assert_replay(first, post(stack, other, f"/meetings/{mid}/join", {}, k))
        # The replay carries the first answer's ticket, not a fresh one.
        assert "token=" in first.json()["data"]["room_url"]
    elif action == "message":
        first = post(stack, host, f"/meetings/{mid}/messages", {"content": "once"}, k)
        assert first.status_code == 200, first.text
        assert_replay(first, post(stack, host, f"/meetings/{mid}/messages",
                                  {"content": "once"}, k))
        assert stack.sql("SELECT count(*) FROM messages WHERE meeting_id = %s", mid) == [["1"]]
    elif action == "recording":
        first = post(stack, host, f"/meetings/{mid}/recording/start", None, k)
        assert first.status_code == 200, first.text
        assert_replay(first, post(stack, host, f"/meetings/{mid}/recording/start", None, k))
        assert post(stack, host, f"/meetings/{mid}/recording/start").status_code == 409
        stop_key = key()
        stop = post(stack, host, f"/meetings/{mid}/recording/stop", None, stop_key)
        assert stop.status_code == 200, stop.text
        assert_replay(stop, post(stack, host, f"/meetings/{mid}/recording/stop", None,
                                 stop_key))
        assert post(stack, host, f"/meetings/{mid}/recording/stop").status_code == 409
    else:
        add = {"user_id": other["user_id"]}
        first = post(stack, host, f"/meetings/{mid}/participants", add, k)
        assert first.status_code == 200, first.text
        assert_replay(first, post(stack, host, f"/meetings/{mid}/participants", add, k))
        assert post(stack, host, f"/meetings/{mid}/participants", add).status_code == 409


def test_a_replayed_message_is_stored_once(stack):
    host = stack.new_user()
    mid = ongoing(stack, host)
    k = key()
    first = post(stack, host, f"/meetings/{mid}/messages", {"content": "hello"}, k)
    again = post(stack, host, f"/meetings/{mid}/messages", {"content": "hello"}, k)
    assert_replay(first, again)
    assert again.json()["data"]["message_id"] == first.json()["data"]["message_id"]
    page = stack.api("GET", f"/meetings/{mid}/messages", token=host["token"]).json()["data"]
    assert page["total"] == 1 and len(page["messages"]) == 1


def test_a_4xx_is_stored_and_replayed_with_its_request_id(stack):
    u, k = stack.new_user(), key()
    first = post(stack, u, "/meetings/999999999/messages", {"content": "x"}, k)
    j = assert_error(first, 404, "not_found")
    assert j["request_id"]
    again = post(stack, u, "/meetings/999999999/messages", {"content": "x"}, k)
    assert_replay(first, again)
    fresh = post(stack, u, "/meetings/999999999/messages", {"content": "x"})
    assert fresh.json()["request_id"] != j["request_id"]


def test_a_stored_403_stays_even_when_the_state_changes(stack):
    host = stack.new_user()
    mid = created(post(stack, host, "/meetings",
                       meeting_body(settings={"enable_chat": False})))
    k = key()
    first = post(stack, host, f"/meetings/{mid}/messages", {"content": "x"}, k)
    assert_error(first, 403, "forbidden")
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"],
                  json={"settings": {"enable_chat": True}})
    assert r.status_code == 200, r.text
    assert_replay(first, post(stack, host, f"/meetings/{mid}/messages", {"content": "x"}, k))
    # A new key is a new request, which now succeeds.
    assert post(stack, host, f"/meetings/{mid}/messages", {"content": "x"},
                key()).status_code == 200


def test_a_refused_body_is_stored_too(stack):
    u, k = stack.new_user(), key()
    bad = meeting_body(max_participants=0)
    first = post(stack, u, "/meetings", bad, k)
    assert_error(first, 400, "invalid_field", "max_participants")
    assert_replay(first, post(stack, u, "/meetings", bad, k))


# -- mismatch, concurrency --------------------------------------------------

def test_the_same_key_for_another_body_or_path_is_422(stack):
    u, k = stack.new_user(), key()
    created(post(stack, u, "/meetings", meeting_body(), k))
    other = post(stack, u, "/meetings", meeting_body(title="another"), k)
    assert_error(other, 422, "idempotency_mismatch")
    assert "Idempotent-Replayed" not in other.headers
    mid = created(post(stack, u, "/meetings", meeting_body()))
    assert_error(post(stack, u, f"/meetings/{mid}/messages", {"content": "x"}, k),
                 422, "idempotency_mismatch")
    assert meetings_of(stack, u) == 2


def test_the_body_is_compared_byte_for_byte(stack):
    u, k = stack.new_user(), key()
    raw = json.dumps(meeting_body())
    h = {"Idempotency-Key": k, "Content-Type": "application/json"}
    first = stack.api("POST", "/meetings", token=u["token"], data=raw, headers=h)
    created(first)
    # The same JSON document, written with other white space: another body.
    spaced = stack.api("POST", "/meetings", token=u["token"], data=raw.replace(", ", ",  "),
                       headers=h)
    assert_error(spaced, 422, "idempotency_mismatch")
    assert_replay(first, stack.api("POST", "/meetings", token=u["token"], data=raw, headers=h))


def test_422_and_409_come_right_after_the_rate_limit(stack):
    """A mismatched key answers 422 before the meeting checks (404, 403)."""
    u, stranger, k = stack.new_user(), stack.new_user(), key()
    created(post(stack, u, "/meetings", meeting_body(), k))
    assert_error(post(stack, u, "/meetings/999999999/join", {}, k), 422,
                 "idempotency_mismatch")
    mid = created(post(stack, stranger, "/meetings", meeting_body()))
    assert_error(post(stack, u, f"/meetings/{mid}/recording/start", None, k), 422,
                 "idempotency_mismatch")


def wait_for(cond, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_a_retry_while_the_first_runs_is_409_and_does_not_wait(stack):
    host, other = stack.new_user(), stack.new_user()
    mid = ongoing(stack, host)
    k = key()
    lock = RowLock(stack, mid)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # The first join waits for the row lock, inside its transaction.
            first = pool.submit(post, stack, other, f"/meetings/{mid}/join", {}, k)
            assert wait_for(lambda: lock.waiters() == 1), "the first join did not queue"
            busy = post(stack, other, f"/meetings/{mid}/join", {}, k)
            assert_error(busy, 409, "conflict")
            assert not first.done()  # answered while the first still waits
            lock.release()
            first = first.result(timeout=60)
    finally:
        if lock.p.returncode is None:
            lock.release()
    assert first.status_code == 200, first.text
    assert_replay(first, post(stack, other, f"/meetings/{mid}/join", {}, k))


def test_the_same_key_at_the_same_moment_makes_one_meeting(stack):
    u, k = stack.new_user(), key()
    n = 8
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait(timeout=30)
        return post(stack, u, "/meetings", meeting_body(), k)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(one, range(n)))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {201, 409} and 201 in codes, codes
    bodies = {r.content for r in answers if r.status_code == 201}
    assert len(bodies) == 1  # every 201 is the one meeting's answer
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "conflict")
    assert meetings_of(stack, u) == 1


# -- scope, lifetime --------------------------------------------------------

def test_a_key_belongs_to_its_user(stack):
    a, b, k = stack.new_user(), stack.new_user(), key()
    ma = created(post(stack, a, "/meetings", meeting_body(), k))
    rb = post(stack, b, "/meetings", meeting_body(), k)
    mb = created(rb)
    assert ma != mb and "Idempotent-Replayed" not in rb.headers
    assert meetings_of(stack, a) == 1 and meetings_of(stack, b) == 1


def test_a_replay_survives_an_httpd_restart(make_stack):
    s = make_stack()
    u, k = s.new_user(), key()
    first = post(s, u, "/meetings", meeting_body(), k)
    created(first)
    s.stop()
    s.start()
    assert_replay(first, post(s, u, "/meetings", meeting_body(), k))
    assert meetings_of(s, u) == 1


def test_a_key_expires_after_24_hours(stack):
    u, k = stack.new_user(), key()
    first = created(post(stack, u, "/meetings", meeting_body(), k))
    stack.sql("UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second'"
              " WHERE user_id = %s AND key = %s", u["user_id"], k)
    again = post(stack, u, "/meetings", meeting_body(), k)
    assert created(again) != first and "Idempotent-Replayed" not in again.headers
    # The key now holds the new answer.
    assert_replay(again, post(stack, u, "/meetings", meeting_body(), k))


def test_expired_keys_are_cleaned_up_a_few_at_a_time(stack):
    u = stack.new_user()
    stack.sql("INSERT INTO idempotency_keys (user_id, key, method, path, body_sha256, status,"
              " response, created_at) SELECT %s, 'old-' || i, 'POST', '/x', '', 200, '{}',"
              " now() - interval '25 hours' FROM generate_series(1, 20) i", u["user_id"])

    def expired():
        return int(stack.sql("SELECT count(*) FROM idempotency_keys"
                             " WHERE created_at <= now() - interval '24 hours'")[0][0])

    before = expired()
    assert before >= 20
    created(post(stack, u, "/meetings", meeting_body(), key()))
    after = expired()
    assert 0 < before - after <= 8  # bounded work per request
    for _ in range(before // 8 + 1):
        created(post(stack, u, "/meetings", meeting_body(), key()))
    assert expired() == 0


# -- what is not stored -----------------------------------------------------

def test_a_401_stores_nothing(stack):
    u, k = stack.new_user(), key()
    assert stack.api("POST", "/auth/logout", token=u["token"]).status_code == 200
    r = post(stack, u, "/meetings", meeting_body(), k)  # the revoked token
    assert_error(r, 401, "unauthorized")
    assert stack.sql("SELECT count(*) FROM idempotency_keys WHERE user_id = %s",
                     u["user_id"]) == [["0"]]
    u["token"] = stack.login(u["username"])["token"]
    again = post(stack, u, "/meetings", meeting_body(), k)
    created(again)
    assert "Idempotent-Replayed" not in again.headers


def test_a_429_stores_nothing_and_a_replay_spends_a_token(make_stack):
    s = make_stack("MeetingRateLimit meeting.create 2/2")  # a token a second
    u, k1, k2 = s.new_user(), key(), key()
    first = post(s, u, "/meetings", meeting_body(), k1)
    created(first)
    assert_replay(first, post(s, u, "/meetings", meeting_body(), k1))
    limited = post(s, u, "/meetings", meeting_body(), k2)  # the replay took the 2nd token
    assert_error(limited, 429, "rate_limited")
    time.sleep(1.2)
    r = post(s, u, "/meetings", meeting_body(), k2)
    created(r)
    assert "Idempotent-Replayed" not in r.headers
    assert meetings_of(s, u) == 2


def test_a_503_stores_nothing_and_changes_nothing(make_stack):
    """The connection of a keyed join dies inside its transaction (its backend
    is terminated while it waits for the meeting's row): 503, no seat taken, no
    answer stored; the retry with the same key runs."""
    s = make_stack()
    host, other, k = s.new_user(), s.new_user(), key()
    mid = ongoing(s, host)
    lock = RowLock(s, mid)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, s, other, f"/meetings/{mid}/join", {}, k)
            assert wait_for(lambda: lock.waiters() == 1), "the join did not queue"
            s.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE wait_event_type = 'Lock' AND datname = 'meeting'")
            first = first.result(timeout=60)
    finally:
        lock.release()
    assert_error(first, 503, "service_unavailable")
    assert s.sql("SELECT count(*) FROM participants WHERE meeting_id = %s AND user_id = %s",
                 mid, other["user_id"]) == [["0"]]
    assert s.sql("SELECT count(*) FROM idempotency_keys WHERE user_id = %s",
                 other["user_id"]) == [["0"]]
    again = post(s, other, f"/meetings/{mid}/join", {}, k)
    assert again.status_code == 200, again.text
    assert "Idempotent-Replayed" not in again.headers


# -- the header itself ------------------------------------------------------

@pytest.mark.parametrize("value", ["", "a" * 256, "has space", "tab\there", "caf\u00e9"])
def test_a_malformed_key_is_400(stack, value):
    u = stack.new_user()
    r = post(stack, u, "/meetings", meeting_body(), headers={
        "Idempotency-Key": value.encode("utf-8")})
    assert_error(r, 400, "invalid_field", "Idempotency-Key")
    assert meetings_of(stack, u) == 0


def test_the_longest_and_oddest_keys_are_fine(stack):
    u = stack.new_user()
    for k in ["x" * 255, "!", "~" * 10, '"quoted";,=']:
        first = post(stack, u, "/meetings", meeting_body(), k)
        created(first)
        assert_replay(first, post(stack, u, "/meetings", meeting_body(), k))


def test_the_header_on_put_and_delete_is_ignored(stack):
    u, k = stack.new_user(), key()
    mid = created(post(stack, u, "/meetings", meeting_body()))
    h = {"Idempotency-Key": k}
    for title in ("one", "two"):
        r = stack.api("PUT", f"/meetings/{mid}", token=u["token"], json={"title": title},
                      headers=h)
        assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    assert stack.api("GET", f"/meetings/{mid}", token=u["token"]).json()["data"]["title"] \
        == "two"
    r = stack.api("DELETE", f"/meetings/{mid}", token=u["token"], headers=h)
    assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    assert stack.sql("SELECT count(*) FROM idempotency_keys WHERE user_id = %s",
                     u["user_id"]) == [["0"]]


def test_the_account_posts_take_no_key(stack):
    """register, login and refresh have no user to scope a key to."""
    name = "idem" + uuid.uuid4().hex[:8]
    body = {"username": name, "email": f"{name}@example.com", "password": "secret123"}
    h = {"Idempotency-Key": "reg"}
    assert stack.api("POST", "/auth/register", json=body, headers=h).status_code == 200
    assert stack.api("POST", "/auth/register", json=body, headers=h).status_code == 409
