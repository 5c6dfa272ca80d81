"""Signaling (SPEC.md 5, docs/signaling.md): signald behind httpd's mod_proxy_wstunnel.

Every test drives real sockets through /ws/signaling of the private httpd and
changes state through the REST API, as a client would. The stack's signald
runs with its defaults (grace 15 s, 64 KiB frames, 50 frames/s with bursts of
100)."""
import asyncio
import functools
import itertools
import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import websockets

from jwtutil import b64url, b64url_decode, claims_of, secret_of, sign

GRACE = 15          # signald's default --grace
FRAME_MAX = 65536   # and --max-frame
BURST = 100         # and --burst


def aio(fn):
    """Runs an async test body in its own event loop (no pytest-asyncio here)."""
    @functools.wraps(fn)
    def run(*args, **kw):
        return asyncio.run(fn(*args, **kw))
    return run


# -- REST side --------------------------------------------------------------

def meeting_body(**over):
    b = {"title": "Signaling", "start_time": "2030-05-01T10:00:00Z",
         "end_time": "2030-05-01T11:00:00Z", "max_participants": 10, "meeting_type": "video"}
    b.update(over)
    return b


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json().get("data")


class Room:
    """An ongoing meeting with a host and some guests, and a ticket for each."""

    def __init__(self, stack, guests=2, **over):
        self.stack = stack
        self.host = stack.new_user(nickname="Host")
        self.mid = ok(stack.api("POST", "/meetings", token=self.host["token"],
                                json=meeting_body(**over)), 201)["meeting_id"]
        d = ok(stack.api("POST", f"/meetings/{self.mid}/start", token=self.host["token"]))
        self.urls = {self.host["user_id"]: d["room_url"]}
        self.guests = [self.admit(stack.new_user(nickname=f"Guest {i}")) for i in range(guests)]

    def admit(self, user):
        self.add(user)
        self.join(user)
        return user

    def add(self, user, role="participant"):
        ok(self.stack.api("POST", f"/meetings/{self.mid}/participants", token=self.host["token"],
                          json={"user_id": user["user_id"], "role": role}))

    def join(self, user):
        d = ok(self.stack.api("POST", f"/meetings/{self.mid}/join", token=user["token"]))
        self.urls[user["user_id"]] = d["room_url"]
        return d

    def url(self, user):
        """The room_url as httpd gives it, pointed at this stack."""
        u = urlsplit(self.urls[user["user_id"]])
        return f"{self.stack.ws_base}{u.path}?{u.query}"

    def ticket(self, user):
        return parse_qs(urlsplit(self.urls[user["user_id"]]).query)["token"][0]

    def status(self, user):
        d = ok(self.stack.api("GET", f"/meetings/{self.mid}/participants",
                              token=self.host["token"]))
        return {p["user_id"]: p["status"] for p in d["participants"]}.get(user["user_id"])


def ws_url(stack, meeting_id, user_id, token):
    q = urlencode({"meeting_id": meeting_id, "user_id": user_id, "token": token})
    return f"{stack.ws_base}/ws/signaling?{q}"


def profile(user, role):
    return {"user_id": user["user_id"], "username": user["username"],
            "nickname": user["nickname"], "role": role}


# -- socket side ------------------------------------------------------------

