"""The waiting room (SPEC.md 6, enable_waiting_room): join answers 202 for
those who must wait, hosts and moderators list, admit and deny them, the
waiting socket and its frames, and the races that matter. Real httpd,
PostgreSQL and signald, through the REST API and /ws/signaling."""
import asyncio
import os
import signal
import socket
import threading
import time

import pytest
import websockets

from envelopes import assert_error
from test_signaling import Peer, Room, aio, enter, meeting_body, ok, profile

WAITING_ROOM = {"enable_waiting_room": True}


class WaitingRoom(Room):
    """An ongoing meeting with the waiting room on; guests were added by the
    host, so they do not wait."""

    def __init__(self, stack, guests=0, **over):
        over.setdefault("settings", WAITING_ROOM)
        super().__init__(stack, guests=guests, **over)

    def knock(self, user, status=202, **body):
        """join: the reply's data (waiting: 202)."""
        r = self.stack.api("POST", f"/meetings/{self.mid}/join", token=user["token"],
                           json=body or None)
        d = ok(r, status)
        if "room_url" in d:
            self.urls[user["user_id"]] = d["room_url"]
        return d

    def waiting(self, token=None):
        d = ok(self.stack.api("GET", f"/meetings/{self.mid}/waiting",
                              token=token or self.host["token"]))
        return d["waiting"]

    def api_admit(self, user, token=None):
        return self.stack.api("POST", f"/meetings/{self.mid}/waiting/{user['user_id']}/admit",
                              token=token or self.host["token"])

    def api_deny(self, user, token=None):
        return self.stack.api("POST", f"/meetings/{self.mid}/waiting/{user['user_id']}/deny",
                              token=token or self.host["token"])

    def api_admit_all(self, token=None):
        return self.stack.api("POST", f"/meetings/{self.mid}/waiting/admit_all",
                              token=token or self.host["token"])

    def member_ids(self):
        d = ok(self.stack.api("GET", f"/meetings/{self.mid}/participants",
                              token=self.host["token"]))
        return {p["user_id"] for p in d["participants"]}

    def online(self):
        return int(self.stack.sql("SELECT mm_online_count(%s)", self.mid)[0][0])


@pytest.fixture
def wroom(stack):
    return WaitingRoom(stack)


def waiter(stack, **fields):
    return stack.new_user(nickname=fields.pop("nickname", "Waiter"), **fields)


async def wait_in(room, user):
    """Connects a waiting user's socket and reads its first frame, waiting."""
    p = await Peer.open(room.url(user), room.mid)
    assert await p.recv() == {"type": "waiting", "meeting_id": room.mid}
    return p


# -- join -------------------------------------------------------------------

def test_a_stranger_waits_with_202_and_a_working_room_url(stack, wroom):
    u = waiter(stack)
    r = stack.api("POST", f"/meetings/{wroom.mid}/join", token=u["token"])
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["code"] == 202
    assert body["message"] == "Waiting for the host to admit you"
    d = body["data"]
    assert set(d) == {"meeting_id", "participant_id", "status", "room_url", "ice_servers"}
    assert d["meeting_id"] == wroom.mid and d["status"] == "waiting"
    assert isinstance(d["participant_id"], int) and d["participant_id"] > 0
    assert f"meeting_id={wroom.mid}&user_id={u['user_id']}&token=" in d["room_url"]
    # Again while waiting: 202 again, the same record.
    again = wroom.knock(u)
    assert again["participant_id"] == d["participant_id"] and again["status"] == "waiting"


def test_who_does_not_wait(stack, wroom):
    mod, added = stack.new_user(), stack.new_user()
    wroom.add(mod, "moderator")
    wroom.add(added)
    for user in (wroom.host, mod, added):
        d = wroom.knock(user, 200)
        assert "status" not in d
    assert wroom.waiting() == []


