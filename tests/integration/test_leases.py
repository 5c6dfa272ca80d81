"""Online is a lease (SPEC.md 3): a live signaling socket renews its seat in
batches; without one, the seat runs out by itself."""
import asyncio
import time

import websockets

from conftest import ROOT
from test_signaling import Room, aio

# signald renewing every second, so the test need not wait half a minute.
FAST_RENEW = (f'MeetingSignalingDaemon "{ROOT}/build/signald" --listen 127.0.0.1:%d '
              f'--db "host=127.0.0.1 port=%d dbname=meeting user=meeting" --renew-interval 1')


def lease_seconds(stack, mid, uid):
    (left,), = stack.sql("SELECT extract(epoch FROM lease_until - now()) FROM participants "
                         "WHERE meeting_id = %s AND user_id = %s", mid, uid)
    return float(left) if left else None


@aio
async def test_a_live_socket_renews_its_seat(make_stack):
    s = make_stack(start=False)
    s.extra += FAST_RENEW % (s.sigport, s.pg.port)
    s.render()
    s.start()
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
