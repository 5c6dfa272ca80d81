"""Webhooks (SPEC.md 8) end to end: the API, the outbox written by the actions,
and signald's deliverer posting to a receiver this test runs on 127.0.0.1.

The test stack's MeetingWebhookRetrySchedule (conftest.TEST_CONF) retries
within a second and MeetingWebhookTimeout gives up on a silent receiver after
5 s, so that every retry path runs in seconds. Every stack of a test session
shares one PostgreSQL, so every signald running delivers from one outbox:
whichever claims a delivery, the receiver sees it."""
import base64
import hashlib
import hmac
import asyncio
import http.server
import json
import os
import signal
import socket
import threading
import time

import pytest
import websockets

from conftest import free_port
from envelopes import assert_error

TYPES = ["meeting.started", "meeting.ended", "participant.joined", "participant.left",
         "participant.removed", "participant.waiting", "recording.started",
         "recording.completed", "recording.failed", "chat.message"]


# -- a receiver -------------------------------------------------------------

class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST. answer(n, body)
    decides the reply to the n-th request (from 0): (status, headers, body)
    or None for 200; `delay` seconds are slept before answering."""

    def __init__(self, answer=None, port=0):
        self.answer = answer or (lambda n, body: None)
        self.requests = []
        self.lock = threading.Lock()
        self.delay = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    idx = len(outer.requests)
                    outer.requests.append({"headers": {k.lower(): v for k, v in
                                                       self.headers.items()},
                                           "body": body, "at": time.time(),
                                           "path": self.path})
                time.sleep(outer.delay)
                status, headers, out = outer.answer(idx, body) or (200, {}, b"ok")
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def wait(self, pred, timeout=30, what="events"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self.events()):
                return self.events()
            time.sleep(0.05)
        raise AssertionError(f"receiver: {what} did not arrive: {self.events()}")

    def wait_count(self, n, timeout=30):
        return self.wait(lambda ev: len(ev) >= n, timeout, f"{n} requests")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# -- helpers ----------------------------------------------------------------

def create_webhook(s, user, url, events=None, **extra):
    r = s.api("POST", "/webhooks", token=user["token"],
              json={"url": url, "events": events or TYPES, **extra})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def create_meeting(s, user, **settings):
    body = {"title": "webhook test", "start_time": "2025-10-03T10:00:00Z",
            "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
            "meeting_type": "video", "settings": settings}
    r = s.api("POST", "/meetings", token=user["token"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json().get("data")


def verify(secret, req):
    """The Standard Webhooks check a receiver makes: which of the signatures
    in webhook-signature were made with secret."""
    key = base64.b64decode(secret[len("whsec_"):])
    h = req["headers"]
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + req["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return [sig for sig in h["webhook-signature"].split(" ") if sig == "v1," + expected]


def deliveries(s, user, wid, **params):
    return ok(s.api("GET", f"/webhooks/{wid}/deliveries", token=user["token"],
                    params=params))


def of_meeting(events, mid):
    return [e for e in events if e.get("meeting_id") == mid]


def assert_in_order(events, mid):
    """seq of the meeting's events: 1, 2, 3 ... (duplicates allowed: at least
    once), never a gap or a step back to an earlier one once a later came."""
    seqs = [e["seq"] for e in of_meeting(events, mid)]
    assert seqs, events
    highest = 0
    for s in seqs:
        assert s <= highest + 1, f"gap or disorder: {seqs}"
        highest = max(highest, s)
    return seqs


# -- the API ------------------------------------------------------------------

def test_create_answers_201_with_a_secret_shown_once(stack, receiver):
    user = stack.new_user()
    r = stack.api("POST", "/webhooks", token=user["token"],
                  json={"url": receiver.url, "events": ["meeting.started"],
                        "description": "crm"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == 201
    d = body["data"]
    assert d["url"] == receiver.url and d["events"] == ["meeting.started"]
    assert d["enabled"] is True and d["description"] == "crm"
    assert d["secret"].startswith("whsec_")
    assert len(base64.b64decode(d["secret"][6:])) == 32
    assert isinstance(d["webhook_id"], int) and d["created_at"].endswith("Z")
    got = ok(stack.api("GET", f"/webhooks/{d['webhook_id']}", token=user["token"]))
    assert "secret" not in got
    assert got == {k: d[k] for k in ("webhook_id", "url", "events", "description", "enabled",
                                     "created_at")}
    listed = ok(stack.api("GET", "/webhooks", token=user["token"]))["webhooks"]
    assert listed == [got]


def test_only_the_owner_sees_or_changes_a_webhook(stack, receiver):
    owner, other = stack.new_user(), stack.new_user()
    wid = create_webhook(stack, owner, receiver.url)["webhook_id"]
    for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/rotate_secret"),
                         ("GET", "/deliveries"), ("POST", "/test"),
                         ("POST", "/deliveries/1/retry")]:
        r = stack.api(method, f"/webhooks/{wid}{path}", token=other["token"],
                      json={} if method in ("PUT", "POST") else None)
        assert_error(r, 404, "not_found")
    assert ok(stack.api("GET", "/webhooks", token=other["token"]))["webhooks"] == []
    assert ok(stack.api("GET", f"/webhooks/{wid}", token=owner["token"]))["enabled"]


def test_update_changes_only_the_fields_it_names_and_delete_removes(stack, receiver):
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url, ["chat.message"], description="a")
    d = ok(stack.api("PUT", f"/webhooks/{w['webhook_id']}", token=user["token"],
                     json={"events": ["meeting.ended", "chat.message"], "enabled": False}))
    assert d["events"] == ["meeting.ended", "chat.message"]
    assert d["enabled"] is False and d["description"] == "a" and d["url"] == receiver.url
    ok(stack.api("DELETE", f"/webhooks/{w['webhook_id']}", token=user["token"]))
    assert_error(stack.api("GET", f"/webhooks/{w['webhook_id']}", token=user["token"]), 404,
                 "not_found")


@pytest.mark.parametrize("body,field", [
    ({"events": ["meeting.started"]}, "url"),
    ({"url": "https://example.com/h"}, "events"),
    ({"url": "https://example.com/h", "events": []}, "events"),
    ({"url": "https://example.com/h", "events": ["meeting.exploded"]}, "events"),
    ({"url": "https://example.com/h", "events": "meeting.started"}, "events"),
    ({"url": "https://example.com/h", "events": ["chat.message", "chat.message"]}, "events"),
    ({"url": "https://example.com/h", "events": [7]}, "events"),
    ({"url": "https://example.com/h", "events": ["ping"]}, "events"),
    ({"url": "https://example.com/h", "events": TYPES, "description": "x" * 501},
     "description"),
])
def test_create_refuses_bad_fields(stack, body, field):
    user = stack.new_user()
    r = stack.api("POST", "/webhooks", token=user["token"], json=body)
    assert_error(r, 400, "invalid_field", field)


def test_create_refuses_unknown_fields(stack):
    user = stack.new_user()
    r = stack.api("POST", "/webhooks", token=user["token"],
                  json={"url": "https://example.com/h", "events": TYPES, "secret": "mine"})
    assert_error(r, 400, "unknown_field", "secret")


@pytest.mark.parametrize("url", [
    "http://example.com/hook",                       # plain http to a host not allowed
    "https://127.0.0.1/hook", "https://127.1/hook", "https://2130706433/hook",
    "https://10.0.0.1/hook", "https://192.168.1.10:8443/x", "https://172.16.0.1/",
    "https://169.254.169.254/latest/meta-data/", "https://[::1]/hook",
    "https://[fe80::1]/hook", "https://[fc00::1]/hook", "https://[::ffff:127.0.0.1]/",
    "https://localhost/hook", "https://a.localhost/hook", "https://0.0.0.0/",
    "http://127.0.0.2:80/hook",                      # loopback, but not the allowed host
    "file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/",
    "https://user:secret@example.com/hook", "https://user@example.com/",
    "https://example.com/" + "a" * 2100,
    "https://exa mple.com/", "https://example.com/h#frag", "https:///nohost",
    "https://example.com:99999/", "https://example.com/é",
])
def test_hostile_urls_are_refused(stack, url):
    user = stack.new_user()
    r = stack.api("POST", "/webhooks", token=user["token"], json={"url": url, "events": TYPES})
    assert_error(r, 400, "invalid_field", "url")
    w = create_webhook(stack, user, "https://example.com/ok")
    r = stack.api("PUT", f"/webhooks/{w['webhook_id']}", token=user["token"], json={"url": url})
    assert_error(r, 400, "invalid_field", "url")


def test_the_admin_allows_loopback_over_http(stack):
    """The test stack's MeetingWebhookAllow http://127.0.0.1:* admits any port
    of 127.0.0.1 over http, and nothing else."""
    assert stack.directive("MeetingWebhookAllow") == [["http://127.0.0.1:*"]]
    user = stack.new_user()
    create_webhook(stack, user, "http://127.0.0.1:1/x")
    create_webhook(stack, user, "http://127.0.0.1:65535/")


def test_a_bad_body_on_anothers_webhook_answers_404_first(stack, receiver):
    owner, other = stack.new_user(), stack.new_user()
    wid = create_webhook(stack, owner, receiver.url)["webhook_id"]
    r = stack.api("PUT", f"/webhooks/{wid}", token=other["token"], json={"events": []})
    assert_error(r, 404, "not_found")
    r = stack.api("PUT", f"/webhooks/{wid}", token=owner["token"], json={"events": []})
    assert_error(r, 400, "invalid_field", "events")


def test_routes_need_a_token_and_ids_are_positive_integers(stack):
    assert_error(stack.api("GET", "/webhooks"), 401, "unauthorized")
    user = stack.new_user()
    assert_error(stack.api("GET", "/webhooks/0", token=user["token"]), 404, "not_found")
    assert_error(stack.api("GET", "/webhooks/abc", token=user["token"]), 404, "not_found")
    assert_error(stack.api("PATCH", "/webhooks/1", token=user["token"]), 405,
                 "method_not_allowed")


def test_deliveries_log_filters_and_pages(stack, receiver):
    user = stack.new_user()
    wid = create_webhook(stack, user, receiver.url)["webhook_id"]
    ids = [ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))["delivery_id"]
           for _ in range(3)]
    receiver.wait_count(3)
    deadline = time.time() + 10
    while deliveries(stack, user, wid, status="delivered")["total"] < 3:
        assert time.time() < deadline
        time.sleep(0.05)
    page = deliveries(stack, user, wid, page=1, page_size=2)
    assert page["total"] == 3 and [d["delivery_id"] for d in page["deliveries"]] == ids[:0:-1]
    d = page["deliveries"][0]
    assert d["status"] == "delivered" and d["attempts"] == 1 and d["type"] == "ping"
    assert d["last_status_code"] == 200 and d["last_response"] == "ok"
    assert d["event_id"].startswith("evt_") and d["meeting_id"] is None
    assert d["next_attempt_at"] is None
    assert deliveries(stack, user, wid, page=2, page_size=2)["deliveries"][0]["delivery_id"] \
        == ids[0]
    assert deliveries(stack, user, wid, status="failed")["total"] == 0
    for params, field in [({"status": "lost"}, "status"), ({"page": 0}, "page"),
                          ({"page_size": 101}, "page_size")]:
        r = stack.api("GET", f"/webhooks/{wid}/deliveries", token=user["token"], params=params)
        assert_error(r, 400, "invalid_field", field)


# -- delivery -----------------------------------------------------------------

def test_a_ping_is_signed_and_has_no_meeting(stack, receiver):
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url)
    did = ok(stack.api("POST", f"/webhooks/{w['webhook_id']}/test", token=user["token"]))
    assert isinstance(did["delivery_id"], int)
    receiver.wait_count(1)
    req = receiver.requests[0]
    ev = json.loads(req["body"])
    assert ev["type"] == "ping" and ev["seq"] == 0 and ev["data"] == {}
    assert "meeting_id" not in ev and ev["id"].startswith("evt_")
    assert req["headers"]["webhook-id"] == ev["id"]
    assert abs(int(req["headers"]["webhook-timestamp"]) - time.time()) < 60
    assert req["headers"]["content-type"] == "application/json"
    assert len(verify(w["secret"], req)) == 1
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), req)


def test_every_event_type_arrives_with_its_body_in_order(stack, receiver):
    host, guest = stack.new_user(), stack.new_user()
    w = create_webhook(stack, host, receiver.url)
    mid = create_meeting(stack, host, enable_recording=True)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    joined = ok(stack.api("POST", f"/meetings/{mid}/join", token=guest["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/join", token=guest["token"]))  # idempotent: silent
    msg = ok(stack.api("POST", f"/meetings/{mid}/messages", token=guest["token"],
                       json={"content": "  hello  "}))
    rec = ok(stack.api("POST", f"/meetings/{mid}/recording/start", token=host["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/recording/stop", token=host["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/leave", token=guest["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/join", token=guest["token"]))
    ok(stack.api("DELETE", f"/meetings/{mid}/participants/{guest['user_id']}",
                 token=host["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/end", token=host["token"]))
    events = receiver.wait(lambda ev: any(e["type"] == "meeting.ended" for e in ev))
    events = of_meeting(events, mid)
    assert [e["type"] for e in events] == [
        "meeting.started", "participant.joined", "chat.message", "recording.started",
        "recording.completed", "participant.left", "participant.joined",
        "participant.removed", "meeting.ended"]
    assert [e["seq"] for e in events] == list(range(1, 10))
    for e, req in zip(events, receiver.requests):
        assert e["id"].startswith("evt_") and e["created_at"].endswith("Z")
        assert req["headers"]["webhook-id"] == e["id"] and len(verify(w["secret"], req)) == 1
    data = [e["data"] for e in events]
    assert set(data[0]) == {"started_at"} and data[0]["started_at"].endswith("Z")
    assert data[1] == {"user_id": guest["user_id"], "username": guest["username"],
                       "participant_id": joined["participant_id"]}
    assert data[2] == {"message_id": msg["message_id"], "user_id": guest["user_id"],
                       "content": "hello", "timestamp": msg["timestamp"]}
    assert data[3] == {"recording_id": rec["recording_id"]}
    assert data[4]["recording_id"] == rec["recording_id"]
    assert isinstance(data[4]["duration"], int) and data[4]["size"] == 0
    assert data[5] == {"user_id": guest["user_id"]}
    assert data[7] == {"user_id": guest["user_id"], "by_user_id": host["user_id"]}
    assert set(data[8]) == {"ended_at"}


def test_a_hosts_join_of_a_scheduled_meeting_starts_it_and_joins(stack, receiver):
    host = stack.new_user()
    create_webhook(stack, host, receiver.url)
    mid = create_meeting(stack, host)
    joined = ok(stack.api("POST", f"/meetings/{mid}/join", token=host["token"]))
    events = receiver.wait_count(2)
    assert [(e["type"], e["seq"]) for e in events] == [("meeting.started", 1),
                                                       ("participant.joined", 2)]
    assert events[1]["data"] == {"user_id": host["user_id"], "username": host["username"],
                                 "participant_id": joined["participant_id"]}


def test_a_user_starting_to_wait_is_told_of_once(stack, receiver):
    host, guest = stack.new_user(), stack.new_user()
    create_webhook(stack, host, receiver.url, ["participant.waiting", "participant.joined"])
    mid = create_meeting(stack, host, enable_waiting_room=True)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    for _ in range(2):  # the second 202 is a repeat: no second event
        assert stack.api("POST", f"/meetings/{mid}/join", token=guest["token"]).status_code == 202
    events = receiver.wait_count(1)
    time.sleep(1.0)
    assert [(e["type"], e["data"], e["seq"]) for e in receiver.events()] == [
        ("participant.waiting", {"user_id": guest["user_id"]}, 1)]


def test_only_subscribed_events_of_the_owners_meetings_are_sent(stack, receiver):
    owner, other = stack.new_user(), stack.new_user()
    create_webhook(stack, owner, receiver.url, ["meeting.ended"])
    mine = create_meeting(stack, owner)
    theirs = create_meeting(stack, other)
    ok(stack.api("POST", "/meetings/%d/participants" % theirs, token=other["token"],
                 json={"user_id": owner["user_id"], "role": "host"}))
    for mid in (theirs, mine):  # the owner hosts both, but created only one
        ok(stack.api("POST", f"/meetings/{mid}/start", token=owner["token"]))
        ok(stack.api("POST", f"/meetings/{mid}/end", token=owner["token"]))
    events = receiver.wait_count(1)
    time.sleep(1.0)
    events = receiver.events()
    assert [(e["type"], e["meeting_id"], e["seq"]) for e in events] == [
        ("meeting.ended", mine, 1)]


def test_a_disabled_webhook_gets_nothing(stack, receiver):
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url)
    ok(stack.api("PUT", f"/webhooks/{w['webhook_id']}", token=user["token"],
                 json={"enabled": False}))
    mid = create_meeting(stack, user)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=user["token"]))
    time.sleep(1.5)
    assert receiver.events() == []
    assert deliveries(stack, user, w["webhook_id"])["total"] == 0


def test_nothing_is_sent_for_a_change_that_was_refused(stack, receiver):
    """A refused action rolls back whatever it wrote: a second start (409)
    and a chat message in a meeting with chat off (403) send nothing."""
    user = stack.new_user()
    create_webhook(stack, user, receiver.url)
    mid = create_meeting(stack, user, enable_chat=False)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=user["token"]))
    assert stack.api("POST", f"/meetings/{mid}/start", token=user["token"]).status_code == 409
    r = stack.api("POST", f"/meetings/{mid}/messages", token=user["token"],
                  json={"content": "x"})
    assert r.status_code == 403
    receiver.wait_count(1)
    time.sleep(1.0)
    assert [e["type"] for e in receiver.events()] == ["meeting.started"]


def test_a_rolled_back_transaction_leaves_no_event(stack, pg, receiver):
    """The outbox is written in the transaction of the change: when that
    transaction rolls back, there is nothing to deliver."""
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url)
    mid = create_meeting(stack, user)
    pg.sql("BEGIN; SELECT mm_meeting_start(%s, %s, NULL, 1000); ROLLBACK;", mid, user["user_id"])
    time.sleep(1.5)
    assert receiver.events() == []
    assert deliveries(stack, user, w["webhook_id"])["total"] == 0
    assert ok(stack.api("GET", f"/meetings/{mid}", token=user["token"]))["status"] == \
        "scheduled"


def test_a_retry_keeps_the_id_and_later_events_wait(stack, receiver):
    """The receiver fails the first attempt of every event: each is sent
    again with the same webhook-id, and none overtakes the one before it."""
    seen = set()

    def fail_first(n, body):
        eid = json.loads(body)["id"]
        if eid in seen:
            return None
        seen.add(eid)
        return (500, {}, b"not yet")

    receiver.answer = fail_first
    user = stack.new_user()
    create_webhook(stack, user, receiver.url, ["chat.message"])
    mid = create_meeting(stack, user)
    for i in range(5):
        ok(stack.api("POST", f"/meetings/{mid}/messages", token=user["token"],
                     json={"content": f"m{i}"}))
    events = receiver.wait(lambda ev: len(ev) >= 10)
    assert [(e["seq"], e["data"]["content"]) for e in events] == [
        (s, f"m{s - 1}") for s in (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)]
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert ids[0::2] == ids[1::2] and len(set(ids)) == 5


def test_retry_after_is_a_lower_bound(stack, receiver):
    receiver.answer = lambda n, body: (503, {"Retry-After": "3"}, b"busy") if n == 0 else None
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url)
    ok(stack.api("POST", f"/webhooks/{w['webhook_id']}/test", token=user["token"]))
    receiver.wait_count(2, timeout=20)
    first, second = receiver.requests[:2]
    # The schedule alone would retry after 0.2-0.24 s.
    assert second["at"] - first["at"] >= 2.9
    d = deliveries(stack, user, w["webhook_id"])["deliveries"][0]
    assert d["attempts"] == 2


def test_a_410_disables_the_webhook_and_put_turns_it_back_on(stack, receiver):
    receiver.answer = lambda n, body: (410, {}, b"gone") if n == 0 else None
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url, ["meeting.started", "meeting.ended"])
    wid = w["webhook_id"]
    mid = create_meeting(stack, user)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=user["token"]))
    receiver.wait_count(1)
    deadline = time.time() + 10
    while ok(stack.api("GET", f"/webhooks/{wid}", token=user["token"]))["enabled"]:
        assert time.time() < deadline, "the 410 did not disable the webhook"
        time.sleep(0.05)
    ok(stack.api("POST", f"/meetings/{mid}/end", token=user["token"]))  # disabled: not sent
    time.sleep(1.5)
    assert len(receiver.events()) == 1
    d = deliveries(stack, user, wid)["deliveries"]
    assert [(x["type"], x["last_status_code"]) for x in d] == [("meeting.started", 410)]
    ok(stack.api("PUT", f"/webhooks/{wid}", token=user["token"], json={"enabled": True}))
    events = receiver.wait_count(2)
    assert events[1]["id"] == events[0]["id"] and events[1]["seq"] == 1


def test_after_the_last_attempt_a_delivery_fails_and_stops_holding_up(stack, receiver):
    """The test schedule has 7 retries: 8 attempts, then `failed`; the next
    event of the meeting goes out, and a manual retry sends the failed one
    once more."""
    receiver.answer = lambda n, body: (
        (500, {}, b"x" * 5000) if json.loads(body)["type"] == "meeting.started" else None)
    user = stack.new_user()
    wid = create_webhook(stack, user, receiver.url)["webhook_id"]
    mid = create_meeting(stack, user)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=user["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/end", token=user["token"]))
    events = receiver.wait(lambda ev: any(e["type"] == "meeting.ended" for e in ev),
                           timeout=40)
    assert [e["type"] for e in events] == ["meeting.started"] * 8 + ["meeting.ended"]
    log = deliveries(stack, user, wid)["deliveries"]
    failed = [d for d in log if d["type"] == "meeting.started"][0]
    assert failed["status"] == "failed" and failed["attempts"] == 8
    assert failed["last_status_code"] == 500 and failed["last_response"] == "x" * 1024
    ended = [d for d in log if d["type"] == "meeting.ended"][0]
    r = stack.api("POST", f"/webhooks/{wid}/deliveries/{ended['delivery_id']}/retry",
                  token=user["token"])
    assert_error(r, 409, "conflict")
    assert_error(stack.api("POST", f"/webhooks/{wid}/deliveries/999999999/retry",
                           token=user["token"]), 404, "not_found")
    ok(stack.api("POST", f"/webhooks/{wid}/deliveries/{failed['delivery_id']}/retry",
                 token=user["token"]))
    receiver.wait_count(10)
    deadline = time.time() + 10
    while deliveries(stack, user, wid, status="failed")["total"] != 1 or \
            deliveries(stack, user, wid, status="failed")["deliveries"][0]["attempts"] != 9:
        assert time.time() < deadline
        time.sleep(0.05)


def test_rotation_signs_with_both_secrets(stack, receiver):
    user = stack.new_user()
    w = create_webhook(stack, user, receiver.url)
    wid = w["webhook_id"]
    new = ok(stack.api("POST", f"/webhooks/{wid}/rotate_secret", token=user["token"]))
    assert set(new) == {"secret"} and new["secret"] != w["secret"]
    assert new["secret"].startswith("whsec_")
    ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))
    receiver.wait_count(1)
    req = receiver.requests[0]
    assert len(req["headers"]["webhook-signature"].split(" ")) == 2
    assert len(verify(new["secret"], req)) == 1 and len(verify(w["secret"], req)) == 1
    # After the 24 hours, the new one alone.
    stack.sql("UPDATE webhooks SET old_secret_until = now() - interval '1 second'"
              " WHERE webhook_id = %s", wid)
    ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))
    receiver.wait_count(2)
    req = receiver.requests[1]
    assert len(req["headers"]["webhook-signature"].split(" ")) == 1
    assert verify(new["secret"], req) and not verify(w["secret"], req)


def test_a_lapsed_seat_is_told_of_as_left(stack, receiver):
    """A client that joins and never connects holds its seat one lease; when
    it runs out, the deliverer's sweep sends participant.left."""
    host, guest = stack.new_user(), stack.new_user()
    create_webhook(stack, host, receiver.url, ["participant.joined", "participant.left"])
    mid = create_meeting(stack, host)
    ok(stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    ok(stack.api("POST", f"/meetings/{mid}/join", token=guest["token"]))
    receiver.wait_count(1)
    stack.sql("UPDATE participants SET lease_until = now() - interval '1 second'"
              " WHERE meeting_id = %s AND user_id = %s", mid, guest["user_id"])
    events = receiver.wait_count(2, timeout=20)
    assert [(e["type"], e["data"]["user_id"], e["seq"]) for e in events] == [
        ("participant.joined", guest["user_id"], 1), ("participant.left", guest["user_id"], 2)]
    ok(stack.api("POST", f"/meetings/{mid}/join", token=guest["token"]))
    events = receiver.wait_count(3)
    assert events[2]["type"] == "participant.joined" and events[2]["seq"] == 3


def test_a_socket_taking_and_giving_back_its_seat_is_told_of(stack, receiver):
    """A host who goes online by connecting with start's ticket (signald's
    mm_seat_take) is participant.joined; the socket's leave frame (signald's
    mm_seat_release) is participant.left."""
    host = stack.new_user()
    create_webhook(stack, host, receiver.url, ["participant.joined", "participant.left"])
    mid = create_meeting(stack, host)
    room_url = ok(stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))["room_url"]

    async def visit():
        async with websockets.connect(room_url) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert first["type"] == "joined", first
            receiver.wait_count(1)
            await ws.send(json.dumps({"type": "leave"}))
            await asyncio.wait_for(ws.wait_closed(), 10)

    asyncio.run(visit())
    events = receiver.wait_count(2)
    assert [(e["type"], e["seq"]) for e in events] == [("participant.joined", 1),
                                                       ("participant.left", 2)]
    assert events[0]["data"]["user_id"] == host["user_id"]
    assert events[0]["data"]["username"] == host["username"]