class Peer:
    def __init__(self, ws, mid):
        self.ws = ws
        self.mid = mid

    @classmethod
    async def open(cls, url, mid):
        return cls(await websockets.connect(url, max_size=None, close_timeout=2), mid)

    async def send(self, frame):
        # A dict goes as JSON text; str, bytes and iterables (fragments) as they are.
        await self.ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)

    async def recv(self, timeout=3.0):
        m = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        assert m["meeting_id"] == self.mid, m
        return m

    async def until(self, type_, timeout=3.0):
        """The next frame of that type, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            m = await self.recv(max(0.01, deadline - time.monotonic()))
            if m["type"] == type_:
                return m

    async def quiet(self, seconds=0.5):
        """Asserts that nothing arrives for a while."""
        try:
            m = await asyncio.wait_for(self.ws.recv(), seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected frame {m}")

    async def closed(self, timeout=3.0):
        """Frames received before the close, and (code, reason)."""
        frames = []
        try:
            while True:
                frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))
        except websockets.ConnectionClosed:
            return frames, (self.ws.close_code, self.ws.close_reason)

    async def error(self, code):
        m = await self.recv()
        assert m["type"] == "error" and m["code"] == code, m
        assert isinstance(m["message"], str) and m["message"]
        return m

    async def alive(self):
        await self.send({"type": "ping"})
        assert (await self.until("pong"))["type"] == "pong"

    async def close(self):
        await self.ws.close()


async def enter(room, user):
    """Connects and reads joined."""
    p = await Peer.open(room.url(user), room.mid)
    m = await p.recv()
    assert m["type"] == "joined", m
    return p, m


async def refusal(url):
    """How a connection is refused: an HTTP status before the upgrade or a close code."""
    try:
        ws = await websockets.connect(url, close_timeout=2)
    except websockets.InvalidStatusCode as e:
        return e.status_code
    try:
        m = await asyncio.wait_for(ws.recv(), 5)
        raise AssertionError(f"connection accepted: {m}")
    except websockets.ConnectionClosed:
        return ws.close_code


@pytest.fixture
def room(stack):
    return Room(stack)


# -- connecting -------------------------------------------------------------

@aio
async def test_joined_lists_the_others_and_they_hear_user_joined(stack, room):
    host, (g1, g2) = room.host, room.guests
    ph, m = await enter(room, host)
    assert m == {"type": "joined", "meeting_id": room.mid, "participants": [],
                 "settings": {"enable_recording": False, "enable_chat": True,
                              "enable_screen_share": True, "enable_waiting_room": False,
                              "mute_on_join": False},
                 "media": "mesh", "audio_enabled": True}
    p1, m = await enter(room, g1)
    assert m["participants"] == [profile(host, "host")]
    assert await ph.recv() == {"type": "user-joined", "meeting_id": room.mid,
                               **profile(g1, "participant")}
    p2, m = await enter(room, g2)
    assert sorted(m["participants"], key=lambda p: p["user_id"]) == sorted(
        [profile(host, "host"), profile(g1, "participant")], key=lambda p: p["user_id"])
    for p in (ph, p1):
        assert await p.recv() == {"type": "user-joined", "meeting_id": room.mid,
                                  **profile(g2, "participant")}
    await p2.quiet()
    for p in (ph, p1, p2):
        await p.close()


@aio
async def test_the_start_ticket_puts_the_host_online(stack, room):
    assert room.status(room.host) == "offline"
    ph, _ = await enter(room, room.host)
    assert room.status(room.host) == "online"
    await ph.close()


# -- the query: any order, each once, within limits ------------------------

def query_url(stack, params):
    """The signaling URL with these (name, value) pairs, in this order."""
    return f"{stack.ws_base}/ws/signaling?{urlencode(params)}"


def room_params(room, user):
    """meeting_id, user_id and token of the user's room_url, as pairs."""
    q = parse_qs(urlsplit(room.urls[user["user_id"]]).query, strict_parsing=True)
    return [(k, q[k][0]) for k in ("meeting_id", "user_id", "token")]


async def close_of(url):
    """(code, reason) a connection is closed with before any frame."""
    ws = await websockets.connect(url, close_timeout=2)
    try:
        m = await asyncio.wait_for(ws.recv(), 5)
        raise AssertionError(f"connection accepted: {m}")
    except websockets.ConnectionClosed:
        return ws.close_code, ws.close_reason


