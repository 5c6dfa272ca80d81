"""Settings that act (SPEC.md 6), besides the waiting room (test_waiting.py):
joined carries the settings, a PUT reaches the room as settings-changed,
mute_on_join and the mute request, and enable_screen_share. Real httpd,
PostgreSQL and signald, through the REST API and /ws/signaling."""
import time

from envelopes import assert_error
from test_signaling import Room, aio, enter, ok, profile

DEFAULTS = {"enable_recording": False, "enable_chat": True, "enable_screen_share": True,
            "enable_waiting_room": False, "mute_on_join": False}


def media(room, user, audio, video=True, screen=False):
    return {"type": "media-state", "meeting_id": room.mid, "user_id": user["user_id"],
            "audio_enabled": audio, "video_enabled": video, "screen_sharing": screen}


def put_settings(room, **settings):
    ok(room.stack.api("PUT", f"/meetings/{room.mid}", token=room.host["token"],
                      json={"settings": settings}))


def mute(room, user, token=None):
    return room.stack.api("POST", f"/meetings/{room.mid}/participants/{user['user_id']}/mute",
                          token=token or room.host["token"])


# -- joined and settings-changed ----------------------------------------------

@aio
async def test_joined_carries_the_settings_and_the_media_path(stack):
    room = Room(stack, guests=1, settings={"enable_chat": False, "enable_recording": True})
    _, m = await enter(room, room.guests[0])
    assert m["settings"] == {**DEFAULTS, "enable_chat": False, "enable_recording": True}
    assert m["media"] == "mesh" and m["audio_enabled"] is True


@aio
async def test_a_put_reaches_the_room_within_a_second_with_all_five(stack):
    room = Room(stack, guests=1)
    ph, _ = await enter(room, room.host)
    pg, _ = await enter(room, room.guests[0])
    await ph.until("user-joined")
    t0 = time.monotonic()
    put_settings(room, enable_chat=False, mute_on_join=True)
    want = {"type": "settings-changed", "meeting_id": room.mid,
            "settings": {**DEFAULTS, "enable_chat": False, "mute_on_join": True}}
    for p in (ph, pg):
        assert await p.recv(1.0) == want
    assert time.monotonic() - t0 < 1.0 + 0.5   # the PUT's own round trip included
    # A later joiner gets the new settings in joined.
    late = stack.new_user()
    room.admit(late)
    _, m = await enter(room, late)
    assert m["settings"] == want["settings"]
    await pg.until("user-joined")
    assert await pg.recv() == media(room, late, False)     # mute_on_join is on now
    # A PUT that changes no setting (or not the settings) sends nothing.
    put_settings(room, enable_chat=False)
    ok(stack.api("PUT", f"/meetings/{room.mid}", token=room.host["token"],
                 json={"title": "Renamed"}))
    await pg.quiet(0.7)


def test_a_scheduled_meeting_has_no_room_to_tell(stack):
    host = stack.new_user()
    mid = ok(stack.api("POST", "/meetings", token=host["token"], json={
        "title": "Later", "start_time": "2030-05-01T10:00:00Z",
        "end_time": "2030-05-01T11:00:00Z", "max_participants": 5,
        "meeting_type": "video"}), 201)["meeting_id"]
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"],
                  json={"settings": {"enable_screen_share": False}})
    assert r.status_code == 200, r.text
    d = ok(stack.api("GET", f"/meetings/{mid}", token=host["token"]))
    assert d["settings"]["enable_screen_share"] is False


# -- mute_on_join ---------------------------------------------------------------

@aio
async def test_mute_on_join_mutes_participants_not_hosts_or_moderators(stack):
    room = Room(stack, guests=1, settings={"mute_on_join": True})
    guest = room.guests[0]
    mod = stack.new_user()
    room.add(mod, "moderator")
    room.join(mod)
    ph, m = await enter(room, room.host)
    assert m["audio_enabled"] is True
    pm, m = await enter(room, mod)
    assert m["audio_enabled"] is True
    # The host hears the moderator join, and no media-state for them.
    assert (await ph.recv())["type"] == "user-joined"
    await ph.quiet(0.3)
    pg, m = await enter(room, guest)
    assert m["audio_enabled"] is False
    for p in (ph, pm):
        assert await p.recv() == {"type": "user-joined", "meeting_id": room.mid,
                                  **profile(guest, "participant")}
        assert await p.recv() == media(room, guest, False)
    # Unmuting is the guest's own media-state.
    await pg.send({"type": "media-state", "audio_enabled": True, "video_enabled": True,
                   "screen_sharing": False})
    assert await ph.recv() == media(room, guest, True)
    # A reconnect within the grace period is silent and keeps the state.
    await pg.close()
    pg, m = await enter(room, guest)
    assert m["audio_enabled"] is True
    await ph.quiet(0.5)


@aio
async def test_without_mute_on_join_a_newcomer_starts_unmuted(stack):
    room = Room(stack, guests=1)
    ph, _ = await enter(room, room.host)
    pg, m = await enter(room, room.guests[0])
    assert m["audio_enabled"] is True
    assert (await ph.recv())["type"] == "user-joined"
    await ph.quiet(0.5)


@aio
async def test_turning_mute_on_join_on_mutes_later_joiners_only(stack):
    room = Room(stack, guests=2)
    g1, g2 = room.guests
    p1, m = await enter(room, g1)
    assert m["audio_enabled"] is True
    put_settings(room, mute_on_join=True)
    assert (await p1.until("settings-changed"))["settings"]["mute_on_join"] is True
    _, m = await enter(room, g2)
    assert m["audio_enabled"] is False


# -- the mute request -------------------------------------------------------------

