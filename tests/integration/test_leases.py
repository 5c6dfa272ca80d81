"""Online is a lease (SPEC.md 3): a live signaling socket renews its seat in
batches; without one, the seat runs out by itself."""
import asyncio
import time

import websockets

from conftest import ROOT
from test_signaling import Room, aio, enter

# signald renewing every second, so the test need not wait half a minute.
FAST_RENEW = (f'MeetingSignalingDaemon "{ROOT}/build/signald" --listen 127.0.0.1:%d '
              f'--db "host=127.0.0.1 port=%d dbname=meeting user=meeting" --renew-interval 1')
# A silent socket closed after 6 s, which is more than its 5 s of grace.
SHORT_IDLE = (f'MeetingSignalingDaemon "{ROOT}/build/signald" --listen 127.0.0.1:%d '
              f'--db "host=127.0.0.1 port=%d dbname=meeting user=meeting" '
              f'--ping-interval 1 --idle-timeout 6 --grace 5')


def signald_started_with(make_stack, daemon_line):
    """A started stack whose MeetingSignalingDaemon line is daemon_line, filled
    in with the stack's own signald and PostgreSQL ports."""
    s = make_stack(start=False)
    s.extra += daemon_line % (s.sigport, s.pg.port)
    s.render()
    s.start()
    return s


def lease_seconds(stack, mid, uid):
    (left,), = stack.sql("SELECT extract(epoch FROM lease_until - now()) FROM participants "
                         "WHERE meeting_id = %s AND user_id = %s", mid, uid)
    return float(left) if left else None


@aio
async def test_a_live_socket_renews_its_seat(make_stack):
    s = signald_started_with(make_stack, FAST_RENEW)
    room = Room(s, guests=1)
    guest = room.guests[0]
    async with websockets.connect(room.url(guest)) as ws:
        assert (await ws.recv()) and True
        s.sql("UPDATE participants SET lease_until = now() + interval '2 seconds' "
              "WHERE meeting_id = %s AND user_id = %s", room.mid, guest["user_id"])
        await asyncio.sleep(3.5)
        assert lease_seconds(s, room.mid, guest["user_id"]) > 60
        assert room.status(guest) == "online"


def test_a_join_without_a_socket_runs_out(stack):
    room = Room(stack, guests=1)
    guest = room.guests[0]
    assert room.status(guest) == "online"
    assert 80 <= lease_seconds(stack, room.mid, guest["user_id"]) <= 90
    stack.sql("UPDATE participants SET lease_until = now() - interval '1 second' "
              "WHERE meeting_id = %s AND user_id = %s", room.mid, guest["user_id"])
    assert room.status(guest) == "offline"


@aio
async def test_a_socket_silent_past_its_grace_gives_the_seat_back_when_closed(make_stack):
    """The grace period counts from the last sign of life: a client that went
    silent for longer than the grace has none left when signald closes it."""
    s = signald_started_with(make_stack, SHORT_IDLE)
    room = Room(s, guests=1)
    guest = room.guests[0]
    ph, _ = await enter(room, room.host)
    pg, _ = await enter(room, guest)
    await ph.until("user-joined")
    pg.ws.transport.pause_reading()     # no pongs, no frames: silent
    silent = time.monotonic()
    m = await ph.until("user-left", timeout=12)
    waited = time.monotonic() - silent
    assert m == {"type": "user-left", "meeting_id": room.mid, "user_id": guest["user_id"]}
    assert 5 <= waited <= 8.5, waited   # at the close (6 s), not 5 s of grace later
    assert room.status(guest) == "offline"
    pg.ws.transport.abort()
    await ph.close()