@aio
async def test_every_order_of_the_query_is_taken(stack, room):
    """Clients written for the seed put token first: a 200-odd byte ticket
    before the ids used to make signald find neither."""
    g = room.guests[0]
    params = room_params(room, g)
    assert len(params[2][1]) >= 32
    for order in itertools.permutations(params):
        p = await Peer.open(query_url(stack, order), room.mid)
        m = await p.recv()
        assert m["type"] == "joined", (order, m)
        assert room.status(g) == "online"
        await p.close()


@aio
async def test_unknown_parameters_are_let_be(stack, room):
    g = room.guests[0]
    mid, uid, token = room_params(room, g)
    extra = [("lang", "zh-CN"), ("v", "1"), ("v", "2"), ("client", "x" * 300)]
    p = await Peer.open(query_url(stack, [extra[0], token, extra[1], uid, extra[2], mid,
                                          extra[3]]), room.mid)
    assert (await p.recv())["type"] == "joined"
    await p.close()


@pytest.mark.parametrize("twice", ["meeting_id", "user_id", "token"])
@aio
async def test_a_parameter_given_twice_is_refused(stack, room, twice):
    g = room.guests[0]
    params = room_params(room, g)
    again = next(kv for kv in params if kv[0] == twice)
    code, reason = await close_of(query_url(stack, [again, *params]))
    assert code == 4400 and "once" in reason, (code, reason)
    assert room.status(g) == "online"   # the join's seat; nothing else happened
    # The same room_url, as join gave it, still works.
    p = await Peer.open(room.url(g), room.mid)
    assert (await p.recv())["type"] == "joined"
    await p.close()


@aio
async def test_an_oversize_query_is_refused(stack, room):
    g = room.guests[0]
    params = room_params(room, g)
    # Over signald's 4 KiB, under what httpd and lws let through: a close.
    code, reason = await close_of(query_url(stack, [*params, ("pad", "x" * 5000)]))
    assert code == 4400 and "4096" in reason, (code, reason)
    # Over httpd's request line: refused before any upgrade.
    assert await refusal(query_url(stack, [("pad", "x" * 9000), *params])) == 414
    # Too many parameters, each small.
    many = [(f"p{i}", "1") for i in range(40)]
    code, reason = await close_of(query_url(stack, [*many, *params]))
    assert code == 4400 and "parameters" in reason, (code, reason)
    p = await Peer.open(room.url(g), room.mid)
    assert (await p.recv())["type"] == "joined"
    await p.close()


@pytest.mark.parametrize("query,reason", [
    ("user_id={uid}&token={token}", "required"),
    ("meeting_id={mid}&user_id={uid}&token=", "required"),
    ("meeting_id=0x{mid}&user_id={uid}&token={token}", "positive integers"),
    ("token={token}&meeting_id={mid}&user_id=-{uid}", "positive integers"),
])
@aio
async def test_missing_or_bad_ids_are_4401(stack, room, query, reason):
    g = room.guests[0]
    q = query.format(mid=room.mid, uid=g["user_id"], token=room.ticket(g))
    code, why = await close_of(f"{stack.ws_base}/ws/signaling?{q}")
    assert code == 4401 and reason in why, (code, why)


# -- tickets ----------------------------------------------------------------

def forged(stack, room, user, **over):
    claims = {**claims_of(room.ticket(user)), **over}
    return sign(secret_of(stack), claims)


@aio
async def test_ticket_of_another_meeting_is_refused(stack, room):
    other = Room(stack, guests=0)
    g = room.guests[0]
    other.admit(g)
    url = ws_url(stack, room.mid, g["user_id"], other.ticket(g))
    assert await refusal(url) in (401, 4401)


@aio
async def test_ticket_of_another_user_is_refused(stack, room):
    g1, g2 = room.guests
    assert await refusal(ws_url(stack, room.mid, g2["user_id"], room.ticket(g1))) in (401, 4401)


@aio
async def test_expired_ticket_is_refused(stack, room):
    g = room.guests[0]
    now = int(time.time())
    token = forged(stack, room, g, iat=now - 400, exp=now - 5)
    assert await refusal(ws_url(stack, room.mid, g["user_id"], token)) in (401, 4401)


