"""More than one node (SPEC.md 10): haproxy in front of three nodes, one
PostgreSQL, a shared recording directory, in a private network namespace
(tests/cluster/run.sh). Every request goes through haproxy unless a test says
it goes straight to one node."""
import asyncio
import json
import os
import signal
import subprocess
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import websockets

from cluster import NODE_TIMEOUT, ROOT, SIGNALD, Client, pids_matching

CLIENT_IPS = [f"10.231.0.{i}" for i in range(101, 120)]
REFRESH_IP = "10.231.0.120"     # only the per-address limit test uses it
WEBM = "video/webm;codecs=vp8,opus"
BROWSER_CALL = ROOT / "tests" / "cluster" / "browser_call.mjs"
_n = iter(range(1, 10**6))


def new_user(cluster, source):
    client = Client(source)
    name = f"c{next(_n)}_{time.time_ns() % 10**9}"
    body = {"username": name, "email": f"{name}@example.com", "password": "secret123"}
    r = client.request("POST", cluster.lb + "/api/v1/auth/register", json=body)
    assert r.status_code == 200, r.text
    r = client.request("POST", cluster.lb + "/api/v1/auth/login",
                       json={"username": name, "password": "secret123"})
    assert r.status_code == 200, r.text
    return {"user_id": r.json()["data"]["user"]["user_id"] if "user" in r.json()["data"]
            else None, "token": r.json()["data"]["token"], "client": client, "name": name}


def api(cluster, user, method, path, **kw):
    return user["client"].request(method, cluster.lb + "/api/v1" + path, token=user["token"],
                                  **kw)


def node_of(cluster, user):
    """The node haproxy sends the user's API requests to."""
    r = api(cluster, user, "GET", "/meetings?page=1&page_size=10")
    assert r.status_code == 200, r.text
    return r.headers["X-Meeting-Node"]


def user_id(cluster, user):
    if not user["user_id"]:
        r = api(cluster, user, "GET", "/users/profile")
        assert r.status_code == 200, r.text
        user["user_id"] = r.json()["data"]["user_id"]
    return user["user_id"]


@pytest.fixture(scope="session")
def users(cluster):
    return [new_user(cluster, CLIENT_IPS[i]) for i in range(12)]


def pair_on_two_nodes(cluster, users):
    where = [(u, node_of(cluster, u)) for u in users]
    a, na = where[0]
    b = next(u for u, n in where if n != na)
    return a, b


def started_meeting(cluster, host, **settings):
    body = {"title": "cluster", "start_time": "2025-10-03T10:00:00Z",
            "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
            "meeting_type": "video", "settings": settings}
    r = api(cluster, host, "POST", "/meetings", json=body)
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    r = api(cluster, host, "POST", f"/meetings/{mid}/start")
    assert r.status_code == 200, r.text
    return mid, r.json()["data"]["room_url"]


def join(cluster, user, mid):
    r = api(cluster, user, "POST", f"/meetings/{mid}/join")
    assert r.status_code == 200, r.text
    return r.json()["data"]["room_url"]


def node_in(room_url):
    return dict(parse_qsl(urlsplit(room_url).query))["node"]


def followed(room_url, base):
    """room_url's own parameters on base (what a 4307 close tells a client)."""
    own = [(k, v) for k, v in parse_qsl(urlsplit(room_url).query) if k != "node"]
    return base + ("&" if "?" in base else "?") + urlencode(own)


