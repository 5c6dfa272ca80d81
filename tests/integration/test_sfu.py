"""Media through the SFU (SPEC 7, docs/signaling.md "Media through the SFU"):
signald brokering a real Janus (Debian's, started by the test on loopback)
for the browsers' sockets. On loopback Janus gathers no ICE candidates, so
these tests drive the signaling (publish, answer, refusals, authority over
the rooms, Janus restarting); tests/e2e/sfu.test.mjs carries real media
between browsers in a network namespace."""
import asyncio
import time

import pytest

from conftest import Stack, wait_for
from janus import Janus, Listener, offer_sdp, sync
from test_signaling import Peer, Room, aio, enter, meeting_body, ok


@pytest.fixture(scope="module")
def janus(workdir):
    j = Janus(workdir)
    j.start()
    yield j
    j.stop()


@pytest.fixture(scope="module")
def sfu_stack(workdir, pg, janus):
    s = Stack(workdir, pg, janus.directive())
    s.start()
    yield s
    s.stop()


async def publish(peer):
    await peer.send({"type": "sfu-publish", "sdp": offer_sdp()})
    return await peer.until("sfu-answer", timeout=10)


@aio
async def test_mesh_without_media_server(stack):
    room = Room(stack, guests=0)
    p, joined = await enter(room, room.host)
    assert joined["media"] == "mesh"
    await p.send({"type": "sfu-publish", "sdp": offer_sdp()})
    m = await p.error("INVALID_MESSAGE")
    assert "mesh" in m["message"]
    await p.alive()
    await p.close()


@aio
async def test_bad_sfu_frames_are_refused_and_the_socket_stays(sfu_stack):
    room = Room(sfu_stack, guests=0)
    p, joined = await enter(room, room.host)
    assert joined["media"] == "sfu"
    for frame in ({"type": "sfu-publish"}, {"type": "sfu-publish", "sdp": 5},
                  {"type": "sfu-publish", "sdp": ""},
                  {"type": "sfu-ice", "target": "both", "candidate": None},
                  {"type": "sfu-ice", "target": "publisher", "candidate": "x"},
                  {"type": "sfu-subscribe-answer", "sdp": "v=0"},
                  {"type": "sfu-unpublish"}, {"type": "sfu-nonsense"}):
        await p.send(frame)
        await p.error("INVALID_MESSAGE")
    await p.alive()
    await p.close()


@aio
async def test_publish_gets_janus_answer_in_the_meeting_room(sfu_stack, janus):
    room = Room(sfu_stack, guests=1)
    p, _ = await enter(room, room.host)
    answer = await publish(p)
    assert answer["sdp"].startswith("v=0") and "m=audio" in answer["sdp"]
    assert "a=recvonly" in answer["sdp"]
    # The meeting's room exists at Janus, with the host's feed in it under their user_id.
    assert room.mid in janus.rooms()
    assert room.host["user_id"] in janus.participants(room.mid)
    # A candidate from the browser is accepted once the handle exists.
    await p.send({"type": "sfu-ice", "target": "publisher",
                  "candidate": {"candidate": "candidate:1 1 udp 2122260223 10.99.0.2 40000 "
                                "typ host", "sdpMid": "0", "sdpMLineIndex": 0}})
    await p.send({"type": "sfu-ice", "target": "publisher", "candidate": None})
    await p.send({"type": "sfu-unpublish"})
    await p.alive()
    await p.close()
    # The socket's session is gone, and its publisher with it.
    assert wait_for(lambda: room.host["user_id"] not in janus.participants(room.mid), 3)


@aio
async def test_removed_user_is_kicked_from_the_room_within_a_second(sfu_stack, janus):
    room = Room(sfu_stack, guests=1)
    guest = room.guests[0]
    ph, _ = await enter(room, room.host)
    pg_, _ = await enter(room, guest)
    await publish(ph)
    await publish(pg_)
    assert {room.host["user_id"], guest["user_id"]} <= set(janus.participants(room.mid))
    ok(sfu_stack.api("DELETE", f"/meetings/{room.mid}/participants/{guest['user_id']}",
                     token=room.host["token"]))
    t0 = time.monotonic()
    assert wait_for(lambda: guest["user_id"] not in janus.participants(room.mid), 1.0,
                    step=0.05)
    assert time.monotonic() - t0 <= 1.0
    assert room.host["user_id"] in janus.participants(room.mid)
    await ph.close()