@aio
async def test_tampered_ticket_is_refused(stack, room):
    g = room.guests[0]
    head, payload, mac = room.ticket(g).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = str(room.host["user_id"])
    token = ".".join([head, b64url(json.dumps(claims).encode()), mac])
    assert await refusal(ws_url(stack, room.mid, room.host["user_id"], token)) in (401, 4401)


@pytest.mark.parametrize("how", ["HS512", "none", "access", "no-exp", "other-issuer", "garbage",
                                 "missing"])
@aio
async def test_other_tokens_are_refused(stack, room, how):
    g = room.guests[0]
    secret, claims = secret_of(stack), claims_of(room.ticket(g))
    token = {
        "HS512": lambda: sign(secret, claims, alg="HS512"),
        "none": lambda: sign(secret, claims, alg="none"),
        "access": lambda: sign(secret, {**claims, "typ": "access", "gen": 0}),
        "no-exp": lambda: sign(secret, {k: v for k, v in claims.items() if k != "exp"}),
        "other-issuer": lambda: sign(secret, {**claims, "iss": "someone-else"}),
        "garbage": lambda: "not.a.jwt",
        "missing": lambda: "",
    }[how]()
    assert await refusal(ws_url(stack, room.mid, g["user_id"], token)) in (401, 4401)


@aio
async def test_a_valid_ticket_is_not_enough_once_removed(stack, room):
    g = room.guests[0]
    ok(stack.api("DELETE", f"/meetings/{room.mid}/participants/{g['user_id']}",
                 token=room.host["token"]))
    assert await refusal(room.url(g)) in (403, 4403)


@aio
async def test_a_log_out_ends_the_tickets_issued_before_it(stack, room):
    """A ticket carries the token generation it was issued under; after a log-out
    the old room_url opens nothing, and a ticket from a new log-in works."""
    g = room.guests[0]
    assert claims_of(room.ticket(g))["gen"] == claims_of(g["token"])["gen"]
    ok(stack.api("POST", "/auth/logout", token=g["token"]))
    assert await refusal(room.url(g)) == 4401
    g["token"] = stack.login(g["username"])["token"]
    room.join(g)
    p, _ = await enter(room, g)
    await p.close()


@aio
async def test_a_ticket_without_a_generation_is_refused(stack, room):
    g = room.guests[0]
    claims = {k: v for k, v in claims_of(room.ticket(g)).items() if k != "gen"}
    token = sign(secret_of(stack), claims)
    assert await refusal(ws_url(stack, room.mid, g["user_id"], token)) in (401, 4401)


@aio
async def test_a_valid_ticket_is_not_enough_once_ended(stack, room):
    ok(stack.api("POST", f"/meetings/{room.mid}/end", token=room.host["token"]))
    assert await refusal(room.url(room.guests[0])) == 4410


@aio
async def test_a_lapsed_seat_of_a_full_meeting_is_refused_4429(stack):
    room = Room(stack, guests=0, max_participants=2)
    a, b = stack.new_user(nickname="A"), stack.new_user(nickname="B")
    ph, _ = await enter(room, room.host)
    room.admit(b)                       # seats: host, b
    ok(stack.api("POST", f"/meetings/{room.mid}/leave", token=b["token"]))
    room.admit(a)                       # seats: host, a; b still holds a valid ticket
    assert await refusal(room.url(b)) == 4429
    await ph.close()


def test_tickets_never_reach_the_log(stack, room):
    asyncio.run(_connect_and_close(room, room.guests[0]))
    assert room.ticket(room.guests[0]) not in stack.log_text()


async def _connect_and_close(room, user):
    p, _ = await enter(room, user)
    await p.close()


# -- relaying ---------------------------------------------------------------

