"""The chat send's room event without a NOTIFY per send (issue 18, docs/signaling.md
"Chat: how the room hears of a message").

A send for a meeting placed on this node (or on none) hands its event to this
node's signald over a Unix datagram socket after the commit; a meeting placed on
another node is told by NOTIFY, as every other room event is; when signald does
not take the datagram the send NOTIFYs instead. Each test watches the events
channel with a LISTEN session of its own (psql), so it sees which way an event
went, and the sockets of the room get the same frame either way, exactly once."""
import asyncio
import base64
import concurrent.futures
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import procstat
from conftest import free_port, wait_for
from test_signaling import Room, aio, enter, ok
from test_nodes import host_name, wait_row

NOTIFICATION = re.compile(r'^Asynchronous notification "meeting_events" with payload "(.*)" '
                          r'received from server process with PID \d+\.$')


class Listener:
    """A psql session LISTENing on meeting_events; events() reads what it heard."""

    def __init__(self, pg):
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-tA", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
             "-d", "meeting"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.heard = []
        self.proc.stdin.write("LISTEN meeting_events;\n")
        self.sync()

    def sync(self):
        """Reads everything psql printed up to a marker of our own."""
        mark = f"mark-{time.monotonic_ns()}"
        self.proc.stdin.write(f"SELECT 1;\n\\echo {mark}\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().rstrip("\n")
            if line == mark:
                return
            m = NOTIFICATION.match(line)
            if m:
                self.heard.append(json.loads(m.group(1)))
        raise AssertionError("psql did not answer")

    def chats(self, mid, settle=0.5):
        """The chat events heard for meeting mid, after settle seconds."""
        time.sleep(settle)
        self.sync()
        return [e for e in self.heard if e.get("type") == "chat" and e.get("meeting_id") == mid]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def socket_path(stack):
    return stack.state / "run" / "mod_meeting-signald.sock"


def send(stack, room, user, content):
    return ok(stack.api("POST", f"/meetings/{room.mid}/messages", token=user["token"],
                        json={"content": content}))


async def host_and_guest(room):
    """The host's and the first guest's sockets, once the host heard the guest."""
    ph, _ = await enter(room, room.host)
    pg_, _ = await enter(room, room.guests[0])
    await ph.until("user-joined")
    return ph, pg_


def frame(room, user, d, content):
    return {"type": "chat", "meeting_id": room.mid, "message_id": d["message_id"],
            "user_id": user["user_id"], "username": user["username"], "content": content,
            "timestamp": d["timestamp"]}


@aio
async def test_a_local_send_reaches_the_room_with_no_notify(stack):
    """The meeting is placed on this node: the frame comes through the socket
    httpd passed signald, and the events channel carries no chat event."""
    [pid] = stack.signald_pids()
    cmd = procstat.cmdline(pid)
    assert cmd[cmd.index(b"--events-socket") + 1] == str(socket_path(stack)).encode()
    st = os.stat(socket_path(stack))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    room = Room(stack)
    assert stack.sql("SELECT node_id FROM meetings WHERE meeting_id = %s",
                     room.mid) == [[host_name()]]
    g = room.guests[0]
    listener = Listener(stack.pg)
    try:
        ph, pg_ = await host_and_guest(room)
        d = send(stack, room, g, "through the socket")
        for p in (ph, pg_):
            assert await p.recv(2.0) == frame(room, g, d, "through the socket")
        assert listener.chats(room.mid) == []
        for p in (ph, pg_):
            await p.quiet(0.3)                 # once, not twice
            await p.close()
    finally:
        listener.close()


@aio
async def test_sends_close_together_all_arrive_and_the_next_after_a_pause_too(stack):
    """signald takes the events of a busy spell in batches (it stops watching the
    socket for a millisecond after each wake): a burst of concurrent sends and a
    run of quick ones all reach the room, the run in the order sent, none by
    NOTIFY; and a send after the spell still arrives, because the socket is
    watched again."""
    room = Room(stack)
    g = room.guests[0]
    listener = Listener(stack.pg)
    try:
        ph, pg_ = await host_and_guest(room)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda i: send(stack, room, g, f"b{i}"), range(16)))
        run = [send(stack, room, g, f"r{i}") for i in range(10)]
        want = [frame(room, g, d, f"b{i}") for i, d in enumerate(burst)]
        want += [frame(room, g, d, f"r{i}") for i, d in enumerate(run)]
        for p in (ph, pg_):
            got = [await p.recv(2.0) for _ in want]
            key = lambda f: f["message_id"]     # noqa: E731
            assert sorted(got, key=key) == sorted(want, key=key)
            assert got[-len(run):] == want[-len(run):]
        await asyncio.sleep(0.2)
        d = send(stack, room, g, "after the spell")
        for p in (ph, pg_):
            assert await p.recv(1.0) == frame(room, g, d, "after the spell")
            await p.quiet(0.3)
            await p.close()
        assert listener.chats(room.mid) == []
    finally:
        listener.close()


