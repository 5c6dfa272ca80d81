"""Hardening (issue 24): signaling sockets cannot starve the API. Behind httpd 2.4
each WebSocket holds a worker thread, so one user, one address and one creator's
ongoing meetings are capped (MeetingSignalingMaxSocketsPerUser / ...PerAddress,
MeetingMaxOngoingMeetings), and the API keeps answering while a user holds
sockets up to the cap."""
import asyncio
import functools
import json
from urllib.parse import urlsplit

import requests
import websockets

import procstat

MEETING = {"title": "caps", "start_time": "2030-01-01T10:00:00Z",
           "end_time": "2030-01-01T11:00:00Z", "max_participants": 10,
           "meeting_type": "video"}


def aio(fn):
    @functools.wraps(fn)
    def run(*args, **kw):
        return asyncio.run(asyncio.wait_for(fn(*args, **kw), 120))
    return run


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json().get("data")


def started(s, user):
    """A new meeting of user's, started: (meeting_id, room_url pointed at s)."""
    mid = ok(s.api("POST", "/meetings", token=user["token"], json=MEETING), 201)["meeting_id"]
    url = ok(s.api("POST", f"/meetings/{mid}/start", token=user["token"]))["room_url"]
    u = urlsplit(url)
    return mid, f"{s.ws_base}{u.path}?{u.query}"


async def joined(url):
    ws = await websockets.connect(url, close_timeout=2)
    m = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert m["type"] == "joined", m
    return ws


async def refused(url):
    """The frames a refused socket got before its close, and the close code."""
    ws = await websockets.connect(url, close_timeout=2)
    frames = []
    try:
        for _ in range(5):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    except websockets.ConnectionClosed:
        return frames, ws.close_code
    raise AssertionError(f"not closed: {frames}")


def busy_workers(s):
    text = requests.get(s.url + "/server-status?auto", timeout=10).text
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return int(fields["BusyWorkers"])


def health(s):
    return requests.get(s.url + "/api/v1/health", timeout=10).status_code


@aio
async def test_one_user_holds_sockets_up_to_the_cap_and_the_api_still_answers(make_stack):
    s = make_stack("MeetingSignalingMaxSocketsPerUser 3\n")
    user = s.new_user()
    rooms = [started(s, user) for _ in range(4)]
    idle = busy_workers(s)
    open_ = []
    for _, url in rooms[:3]:
        open_.append(await joined(url))
        assert await asyncio.to_thread(health, s) == 200
    # Each socket holds a worker for its life (httpd 2.4's tunnel): what the
    # cap bounds. The status request itself is one more.
    assert await asyncio.to_thread(busy_workers, s) >= idle + 3
    frames, code = await refused(rooms[3][1])
    assert code == 4430
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "TOO_MANY_CONNECTIONS"
    assert "user" in frames[-1]["message"]
    assert await asyncio.to_thread(health, s) == 200
    # A reconnect to a meeting it is in replaces the old socket: not one more.
    again = await joined(rooms[0][1])
    await asyncio.wait_for(open_[0].wait_closed(), 10)
    assert open_[0].close_code == 4409
    # A socket given back makes room.
    await open_[1].close()
    fourth = await joined(rooms[3][1])
    for ws in (again, open_[2], fourth):
        await ws.close()


@aio
async def test_one_address_holds_sockets_up_to_its_cap(make_stack):
    s = make_stack("MeetingSignalingMaxSocketsPerAddress 2\n")
    users = [s.new_user() for _ in range(3)]
    urls = [started(s, u)[1] for u in users]
    first = [await joined(url) for url in urls[:2]]
    frames, code = await refused(urls[2])
    assert code == 4430
    assert frames[-1]["code"] == "TOO_MANY_CONNECTIONS" and "address" in frames[-1]["message"]
    for ws in first:
        await ws.close()


def test_a_creator_has_at_most_so_many_ongoing_meetings(make_stack):
    s = make_stack("MeetingMaxOngoingMeetings 2\n")
    host = s.new_user()
    mids = [ok(s.api("POST", "/meetings", token=host["token"], json=MEETING), 201)["meeting_id"]
            for _ in range(3)]
    for mid in mids[:2]:
        ok(s.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    r = s.api("POST", f"/meetings/{mids[2]}/start", token=host["token"])
    assert r.status_code == 409 and r.json()["error"] == "conflict", r.text
    assert "2 ongoing meetings" in r.json()["message"]
    # A host's join of a scheduled meeting starts it (SPEC 3.8): the same cap.
    r = s.api("POST", f"/meetings/{mids[2]}/join", token=host["token"])
    assert r.status_code == 409 and "2 ongoing meetings" in r.json()["message"], r.text
    assert ok(s.api("GET", f"/meetings/{mids[2]}", token=host["token"]))["status"] == "scheduled"
    # Another user is not held back by this one's meetings.
    other = s.new_user()
    theirs = ok(s.api("POST", "/meetings", token=other["token"], json=MEETING), 201)
    ok(s.api("POST", f"/meetings/{theirs['meeting_id']}/start", token=other["token"]))
    # Ending one makes room, for a join that starts as for a start.
    ok(s.api("POST", f"/meetings/{mids[0]}/end", token=host["token"]))
    ok(s.api("POST", f"/meetings/{mids[2]}/join", token=host["token"]))
    ok(s.api("POST", f"/meetings/{mids[1]}/end", token=host["token"]))
    fourth = ok(s.api("POST", "/meetings", token=host["token"], json=MEETING), 201)
    ok(s.api("POST", f"/meetings/{fourth['meeting_id']}/start", token=host["token"]))


def test_the_caps_reach_signald_s_command_line(make_stack):
    s = make_stack("MeetingSignalingMaxSocketsPerUser 7\nMeetingSignalingMaxSocketsPerAddress 9\n")
    (pid,) = s.signald_pids()
    cmd = [w.decode() for w in procstat.cmdline(pid)]
    assert cmd[cmd.index("--max-sockets-per-user") + 1] == "7"
    assert cmd[cmd.index("--max-sockets-per-address") + 1] == "9"
