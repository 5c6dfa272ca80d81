"""Clients written for the user's document (issue 25): the document's flow played the way
those clients play it, against the real stack.

They register, log in, create a meeting and join it without ever calling start; three
others join; they read the participants, chat, connect to their room_url (the Qt client
puts `token` first, others build the query in their own order), leave and end. Every
reply is held to the document's example of it (seed 3.2-3.18; sign-up, log-in and create
as SPEC.md 2 and 3.1 give them), and written in one JSON style: compact, byte for byte
what a compact serialiser writes, so that a shell client's grep for "user_id": finds it.
"""
import asyncio
import itertools
import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import websockets

from envelopes import is_compact
from route_table import routes

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# The document's examples, verbatim (seed 3.2-3.18), and SPEC.md's for what the seed's
# part 2 leaves out (2: register and log-in; 3.1: create, as part 1 shows it).
SEED = {
    "register": {"code": 200, "message": "User registered successfully",
                 "data": {"user_id": 1, "username": "testuser", "email": "test@example.com",
                          "nickname": "Test User", "created_at": "2025-10-02T14:00:00Z"}},
    "login": {"code": 200, "message": "Login successful",
              "data": {"token": "eyJ...", "refresh_token": "eyJ...", "expires_in": 3600,
                       "user": {"user_id": 1, "username": "testuser",
                                "email": "test@example.com", "nickname": "Test User"}}},
    "create": {"code": 201, "message": "Meeting created successfully",
               "data": {"meeting_id": 1, "title": "Team Meeting",
                        "description": "Weekly team sync",
                        "start_time": "2025-10-03T10:00:00Z",
                        "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
                        "meeting_type": "video", "status": "scheduled", "creator_id": 1,
                        "created_at": "2025-10-02T14:00:00Z"}},
    "list": {"code": 200,
             "data": {"meetings": [{"meeting_id": 1, "title": "Team Meeting",
                                    "start_time": "2025-10-03T10:00:00Z",
                                    "end_time": "2025-10-03T11:00:00Z",
                                    "status": "scheduled", "participant_count": 5}],
                      "total": 50, "page": 1, "page_size": 10}},
    "detail": {"code": 200,
               "data": {"meeting_id": 1, "title": "Team Meeting",
                        "description": "Weekly team sync",
                        "start_time": "2025-10-03T10:00:00Z",
                        "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
                        "meeting_type": "video", "status": "scheduled", "creator_id": 1,
                        "settings": {"enable_recording": False, "enable_chat": True,
                                     "enable_screen_share": True},
                        "created_at": "2025-10-02T14:00:00Z"}},
    "join": {"code": 200, "message": "Joined meeting successfully",
             "data": {"meeting_id": 1, "participant_id": 123,
                      "room_url": "wss://gateway:8000/ws/signaling?meeting_id=1&user_id=1",
                      "ice_servers": [{"urls": "stun:stun.l.google.com:19302"}]}},
    "leave": {"code": 200, "message": "Left meeting successfully"},
    "end": {"code": 200, "message": "Meeting ended successfully"},
    "participants": {"code": 200,
                     "data": {"participants": [{"participant_id": 123, "user_id": 1,
                                                "username": "testuser",
                                                "nickname": "Test User", "role": "host",
                                                "status": "online",
                                                "joined_at": "2025-10-03T10:05:00Z"}],
                              "total": 5}},
    "messages": {"code": 200,
                 "data": {"messages": [{"message_id": 1, "user_id": 1,
                                        "username": "testuser",
                                        "content": "Hello everyone!",
                                        "timestamp": "2025-10-03T10:15:00Z"}],
                          "total": 100}},
    "send": {"code": 200, "message": "Message sent successfully",
             "data": {"message_id": 1, "timestamp": "2025-10-03T10:15:00Z"}},
}


def kind(v):
    """The JSON type of a value: what the document's example fixes of it."""
    return {bool: "boolean", int: "number", float: "number", str: "string",
            list: "array", dict: "object", type(None): "null"}[type(v)]