@aio
async def test_a_keyed_send_is_handed_over_after_its_commit_and_a_replay_is_not(stack):
    """Under an Idempotency-Key the send commits with its stored answer: the room
    gets the frame once, and the replay of the key pushes nothing."""
    room = Room(stack, guests=1)
    host, g = room.host, room.guests[0]
    listener = Listener(stack.pg)
    try:
        ph, _ = await enter(room, host)
        headers = {"Idempotency-Key": f"chat-{room.mid}"}
        replies = [stack.api("POST", f"/meetings/{room.mid}/messages", token=g["token"],
                             json={"content": "keyed"}, headers=headers) for _ in range(2)]
        assert [r.status_code for r in replies] == [200, 200]
        assert replies[1].headers.get("Idempotent-Replayed") == "true"
        d = replies[0].json()["data"]
        assert await ph.recv(2.0) == frame(room, g, d, "keyed")
        await ph.quiet(0.5)
        assert listener.chats(room.mid) == []
        await ph.close()
    finally:
        listener.close()


@aio
async def test_a_message_then_the_end_reaches_the_room_in_that_order(stack):
    """The end comes by NOTIFY, the message by the socket: signald reads what was
    handed over before it acts on a notification, so the message is not lost
    to a room the end already closed."""
    room = Room(stack, guests=1)
    host, g = room.host, room.guests[0]
    pg_, _ = await enter(room, g)
    d = send(stack, room, host, "bye")
    ok(stack.api("POST", f"/meetings/{room.mid}/end", token=host["token"]))
    frames, (code, _) = await pg_.closed()
    assert [f["type"] for f in frames] == ["chat", "meeting-ended"]
    assert frames[0] == frame(room, host, d, "bye")
    assert code == 4410


def same_secret_stack(make_stack, like, extra):
    """A second stack whose tokens the first one takes (the JWT secret of like)."""
    s = make_stack(start=False)
    s.extra += extra(s)
    s.render()
    (s.state / "jwt.secret").write_bytes((like.state / "jwt.secret").read_bytes())
    s.start()
    return s


@aio
async def test_a_meeting_on_another_node_hears_a_send_made_here(stack, make_stack):
    """Meeting placed on node B, its sockets on B's signald: a send answered by
    this node is NOTIFYed and reaches them; one answered by B goes through B's
    socket, with no NOTIFY."""
    name = f"t{free_port()}"
    b = same_secret_stack(make_stack, stack, lambda s: (
        f"MeetingNodeName {name}\n"
        f"MeetingNodeSignalingURL ws://127.0.0.1:{s.port}/ws/signaling\n"))
    listener = Listener(stack.pg)
    try:
        wait_row(b, name)
        room = Room(b, guests=1)
        b.sql("UPDATE meetings SET node_id = %s WHERE meeting_id = %s", name, room.mid)
        host, g = room.host, room.guests[0]
        ph, pg_ = await host_and_guest(room)
        d = send(stack, room, g, "from the other node")
        for p in (ph, pg_):
            assert await p.recv(2.0) == frame(room, g, d, "from the other node")
        [heard] = listener.chats(room.mid)
        assert heard == frame(room, g, d, "from the other node")
        d = send(b, room, host, "from its own node")
        for p in (ph, pg_):
            assert await p.recv(2.0) == frame(room, host, d, "from its own node")
        assert len(listener.chats(room.mid)) == 1          # still only the first
        for p in (ph, pg_):
            await p.close()
    finally:
        listener.close()
        b.stop()
        # Gone for good: later tests' meetings must not be placed on it.
        stack.sql("DELETE FROM nodes WHERE node_id = %s", name)


