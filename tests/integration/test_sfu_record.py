"""Server recording on the SFU (SPEC 7, docs/recordings.md "The hook to the
SFU"): signald turns the meeting's VideoRoom recording on into the
recording's raw folder at recording/start, off at the stop, and on again
when the room is made anew (Janus restarted). What the room does is read
from the real Janus (its VideoRoom `list` says `record` and `rec_dir`); on
loopback no media flows, so the .mjr files themselves are the browser
test's (tests/e2e/sfu-record.test.mjs)."""
import asyncio

import pytest

from conftest import Stack, wait_for
from janus import sync
from test_sfu import janus, publish  # noqa: F401 (janus: the module's Janus fixture)
from test_signaling import Room, aio, enter, ok

EXTRA = "MeetingServerRecording On\nMeetingRecordingMinFree 0\n"


@pytest.fixture(scope="module")
def rec_sfu_stack(workdir, pg, janus):
    s = Stack(workdir, pg, janus.directive() + EXTRA)
    s.start()
    yield s
    s.stop()


def room_recording(janus, mid):
    """(record, rec_dir) of the meeting's VideoRoom at Janus, or None."""
    rooms = sync(janus.videoroom({"request": "list"}))["list"]
    r = next((r for r in rooms if r["room"] == mid), None)
    return (r["record"], r.get("rec_dir")) if r else None


def start(stack, room):
    d = ok(stack.api("POST", f"/meetings/{room.mid}/recording/start",
                     token=room.host["token"]))
    return d["recording_id"], str(stack.state / "recordings" / f"{d['recording_id']}.raw")


def stop(stack, room):
    ok(stack.api("POST", f"/meetings/{room.mid}/recording/stop", token=room.host["token"]))


def records_into(janus, mid, folder, timeout=5):
    assert wait_for(lambda: room_recording(janus, mid) == (True, folder), timeout), \
        room_recording(janus, mid)


def stop_and_see_it_off(stack, room, janus, timeout=5):
    stop(stack, room)
    assert wait_for(lambda: room_recording(janus, room.mid)[0] is False, timeout)


async def recording_room(stack, janus):
    """A meeting whose host publishes, recorded: Janus records into its folder."""
    room = Room(stack, guests=0, settings={"enable_recording": True})
    p, _ = await enter(room, room.host)
    await publish(p)
    rid, folder = start(stack, room)
    records_into(janus, room.mid, folder)
    return room, p, rid, folder


@aio
async def test_start_records_the_room_into_the_raw_folder_and_stop_ends_it(rec_sfu_stack,
                                                                        janus):
    room = Room(rec_sfu_stack, guests=0, settings={"enable_recording": True})
    p, _ = await enter(room, room.host)
    await publish(p)
    assert room_recording(janus, room.mid)[0] is False
    _, folder = start(rec_sfu_stack, room)
    records_into(janus, room.mid, folder)
    stop_and_see_it_off(rec_sfu_stack, room, janus)
    # A second recording of the same meeting goes into its own folder.
    _, folder2 = start(rec_sfu_stack, room)
    assert folder2 != folder
    records_into(janus, room.mid, folder2)
    stop_and_see_it_off(rec_sfu_stack, room, janus)
    await p.close()


@aio
async def test_a_recording_started_before_anyone_came_records_who_comes(rec_sfu_stack,
                                                                        janus):
    room = Room(rec_sfu_stack, guests=0, settings={"enable_recording": True})
    # Nobody is here yet: the meeting's room (made at its start) records already.
    _, folder = start(rec_sfu_stack, room)
    records_into(janus, room.mid, folder)
    p, _ = await enter(room, room.host)
    await publish(p)
    records_into(janus, room.mid, folder)
    stop_and_see_it_off(rec_sfu_stack, room, janus)
    await p.close()


@aio
async def test_janus_restarted_mid_recording_records_again_into_the_same_folder(
        rec_sfu_stack, janus):
    room, p, _, folder = await recording_room(rec_sfu_stack, janus)
    janus.kill()
    janus.start()
    await p.until("sfu-reset", timeout=10)
    records_into(janus, room.mid, folder, 10)
    stop_and_see_it_off(rec_sfu_stack, room, janus)
    await p.close()


@aio
async def test_a_stop_missed_by_signald_is_caught_up_from_the_table(rec_sfu_stack, janus):
    """The recording stops behind signald's back (no event reaches it): the
    next check of its rooms against the table turns Janus's recording off."""
    room, p, rid, _ = await recording_room(rec_sfu_stack, janus)
    rec_sfu_stack.sql("UPDATE recordings SET status = 'failed', reason = 'test'"
                      " WHERE recording_id = %s", rid)
    assert wait_for(lambda: room_recording(janus, room.mid)[0] is False, 15)
    await p.close()


@aio
async def test_meeting_end_stops_the_recording_and_the_room(rec_sfu_stack, janus):
    room, p, rid, _ = await recording_room(rec_sfu_stack, janus)
    ok(rec_sfu_stack.api("POST", f"/meetings/{room.mid}/end", token=room.host["token"]))
    assert wait_for(lambda: room_recording(janus, room.mid) is None, 5)
    status = rec_sfu_stack.sql("SELECT status FROM recordings WHERE recording_id = %s", rid)
    assert status[0][0] in ("processing", "failed", "completed")
    await p.closed()