def test_an_admitted_user_who_leaves_and_joins_again_does_not_wait(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    ok(wroom.api_admit(u))
    wroom.knock(u, 200)
    ok(stack.api("POST", f"/meetings/{wroom.mid}/leave", token=u["token"]))
    wroom.knock(u, 200)


def test_members_from_before_the_waiting_room_count_as_admitted(stack):
    room = Room(stack, guests=0)
    u = stack.new_user()
    room.join(u)    # joined on their own, the waiting room off
    ok(stack.api("POST", f"/meetings/{room.mid}/leave", token=u["token"]))
    ok(stack.api("PUT", f"/meetings/{room.mid}", token=room.host["token"],
                 json={"settings": WAITING_ROOM}))
    d = ok(stack.api("POST", f"/meetings/{room.mid}/join", token=u["token"]))
    assert "status" not in d
    late = stack.new_user()
    r = stack.api("POST", f"/meetings/{room.mid}/join", token=late["token"])
    assert r.status_code == 202, r.text


def test_the_password_is_checked_before_waiting(stack):
    room = WaitingRoom(stack, password="open sesame")
    u = waiter(stack)
    r = stack.api("POST", f"/meetings/{room.mid}/join", token=u["token"],
                  json={"password": "wrong"})
    assert_error(r, 403, "wrong_password", field="password")
    assert room.waiting() == []
    room.knock(u, password="open sesame")
    assert [w["user_id"] for w in room.waiting()] == [u["user_id"]]


def test_a_full_meeting_still_lets_users_wait_and_admit_is_not_a_seat(stack):
    room = WaitingRoom(stack, max_participants=1)
    room.knock(room.host, 200)          # the one place is taken
    u = waiter(stack)
    room.knock(u)
    ok(room.api_admit(u))
    r = stack.api("POST", f"/meetings/{room.mid}/join", token=u["token"])
    assert_error(r, 409, "meeting_full")
    assert room.online() == 1


def test_a_removed_user_is_refused_before_waiting(stack, wroom):
    u = waiter(stack)
    wroom.add(u)
    ok(stack.api("DELETE", f"/meetings/{wroom.mid}/participants/{u['user_id']}",
                 token=wroom.host["token"]))
    r = stack.api("POST", f"/meetings/{wroom.mid}/join", token=u["token"])
    assert_error(r, 403, "forbidden")
    assert wroom.waiting() == []


# -- a waiting user is not a member -----------------------------------------

def test_a_waiting_user_reads_nothing_and_counts_nowhere(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    for method, path in (("GET", ""), ("GET", "/participants"), ("GET", "/messages"),
                         ("GET", "/recordings"), ("POST", "/leave"), ("GET", "/waiting")):
        r = stack.api(method, f"/meetings/{wroom.mid}{path}", token=u["token"])
        assert_error(r, 403, "forbidden")
    assert u["user_id"] not in wroom.member_ids()
    d = ok(stack.api("GET", "/meetings?page=1&page_size=100", token=wroom.host["token"]))
    (item,) = [m for m in d["meetings"] if m["meeting_id"] == wroom.mid]
    assert item["participant_count"] == 1
    d = ok(stack.api("GET", "/meetings?page=1&page_size=100", token=u["token"]))
    assert d["meetings"] == [] and d["total"] == 0
    assert wroom.online() == 0
    # Nor can they be acted on as a member.
    for method, path, body in (("DELETE", "", None), ("PUT", "/role", {"role": "moderator"}),
                               ("POST", "/mute", None)):
        r = stack.api(method, f"/meetings/{wroom.mid}/participants/{u['user_id']}{path}",
                      token=wroom.host["token"], json=body)
        assert_error(r, 404, "not_found")
    # Once admitted they are one.
    ok(wroom.api_admit(u))
    assert u["user_id"] in wroom.member_ids()
    ok(stack.api("GET", f"/meetings/{wroom.mid}", token=u["token"]))


# -- list, admit, deny, admit_all ---------------------------------------------

def test_the_waiting_list_is_oldest_first(stack, wroom):
    users = [waiter(stack, nickname=f"W{i}") for i in range(3)]
    for u in users:
        wroom.knock(u)
    got = wroom.waiting()
    assert [w["user_id"] for w in got] == [u["user_id"] for u in users]
    for w, u in zip(got, users):
        assert set(w) == {"user_id", "username", "nickname", "since"}
        assert (w["username"], w["nickname"]) == (u["username"], u["nickname"])
        assert w["since"].endswith("Z") and len(w["since"]) == 20
    # A repeated join keeps one's place.
    wroom.knock(users[0])
    assert [w["user_id"] for w in wroom.waiting()] == [u["user_id"] for u in users]


def test_admit_and_deny_answers(stack, wroom):
    a, b = waiter(stack), waiter(stack)
    wroom.knock(a)
    wroom.knock(b)
    r = wroom.api_admit(a)
    assert r.status_code == 200 and r.json() == {"code": 200, "message": "Participant admitted"}
    assert_error(wroom.api_admit(a), 404, "not_found")
    r = wroom.api_deny(b)
    assert r.status_code == 200 and r.json() == {"code": 200, "message": "Participant denied"}
    assert_error(wroom.api_deny(b), 404, "not_found")
    assert_error(wroom.api_deny(a), 404, "not_found")     # a member, not waiting
    stranger = stack.new_user()
    assert_error(wroom.api_admit(stranger), 404, "not_found")
    assert wroom.waiting() == []


def test_a_denial_sticks_until_the_user_is_added(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    ok(wroom.api_deny(u))
    r = stack.api("POST", f"/meetings/{wroom.mid}/join", token=u["token"])
    assert_error(r, 403, "forbidden")
    assert wroom.waiting() == []
    wroom.add(u)
    wroom.knock(u, 200)


def test_adding_a_waiting_user_admits_them(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    wroom.add(u, "moderator")
    assert wroom.waiting() == []
    roles = {p["user_id"]: p["role"] for p in ok(stack.api(
        "GET", f"/meetings/{wroom.mid}/participants", token=wroom.host["token"]))["participants"]}
    assert roles[u["user_id"]] == "moderator"
    wroom.knock(u, 200)


def test_admit_all(stack, wroom):
    users = [waiter(stack) for _ in range(3)]
    for u in users:
        wroom.knock(u)
    r = wroom.api_admit_all()
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"admitted": 3}
    assert wroom.waiting() == []
    assert {u["user_id"] for u in users} <= wroom.member_ids()
    assert ok(wroom.api_admit_all()) == {"admitted": 0}


def test_who_may_list_admit_and_deny(stack, wroom):
    mod, part, stranger, u = stack.new_user(), stack.new_user(), stack.new_user(), waiter(stack)
    wroom.add(mod, "moderator")
    wroom.add(part)
    wroom.knock(u)
    for token in (part["token"], stranger["token"]):
        assert_error(stack.api("GET", f"/meetings/{wroom.mid}/waiting", token=token),
                     403, "forbidden")
        for r in (wroom.api_admit(u, token), wroom.api_deny(u, token), wroom.api_admit_all(token)):
            assert_error(r, 403, "forbidden")
    # 403 comes before the 404 of a user who is not waiting (SPEC.md 1).
    assert_error(wroom.api_admit(stranger, part["token"]), 403, "forbidden")
    assert [w["user_id"] for w in wroom.waiting(mod["token"])] == [u["user_id"]]
    ok(wroom.api_admit(u, mod["token"]))
    # A meeting that does not exist: 404 before anything else.
    r = stack.api("GET", "/meetings/999999999/waiting", token=wroom.host["token"])
    assert_error(r, 404, "not_found")
    # Bodies: none or {} only.
    r = stack.api("POST", f"/meetings/{wroom.mid}/waiting/admit_all",
                  token=wroom.host["token"], json={"x": 1})
    assert_error(r, 400, "unknown_field", field="x")
    r = stack.api("POST", f"/meetings/{wroom.mid}/waiting/admit_all",
                  token=part["token"], json={"x": 1})
    assert_error(r, 403, "forbidden")


def test_turning_the_waiting_room_off_admits_everyone(stack, wroom):
    users = [waiter(stack) for _ in range(2)]
    for u in users:
        wroom.knock(u)
    ok(stack.api("PUT", f"/meetings/{wroom.mid}", token=wroom.host["token"],
                 json={"settings": {"enable_waiting_room": False}}))
    assert wroom.waiting() == []
    assert {u["user_id"] for u in users} <= wroom.member_ids()
    late = stack.new_user()
    d = wroom.knock(late, 200)
    assert "status" not in d


def test_ending_the_meeting_empties_the_list(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    ok(stack.api("POST", f"/meetings/{wroom.mid}/end", token=wroom.host["token"]))
    assert wroom.waiting() == []
    assert_error(wroom.api_admit(u), 404, "not_found")
    r = stack.api("POST", f"/meetings/{wroom.mid}/join", token=u["token"])
    assert_error(r, 409, "conflict")


# -- the waiting socket -------------------------------------------------------

@aio
async def test_waiting_socket_admitted_then_joined_and_the_hosts_hear_it(stack, wroom):
    mod, part = stack.new_user(nickname="Mod"), stack.new_user(nickname="Part")
    wroom.add(mod, "moderator")
    wroom.add(part)
    for x in (mod, part):
        wroom.knock(x, 200)
    ph, _ = await enter(wroom, wroom.host)
    pm, _ = await enter(wroom, mod)
    pp, _ = await enter(wroom, part)
    u = waiter(stack, nickname="Knocker")
    wroom.knock(u)
    heard = {"type": "waiting-joined", "meeting_id": wroom.mid, "user_id": u["user_id"],
             "username": u["username"], "nickname": "Knocker"}
    for p in (ph, pm):
        assert await p.until("waiting-joined") == heard
    pu = await wait_in(wroom, u)
    # A repeated join: no second waiting-joined.
    wroom.knock(u)
    # The waiting socket hears nothing of the room.
    ok(stack.api("POST", f"/meetings/{wroom.mid}/messages", token=wroom.host["token"],
                 json={"content": "hello room"}))
    await pu.quiet(0.7)
    for p in (ph, pm, pp):
        assert (await p.until("chat"))["content"] == "hello room"
    ok(wroom.api_admit(u))
    assert await pu.recv() == {"type": "admitted", "meeting_id": wroom.mid}
    m = await pu.recv()
    assert m["type"] == "joined"
    assert {p["user_id"] for p in m["participants"]} == {
        wroom.host["user_id"], mod["user_id"], part["user_id"]}
    left = {"type": "waiting-left", "meeting_id": wroom.mid, "user_id": u["user_id"],
            "reason": "admitted"}
    for p in (ph, pm):
        got = [await p.recv() for _ in range(2)]
        assert left in got, got
        assert {"type": "user-joined", "meeting_id": wroom.mid,
                **profile(u, "participant")} in got, got
    # A participant hears the newcomer, not the waiting room.
    assert await pp.recv() == {"type": "user-joined", "meeting_id": wroom.mid,
                               **profile(u, "participant")}
    await pp.quiet(0.5)
    assert wroom.status(u) == "online"
    for p in (ph, pm, pp, pu):
        await p.close()


@aio
async def test_waiting_socket_denied_closes_with_4403(stack, wroom):
    ph, _ = await enter(wroom, wroom.host)
    u = waiter(stack)
    wroom.knock(u)
    await ph.until("waiting-joined")
    pu = await wait_in(wroom, u)
    ok(wroom.api_deny(u))
    frames, (code, _) = await pu.closed()
    assert frames == [{"type": "denied", "meeting_id": wroom.mid}] and code == 4403
    assert await ph.until("waiting-left") == {
        "type": "waiting-left", "meeting_id": wroom.mid, "user_id": u["user_id"],
        "reason": "denied"}
    await ph.close()


@aio
async def test_waiting_socket_may_only_ping_and_leave(stack, wroom):
    ph, _ = await enter(wroom, wroom.host)
    u = waiter(stack)
    wroom.knock(u)
    pu = await wait_in(wroom, u)
    await pu.alive()
    for frame in ({"type": "media-state", "audio_enabled": True, "video_enabled": True,
                   "screen_sharing": False},
                  {"type": "offer", "target_user_id": wroom.host["user_id"], "sdp": "x"},
                  {"type": "nope"}):
        await pu.send(frame)
        await pu.error("INVALID_MESSAGE")
    await pu.alive()    # still open
    await ph.until("waiting-joined")
    await ph.quiet(0.5)     # the host got none of it
    await pu.send({"type": "leave"})
    frames, (code, _) = await pu.closed()
    assert frames == [] and code == 1000
    assert await ph.until("waiting-left") == {
        "type": "waiting-left", "meeting_id": wroom.mid, "user_id": u["user_id"],
        "reason": "left"}
    assert wroom.waiting() == []
    # Joining again: waiting again, from the back.
    wroom.knock(u)
    assert [w["user_id"] for w in wroom.waiting()] == [u["user_id"]]
    await ph.close()


@aio
async def test_a_dropped_waiting_socket_keeps_its_place(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    pu = await wait_in(wroom, u)
    await pu.close()
    await asyncio.sleep(0.3)
    assert [w["user_id"] for w in wroom.waiting()] == [u["user_id"]]
    pu = await wait_in(wroom, u)
    ok(wroom.api_admit(u))
    assert (await pu.recv())["type"] == "admitted"
    assert (await pu.recv())["type"] == "joined"
    await pu.close()


@aio
async def test_turning_the_setting_off_admits_the_waiting_sockets(stack, wroom):
    users = [waiter(stack) for _ in range(2)]
    socks = []
    for u in users:
        wroom.knock(u)
        socks.append(await wait_in(wroom, u))
    ok(stack.api("PUT", f"/meetings/{wroom.mid}", token=wroom.host["token"],
                 json={"settings": {"enable_waiting_room": False}}))
    for p in socks:
        assert (await p.recv())["type"] == "admitted"
        assert (await p.recv())["type"] == "joined"
    for p in socks:
        await p.close()


@aio
async def test_the_end_of_the_meeting_closes_waiting_sockets_with_4410(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    pu = await wait_in(wroom, u)
    ok(stack.api("POST", f"/meetings/{wroom.mid}/end", token=wroom.host["token"]))
    frames, (code, _) = await pu.closed()
    assert frames == [{"type": "meeting-ended", "meeting_id": wroom.mid}] and code == 4410


@aio
async def test_admission_into_a_full_meeting_closes_with_4429(stack):
    room = WaitingRoom(stack, max_participants=1)
    room.knock(room.host, 200)
    ph, _ = await enter(room, room.host)    # the one place
    u = waiter(stack)
    room.knock(u)
    pu = await wait_in(room, u)
    ok(room.api_admit(u))
    frames, (code, _) = await pu.closed()
    assert frames == [{"type": "admitted", "meeting_id": room.mid}] and code == 4429
    assert room.online() == 1
    assert room.status(u) == "offline"
    await ph.close()


# -- races --------------------------------------------------------------------

def race(*calls):
    """Runs the calls at once (threads released together); their results in order."""
    results = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(i, fn):
        gate.wait(5)
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@aio
async def test_two_hosts_admitting_one_user_at_once(stack, wroom):
    cohost = stack.new_user()
    wroom.add(cohost, "host")
    for _ in range(5):
        u = waiter(stack)
        wroom.knock(u)
        pu = await wait_in(wroom, u)
        r1, r2 = await asyncio.get_running_loop().run_in_executor(
            None, race, lambda: wroom.api_admit(u), lambda: wroom.api_admit(u, cohost["token"]))
        assert sorted([r1.status_code, r2.status_code]) == [200, 404], (r1.text, r2.text)
        assert (await pu.recv())["type"] == "admitted"
        assert (await pu.recv())["type"] == "joined"
        await pu.quiet(0.3)
        rows = stack.sql("SELECT count(*), count(*) FILTER (WHERE lease_until > now())"
                         " FROM participants WHERE meeting_id = %s AND user_id = %s",
                         wroom.mid, u["user_id"])
        assert rows == [["1", "1"]]
        await pu.close()


@aio
async def test_admit_racing_the_end_of_the_meeting(stack):
    for _ in range(5):
        room = WaitingRoom(stack)
        u = waiter(stack)
        room.knock(u)
        pu = await wait_in(room, u)
        admit, end = await asyncio.get_running_loop().run_in_executor(
            None, race, lambda: room.api_admit(u),
            lambda: stack.api("POST", f"/meetings/{room.mid}/end", token=room.host["token"]))
        # The socket ends as the meeting does, whichever came first.
        frames, (code, _) = await pu.closed()
        assert code == 4410 and frames and frames[-1]["type"] == "meeting-ended", frames
        assert {f["type"] for f in frames} <= {"admitted", "joined", "meeting-ended"}, frames
        assert end.status_code == 200, end.text
        assert admit.status_code in (200, 404), admit.text
        # Either way: nobody waits for an ended meeting, and nobody is online.
        assert room.waiting() == []
        assert room.online() == 0
        if admit.status_code == 200:
            assert u["user_id"] in room.member_ids()
        else:
            assert u["user_id"] not in room.member_ids()


@aio
async def test_many_admissions_into_a_full_meeting_stay_within_capacity(stack):
    room = WaitingRoom(stack, max_participants=3)
    room.knock(room.host, 200)
    users = [waiter(stack) for _ in range(5)]
    socks = []
    for u in users:
        room.knock(u)
        socks.append(await wait_in(room, u))
    ok(room.api_admit_all())
    outcomes = []
    for p in socks:
        assert (await p.recv())["type"] == "admitted"
        m = None
        try:
            m = await p.recv()
        except Exception:
            pass
        outcomes.append("joined" if m and m["type"] == "joined" else p.ws.close_code)
    assert sorted(outcomes, key=str) == sorted(["joined", "joined", 4429, 4429, 4429],
                                               key=str), outcomes
    assert room.online() == 3     # the host and two admitted
    for p in socks:
        await p.close()


def signald_listening(stack):
    try:
        socket.create_connection(("127.0.0.1", stack.sigport), timeout=0.5).close()
        return True
    except OSError:
        return False


@aio
async def test_someone_waits_through_a_restart_of_signald(make_stack):
    stack = make_stack()
    # A new stack answers /health before the signald it starts listens.
    deadline = time.monotonic() + 10
    while not signald_listening(stack):
        assert time.monotonic() < deadline, "signald did not listen"
        time.sleep(0.05)
    room = WaitingRoom(stack)
    u = waiter(stack)
    room.knock(u)
    pu = await wait_in(room, u)
    (pid,) = stack.signald_pids()
    os.kill(pid, signal.SIGKILL)
    frames, _ = await pu.closed(5)
    assert frames == []
    # Reconnect as a client does, until the new signald answers; a socket
    # given up on is closed, or its late answer would replace the next one.
    deadline = time.monotonic() + 10
    while True:
        pu = None
        try:
            pu = await Peer.open(room.url(u), room.mid)
            first = await pu.recv(5)
            assert first == {"type": "waiting", "meeting_id": room.mid}, first
            break
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
            if pu:
                await pu.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    assert [w["user_id"] for w in room.waiting()] == [u["user_id"]]
    ok(room.api_admit(u))
    assert (await pu.recv())["type"] == "admitted"
    assert (await pu.recv())["type"] == "joined"
    await pu.close()


@aio
async def test_an_admission_signald_did_not_hear_is_found_when_it_listens_again(stack):
    """The LISTEN connection lost: on its return every waiting socket asks for
    its seat again. The admission is written without its NOTIFY, as if it had
    been sent while nobody listened."""
    room = WaitingRoom(stack)
    u = waiter(stack)
    room.knock(u)
    pu = await wait_in(room, u)
    stack.sql("UPDATE participants SET waiting_since = NULL"
              " WHERE meeting_id = %s AND user_id = %s", room.mid, u["user_id"])
    await pu.quiet(0.5)
    stack.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              " WHERE application_name = 'signald' AND query NOT LIKE '%%mm_seat%%'"
              " AND query NOT LIKE '%%mm_waiting%%'")
    assert await pu.recv(10) == {"type": "admitted", "meeting_id": room.mid}
    assert (await pu.recv())["type"] == "joined"
    await pu.close()


@aio
async def test_a_newer_waiting_socket_replaces_the_older(stack, wroom):
    u = waiter(stack)
    wroom.knock(u)
    old = await wait_in(wroom, u)
    new = await wait_in(wroom, u)
    frames, (code, _) = await old.closed()
    assert frames == [] and code == 4409
    ok(wroom.api_admit(u))
    assert (await new.recv())["type"] == "admitted"
    assert (await new.recv())["type"] == "joined"
    await new.close()


def test_someone_waits_through_a_restart_of_httpd(make_stack):
    s = make_stack()
    room = WaitingRoom(s)
    u = waiter(s)
    room.knock(u)
    s.stop()
    s.start()
    assert [w["user_id"] for w in room.waiting()] == [u["user_id"]]
    assert room.knock(u)["status"] == "waiting"
    ok(room.api_admit(u))
    room.knock(u, 200)


# -- rate limits --------------------------------------------------------------

def test_the_new_endpoints_have_their_own_rate_limit_names(make_stack):
    s = make_stack("MeetingRateLimit waiting.admit_all 2\nMeetingRateLimit waiting.list 1\n"
                   "MeetingRateLimit participant.mute 1\n")
    room = WaitingRoom(s, guests=1)
    seen = [room.api_admit_all() for _ in range(3)]
    assert [r.status_code for r in seen] == [200, 200, 429]
    assert seen[0].headers["X-RateLimit-Limit"] == "2"
    assert int(seen[2].headers["Retry-After"]) >= 1
    seen = [s.api("GET", f"/meetings/{room.mid}/waiting", token=room.host["token"])
            for _ in range(2)]
    assert [r.status_code for r in seen] == [200, 429]
    seen = [s.api("POST", f"/meetings/{room.mid}/participants/{room.guests[0]['user_id']}/mute",
                  token=room.host["token"]) for _ in range(2)]
    assert [r.status_code for r in seen] == [200, 429]
    # Each its own bucket: admit and deny are not charged to admit_all.
    u = waiter(s)
    room.knock(u)
    assert room.api_admit(u).status_code == 200