def test_several_deliverers_send_each_event_once_in_order(stack, make_stack, receiver):
    """Three signalds (this stack's and two more, one PostgreSQL) share the
    outbox: each event reaches the receiver once (it always answers 200 at
    once, so no lease runs out), in order within each meeting."""
    make_stack()
    make_stack()
    user = stack.new_user()
    create_webhook(stack, user, receiver.url, ["chat.message"])
    mids = [create_meeting(stack, user) for _ in range(6)]
    stack.sql("SELECT mm_webhook_emit(m, 'chat.message', jsonb_build_object('n', i))"
              " FROM unnest(%s::bigint[]) m, generate_series(1, 20) i ORDER BY i, m",
              "{" + ",".join(map(str, mids)) + "}")
    events = receiver.wait_count(120, timeout=60)
    time.sleep(1.0)
    events = receiver.events()
    ids = [e["id"] for e in events]
    assert len(ids) == 120 and len(set(ids)) == 120
    for mid in mids:
        assert [e["seq"] for e in of_meeting(events, mid)] == list(range(1, 21))
        assert [e["data"]["n"] for e in of_meeting(events, mid)] == list(range(1, 21))


# -- hostile receivers ------------------------------------------------------------

def test_a_slow_receiver_does_not_delay_another(stack, receiver):
    slow = Receiver()
    slow.delay = 4
    try:
        a, b = stack.new_user(), stack.new_user()
        wa = create_webhook(stack, a, slow.url)["webhook_id"]
        wb = create_webhook(stack, b, receiver.url)["webhook_id"]
        for _ in range(4):
            ok(stack.api("POST", f"/webhooks/{wa}/test", token=a["token"]))
        time.sleep(0.5)
        t0 = time.time()
        ok(stack.api("POST", f"/webhooks/{wb}/test", token=b["token"]))
        receiver.wait_count(1, timeout=10)
        assert receiver.requests[0]["at"] - t0 < 3, "the fast receiver waited for the slow one"
        slow.wait_count(4, timeout=20)
    finally:
        slow.close()