def assert_shape(got, example, where="reply"):
    """got has every member of example, of the same JSON type, recursively (list items
    against the example's first item); extra members (SPEC.md's additions) are allowed
    below the top level. Strings that are times in the example are times in got."""
    assert kind(got) == kind(example), f"{where}: {got!r} is not like {example!r}"
    if isinstance(example, dict):
        missing = set(example) - set(got)
        assert not missing, f"{where}: missing {sorted(missing)} in {got}"
        for k, v in example.items():
            assert_shape(got[k], v, f"{where}.{k}")
    elif isinstance(example, list) and example:
        for i, item in enumerate(got):
            assert_shape(item, example[0], f"{where}[{i}]")
    elif isinstance(example, str) and TS.match(example):
        assert TS.match(got), f"{where}: {got!r} is not a time as the document writes it"


def seed_reply(r, name, status=200):
    """The reply is the document's example of it: status, envelope members exactly, the
    message word for word, data of its shape, and the body written compact."""
    example = SEED[name]
    body = r.content.decode("utf-8")
    assert r.status_code == status, body
    assert r.headers["Content-Type"].startswith("application/json")
    j = json.loads(body)
    assert set(j) == set(example), (name, j)
    assert j["code"] == example["code"] == status
    if "message" in example:
        assert j["message"] == example["message"], j
    assert_shape(j, example, name)
    assert body == json.dumps(j, separators=(",", ":"), ensure_ascii=False), body
    return j.get("data")


def signaling_url(stack, room_url, pairs):
    """room_url pointed at this stack, with its query given as these pairs."""
    return f"{stack.ws_base}{urlsplit(room_url).path}?{urlencode(pairs)}"


async def joined_with(url, mid):
    """Connects and reads the first frame: it must be joined."""
    async with websockets.connect(url, close_timeout=2) as ws:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["type"] == "joined" and frame["meeting_id"] == mid, frame
    return frame


def test_the_documents_flow_as_its_clients_play_it(stack):
    people = []
    for i in range(4):
        name = f"compat{i}_{stack.port}"
        d = seed_reply(stack.api("POST", "/auth/register", json={
            "username": name, "email": f"{name}@example.com", "password": "secret123",
            "nickname": f"Compat {i}"}), "register")
        assert d["username"] == name
        login = seed_reply(stack.api("POST", "/auth/login", json={
            "username": name, "password": "secret123"}), "login")
        assert login["user"]["user_id"] == d["user_id"]
        people.append({**d, "token": login["token"]})
    host, others = people[0], people[1:]

    created = seed_reply(stack.api("POST", "/meetings", token=host["token"], json={
        "title": "Team Meeting", "description": "Weekly team sync",
        "start_time": "2025-10-03T10:00:00Z", "end_time": "2025-10-03T11:00:00Z",
        "max_participants": 10, "meeting_type": "video",
        "settings": {"enable_chat": True}}), "create", 201)
    mid = created["meeting_id"]
    assert created["status"] == "scheduled" and created["creator_id"] == host["user_id"]
    listed = seed_reply(stack.api("GET", "/meetings", token=host["token"],
                                  params={"page": 1, "page_size": 10}), "list")
    assert [m["meeting_id"] for m in listed["meetings"]] == [mid]

    # The host joins without start: that starts the meeting.
    urls = {}
    for u in people:
        d = seed_reply(stack.api("POST", f"/meetings/{mid}/join", token=u["token"]), "join")
        assert d["meeting_id"] == mid
        urls[u["user_id"]] = d["room_url"]
    detail = seed_reply(stack.api("GET", f"/meetings/{mid}", token=others[0]["token"]),
                        "detail")
    assert detail["status"] == "ongoing"

    r = stack.api("GET", f"/meetings/{mid}/participants", token=host["token"])
    d = seed_reply(r, "participants")
    assert d["total"] == 4
    assert {p["user_id"]: (p["role"], p["status"]) for p in d["participants"]} == {
        u["user_id"]: ("host" if u is host else "participant", "online") for u in people}
    for u in people:    # what a shell client greps for
        assert f'"user_id":{u["user_id"]},' in r.text

    sent = seed_reply(stack.api("POST", f"/meetings/{mid}/messages", token=others[1]["token"],
                                json={"content": "Hello everyone!"}), "send")
    d = seed_reply(stack.api("GET", f"/meetings/{mid}/messages", token=others[2]["token"]),
                   "messages")
    assert d["total"] == 1 and d["messages"][0]["message_id"] == sent["message_id"]
    assert d["messages"][0]["content"] == "Hello everyone!"
    assert d["messages"][0]["user_id"] == others[1]["user_id"]

    # Each connects to its room_url: token first, then the three in another order each,
    # with a parameter of the client's own among them.
    orders = list(itertools.permutations(["meeting_id", "user_id", "token"]))
    for n, u in enumerate(people):
        q = dict(parse_qsl(urlsplit(urls[u["user_id"]]).query, strict_parsing=True))
        assert len(q["token"]) >= 32
        first = [("token", q["token"]), ("meeting_id", q["meeting_id"]),
                 ("user_id", q["user_id"])]
        asyncio.run(joined_with(signaling_url(stack, urls[u["user_id"]], first), mid))
        shuffled = [(k, q[k]) for k in orders[(n + 1) % len(orders)]]
        shuffled.insert(n % 3, ("client", "qt-desktop"))
        asyncio.run(joined_with(signaling_url(stack, urls[u["user_id"]], shuffled), mid))

    for u in others:
        seed_reply(stack.api("POST", f"/meetings/{mid}/leave", token=u["token"]), "leave")
    seed_reply(stack.api("POST", f"/meetings/{mid}/end", token=host["token"]), "end")
    detail = seed_reply(stack.api("GET", f"/meetings/{mid}", token=host["token"]), "detail")
    assert detail["status"] == "ended"


