"""httpd supervises signald (MeetingSignalingDaemon): starts it, restarts it when
it dies, keeps it across a graceful restart, stops it with httpd."""
import asyncio
import os
import re
import signal
import subprocess
import time

import pytest
import requests
import websockets

import procstat
from conftest import HTTPD, SIGNALD
from test_signaling import Room, enter



def wait_for(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


@pytest.mark.allow_errors
def test_signald_is_restarted_after_sigkill(make_stack):
    s = make_stack()
    (pid,) = wait_for(s.signald_pids, 5)
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: [p for p in s.signald_pids() if p != pid], 2.5)
    assert new, "signald was not restarted"
    assert time.time() - killed_at <= 2.5
    assert len(s.signald_pids()) == 1


def test_sigterm_closes_every_socket_with_1001_and_exits_at_once(make_stack):
    """SIGTERM (httpd's parent exiting sends it too): close frames out, a
    prompt exit, and the seats kept for the signald httpd starts next."""
    s = make_stack()
    (pid,) = wait_for(s.signald_pids, 5)
    room = Room(s, guests=2)
    users = [room.host, *room.guests]

    async def before():
        peers = [(await enter(room, u))[0] for u in users]
        for p in peers[:-1]:
            await p.until("user-joined")     # the last one's arrival
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        codes = [(await p.closed(timeout=3))[1][0] for p in peers]
        return codes, time.monotonic() - t0

    codes, took = asyncio.run(before())
    assert codes == [1001] * len(users)
    assert took < 2
    assert wait_for(lambda: pid not in s.signald_pids(), 3), "signald did not exit"
    assert wait_for(lambda: [p for p in s.signald_pids() if p != pid], 3)

    async def after():
        # The seats are still theirs: every user is let back in.
        deadline = time.monotonic() + 5
        while True:
            try:
                peers = [await enter(room, users[0])]
                break
            except (OSError, websockets.InvalidStatusCode, websockets.ConnectionClosed):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        peers += [await enter(room, u) for u in users[1:]]
        last = peers[-1][1]
        assert {p["user_id"] for p in last["participants"]} == {u["user_id"] for u in users[:-1]}
        for p, _ in peers:
            await p.close()

    asyncio.run(after())


def test_graceful_restart_keeps_one_signald(make_stack):
    s = make_stack()
    before = wait_for(s.signald_pids, 5)
    s.graceful()
    time.sleep(0.5)
    assert s.signald_pids() == before


def test_signald_stops_with_httpd(make_stack):
    s = make_stack()
    assert wait_for(s.signald_pids, 5)
    s.stop()
    assert wait_for(lambda: not s.signald_pids(), 5)


@pytest.mark.allow_errors
def test_restart_after_graceful_uses_the_new_generation(make_stack):
    s = make_stack()
    (pid,) = wait_for(s.signald_pids, 5)
    s.graceful()
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: [p for p in s.signald_pids() if p != pid], 2.5)
    assert s.api("GET", "/health").status_code == 200


def test_httpd_exits_cleanly_after_serving(make_stack):
    """The parent's exit runs pool cleanups after modules are unloaded: none
    of ours may be left to call into the unloaded module (it crashed once)."""
    s = make_stack(start=False)
    httpd = subprocess.Popen([HTTPD, "-f", str(s.conf), "-DFOREGROUND"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s.wait_up()
        s.new_user()
        s.graceful()
        assert s.api("GET", "/health").status_code == 200
    finally:
        httpd.send_signal(signal.SIGTERM)
        code = httpd.wait(timeout=20)
    assert code == 0
    assert wait_for(lambda: not s.signald_pids(), 5)


def meeting_status(s):
    """server-status?auto's Meeting lines as a dict."""
    text = requests.get(s.url + "/server-status?auto", timeout=10).text
    return dict(line.split(": ", 1) for line in text.splitlines()
                if line.startswith("Meeting") and ": " in line)


def daemon_stack(make_stack, daemon_line):
    s = make_stack(start=False)
    s.extra += "\n" + daemon_line + "\n"
    s.render()
    s.start()
    return s


@pytest.mark.allow_errors
def test_signald_exiting_2_is_not_restarted_and_status_says_stopped(make_stack):
    """--bogus makes signald exit 2 (bad arguments): starting it again would
    only fail again."""
    s = daemon_stack(make_stack, f'MeetingSignalingDaemon "{SIGNALD}" --bogus')
    assert wait_for(lambda: meeting_status(s).get("MeetingSignald") == "stopped", 10)
    time.sleep(3)   # ample time for any restart the parent's 1 s loop would make
    st = meeting_status(s)
    assert st["MeetingSignald"] == "stopped"
    assert st["MeetingSignaldPid"] == "0"
    assert st["MeetingSignaldRestarts"] == "0"
    assert st["MeetingSignaldLastExit"] == "2"
    assert st["MeetingSignaldRooms"] == "0"
    log = s.log_text()
    assert log.count("MM0402: signald started") == 1
    assert "MM0403: signald exited with code 2 and is not restarted" in log
    assert s.api("GET", "/health").status_code == 200


@pytest.mark.allow_errors
def test_a_crash_looping_daemon_backs_off(make_stack):
    """A daemon that dies at once, again and again, waits longer each time,
    and server-status shows the back-off."""
    s = make_stack(start=False)
    crasher = s.state / "crasher.sh"
    crasher.write_text("#!/bin/sh\nexit 1\n")
    crasher.chmod(0o755)
    s.extra += f"\nMeetingSignalingDaemon {crasher}\n"
    s.render()
    s.start()
    seen = wait_for(lambda: meeting_status(s).get("MeetingSignald") == "backoff", 15)
    assert seen, meeting_status(s)
    st = meeting_status(s)
    assert st["MeetingSignaldLastExit"] == "1" and int(st["MeetingSignaldPid"]) > 0

    def delays():
        return [int(d) for d in re.findall(r"MM0405: .*starting it again in (\d+) s",
                                           s.log_text())]
    assert wait_for(lambda: len(delays()) >= 3, 20), s.log_text()
    got = delays()
    assert got[:3] == [1, 2, 4], got
    assert int(meeting_status(s)["MeetingSignaldRestarts"]) == len(re.findall(
        r"MM040[45]: ", s.log_text()))
    # A start waiting out its back-off (a fork of httpd, not yet the daemon)
    # goes with httpd too.
    conf = str(s.conf).encode()
    s.stop()
    assert wait_for(lambda: not [p for p in procstat.pids() if conf in procstat.cmdline(p)],
                    10)


@pytest.mark.allow_errors
def test_server_status_follows_a_restart(make_stack):
    """The children that answer server-status see what the parent did after
    they were forked: the new pid, one restart."""
    s = make_stack()
    (pid,) = wait_for(s.signald_pids, 5)
    assert wait_for(lambda: meeting_status(s).get("MeetingSignaldRooms") == "0", 5)
    before = meeting_status(s)
    assert before["MeetingSignald"] == "up" and before["MeetingSignaldPid"] == str(pid)
    assert before["MeetingSignaldRestarts"] == "0"
    os.kill(pid, signal.SIGKILL)
    (new,) = wait_for(lambda: [p for p in s.signald_pids() if p != pid], 5)
    st = wait_for(lambda: (m := meeting_status(s))["MeetingSignaldPid"] == str(new) and m, 5)
    assert st, meeting_status(s)
    assert st["MeetingSignald"] == "up"
    assert st["MeetingSignaldRestarts"] == "1"
    assert st["MeetingSignaldLastExit"] == str(int(signal.SIGKILL))
