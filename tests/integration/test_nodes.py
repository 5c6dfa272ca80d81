"""One node with no new configuration works as before, and the MeetingNode*
directives reach signald and the node registry (SPEC.md 10; the cluster of
three nodes behind haproxy is tests/cluster)."""
import asyncio
import json
import socket

import websockets

import procstat
from conftest import free_port, wait_for
from test_signaling import meeting_body


def host_name():
    return socket.gethostname().split(".")[0]


def wait_row(stack, name, timeout=15):
    def beating():
        rows = stack.sql("SELECT signaling_url, seen_at + dead_after > now() FROM nodes "
                         "WHERE node_id = %s", name)
        return rows[0] if rows and rows[0][1] == "t" else None

    row = wait_for(beating, timeout)
    assert row, f"node {name} never beat"
    return row


def started(stack, host):
    r = stack.api("POST", "/meetings", token=host["token"], json=meeting_body(title="nodes"))
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    r = stack.api("POST", f"/meetings/{mid}/start", token=host["token"])
    assert r.status_code == 200, r.text
    return mid, r.json()["data"]["room_url"]


def test_one_node_needs_no_configuration(stack):
    """signald beats under the host name with no URL of its own; room_url is built
    as it always was, and the meeting is placed on that node."""
    row = wait_row(stack, host_name())
    assert row[0] == ""                       # NULL: the module's own signaling URL
    host = stack.new_user()
    mid, url = started(stack, host)
    assert url.startswith(stack.signaling_url() + f"?meeting_id={mid}&user_id=")
    assert stack.sql("SELECT node_id, node_epoch FROM meetings WHERE meeting_id = %s",
                     mid) == [[host_name(), "1"]]

    async def joined():
        async with websockets.connect(url) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]

    assert asyncio.run(joined()) == "joined"


def test_node_directives_reach_signald_and_the_registry(make_stack):
    name = f"t{free_port()}"
    node_url = f"ws://127.0.0.1:{free_port()}/ws/signaling?node={name}"
    s = make_stack(f"MeetingNodeName {name}\nMeetingNodeSignalingURL {node_url}\n"
                   "MeetingNodeTimeout 7\n")
    try:
        [pid] = s.signald_pids()
        cmd = procstat.cmdline(pid)
        for flag, value in (("--node", name), ("--node-url", node_url), ("--node-timeout", "7")):
            i = cmd.index(flag.encode())
            assert cmd[i + 1] == value.encode()
        assert wait_row(s, name)[0] == node_url
        assert s.sql("SELECT extract(epoch FROM dead_after)::int FROM nodes "
                     "WHERE node_id = %s", name) == [["7"]]
    finally:
        s.stop()
        # Gone for good: later tests' meetings must not be placed on it.
        s.sql("DELETE FROM nodes WHERE node_id = %s", name)


def test_a_refused_start_or_join_places_nothing(stack):
    """Placement is in the statement of start and join, after their answer:
    one that refuses places the meeting nowhere."""
    wait_row(stack, host_name())
    host, other = stack.new_user(), stack.new_user()
    body = {"title": "nodes", "start_time": "2030-05-01T10:00:00Z",
            "end_time": "2030-05-01T11:00:00Z", "max_participants": 10, "meeting_type": "video"}
    r = stack.api("POST", "/meetings", token=host["token"], json=body)
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    assert stack.api("POST", f"/meetings/{mid}/start", token=other["token"]).status_code == 403
    r = stack.api("POST", f"/meetings/{mid}/join", token=other["token"])
    assert r.status_code == 409, r.text    # not started yet: the join statement's refusal
    assert stack.sql("SELECT node_id IS NULL, node_epoch FROM meetings WHERE meeting_id = %s",
                     mid) == [["t", "0"]]