@aio
async def test_offer_answer_and_candidates_go_to_the_target_only(stack, room):
    host, (g1, g2) = room.host, room.guests
    ph, _ = await enter(room, host)
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await ph.until("user-joined")
    await ph.until("user-joined")
    await p1.until("user-joined")
    sdp = "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=é漢字😀\r\na=\"quoted\"\\\r\n"
    await ph.send({"type": "offer", "target_user_id": g1["user_id"], "sdp": sdp,
                   "from_user_id": 999999, "meeting_id": 123, "extra": {"a": [1, 2.5, None]}})
    m = await p1.recv()
    assert m == {"type": "offer", "target_user_id": g1["user_id"], "sdp": sdp,
                 "from_user_id": host["user_id"], "meeting_id": room.mid,
                 "extra": {"a": [1, 2.5, None]}}
    await p1.send({"type": "answer", "target_user_id": host["user_id"], "sdp": "answer-sdp"})
    m = await ph.recv()
    assert (m["type"], m["sdp"], m["from_user_id"]) == ("answer", "answer-sdp", g1["user_id"])
    cand = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0}
    await p1.send({"type": "ice-candidate", "target_user_id": host["user_id"],
                   "candidate": cand})
    m = await ph.recv()
    assert (m["type"], m["candidate"], m["from_user_id"]) == ("ice-candidate", cand,
                                                              g1["user_id"])
    await p2.quiet()
    for p in (ph, p1, p2):
        await p.close()


@aio
async def test_relayed_text_is_one_object_with_each_key_once(stack, room):
    """signald forwards the sender's own text with the ids put in front (or,
    when the frame names either id, writes it out anew): whatever the
    spacing and escapes, the target gets one JSON object, every key once."""
    g1, g2 = room.guests
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await p1.until("user-joined")

    def pairs(text):
        """The object, and the keys of its outermost level as they came."""
        seen = []
        obj = json.loads(text, object_pairs_hook=lambda kv: seen.append(kv) or dict(kv))
        return obj, [k for k, _ in seen[-1]]     # the outermost object closes last

    target = g1["user_id"]
    texts = [
        f' \n {{ "type" : "offer",\n  "target_user_id": {target},'
        ' "sdp": "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/",\n "n": [1e3, -0.5, {}] } \n',
        f'{{"type":"answer","target_user_id":{target},"sdp":{{"type":"answer","sdp":"x"}},'
        '"meeting_id":1}',
        f'{{"type":"ice-candidate","target_user_id":{target},"candidate":null,'
        '"from\\u005fuser_id":7}',
    ]
    for text in texts:
        await p2.send(text)
        raw = await asyncio.wait_for(p1.ws.recv(), 3)
        got, keys = pairs(raw)
        want = json.loads(text)
        want.update(from_user_id=g2["user_id"], meeting_id=room.mid)
        assert got == want
        assert sorted(keys) == sorted(want), raw
    await p1.close()
    await p2.close()


@aio
async def test_unknown_target_is_an_error_and_the_socket_stays(stack, room):
    g1, g2 = room.guests
    p1, _ = await enter(room, g1)
    for target in (987654321, g2["user_id"], g1["user_id"]):  # stranger, offline, self
        await p1.send({"type": "offer", "target_user_id": target, "sdp": "x"})
        await p1.error("TARGET_NOT_FOUND")
    await p1.alive()
    await p1.close()


@aio
async def test_a_message_just_under_the_frame_limit_is_relayed(stack, room):
    g1, g2 = room.guests
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await p1.until("user-joined")
    sdp = "s" * (FRAME_MAX - 200)
    await p2.send({"type": "offer", "target_user_id": g1["user_id"], "sdp": sdp})
    assert (await p1.recv())["sdp"] == sdp
    await p1.close()
    await p2.close()


