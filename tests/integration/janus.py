"""A private Janus (Debian's janus, VideoRoom over WebSocket) for the SFU tests:
its config rendered by scripts/stack.sh janus-render from conf/janus, its API
on a free loopback port, and a small client of that API to see what signald
made there (rooms, participants). Nothing is mocked: this is the real SFU."""
import asyncio
import concurrent.futures
import itertools
import json
import os
import signal
import subprocess
import time

import websockets

from conftest import STACK, free_port, run


class Janus:
    def __init__(self, base):
        self.dir = base / f"janus-{free_port()}"
        self.port = free_port()
        self.secret_file = self.dir / "api.secret"
        self.log = self.dir / "janus.log"
        self.proc = None
        self.dir.mkdir(parents=True)
        run(STACK, "janus-render", self.dir, self.port, self.secret_file)
        self.secret = self.secret_file.read_text().strip()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    def directive(self):
        return f"MeetingMediaServer {self.url} {self.secret_file}\n"

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            ["janus", "-F", str(self.dir), "-C", str(self.dir / "janus.jcfg"), "-L",
             str(self.log), "-N", "-o"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                sync(self.request({"janus": "info"}))
                return
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                time.sleep(0.1)
        raise RuntimeError("janus did not come up:\n" + self.log.read_text())

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def request(self, msg, ws=None):
        """One request on a fresh (or the given) socket; its final answer."""
        if ws is None:
            async with websockets.connect(self.url, subprotocols=["janus-protocol"],
                                          open_timeout=2, close_timeout=1) as ws:
                return await self.request(msg, ws)
        tx = f"test{next(_tx)}"
        await ws.send(json.dumps({**msg, "transaction": tx, "apisecret": self.secret}))
        deadline = time.monotonic() + 5
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            if m.get("transaction") == tx and m.get("janus") != "ack":
                return m

    async def videoroom(self, body):
        """A synchronous VideoRoom request on a session of the test's own."""
        async with websockets.connect(self.url, subprotocols=["janus-protocol"],
                                      open_timeout=2, close_timeout=1) as ws:
            s = (await self.request({"janus": "create"}, ws))["data"]["id"]
            h = (await self.request({"janus": "attach", "session_id": s,
                                     "plugin": "janus.plugin.videoroom"}, ws))["data"]["id"]
            r = await self.request({"janus": "message", "session_id": s, "handle_id": h,
                                    "body": body}, ws)
            await self.request({"janus": "destroy", "session_id": s}, ws)
            return r["plugindata"]["data"]

    def rooms(self):
        return {r["room"] for r in sync(self.videoroom({"request": "list"}))["list"]}

    def participants(self, room):
        d = sync(self.videoroom({"request": "listparticipants", "room": room}))
        return {p["id"]: p for p in d.get("participants", [])}


_tx = itertools.count(1)


def sync(coro):
    """Runs coro to its end in a thread of its own: the tests call these helpers
    from inside their own event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


# A WebRTC offer as a browser would send it (audio + video, sendonly). Janus
# answers it even on loopback, where it gathers no candidates: enough for the
# signaling, not for media (the browser test does media).
def offer_sdp():
    fp = ":".join(f"{b:02X}" for b in os.urandom(32))
    lines = [
        "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
        "a=group:BUNDLE 0 1", "a=msid-semantic: WMS s",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Qx7m", "a=ice-pwd:wK3b9f0d2m6Lz8p1yQ4s7t5v",
        "a=ice-options:trickle", f"a=fingerprint:sha-256 {fp}", "a=setup:actpass",
        "a=mid:0", "a=sendonly", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1", "a=msid:s a0", "a=ssrc:1111 cname:mm",
        "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Qx7m", "a=ice-pwd:wK3b9f0d2m6Lz8p1yQ4s7t5v",
        "a=ice-options:trickle", f"a=fingerprint:sha-256 {fp}", "a=setup:actpass",
        "a=mid:1", "a=sendonly", "a=rtcp-mux", "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli", "a=msid:s v0", "a=ssrc:2222 cname:mm",
    ]
    return "\r\n".join(lines) + "\r\n"


class Listener:
    """A session of the test's own joined to a room as a publisher (without
    media): it hears what Janus tells the room's participants."""

    def __init__(self, janus, room):
        self.janus = janus
        self.room = room

    async def __aenter__(self):
        j = self.janus
        self.ws = await websockets.connect(j.url, subprotocols=["janus-protocol"],
                                           open_timeout=2, close_timeout=1)
        s = (await j.request({"janus": "create"}, self.ws))["data"]["id"]
        h = (await j.request({"janus": "attach", "session_id": s,
                              "plugin": "janus.plugin.videoroom"}, self.ws))["data"]["id"]
        self.session = s
        r = await j.request({"janus": "message", "session_id": s, "handle_id": h,
                             "body": {"request": "join", "room": self.room,
                                      "ptype": "publisher", "id": 999999999}}, self.ws)
        assert r["plugindata"]["data"].get("videoroom") == "joined", r
        return self

    async def event(self, key, timeout=3.0):
        """The next VideoRoom event carrying key."""
        deadline = time.monotonic() + timeout
        while True:
            m = json.loads(await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic()))
            data = m.get("plugindata", {}).get("data", {})
            if key in data:
                return data

    async def __aexit__(self, *exc):
        await self.ws.send(json.dumps({"janus": "destroy", "session_id": self.session,
                                       "transaction": "bye", "apisecret": self.janus.secret}))
        await self.ws.close()