def test_a_receiver_that_never_answers_is_given_up_on_and_retried(stack):
    """A socket that accepts and says nothing: after MeetingWebhookTimeout the
    attempt counts as failed (no status) and the next follows."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []
    try:
        user = stack.new_user()
        wid = create_webhook(stack, user, f"http://127.0.0.1:{srv.getsockname()[1]}/")[
            "webhook_id"]
        ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))
        srv.settimeout(10)
        conns.append(srv.accept()[0])
        t0 = time.time()
        conns.append(srv.accept()[0])  # the retry, after the timeout
        assert time.time() - t0 >= 4
        d = deliveries(stack, user, wid)["deliveries"][0]
        assert d["attempts"] >= 2 and d["last_status_code"] is None
        assert "no answer" in d["last_response"]
    finally:
        for c in conns:
            c.close()
        srv.close()


def test_a_huge_answer_is_cut_at_1_kib(stack, receiver):
    receiver.answer = lambda n, body: (200, {}, b"\xff" + b"y" * (8 << 20))
    user = stack.new_user()
    wid = create_webhook(stack, user, receiver.url)["webhook_id"]
    ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))
    receiver.wait_count(1)
    deadline = time.time() + 10
    while deliveries(stack, user, wid, status="delivered")["total"] != 1:
        assert time.time() < deadline
        time.sleep(0.05)
    d = deliveries(stack, user, wid)["deliveries"][0]
    assert d["last_response"] == "?" + "y" * 1023 and d["last_status_code"] == 200


def test_redirects_are_not_followed(stack, receiver):
    other = Receiver()
    try:
        receiver.answer = lambda n, body: (307, {"Location": other.url}, b"")
        user = stack.new_user()
        wid = create_webhook(stack, user, receiver.url)["webhook_id"]
        ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))
        receiver.wait_count(2)
        assert other.events() == []
        d = deliveries(stack, user, wid)["deliveries"][0]
        assert d["last_status_code"] == 307 and d["status"] == "pending"
    finally:
        other.close()


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(stack, receiver):
    """A host name passes the URL check (it is not an address); the deliverer
    checks the address it actually connects to, so a name that resolves to an
    internal address, when stored or later (DNS rebinding), gets nothing. The
    machine's own name resolves to loopback here (/etc/hosts)."""
    name = socket.gethostname()
    addrs = {a[4][0] for a in socket.getaddrinfo(name, None)}
    if not addrs or not all(a.startswith("127.") or a == "::1" for a in addrs):
        pytest.skip(f"{name} does not resolve to loopback only: {addrs}")
    user = stack.new_user()
    wid = create_webhook(stack, user, f"https://{name}:{receiver.port}/hook")["webhook_id"]
    ok(stack.api("POST", f"/webhooks/{wid}/test", token=user["token"]))
    # attempts counts a claimed attempt at once; its outcome is written when
    # the connection is refused: wait for that, not for the claim.
    deadline = time.time() + 10
    while (d := deliveries(stack, user, wid)["deliveries"][0])["last_response"] is None:
        assert time.time() < deadline, d
        time.sleep(0.05)
    assert d["attempts"] >= 1
    assert d["last_status_code"] is None
    assert d["last_response"].startswith("refused: the address is internal"), d
    assert receiver.requests == []


