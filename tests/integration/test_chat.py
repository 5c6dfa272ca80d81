"""Chat over REST (seed 3.17-3.18, SPEC.md 3 "Messages"): send and list, page
bounds, order, trimming, code-point lengths, settings, state and membership.
(The WebSocket push of a sent message is tested in test_signaling.py.)"""
import re
import time

import pytest

from envelopes import assert_error

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# -- helpers ----------------------------------------------------------------

def create_meeting(s, user, **settings):
    body = {"title": "chat test", "start_time": "2025-10-03T10:00:00Z",
            "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
            "meeting_type": "video", "settings": settings}
    r = s.api("POST", "/meetings", token=user["token"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def add_member(s, host, mid, user, role="participant"):
    r = s.api("POST", f"/meetings/{mid}/participants", token=host["token"],
              json={"user_id": user["user_id"], "role": role})
    assert r.status_code in (200, 201), r.text


def send(s, user, mid, content=None, json=None, **kw):
    body = json if json is not None else {"content": content}
    return s.api("POST", f"/meetings/{mid}/messages", token=user["token"], json=body, **kw)


def sent(s, user, mid, content):
    r = send(s, user, mid, content)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def page(s, user, mid, **params):
    return s.api("GET", f"/meetings/{mid}/messages", token=user["token"], params=params)


def messages(s, user, mid, **params):
    r = page(s, user, mid, **params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.fixture
def room(stack):
    """A host, a member and a scheduled meeting of theirs with chat on."""
    host, member = stack.new_user(), stack.new_user()
    mid = create_meeting(stack, host)
    add_member(stack, host, mid, member)
    return host, member, mid


# -- send / list ------------------------------------------------------------------

def test_send_and_list_follow_the_seed(stack, room):
    host, member, mid = room
    r = send(stack, member, mid, "Hello everyone!")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200 and body["message"] == "Message sent successfully"
    assert set(body["data"]) == {"message_id", "timestamp"}
    assert isinstance(body["data"]["message_id"], int) and body["data"]["message_id"] > 0
    assert TS.match(body["data"]["timestamp"])

    r = page(stack, host, mid)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["code"] == 200
    data = out["data"]
    assert data["total"] == 1 and data["page"] == 1 and data["page_size"] == 50
    assert data["messages"] == [{
        "message_id": body["data"]["message_id"], "user_id": member["user_id"],
        "username": member["username"], "content": "Hello everyone!",
        "timestamp": body["data"]["timestamp"]}]


def test_pages_newest_first_with_total(stack, room):
    host, member, mid = room
    ids = [sent(stack, host if i % 2 else member, mid, f"m{i}")["message_id"]
           for i in range(60)]
    newest_first = ids[::-1]

    d = messages(stack, member, mid)
    assert d["total"] == 60 and d["page"] == 1 and d["page_size"] == 50
    assert [m["message_id"] for m in d["messages"]] == newest_first[:50]
    assert d["messages"][0]["content"] == "m59"
    d = messages(stack, member, mid, page=2)
    assert [m["message_id"] for m in d["messages"]] == newest_first[50:]
    assert d["total"] == 60 and d["page"] == 2
    d = messages(stack, member, mid, page=3)
    assert d["messages"] == [] and d["total"] == 60
    d = messages(stack, member, mid, page=2, page_size=7)
    assert [m["message_id"] for m in d["messages"]] == newest_first[7:14]
    assert d["page_size"] == 7
    d = messages(stack, member, mid, page_size=100)
    assert len(d["messages"]) == 60
    d = messages(stack, member, mid, page_size=1)
    assert [m["message_id"] for m in d["messages"]] == [ids[-1]]


def test_order_is_by_timestamp_then_id(stack, room):
    host, member, mid = room
    a = sent(stack, host, mid, "a")["message_id"]
    b = sent(stack, host, mid, "b")["message_id"]
    c = sent(stack, host, mid, "c")["message_id"]
    # b is older than both by its timestamp; a and c share one
    stack.sql("UPDATE messages SET created_at = created_at - interval '1 hour' "
              "WHERE message_id = %s", b)
    stack.sql("UPDATE messages SET created_at = (SELECT created_at FROM messages "
              "WHERE message_id = %s) WHERE message_id = %s", c, a)
    got = [m["message_id"] for m in messages(stack, host, mid)["messages"]]
    assert got == [c, a, b]


@pytest.mark.parametrize("params,field", [
    ({"page_size": 101}, "page_size"), ({"page_size": 0}, "page_size"),
    ({"page_size": -1}, "page_size"), ({"page_size": "abc"}, "page_size"),
    ({"page_size": ""}, "page_size"), ({"page_size": "1.5"}, "page_size"),
    ({"page": 0}, "page"), ({"page": -3}, "page"), ({"page": "x"}, "page"),
    ({"page": "99999999999999999999999"}, "page"),
])
def test_page_bounds(stack, room, params, field):
    host, member, mid = room
    assert_error(page(stack, member, mid, **params), 400, "invalid_field", field)


def test_page_bounds_come_after_membership(stack, room):
    host, member, mid = room
    stranger = stack.new_user()
    assert_error(page(stack, stranger, mid, page_size=101), 403, "forbidden")
    assert_error(page(stack, stranger, 999999999, page_size=101), 404, "not_found")


def test_content_is_trimmed_of_unicode_white_space(stack, room):
    host, member, mid = room
    cases = {"\u3000 hi \u00a0": "hi", "\n\t x y \r\n": "x y",
             "\u2003\u2028mid\u3000dle\u205f": "mid\u3000dle", "  内容  ": "内容"}
    for raw, want in cases.items():
        mid_id = sent(stack, member, mid, raw)["message_id"]
        got = {m["message_id"]: m["content"] for m in messages(stack, member, mid)["messages"]}
        assert got[mid_id] == want, (raw, got[mid_id])
        assert stack.sql("SELECT content FROM messages WHERE message_id = %s",
                         mid_id) == [[want]]


def test_content_length_counts_code_points(stack, room):
    host, member, mid = room
    zh = "中" * 1000
    m = sent(stack, member, mid, zh)
    assert messages(stack, member, mid)["messages"][0]["content"] == zh
    assert sent(stack, member, mid, "\u3000" + "文" * 1000 + "  ")["message_id"] > m["message_id"]
    assert sent(stack, member, mid, "😀" * 1000)  # 4-byte UTF-8, one code point each
    assert sent(stack, member, mid, "x")
    for too_long in ("中" * 1001, "a" * 1001, "😀" * 1001, "中" * 5000):
        assert_error(send(stack, member, mid, too_long), 400, "invalid_field", "content")
    assert messages(stack, member, mid)["total"] == 4


@pytest.mark.parametrize("content", ["", " ", "\u3000\u00a0\t\n", "\u2028"])
def test_empty_or_white_content_is_refused(stack, room, content):
    host, member, mid = room
    assert_error(send(stack, member, mid, content), 400, "invalid_field", "content")
    assert messages(stack, member, mid)["total"] == 0


@pytest.mark.parametrize("body,status,error,field", [
    ({}, 400, "invalid_field", "content"),
    ({"content": None}, 400, "invalid_field", "content"),
    ({"content": 123}, 400, "invalid_field", "content"),
    ({"content": ["hi"]}, 400, "invalid_field", "content"),
    ({"content": "hi", "user_id": 1}, 400, "unknown_field", "user_id"),
])
def test_send_rejects_bad_bodies(stack, room, body, status, error, field):
    host, member, mid = room
    assert_error(send(stack, member, mid, json=body), status, error, field)


def test_send_rejects_non_json(stack, room):
    host, member, mid = room
    r = stack.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                  data="content=hi", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    r = stack.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                  data='{"content": "hi"', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    r = stack.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                  data='"hi"', headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    r = stack.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                  data=b'{"content": "\xff\xfe"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    r = stack.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                  data='{"content": "a\\u0000b"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert messages(stack, member, mid)["total"] == 0


def test_sql_looking_content_is_stored_verbatim(stack, room):
    host, member, mid = room
    nasty = ["'; DROP TABLE messages; --", "Robert'); DELETE FROM users; --",
             "\\x00' OR '1'='1", "%s %d $1 :name", "<script>alert(1)</script>",
             "\"quoted\" and \\backslash\\", "emoji 😀 and 中文 mixed"]
    for text in nasty:
        sent(stack, member, mid, text)
    got = [m["content"] for m in messages(stack, member, mid)["messages"]]
    assert got == nasty[::-1]
    assert stack.sql("SELECT count(*) FROM users WHERE user_id = %s", member["user_id"]) == [["1"]]


def test_chat_turned_off_is_403_and_precedes_state(stack):
    host = stack.new_user()
    mid = create_meeting(stack, host, enable_chat=False)
    assert_error(send(stack, host, mid, "hi"), 403, "forbidden")  # scheduled
    assert stack.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    assert_error(send(stack, host, mid, "hi"), 403, "forbidden")  # ongoing
    assert stack.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    assert_error(send(stack, host, mid, "hi"), 403, "forbidden")  # ended: 403 before 409
    # reading is still allowed
    d = messages(stack, host, mid)
    assert d["messages"] == [] and d["total"] == 0
    # a bad body is a 400 before the settings' 403
    assert_error(send(stack, host, mid, "  "), 400, "invalid_field", "content")


def test_state_rules(stack, room):
    host, member, mid = room
    sent(stack, member, mid, "scheduled ok")
    assert stack.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    sent(stack, member, mid, "ongoing ok")
    assert stack.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    assert_error(send(stack, member, mid, "too late"), 409, "conflict")
    # a bad body answers 400 before the state's 409
    assert_error(send(stack, member, mid, ""), 400, "invalid_field", "content")
    d = messages(stack, member, mid)
    assert [m["content"] for m in d["messages"]] == ["ongoing ok", "scheduled ok"]
    assert d["total"] == 2

    # cancelled
    mid2 = create_meeting(stack, host)
    add_member(stack, host, mid2, member)
    assert stack.api("DELETE", f"/meetings/{mid2}", token=host["token"]).status_code == 200
    assert_error(send(stack, member, mid2, "hello?"), 409, "conflict")
    assert messages(stack, member, mid2)["total"] == 0


def test_members_only(stack, room):
    host, member, mid = room
    stranger, mod = stack.new_user(), stack.new_user()
    add_member(stack, host, mid, mod, "moderator")
    sent(stack, mod, mid, "from a moderator")
    assert_error(send(stack, stranger, mid, "hi"), 403, "forbidden")
    assert_error(page(stack, stranger, mid), 403, "forbidden")
    # membership is checked before the body
    assert_error(send(stack, stranger, mid, ""), 403, "forbidden")
    assert_error(send(stack, stranger, mid, json={"bogus": 1}), 403, "forbidden")
    r = stack.api("POST", f"/meetings/{mid}/messages", token=stranger["token"],
                  data="x", headers={"Content-Type": "text/plain"})
    assert_error(r, 403, "forbidden")
    # a removed member loses both
    r = stack.api("DELETE", f"/meetings/{mid}/participants/{member['user_id']}",
                  token=host["token"])
    assert r.status_code == 200, r.text
    assert_error(send(stack, member, mid, "still here?"), 403, "forbidden")
    assert_error(page(stack, member, mid), 403, "forbidden")
    assert messages(stack, host, mid)["total"] == 1


def test_missing_meeting_bad_id_and_no_token(stack):
    u = stack.new_user()
    assert_error(send(stack, u, 999999999, "hi"), 404, "not_found")
    assert_error(page(stack, u, 999999999), 404, "not_found")
    assert_error(send(stack, u, 999999999, ""), 404, "not_found")  # 404 before 400
    for bad in ("abc", "0", "-1", "1.5"):
        assert_error(stack.api("GET", f"/meetings/{bad}/messages", token=u["token"]), 404,
                     "not_found")
    r = stack.api("GET", "/meetings/1/messages")
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = stack.api("POST", "/meetings/1/messages", json={"content": "hi"})
    assert_error(r, 401, "unauthorized")
    r = stack.api("PUT", "/meetings/1/messages", token=u["token"], json={"content": "hi"})
    assert r.status_code == 405 and "GET" in r.headers["Allow"] and "POST" in r.headers["Allow"]


def test_deleting_an_ended_meeting_removes_its_messages(stack, room):
    host, member, mid = room
    sent(stack, member, mid, "bye")
    assert stack.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    assert stack.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    assert stack.api("DELETE", f"/meetings/{mid}", token=host["token"]).status_code == 200
    assert stack.sql("SELECT count(*) FROM messages WHERE meeting_id = %s", mid) == [["0"]]
    assert_error(page(stack, member, mid), 404, "not_found")


def test_listing_a_big_meeting_is_fast(stack, room):
    """200k messages: a deep page and the total do not scan the table."""
    host, member, mid = room
    n = 200_000
    stack.sql("INSERT INTO messages (meeting_id, user_id, content, created_at) "
              "SELECT %s, %s, 'bulk ' || g, now() - (g || ' seconds')::interval "
              "FROM generate_series(1, " + str(n) + ") g", mid, member["user_id"])
    stack.sql("UPDATE meetings SET message_count = message_count + " + str(n)
              + " WHERE meeting_id = %s", mid)
    stack.sql("ANALYZE messages")
    newest = sent(stack, member, mid, "newest")["message_id"]
    t0 = time.monotonic()
    d = messages(stack, member, mid)
    first = time.monotonic() - t0
    assert d["total"] == n + 1
    assert d["messages"][0]["message_id"] == newest
    assert d["messages"][1]["content"] == "bulk 1"
    t0 = time.monotonic()
    d = messages(stack, member, mid, page=2000, page_size=100)
    deep = time.monotonic() - t0
    assert len(d["messages"]) == 100
    assert d["messages"][0]["content"] == f"bulk {1999 * 100}"
    assert first < 0.5, first
    assert deep < 1.0, deep


def test_concurrent_sends_to_one_meeting_are_all_stored_and_counted(stack, room):
    """Senders in one meeting at once (issue 18: the count is kept without
    a row lock on the meeting): every send answered 200 is listed, the total
    is exact, and every message id is different."""
    import threading

    host, member, mid = room
    senders, each = 8, 15
    ids, codes, lock = [], [], threading.Lock()

    def sender(user, k):
        import requests
        session = requests.Session()
        for i in range(each):
            r = session.post(f"{stack.url}/api/v1/meetings/{mid}/messages",
                             headers={"Authorization": "Bearer " + user["token"]},
                             json={"content": f"s{k} m{i}"}, timeout=30)
            with lock:
                codes.append(r.status_code)
                if r.status_code == 200:
                    ids.append(r.json()["data"]["message_id"])

    threads = [threading.Thread(target=sender, args=(host if k % 2 else member, k))
               for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [200] * (senders * each), codes
    assert len(set(ids)) == senders * each
    d = messages(stack, host, mid, page=1, page_size=100)
    assert d["total"] == senders * each
    listed = {m["message_id"] for m in d["messages"]}
    listed |= {m["message_id"] for m in messages(stack, host, mid, page=2, page_size=100)
               ["messages"]}
    assert listed == set(ids)