@aio
async def test_meeting_ending_while_publishing_destroys_its_room(sfu_stack, janus):
    room = Room(sfu_stack, guests=0)
    p, _ = await enter(room, room.host)
    await publish(p)
    assert room.mid in janus.rooms()
    ok(sfu_stack.api("POST", f"/meetings/{room.mid}/end", token=room.host["token"]))
    frames, (code, _) = await p.closed()
    assert code == 4410
    assert wait_for(lambda: room.mid not in janus.rooms(), 2.0)


@aio
async def test_janus_down_is_refused_and_restart_brings_rooms_back(sfu_stack, janus):
    room = Room(sfu_stack, guests=1)
    ph, _ = await enter(room, room.host)
    pg_, _ = await enter(room, room.guests[0])
    await publish(ph)
    pids = sfu_stack.signald_pids()
    janus.kill()
    await asyncio.sleep(0.5)
    await ph.send({"type": "sfu-publish", "sdp": offer_sdp()})
    await ph.until("error", timeout=5)
    janus.start()
    # signald reconnects, makes the meeting's room again and tells the sockets.
    for p in (ph, pg_):
        await p.until("sfu-reset", timeout=10)
    assert wait_for(lambda: room.mid in janus.rooms(), 5)
    answer = await publish(pg_)
    assert answer["sdp"].startswith("v=0")
    assert room.guests[0]["user_id"] in janus.participants(room.mid)
    assert sfu_stack.signald_pids() == pids
    for p in (ph, pg_):
        await p.alive()
        await p.close()


@aio
async def test_audio_off_is_enforced_at_the_sfu(sfu_stack, janus):
    room = Room(sfu_stack, guests=0)
    p, _ = await enter(room, room.host)
    await publish(p)
    async with Listener(janus, room.mid) as room_events:
        await p.send({"type": "media-state", "audio_enabled": False, "video_enabled": True,
                      "screen_sharing": False})
        ev = await room_events.event("moderation")
        assert ev["id"] == room.host["user_id"] and ev["moderation"] == "muted"
        assert ev["mid"] == "0"     # the audio of offer_sdp()
        await p.send({"type": "media-state", "audio_enabled": True, "video_enabled": True,
                      "screen_sharing": False})
        ev = await room_events.event("moderation")
        assert ev["moderation"] == "unmuted"
    await p.close()


@pytest.mark.parametrize("line", [
    "MeetingMediaServer http://127.0.0.1:8188 {secret}",     # not ws://
    "MeetingMediaServer ws://127.0.0.1 {secret}",            # no port
    "MeetingMediaServer ws://127.0.0.1:8188 /nonexistent/janus.secret",
    "MeetingMediaServer ws://127.0.0.1:8188 {short}",        # fewer than 32 bytes
    "MeetingMediaServer ws://127.0.0.1:8188",                # no secret file
])
def test_configtest_names_a_bad_media_server(workdir, pg, line):
    from conftest import Stack
    from test_config import configtest
    s = Stack(workdir, pg)
    secret, short = s.state / "janus.secret", s.state / "short.secret"
    secret.write_text("j" * 48 + "\n")
    short.write_text("too-short\n")
    s.extra += "\n" + line.format(secret=secret, short=short) + "\n"
    s.render()
    r = configtest(s)
    assert r.returncode != 0
    assert "MeetingMediaServer" in r.stderr, r.stderr


@pytest.mark.parametrize("flags, named", [
    (["--media-server", "ws://127.0.0.1:8188"], "--media-secret-file"),
    (["--media-secret-file", "/etc/hostname"], "--media-server"),
    (["--media-server", "http://127.0.0.1:8188", "--media-secret-file", "/etc/hostname"],
     "--media-server"),
])
def test_signald_needs_both_media_flags(tmp_path, flags, named):
    import subprocess
    from conftest import SIGNALD
    secret = tmp_path / "secret"
    secret.write_text("s" * 48 + "\n")
    r = subprocess.run([SIGNALD, "--listen", "127.0.0.1:1", "--secret-file", str(secret),
                        "--issuer", "t", "--db", "dbname=none", *flags],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"signald: {named} "), r.stderr