@aio
async def test_a_backlog_reaches_a_slow_reader_whole_and_in_order(stack, room):
    """Frames pile up while the target does not read (its socket buffers
    fill, so writes come back short); once it reads, every frame arrives
    complete and in the order it was sent."""
    g1, g2 = room.guests
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await p1.until("user-joined")
    sizes = [10, FRAME_MAX - 200, 3000, 40000, 1, FRAME_MAX - 200, 500] * 5
    for i, n in enumerate(sizes):
        await p2.send({"type": "ice-candidate", "target_user_id": g1["user_id"],
                       "candidate": {"seq": i, "pad": "c" * n}})
    await p2.alive()                    # signald has handled them all
    await asyncio.sleep(0.5)
    for i, n in enumerate(sizes):
        m = await p1.recv(timeout=5)
        assert (m["candidate"]["seq"], len(m["candidate"]["pad"])) == (i, n)
    await p1.alive()
    await p1.close()
    await p2.close()


@aio
async def test_a_fragmented_message_is_reassembled(stack, room):
    p, _ = await enter(room, room.guests[0])
    await p.send(iter(['{"type"', ':"pi', 'ng"}']))
    assert (await p.recv())["type"] == "pong"
    await p.close()


@aio
async def test_media_state_goes_to_the_others(stack, room):
    host, (g1, g2) = room.host, room.guests
    ph, _ = await enter(room, host)
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await ph.until("user-joined")
    await ph.until("user-joined")
    await p1.until("user-joined")
    await p1.send({"type": "media-state", "audio_enabled": False, "video_enabled": True,
                   "screen_sharing": False})
    want = {"type": "media-state", "meeting_id": room.mid, "user_id": g1["user_id"],
            "audio_enabled": False, "video_enabled": True, "screen_sharing": False}
    assert await ph.recv() == want
    assert await p2.recv() == want
    await p1.quiet()
    for p in (ph, p1, p2):
        await p.close()


@aio
async def test_ping_is_answered_with_pong(stack, room):
    p, _ = await enter(room, room.guests[0])
    await p.send({"type": "ping"})
    assert await p.recv() == {"type": "pong", "meeting_id": room.mid}
    await p.close()


@pytest.mark.parametrize("frame", [
    "not json",
    "[]",
    '"offer"',
    "{}",
    '{"type": 5}',
    '{"type": "dance"}',
    '{"type": "offer", "sdp": "x"}',
    '{"type": "offer", "target_user_id": "2", "sdp": "x"}',
    '{"type": "offer", "target_user_id": -1, "sdp": "x"}',
    '{"type": "offer", "target_user_id": 2}',
    '{"type": "answer", "target_user_id": 2, "sdp": 42}',
    '{"type": "ice-candidate", "target_user_id": 2}',
    '{"type": "ice-candidate", "target_user_id": 2, "candidate": 7}',
    '{"type": "media-state", "audio_enabled": true, "video_enabled": true}',
    '{"type": "media-state", "audio_enabled": 1, "video_enabled": true, "screen_sharing": false}',
    '{"type": "ping", "type": "leave"}',
    '{"type": "ping"} trailing',
    b'{"type": "ping"}',
])
@aio
async def test_bad_frames_get_invalid_message_and_the_socket_stays(stack, room, frame):
    p, _ = await enter(room, room.guests[0])
    await p.send(frame)
    await p.error("INVALID_MESSAGE")
    await p.alive()
    await p.close()


@aio
async def test_a_frame_over_the_limit_closes_1009(stack, room):
    p, _ = await enter(room, room.guests[0])
    await p.send({"type": "offer", "target_user_id": room.host["user_id"],
                   "sdp": "x" * (FRAME_MAX + 10)})
    _, (code, _) = await p.closed()
    assert code == 1009


@aio
async def test_too_many_frames_are_rate_limited(stack, room):
    p, _ = await enter(room, room.guests[0])
    n = BURST + 60
    await asyncio.gather(*[p.send({"type": "ping"}) for _ in range(n)])
    got = [await p.recv() for _ in range(n)]
    pongs = sum(m["type"] == "pong" for m in got)
    limited = [m for m in got if m["type"] == "error"]
    assert pongs + len(limited) == n
    assert BURST <= pongs < n
    assert limited and all(m["code"] == "RATE_LIMITED" for m in limited)
    await asyncio.sleep(1.0)            # the bucket refills at --rate per second
    await p.alive()
    await p.close()


