"""signald as a daemon: its command line (--listen) and its status file."""
import asyncio
import socket
import subprocess
import time

import pytest

from conftest import SIGNALD, free_port

# signald's exit codes (mod_meeting/signald/options.h): the supervisor in httpd
# does not restart a daemon that exits with either.
EXIT_USAGE, EXIT_STARTUP = 2, 3


def signald(listen, tmp_path, wait=None):
    """Runs signald with --listen; the database is unreachable, which signald
    only warns about. With wait, stops it once that port listens (or after 5 s)."""
    secret = tmp_path / "secret"
    secret.write_text("s" * 48 + "\n")
    p = subprocess.Popen([SIGNALD, "--listen", listen, "--secret-file", str(secret),
                          "--issuer", "review", "--db", f"host={tmp_path} dbname=none"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if wait:
        deadline = time.time() + 5
        while p.poll() is None and time.time() < deadline:
            try:
                socket.create_connection(wait, timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if p.poll() is None:
            p.terminate()
    out, _ = p.communicate(timeout=10)
    return p.returncode, out


@pytest.mark.parametrize("listen", [
    "localhost:8080",           # a name, not an address
    "127.1:8080",               # inet_aton shorthand
    "[fe80::1%lo]:8080",        # a scoped address
    "::1",                      # no port
    "::1:8080",                 # IPv6 without brackets: which part is the port?
    "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99999999999", "127.0.0.1:http",
    "[::1]:", ":8080", "[]:8080",
])
def test_bad_listen_is_refused_on_the_command_line(tmp_path, listen):
    """Before the secret file or anything else: exit 2, naming --listen."""
    rc, out = signald(listen, tmp_path)
    assert rc == EXIT_USAGE, out
    assert out.startswith("signald: --listen must be ADDRESS:PORT"), out


def test_listen_binds_exactly_the_ipv4_address_given(tmp_path):
    port = free_port()
    rc, out = signald(f"127.0.0.1:{port}", tmp_path, wait=("127.0.0.1", port))
    assert rc == 0, out
    assert f"listening on 127.0.0.1:{port}" in out, out


def test_listen_binds_an_ipv6_address_in_brackets(tmp_path):
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = free_port()
    rc, out = signald(f"[::1]:{port}", tmp_path, wait=("::1", port))
    assert rc == 0, out
    assert f"listening on ::1:{port}" in out, out


def test_listen_on_a_busy_port_is_a_startup_failure(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc, out = signald(f"127.0.0.1:{port}", tmp_path)
    assert rc == EXIT_STARTUP, out
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in out, out


# -- signald's status file: counts kept as seats come and go -----------------

def status_counts(stack):
    path = stack.state / "run" / "mod_meeting-signald.status"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return {k: int(v) for k, v in (line.split(" ") for line in text.splitlines())}


async def wait_counts(stack, **want):
    """The status file (written once a second) once it shows want."""
    deadline = time.time() + 4
    while (got := status_counts(stack)) != want and time.time() < deadline:
        await asyncio.sleep(0.1)
    assert got == want
    return got


def test_status_file_follows_seats_and_sockets(make_stack):
    """Joined, replaced by a newer socket, lost into the grace period,
    reconnected, left: rooms, seats and seats with a socket at each step, in
    the format mod_meeting's server-status reads."""
    from test_signaling import Room, enter

    s = make_stack()
    room = Room(s, guests=2)
    g1, g2 = room.guests
    asyncio.run(wait_counts(s, rooms=0, seats=0, connections=0))

    async def steps():
        host, _ = await enter(room, room.host)
        p1, _ = await enter(room, g1)
        p2, _ = await enter(room, g2)
        await wait_counts(s, rooms=1, seats=3, connections=3)
        newer, _ = await enter(room, g2)                # replaces p2 (4409)
        assert (await p2.closed())[1][0] == 4409
        await wait_counts(s, rooms=1, seats=3, connections=3)
        p1.ws.transport.abort()                         # lost: seat kept, no socket
        await wait_counts(s, rooms=1, seats=3, connections=2)
        p1, _ = await enter(room, g1)                   # back within the grace
        await wait_counts(s, rooms=1, seats=3, connections=3)
        for p in (newer, p1, host):
            await p.send({"type": "leave"})
            assert (await p.closed())[1][0] == 1000
        await wait_counts(s, rooms=0, seats=0, connections=0)

    asyncio.run(steps())


@pytest.mark.parametrize("flag,value", [
    ("--webhook-allow", "127.0.0.1:*"), ("--webhook-allow", "http://127.0.0.1:*/x"),
    ("--webhook-retry", ""), ("--webhook-retry", "5000,"), ("--webhook-retry", "-1"),
    ("--webhook-retry", "604800001"), ("--webhook-retry", ",".join(["1"] * 21)),
    ("--webhook-timeout", "0"), ("--webhook-connections", "1025"),
    ("--node", ""), ("--node", "a b"), ("--node", "n" * 64),
    ("--node-url", "http://x/ws"), ("--node-url", "ws://x/" + "p" * 120),
    ("--node-timeout", "2"), ("--node-timeout", "301"),
    ("--events-socket", "/tmp/" + "s" * 103), ("--events-owner", "33"),
])
def test_bad_webhook_flags_are_refused_on_the_command_line(tmp_path, flag, value):
    """The deliverer's settings (webhooks.c), the node's (node.c) and the chat
    socket's (handover.c; an owner without a socket): exit 2 naming the flag."""
    secret = tmp_path / "secret"
    secret.write_text("s" * 48 + "\n")
    p = subprocess.run([SIGNALD, "--listen", f"127.0.0.1:{free_port()}", "--secret-file",
                        str(secret), "--issuer", "review", "--db", f"host={tmp_path} dbname=x",
                        flag, value], capture_output=True, text=True, timeout=10)
    assert p.returncode == EXIT_USAGE, p.stderr
    assert p.stderr.startswith(f"signald: {flag} "), p.stderr