async def frame(ws, type_, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if msg["type"] == type_:
            return msg


async def connect(room_url):
    """Connects and waits for joined, following a 4307 (meeting on another
    node) as a client does; returns (socket, joined frame, the URL that took)."""
    for _ in range(3):
        ws = await websockets.connect(room_url, open_timeout=10)
        try:
            return ws, await frame(ws, "joined"), room_url
        except websockets.ConnectionClosed as e:
            if e.code != 4307:
                raise
            room_url = followed(room_url, e.reason)
    raise AssertionError("more than two 4307 closes in a row")


def test_api_calls_spread_over_the_nodes_and_each_user_keeps_to_one(cluster, users):
    seen = {}
    for u in users:
        nodes = {node_of(cluster, u) for _ in range(3)}
        assert len(nodes) == 1, (u["name"], nodes)    # a user's requests meet one node
        seen[u["name"]] = nodes.pop()
    assert len(set(seen.values())) >= 2, seen
    # haproxy's header tells the truth: each node logged the requests it says it served
    for n in cluster.nodes:
        expected = 3 * sum(1 for v in seen.values() if v == n.name)
        assert len(n.access_lines('"GET /api/v1/meetings?page=1&page_size=10 ')) == expected


def test_users_on_different_nodes_meet_and_set_up_a_call(cluster, users):
    a, b = pair_on_two_nodes(cluster, users)
    mid, url_a = started_meeting(cluster, a)
    owner = node_in(url_a)
    assert cluster.sql("SELECT node_id FROM meetings WHERE meeting_id = %s", mid) == [[owner]]
    r = api(cluster, a, "POST", f"/meetings/{mid}/participants",
            json={"user_id": user_id(cluster, b)})
    assert r.status_code in (200, 201), r.text
    url_b = join(cluster, b, mid)
    assert node_in(url_b) == owner       # whichever node answered b's join
    a_id, b_id = user_id(cluster, a), user_id(cluster, b)
    # the REST call of a user whose API node is not the meeting's crosses nodes
    sender = a if node_of(cluster, a) != owner else b

    async def call():
        wa, joined_a, _ = await connect(url_a)
        wb, joined_b, _ = await connect(url_b)
        assert [p["user_id"] for p in joined_b["participants"]] == [a_id]
        assert (await frame(wa, "user-joined"))["user_id"] == b_id
        await wa.send(json.dumps({"type": "offer", "target_user_id": b_id, "sdp": "v=0 a"}))
        offer = await frame(wb, "offer")
        assert offer["from_user_id"] == a_id and offer["sdp"] == "v=0 a"
        await wb.send(json.dumps({"type": "answer", "target_user_id": a_id, "sdp": "v=0 b"}))
        assert (await frame(wa, "answer"))["sdp"] == "v=0 b"
        await wa.send(json.dumps({"type": "ice-candidate", "target_user_id": b_id,
                                  "candidate": {"candidate": "candidate:1 1 udp 1 10.0.0.1 9 "
                                                "typ host", "sdpMid": "0"}}))
        assert (await frame(wb, "ice-candidate"))["from_user_id"] == a_id
        # events through PostgreSQL: chat and a settings change reach the owner's sockets
        r = api(cluster, sender, "POST", f"/meetings/{mid}/messages",
                json={"content": "across nodes"})
        assert r.status_code in (200, 201), r.text
        for ws in (wa, wb):
            assert (await frame(ws, "chat"))["content"] == "across nodes"
        r = api(cluster, a, "PUT", f"/meetings/{mid}", json={"settings": {"enable_chat": False}})
        assert r.status_code == 200, r.text
        for ws in (wa, wb):
            assert (await frame(ws, "settings-changed"))["settings"]["enable_chat"] is False
        await wa.close()
        await wb.close()

    asyncio.run(call())


def test_two_browsers_on_different_nodes_see_each_other_through_haproxy(cluster):
    # fresh users (their own address), so that the other tests' counts hold
    a, b = pair_on_two_nodes(cluster, [new_user(cluster, CLIENT_IPS[17]) for _ in range(8)])
    na, nb = node_of(cluster, a), node_of(cluster, b)
    body = {"title": "browsers", "start_time": "2025-10-03T10:00:00Z",
            "end_time": "2025-10-03T11:00:00Z", "max_participants": 10,
            "meeting_type": "video", "settings": {}}
    r = api(cluster, a, "POST", "/meetings", json=body)
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    r = api(cluster, a, "POST", f"/meetings/{mid}/participants",
            json={"user_id": user_id(cluster, b)})
    assert r.status_code in (200, 201), r.text
    # Chromium runs here, inside the namespace: it reaches haproxy only
    out = subprocess.run(["node", BROWSER_CALL, cluster.lb, str(mid), a["name"], b["name"]],
                         capture_output=True, text=True, timeout=180,
                         env=dict(os.environ, MM_PASSWORD="secret123"))
    assert out.returncode == 0, out.stdout + out.stderr + cluster.logs()
    pa, pb = json.loads(out.stdout.splitlines()[-1])
    # each page's API requests (sign-in aside) met its user's node, and those differ
    assert set(pa["nodes"]) == {na} and set(pb["nodes"]) == {nb} and na != nb, (pa, pb)
    assert (pa["userId"], pb["userId"]) == (user_id(cluster, a), user_id(cluster, b))
    assert pa["errors"] == [] and pb["errors"] == [], (pa, pb)
    for page in (pa, pb):
        first, second = page["framesDecoded"]
        assert 0 < first < second, page       # the other's video, decoded and still coming
        assert page["sfu"] is False, page      # mesh: the cluster has no media server
    assert cluster.sql("SELECT status FROM meetings WHERE meeting_id = %s", mid) == [["ongoing"]]


def test_a_node_that_does_not_own_the_meeting_closes_with_4307_and_the_owner(cluster, users):
    host = users[3]
    mid, url = started_meeting(cluster, host)
    owner = node_in(url)
    other = next(n for n in cluster.nodes if n.name != owner)
    direct = f"ws://{other.addr}:8080/ws/signaling?" + urlsplit(url).query

    async def refused():
        async with websockets.connect(direct, open_timeout=10) as ws:
            with pytest.raises(websockets.ConnectionClosed) as e:
                await frame(ws, "joined")
        return e.value

    closed = asyncio.run(refused())
    assert closed.code == 4307
    assert closed.reason == f"ws://10.231.0.10:80/ws/signaling?node={owner}"
    assert cluster.sql("SELECT node_id FROM meetings WHERE meeting_id = %s", mid) == [[owner]]


def test_a_users_rate_limit_holds_exactly_through_haproxy(cluster):
    u = new_user(cluster, CLIENT_IPS[15])
    replies = [api(cluster, u, "GET", "/users/profile") for _ in range(25)]
    codes = [r.status_code for r in replies]
    # 10/h: three nodes with a table each would admit 30 if requests were spread
    assert codes.count(200) == 10 and codes.count(429) == 15, codes
    assert len({r.headers["X-Meeting-Node"] for r in replies}) == 1
    # unauthenticated: by the client's address (5/h for auth.refresh)
    c = Client(REFRESH_IP)
    codes = [c.request("POST", cluster.lb + "/api/v1/auth/refresh",
                       json={"refresh_token": "not-a-token"}).status_code for _ in range(8)]
    assert codes.count(429) == 3 and 429 not in codes[:5], codes


def test_a_recording_uploaded_through_one_node_downloads_through_another(cluster, users):
    host = users[4]
    mid, _ = started_meeting(cluster, host, enable_recording=True)
    r = api(cluster, host, "POST", f"/meetings/{mid}/recording/start")
    assert r.status_code == 200, r.text
    rid = r.json()["data"]["recording_id"]
    payload = bytes(range(256)) * 4000
    up = api(cluster, host, "PUT", f"/meetings/{mid}/recordings/{rid}/file", data=payload,
             headers={"Content-Type": WEBM})
    assert up.status_code == 200, up.text
    served = up.headers["X-Meeting-Node"]
    path = f"/api/v1/meetings/{mid}/recordings/{rid}/file"
    for n in cluster.nodes:
        if n.name == served:
            continue
        r = host["client"].request("GET", n.url + path, token=host["token"])
        assert r.status_code == 200 and r.content == payload, (n.name, r.status_code)
        assert n.access_lines(f"GET {path}")   # that node served it
    # the pre-signed URL too, through haproxy from another address
    r = api(cluster, host, "GET", f"/meetings/{mid}/recordings")
    file_url = r.json()["data"]["recordings"][0]["file_url"]
    r = Client(CLIENT_IPS[16]).request("GET", file_url)
    assert r.status_code == 200 and r.content == payload


def wait_dead(cluster, name, timeout=NODE_TIMEOUT + 10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not cluster.sql("SELECT 1 FROM nodes WHERE node_id = %s "
                           "AND seen_at + dead_after > now()", name):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} still beats")


def test_a_node_back_from_a_pause_closes_the_rooms_that_moved_with_4307(cluster, users):
    """Fencing: a signald silent past MeetingNodeTimeout (here: stopped) is dead to
    the others; its meeting is placed elsewhere, and when it runs again its
    next heartbeat closes that room's sockets with 4307 and the new owner."""
    host = users[7]
    mid, url = started_meeting(cluster, host)
    owner = cluster.node(node_in(url))
    [pid] = pids_matching(SIGNALD.encode(), f"127.0.0.1:{owner.sigport}".encode())

    async def scenario():
        ws, _, _ = await connect(url)
        os.kill(pid, signal.SIGSTOP)
        try:
            wait_dead(cluster, owner.name)
            moved_to = node_in(join(cluster, host, mid))
            assert moved_to != owner.name
        finally:
            os.kill(pid, signal.SIGCONT)
        with pytest.raises(websockets.ConnectionClosed) as e:
            await asyncio.wait_for(frame(ws, "never"), 15)
        return e.value, moved_to

    closed, moved_to = asyncio.run(scenario())
    assert closed.code == 4307
    assert closed.reason == f"ws://10.231.0.10:80/ws/signaling?node={moved_to}"
    assert "placed on another node, closing 1 seat(s) with 4307" in owner.log()


def others_keep_serving(cluster, users, dead):
    """Every user's requests succeed again within seconds, none on the dead node
    (haproxy's health check takes it out; its users hash elsewhere)."""
    for u in users:
        deadline = time.time() + 20
        while True:
            try:
                r = api(cluster, u, "GET", "/meetings?page=1&page_size=10")
                if r.status_code == 200:
                    assert r.headers["X-Meeting-Node"] != dead
                    break
            except requests.ConnectionError:     # a connection to the dying node
                pass
            assert time.time() < deadline, f"{u['name']} not served after the kill"
            time.sleep(0.2)


def test_a_node_killed_mid_meeting(cluster, users):
    host, guest = users[5], users[6]
    mid, url_host = started_meeting(cluster, host)
    owner = node_in(url_host)
    r = api(cluster, host, "POST", f"/meetings/{mid}/participants",
            json={"user_id": user_id(cluster, guest)})
    assert r.status_code in (200, 201), r.text
    url_guest = join(cluster, guest, mid)
    host_id, guest_id = user_id(cluster, host), user_id(cluster, guest)
    acked = []

    async def scenario():
        wh, _, _ = await connect(url_host)
        wg, _, _ = await connect(url_guest)
        for i in range(3):
            r = api(cluster, host, "POST", f"/meetings/{mid}/messages",
                    json={"content": f"kept {i}"})
            assert r.status_code in (200, 201), r.text
            acked.append(r.json()["data"]["message_id"])
        await frame(wg, "chat")

        cluster.node(owner).kill()
        for ws in (wh, wg):                    # their sockets die with the node
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(frame(ws, "never"), 15)
        others_keep_serving(cluster, users, owner)

        # once its silence passes MeetingNodeTimeout, the next join places it elsewhere
        wait_dead(cluster, owner)
        url_host2 = join(cluster, host, mid)
        moved_to = node_in(url_host2)
        assert moved_to != owner
        assert cluster.sql("SELECT node_id, node_epoch >= 2 FROM meetings "
                           "WHERE meeting_id = %s", mid) == [[moved_to, "t"]]
        wh2, _, _ = await connect(url_host2)
        # the guest reconnects with its old room_url (the dead node's): haproxy
        # passes the dead server over, and the socket follows to the new owner
        wg2, joined, _ = await connect(url_guest)
        assert [p["user_id"] for p in joined["participants"]] == [host_id]
        assert (await frame(wh2, "user-joined"))["user_id"] == guest_id
        await wh2.close()
        await wg2.close()

    asyncio.run(scenario())
    r = api(cluster, guest, "GET", f"/meetings/{mid}/messages?page=1&page_size=50")
    assert r.status_code == 200, r.text
    kept = {m["message_id"] for m in r.json()["data"]["messages"]}
    assert set(acked) <= kept