@aio
async def test_mute_request_reaches_the_target_and_the_room(stack):
    room = Room(stack, guests=2)
    g1, g2 = room.guests
    ph, _ = await enter(room, room.host)
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await p1.send({"type": "media-state", "audio_enabled": True, "video_enabled": False,
                   "screen_sharing": False})
    for p in (ph, p2):
        assert await p.until("media-state") == media(room, g1, True, video=False)
    r = mute(room, g1)
    assert r.status_code == 200 and r.json() == {"code": 200, "message": "Participant muted"}
    assert await p1.until("mute-requested") == {
        "type": "mute-requested", "meeting_id": room.mid, "by_user_id": room.host["user_id"]}
    # The others: audio off, the rest of the last state kept.
    for p in (ph, p2):
        assert await p.until("media-state") == media(room, g1, False, video=False)
    await p1.quiet(0.5)


def test_mute_rules(stack):
    room = Room(stack, guests=1)
    guest = room.guests[0]
    mod, mod2, cohost, stranger = (stack.new_user() for _ in range(4))
    room.add(mod, "moderator")
    room.add(mod2, "moderator")
    room.add(cohost, "host")
    ok(mute(room, guest))
    ok(mute(room, guest, mod["token"]))
    ok(mute(room, mod2, mod["token"]))            # moderators may mute moderators
    ok(mute(room, cohost))                        # hosts may mute hosts
    assert_error(mute(room, cohost, mod["token"]), 403, "forbidden")
    assert_error(mute(room, room.host, mod["token"]), 403, "forbidden")
    assert_error(mute(room, mod, guest["token"]), 403, "forbidden")
    assert_error(mute(room, guest, stranger["token"]), 403, "forbidden")
    # 404: not a current member (after the caller's 403, SPEC.md 1).
    assert_error(mute(room, stranger), 404, "not_found")
    assert_error(mute(room, stranger, guest["token"]), 403, "forbidden")
    r = stack.api("POST", "/meetings/999999999/participants/1/mute", token=room.host["token"])
    assert_error(r, 404, "not_found")
    # 409 once the meeting is over; a role rule still comes first.
    ok(stack.api("POST", f"/meetings/{room.mid}/end", token=room.host["token"]))
    assert_error(mute(room, guest), 409, "conflict")
    assert_error(mute(room, room.host, mod["token"]), 403, "forbidden")


# -- enable_screen_share ------------------------------------------------------------

SHARE = {"type": "media-state", "audio_enabled": True, "video_enabled": True,
         "screen_sharing": True}


@aio
async def test_screen_share_off_refuses_participants_not_hosts_or_moderators(stack):
    room = Room(stack, guests=1, settings={"enable_screen_share": False})
    guest = room.guests[0]
    mod = stack.new_user()
    room.add(mod, "moderator")
    room.join(mod)
    ph, m = await enter(room, room.host)
    assert m["settings"]["enable_screen_share"] is False
    pm, _ = await enter(room, mod)
    pg, _ = await enter(room, guest)
    await ph.until("user-joined")
    await ph.until("user-joined")
    await pm.until("user-joined")
    await pg.send(SHARE)
    await pg.error("SCREEN_SHARE_DISABLED")
    await ph.quiet(0.5)                     # not passed on
    await pg.alive()                        # still open
    # Not sharing is fine.
    await pg.send({**SHARE, "screen_sharing": False})
    assert await ph.recv() == media(room, guest, True)
    for sharer, p, other in ((room.host, ph, pg), (mod, pm, pg)):
        await p.send(SHARE)
        assert await other.until("media-state") == media(room, sharer, True, screen=True)


@aio
async def test_turning_screen_share_off_stops_a_participants_share(stack):
    room = Room(stack, guests=2)
    g1, g2 = room.guests
    ph, _ = await enter(room, room.host)
    p1, _ = await enter(room, g1)
    p2, _ = await enter(room, g2)
    await p1.send(SHARE)
    await ph.send(SHARE)
    got = [await p2.until("media-state") for _ in range(2)]
    assert media(room, g1, True, screen=True) in got, got
    assert media(room, room.host, True, screen=True) in got, got
    put_settings(room, enable_screen_share=False)
    await p1.until("settings-changed")
    assert await p1.recv() == {"type": "screen-share-stopped", "meeting_id": room.mid}
    await p2.until("settings-changed")
    assert await p2.recv() == media(room, g1, True, screen=False)
    # The host's share goes on: nothing about it.
    await p2.quiet(0.5)
    # The share cannot start again.
    await p1.send(SHARE)
    await p1.error("SCREEN_SHARE_DISABLED")
    # Turned back on, it can.
    put_settings(room, enable_screen_share=True)
    await p1.until("settings-changed")
    await p1.send(SHARE)
    assert await p2.until("media-state") == media(room, g1, True, screen=True)


@aio
async def test_a_sharing_moderator_made_participant_stops_sharing(stack):
    room = Room(stack, guests=1, settings={"enable_screen_share": False})
    guest = room.guests[0]
    ok(stack.api("PUT", f"/meetings/{room.mid}/participants/{guest['user_id']}/role",
                 token=room.host["token"], json={"role": "moderator"}))
    ph, _ = await enter(room, room.host)
    pg, _ = await enter(room, guest)
    await pg.send(SHARE)
    assert await ph.until("media-state") == media(room, guest, True, screen=True)
    ok(stack.api("PUT", f"/meetings/{room.mid}/participants/{guest['user_id']}/role",
                 token=room.host["token"], json={"role": "participant"}))
    assert (await pg.until("screen-share-stopped"))["type"] == "screen-share-stopped"
    assert await ph.until("media-state") == media(room, guest, True, screen=False)