# -- leaving and losing the socket -----------------------------------------

@aio
async def test_leave_gives_the_seat_back_and_closes_1000(stack, room):
    host, g = room.host, room.guests[0]
    ph, _ = await enter(room, host)
    pg, _ = await enter(room, g)
    await ph.until("user-joined")
    assert room.status(g) == "online"
    await pg.send({"type": "leave"})
    _, (code, _) = await pg.closed()
    assert code == 1000
    assert await ph.recv() == {"type": "user-left", "meeting_id": room.mid,
                               "user_id": g["user_id"]}
    assert room.status(g) == "offline"
    await ph.close()


@aio
async def test_a_newer_connection_replaces_the_older_4409(stack, room):
    host, g = room.host, room.guests[0]
    ph, _ = await enter(room, host)
    old, _ = await enter(room, g)
    await ph.until("user-joined")
    new, m = await enter(room, g)
    assert m["participants"] == [profile(host, "host")]
    _, (code, _) = await old.closed()
    assert code == 4409
    await ph.quiet(1.0)                 # the user stays: no user-left, no user-joined
    await ph.send({"type": "offer", "target_user_id": g["user_id"], "sdp": "to-new"})
    assert (await new.recv())["sdp"] == "to-new"
    for p in (ph, new):
        await p.close()


@aio
async def test_a_dropped_socket_keeps_its_seat_for_the_grace_period(stack, room):
    host, g = room.host, room.guests[0]
    ph, _ = await enter(room, host)
    pg, _ = await enter(room, g)
    await ph.until("user-joined")
    pg.ws.transport.abort()             # gone without leave
    await ph.quiet(2.0)
    assert room.status(g) == "online"
    again, m = await enter(room, g)     # reconnecting within the grace: silent
    assert m["participants"] == [profile(host, "host")]
    await ph.quiet(1.0)
    again.ws.transport.abort()
    dropped = time.monotonic()
    m = await ph.until("user-left", timeout=GRACE + 5)
    waited = time.monotonic() - dropped
    assert m == {"type": "user-left", "meeting_id": room.mid, "user_id": g["user_id"]}
    assert GRACE - 2 <= waited <= GRACE + 3, waited
    assert room.status(g) == "offline"
    await ph.close()


# -- control events from the REST side -------------------------------------

@aio
async def test_removal_reaches_everyone_and_closes_4403_within_a_second(stack, room):
    host, (g1, g2) = room.host, room.guests
    ph, _ = await enter(room, host)
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await ph.until("user-joined")
    await ph.until("user-joined")
    await p1.until("user-joined")
    t0 = time.monotonic()
    ok(stack.api("DELETE", f"/meetings/{room.mid}/participants/{g1['user_id']}",
                 token=host["token"]))
    frames, (code, _) = await p1.closed()
    assert time.monotonic() - t0 < 1.0
    assert code == 4403
    removed = {"type": "participant-removed", "meeting_id": room.mid, "user_id": g1["user_id"]}
    assert frames == [removed]
    for p in (ph, p2):
        assert await p.recv(1.0) == removed
        assert await p.recv(1.0) == {"type": "user-left", "meeting_id": room.mid,
                                     "user_id": g1["user_id"]}
    for p in (ph, p2):
        await p.close()


@aio
async def test_end_of_meeting_closes_every_socket_4410_within_a_second(stack, room):
    peers = [(await enter(room, u))[0] for u in [room.host, *room.guests]]
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    ok(stack.api("POST", f"/meetings/{room.mid}/end", token=room.host["token"]))
    for p in peers:
        frames, (code, _) = await p.closed()
        assert code == 4410
        assert {"type": "meeting-ended", "meeting_id": room.mid} in frames
        assert frames[-1]["type"] == "meeting-ended"
    assert time.monotonic() - t0 < 1.0