# -- faults -------------------------------------------------------------------

def chat(s, user, mid, n, start=0):
    for i in range(start, start + n):
        ok(s.api("POST", f"/meetings/{mid}/messages", token=user["token"],
                 json={"content": f"m{i}"}))


def contents(events, mid):
    return [e["data"]["content"] for e in of_meeting(events, mid)]


def assert_all_in_order(events, mid, n):
    seqs = assert_in_order(events, mid)
    assert sorted(set(seqs)) == list(range(1, n + 1)), seqs


def test_receiver_down_for_a_while_gets_everything_in_order(stack):
    """Nothing listens on the webhook's port at first (connections refused,
    retried); once a receiver comes up there, every event arrives in order."""
    port = free_port()
    user = stack.new_user()
    create_webhook(stack, user, f"http://127.0.0.1:{port}/hook", ["chat.message"])
    mid = create_meeting(stack, user)
    chat(stack, user, mid, 5)
    time.sleep(2.0)
    rec = Receiver(port=port)
    try:
        chat(stack, user, mid, 5, start=5)
        events = rec.wait(lambda ev: len(set(e["seq"] for e in ev)) >= 10, timeout=30)
        assert_all_in_order(events, mid, 10)
    finally:
        rec.close()


def test_signald_killed_mid_delivery_loses_nothing(stack):
    """signald is killed while the receiver holds a request: httpd starts it
    again, the lease of the row it held runs out (MeetingWebhookTimeout 5 s +
    15 s) and the new deliverer sends it; every event arrives, in order."""
    held = threading.Event()
    rec = Receiver()

    def hold_third(n, body):
        if json.loads(body)["seq"] == 3 and not held.is_set():
            held.set()
            time.sleep(3)
        return None

    rec.answer = hold_third
    try:
        user = stack.new_user()
        create_webhook(stack, user, rec.url, ["chat.message"])
        mid = create_meeting(stack, user)
        chat(stack, user, mid, 6)
        assert held.wait(15)
        for pid in stack.signald_pids():
            os.kill(pid, signal.SIGKILL)
        chat(stack, user, mid, 2, start=6)
        events = rec.wait(lambda ev: len(set(e["seq"] for e in ev)) >= 8, timeout=60)
        assert_all_in_order(events, mid, 8)
        assert contents(events, mid)[-1] == "m7"
    finally:
        rec.close()


def test_postgres_restarted_loses_nothing(stack, pg):
    rec = Receiver()
    try:
        user = stack.new_user()
        create_webhook(stack, user, rec.url, ["chat.message"])
        mid = create_meeting(stack, user)
        chat(stack, user, mid, 3)
        rec.wait_count(3)
        pg.stop()
        pg.start()
        stack.wait_up()
        deadline = time.time() + 30
        while True:
            r = stack.api("POST", f"/meetings/{mid}/messages", token=user["token"],
                          json={"content": "m3"})
            if r.status_code == 200:
                break
            assert time.time() < deadline, r.text
            time.sleep(0.2)
        chat(stack, user, mid, 2, start=4)
        events = rec.wait(lambda ev: len(set(e["seq"] for e in ev)) >= 6, timeout=60)
        assert_all_in_order(events, mid, 6)
    finally:
        rec.close()