# -- one JSON style on every route ------------------------------------------

@pytest.fixture
def busy_meeting(stack):
    """An ongoing meeting with a host, a member, a message and a recording."""
    host, member = stack.new_user(), stack.new_user()
    r = stack.api("POST", "/meetings", token=host["token"], json={
        "title": "Style", "description": "every route", "start_time": "2030-01-01T10:00:00Z",
        "end_time": "2030-01-01T11:00:00Z", "max_participants": 10, "meeting_type": "video",
        "settings": {"enable_recording": True}})
    mid = r.json()["data"]["meeting_id"]
    assert stack.api("POST", f"/meetings/{mid}/join", token=host["token"]).status_code == 200
    assert stack.api("POST", f"/meetings/{mid}/join", token=member["token"]).status_code == 200
    assert stack.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                     json={"content": "a b  c"}).status_code == 200
    r = stack.api("POST", f"/meetings/{mid}/recording/start", token=host["token"])
    assert r.status_code == 200, r.text
    return host, member, mid, r.json()["data"]["recording_id"]


def test_every_route_answers_in_one_json_style(stack, busy_meeting):
    """Every route of the table, called as a client would, answers compact JSON, whether
    its body comes from SQL (json_build_object writes "k" : v), jansson or the module."""
    host, member, mid, rec = busy_meeting
    values = {"meetings": str(mid), "participants": str(member["user_id"]),
              "recordings": rec}
    bodies = {"POST": {}, "PUT": {}}
    query = {"meeting.list": {"page": 1, "page_size": 10}}
    seen = set()
    # Logging out revokes the caller's tokens: that route goes last.
    for route in sorted(routes(), key=lambda t: t["name"] == "auth.logout"):
        segs = route["pattern"].split("/")
        path = "/".join(values.get(segs[i - 1], "1") if s.startswith(":") else s
                        for i, s in enumerate(segs))
        r = stack.api(route["method"], path, token=host["token"],
                      json=bodies.get(route["method"]), params=query.get(route["name"]))
        if r.headers.get("Content-Type", "").startswith("application/json"):
            body = r.content.decode("utf-8")
            assert is_compact(body), (route["name"], body)
            assert body == json.dumps(json.loads(body), separators=(",", ":"),
                                      ensure_ascii=False), (route["name"], body)
            seen.add((route["name"], r.status_code))
    # SQL's own replies were among them, not only errors.
    for name in ("meeting.get", "meeting.list", "participant.list", "message.list",
                 "recording.list", "profile.get"):
        assert (name, 200) in seen, (name, seen)