@aio
async def test_without_the_socket_a_send_notifies_instead(make_stack):
    """signald's socket is gone (as when signald is not running): the send is
    stored and answered, NOTIFYs its event in a statement of its own after
    the commit, and the room still gets the frame once."""
    s = make_stack()
    room = Room(s, guests=1)
    g = room.guests[0]
    listener = Listener(s.pg)
    try:
        ph, pg_ = await host_and_guest(room)
        socket_path(s).unlink()
        d = send(s, room, g, "by notify")
        want = frame(room, g, d, "by notify")
        for p in (ph, pg_):
            assert await p.recv(2.0) == want
            await p.quiet(0.3)
        assert listener.chats(room.mid) == [want]
        assert "MM1802" in s.log_text()
        for p in (ph, pg_):
            await p.close()
    finally:
        listener.close()


@aio
async def test_a_stopped_signald_gets_every_message_once_in_order(make_stack):
    """signald stopped (SIGSTOP): its socket's queue fills (net.unix.max_dgram_qlen
    datagrams), the sends after that wait briefly and then NOTIFY; every send is
    answered 200. Once signald runs again the room gets every frame exactly
    once, in the order sent: the queued ones first, then those it hears by
    LISTEN."""
    s = make_stack()
    room = Room(s, guests=1)
    host, g = room.host, room.guests[0]
    qlen = int(open("/proc/sys/net/unix/max_dgram_qlen").read())
    n = min(qlen + 5, 60)
    listener = Listener(s.pg)
    ph, _ = await enter(room, host)
    await asyncio.sleep(0.2)
    [pid] = s.signald_pids()
    os.kill(pid, signal.SIGSTOP)
    try:
        sent = [send(s, room, g, f"m{i}") for i in range(n)]
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        got = [await ph.recv(5.0) for _ in range(n)]
        assert got == [frame(room, g, d, f"m{i}") for i, d in enumerate(sent)]
        await ph.quiet(0.3)
        heard = listener.chats(room.mid)
        assert len(heard) in (n - qlen - 1, n - qlen)     # the overflow, by NOTIFY
        assert heard == got[n - len(heard):]
        await ph.close()
    finally:
        listener.close()
    assert wait_for(lambda: s.signald_pids() == [pid], 5)


@aio
async def test_a_secret_rotated_by_a_graceful_restart_reaches_signald(make_stack):
    """httpd reads a new JWT secret at a graceful restart, signald (kept running)
    does not: it reads the file again when a signature fails under its key. So
    after the rotation a send still reaches a socket opened before it, and a
    ticket signed with the new secret is taken (MM3806); before, both were
    refused until httpd was stopped and started."""
    s = make_stack()
    room = Room(s, guests=1)
    g = room.guests[0]
    ph, _ = await enter(room, room.host)
    [pid] = s.signald_pids()
    secret = s.state / "jwt.secret"
    secret.write_text(base64.b64encode(os.urandom(48)).decode())
    s.graceful()
    assert s.api("GET", "/users/profile", token=g["token"]).status_code == 401
    g = {**g, "token": s.login(g["username"])["token"]}
    d = send(s, room, g, "after the rotation")
    assert await ph.recv(2.0) == frame(room, g, d, "after the rotation")
    room.join(g)
    pg_, _ = await enter(room, g)
    assert (await ph.until("user-joined"))["user_id"] == g["user_id"]
    assert "MM3806" in s.log_text()
    assert s.signald_pids() == [pid]
    for p in (ph, pg_):
        await p.close()


@aio
async def test_a_datagram_not_signed_by_httpd_puts_nothing_in_the_room(stack):
    """The socket's owner is httpd's User, whose other code (a CGI script) could
    write to it: signald takes only events signed with the JWT secret. An event
    as the SQL builds it, sent bare or under a wrong signature, reaches no
    socket and is logged (MM3805); a real send after them still arrives."""
    room = Room(stack)
    g = room.guests[0]
    ph, pg_ = await host_and_guest(room)
    forged = json.dumps({"type": "chat", "content": "forged", "user_id": g["user_id"],
                         "username": g["username"], "timestamp": "2030-01-01T00:00:00Z",
                         "meeting_id": room.mid, "message_id": 1})
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sk:
        for datagram in (forged, "0" * 64 + "\n" + forged):
            sk.sendto(datagram.encode(), str(socket_path(stack)))
    for p in (ph, pg_):
        await p.quiet(0.5)
    assert wait_for(lambda: "MM3805" in stack.log_text() and "(2 so far)" in stack.log_text(),
                    5), stack.log_text()[-2000:]
    d = send(stack, room, g, "signed")
    for p in (ph, pg_):
        assert await p.recv(2.0) == frame(room, g, d, "signed")
        await p.close()