@aio
async def test_a_newer_socket_publishes_in_place_of_the_replaced_one(sfu_stack, janus):
    room = Room(sfu_stack, guests=0)
    old, _ = await enter(room, room.host)
    await publish(old)
    new, _ = await enter(room, room.host)
    # At once, while the replaced socket's publisher may still be in the room.
    answer = await publish(new)
    assert answer["sdp"].startswith("v=0")
    frames, (code, _) = await old.closed()
    assert code == 4409
    assert room.host["user_id"] in janus.participants(room.mid)
    await new.alive()
    await new.close()


@aio
async def test_candidates_before_any_offer_are_kept_up_to_a_limit(sfu_stack):
    room = Room(sfu_stack, guests=0)
    p, _ = await enter(room, room.host)
    cand = {"candidate": "candidate:1 1 udp 2122260223 10.99.0.2 40000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0}
    for _ in range(64):
        await p.send({"type": "sfu-ice", "target": "subscriber", "candidate": cand})
    await p.quiet(0.5)
    await p.send({"type": "sfu-ice", "target": "subscriber", "candidate": cand})
    m = await p.error("INVALID_MESSAGE")
    assert "too many candidates" in m["message"]
    await p.alive()
    await p.close()


@aio
async def test_host_mute_request_is_enforced_at_the_sfu(sfu_stack, janus):
    room = Room(sfu_stack, guests=1)
    guest = room.guests[0]
    pg_, _ = await enter(room, guest)
    await publish(pg_)
    async with Listener(janus, room.mid) as room_events:
        ok(sfu_stack.api("POST", f"/meetings/{room.mid}/participants/{guest['user_id']}/mute",
                         token=room.host["token"]))
        ev = await room_events.event("moderation")
        assert (ev["id"], ev["mid"], ev["moderation"]) == (guest["user_id"], "0", "muted")
    await pg_.close()


@aio
async def test_mute_on_join_forwards_no_audio_until_unmuted(sfu_stack, janus):
    room = Room(sfu_stack, guests=1, settings={"mute_on_join": True})
    guest = room.guests[0]
    ph, _ = await enter(room, room.host)
    await publish(ph)
    async with Listener(janus, room.mid) as room_events:
        pg_, joined = await enter(room, guest)
        assert joined["audio_enabled"] is False
        await publish(pg_)
        ev = await room_events.event("moderation")
        assert (ev["id"], ev["moderation"]) == (guest["user_id"], "muted")
        await pg_.send({"type": "media-state", "audio_enabled": True, "video_enabled": True,
                        "screen_sharing": False})
        ev = await room_events.event("moderation")
        assert (ev["id"], ev["moderation"]) == (guest["user_id"], "unmuted")
    for p in (ph, pg_):
        await p.close()


@aio
async def test_screen_publication_follows_enable_screen_share(sfu_stack, janus):
    room = Room(sfu_stack, guests=1, settings={"enable_screen_share": False})
    guest = room.guests[0]
    ph, _ = await enter(room, room.host)
    pg_, _ = await enter(room, guest)
    await pg_.send({"type": "sfu-publish", "sdp": offer_sdp(), "screen_mid": "1"})
    await pg_.error("SCREEN_SHARE_DISABLED")
    assert guest["user_id"] not in janus.participants(room.mid)
    # A host may share; so may the guest once it is allowed.
    await ph.send({"type": "sfu-publish", "sdp": offer_sdp(), "screen_mid": "1"})
    await ph.until("sfu-answer", timeout=10)
    ok(sfu_stack.api("PUT", f"/meetings/{room.mid}", token=room.host["token"],
                     json={"settings": {"enable_screen_share": True}}))
    await pg_.until("settings-changed")
    await pg_.send({"type": "sfu-publish", "sdp": offer_sdp(), "screen_mid": "1"})
    await pg_.until("sfu-answer", timeout=10)
    await pg_.send({"type": "media-state", "audio_enabled": True, "video_enabled": True,
                    "screen_sharing": True})
    # Turned off while the guest shares: the SFU stops forwarding the screen.
    async with Listener(janus, room.mid) as room_events:
        ok(sfu_stack.api("PUT", f"/meetings/{room.mid}", token=room.host["token"],
                         json={"settings": {"enable_screen_share": False}}))
        ev = await room_events.event("moderation")
        assert (ev["id"], ev["mid"], ev["moderation"]) == (guest["user_id"], "1", "muted")
    await pg_.until("screen-share-stopped")
    for p in (ph, pg_):
        await p.close()


def max_publishers(janus, room):
    rooms = sync(janus.videoroom({"request": "list"}))["list"]
    return {r["room"]: r["max_publishers"] for r in rooms}.get(room)


@pytest.mark.parametrize("size", [7, 1000])
def test_room_is_made_at_start_sized_and_resized_by_max_participants_goes_at_end(
        sfu_stack, janus, size):
    host = sfu_stack.new_user(nickname="Host")
    mid = ok(sfu_stack.api("POST", "/meetings", token=host["token"],
                           json=meeting_body(max_participants=size)), 201)["meeting_id"]
    assert mid not in janus.rooms()
    ok(sfu_stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    # Nobody has connected: the start event alone makes the room.
    assert wait_for(lambda: mid in janus.rooms(), 2.0, step=0.05)
    assert max_publishers(janus, mid) == size
    # A new max_participants while it runs resizes the room.
    ok(sfu_stack.api("PUT", f"/meetings/{mid}", token=host["token"],
                     json={"max_participants": size - 1}))
    assert wait_for(lambda: max_publishers(janus, mid) == size - 1, 2.0, step=0.05)
    ok(sfu_stack.api("POST", f"/meetings/{mid}/end", token=host["token"]))
    assert wait_for(lambda: mid not in janus.rooms(), 2.0, step=0.05)


def test_janus_back_makes_ongoing_rooms_and_destroys_orphans(sfu_stack, janus):
    host = sfu_stack.new_user(nickname="Host")
    mid = ok(sfu_stack.api("POST", "/meetings", token=host["token"],
                           json=meeting_body(max_participants=9)), 201)["meeting_id"]
    ok(sfu_stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))
    assert wait_for(lambda: mid in janus.rooms(), 2.0, step=0.05)
    # An ongoing meeting that another node of a cluster holds: its room
    # lives on that node's Janus, not on this one.
    theirs = ok(sfu_stack.api("POST", "/meetings", token=host["token"],
                              json=meeting_body()), 201)["meeting_id"]
    ok(sfu_stack.api("POST", f"/meetings/{theirs}/start", token=host["token"]))
    # Silent and draining: no later start in this database is placed on it.
    sfu_stack.sql("INSERT INTO nodes (node_id, seen_at, draining) "
                  "VALUES ('elsewhere', now() - interval '1 hour', true) ON CONFLICT DO NOTHING")
    sfu_stack.sql("UPDATE meetings SET node_id = 'elsewhere' WHERE meeting_id = %s", theirs)
    pids = sfu_stack.signald_pids()
    janus.kill()
    janus.start()
    # A room no meeting stands behind, made before signald is back on Janus.
    orphan = 10 ** 9 + mid
    sync(janus.videoroom({"request": "create", "room": orphan}))
    # Back without anyone in the meeting: its room is made again, as large
    # as before; the orphan is destroyed, the other node's meeting not made.
    assert wait_for(lambda: mid in janus.rooms() and orphan not in janus.rooms(), 10)
    assert theirs not in janus.rooms()
    assert max_publishers(janus, mid) == 9
    assert sfu_stack.signald_pids() == pids
    ok(sfu_stack.api("POST", f"/meetings/{mid}/end", token=host["token"]))
    assert wait_for(lambda: mid not in janus.rooms(), 2.0, step=0.05)