@aio
async def test_rest_leave_closes_the_socket_1000(stack, room):
    host, g = room.host, room.guests[0]
    ph, _ = await enter(room, host)
    pg, _ = await enter(room, g)
    await ph.until("user-joined")
    ok(stack.api("POST", f"/meetings/{room.mid}/leave", token=g["token"]))
    _, (code, _) = await pg.closed()
    assert code == 1000
    assert await ph.recv(1.0) == {"type": "user-left", "meeting_id": room.mid,
                                  "user_id": g["user_id"]}
    await ph.close()


@aio
async def test_chat_is_pushed_to_everyone_sender_included(stack, room):
    host, g = room.host, room.guests[0]
    ph, _ = await enter(room, host)
    pg, _ = await enter(room, g)
    await ph.until("user-joined")
    t0 = time.monotonic()
    d = ok(stack.api("POST", f"/meetings/{room.mid}/messages", token=g["token"],
                     json={"content": "  hello 🌍  "}))
    for p in (ph, pg):
        m = await p.recv(1.0)
        assert m == {"type": "chat", "meeting_id": room.mid, "message_id": d["message_id"],
                     "user_id": g["user_id"], "username": g["username"],
                     "content": "hello 🌍", "timestamp": d["timestamp"]}
    assert time.monotonic() - t0 < 1.0
    for p in (ph, pg):
        await p.close()


@aio
async def test_role_change_reaches_everyone_and_later_joiners(stack, room):
    host, (g1, g2) = room.host, room.guests
    ph, _ = await enter(room, host)
    p1, _ = await enter(room, g1)
    await ph.until("user-joined")
    ok(stack.api("PUT", f"/meetings/{room.mid}/participants/{g1['user_id']}/role",
                 token=host["token"], json={"role": "moderator"}))
    want = {"type": "role-changed", "meeting_id": room.mid, "user_id": g1["user_id"],
            "role": "moderator"}
    assert await ph.recv(1.0) == want
    assert await p1.recv(1.0) == want
    p2, m = await enter(room, g2)
    assert profile(g1, "moderator") in m["participants"]
    for p in (ph, p1, p2):
        await p.close()


@aio
async def test_recording_start_and_stop_reach_everyone(stack):
    room = Room(stack, guests=1, settings={"enable_recording": True})
    host, g = room.host, room.guests[0]
    ph, _ = await enter(room, host)
    pg, _ = await enter(room, g)
    await ph.until("user-joined")
    rec = ok(stack.api("POST", f"/meetings/{room.mid}/recording/start",
                       token=host["token"]))["recording_id"]
    for p in (ph, pg):
        assert await p.recv(1.0) == {"type": "recording-started", "meeting_id": room.mid,
                                     "recording_id": rec}
    ok(stack.api("POST", f"/meetings/{room.mid}/recording/stop", token=host["token"]))
    for p in (ph, pg):
        assert await p.recv(1.0) == {"type": "recording-stopped", "meeting_id": room.mid,
                                     "recording_id": rec}
    for p in (ph, pg):
        await p.close()


@aio
async def test_rooms_are_separate(stack, room):
    other = Room(stack, guests=0)
    pa, _ = await enter(room, room.guests[0])
    pb, _ = await enter(other, other.host)
    ok(stack.api("POST", f"/meetings/{room.mid}/messages", token=room.host["token"],
                 json={"content": "only here"}))
    assert (await pa.recv(1.0))["content"] == "only here"
    await pb.quiet()
    # A member of one meeting is no target from another.
    await pb.send({"type": "offer", "target_user_id": room.guests[0]["user_id"], "sdp": "x"})
    await pb.error("TARGET_NOT_FOUND")
    for p in (pa, pb):
        await p.close()
