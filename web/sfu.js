// Media through the SFU (docs/signaling.md, "Media through the SFU"): the
// browser side of signald's sfu-* frames, as a module the demo client (or any
// page) imports. One upstream peer connection carries this browser's camera
// and microphone to the server; one downstream connection, offered by the
// server, carries everyone else's, and is renegotiated as people come and go.
//
//   const sfu = new SfuSession((frame) => ws.send(JSON.stringify(frame)),
//                              { iceServers, onTrack, onGone });
//   ws.onmessage = (e) => sfu.handle(JSON.parse(e.data));
//   await sfu.publish(stream);          // after `joined` says "media": "sfu"
//
// onTrack(userId, track, stream) fires for each remote track; onGone(userId)
// when a user's streams leave the downstream connection; onState(state) when
// the downstream connection's state changes. sfu.streams maps a
// user_id to the MediaStream of their camera and microphone, sfu.screens to
// one of their screen and microphone (a stream the server marks `screen`).
// sfu.share(track) sends a screen beside the camera (its own m-line, named
// in sfu-publish's screen_mid so the server can apply the settings to it);
// sfu.unshare() stops sending it.

export class SfuSession {
  constructor(send, { iceServers = [], onTrack = () => {}, onGone = () => {},
    onState = () => {} } = {}) {
    this.send = send;
    this.config = { iceServers, bundlePolicy: 'max-bundle' };
    this.onTrack = onTrack;
    this.onGone = onGone;
    this.onState = onState;       // the downstream connection's state changed
    this.up = null;
    this.down = null;
    this.local = null;
    this.mids = new Map();        // downstream mid -> {user_id, kind, active}
    this.streams = new Map();     // user_id -> MediaStream (camera, microphone)
    this.screens = new Map();     // user_id -> MediaStream (screen, microphone)
    this.screen = null;           // the screen track we send, if any
    this.screenSender = null;
    this.queue = Promise.resolve();
    this.closed = false;          // after close(), queued frames and actions do nothing
  }

  // Sends the stream's tracks upstream (again, after sfu-reset), and the
  // screen while one is shared. A stream without tracks publishes nothing:
  // the downstream connection works all the same.
  async publish(stream) {
    this.local = stream;
    if (this.up) this.up.close();
    this.up = null;
    this.screenSender = null;
    if (!stream.getTracks().length && !this.screen) return;
    const pc = new RTCPeerConnection(this.config);
    this.up = pc;
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    if (this.screen) this.screenSender = pc.addTransceiver(this.screen, { direction: 'sendonly' }).sender;
    pc.onicecandidate = (e) => this.send({
      type: 'sfu-ice', target: 'publisher', candidate: e.candidate ? e.candidate.toJSON() : null,
    });
    await this.offer();
  }

  // A (new) offer of the upstream connection, naming the screen's m-line.
  async offer() {
    const offer = await this.up.createOffer();
    await this.up.setLocalDescription(offer);
    const frame = { type: 'sfu-publish', sdp: offer.sdp };
    const t = this.screen && this.up.getTransceivers().find((x) => x.sender === this.screenSender);
    if (t?.mid) frame.screen_mid = t.mid;
    this.send(frame);
  }

  // Starts sending a screen: the first time a new m-line (renegotiated), then
  // the same one again. Every start goes through sfu-publish, so the server
  // decides (SCREEN_SHARE_DISABLED) and forwards it again after a stop.
  share(track) {
    return this.inTurn('share', async () => {
      this.screen = track;
      if (!this.up) return this.publish(this.local || new MediaStream());
      if (this.screenSender) await this.screenSender.replaceTrack(track);
      else this.screenSender = this.up.addTransceiver(track, { direction: 'sendonly' }).sender;
      return this.offer();
    });
  }

  // Stops sending the screen (the m-line stays, silent, for the next share).
  unshare() {
    return this.inTurn('unshare', async () => {
      this.screen = null;
      if (this.screenSender) await this.screenSender.replaceTrack(null);
    });
  }

  // Publishes the stream, or starts over with it when connections exist
  // (a new signaling socket: the server's media session went with the old
  // one).
  start(stream) {
    return this.inTurn('publish', () => {
      this.local = stream;
      return this.restart();
    });
  }

  // Runs fn after the frames and actions before it (an answer must not meet
  // a newer offer than its own), unless the session closed meanwhile (a
  // queued sfu-offer would open a connection nobody closes).
  inTurn(what, fn) {
    this.queue = this.queue.then(() => (this.closed ? undefined : fn()))
      .catch((err) => console.error(`sfu: ${what}: ${err}`));
    return this.queue;
  }

  // Starts both connections again (sfu-reset: the server restarted).
  async restart() {
    this.down?.close();
    this.down = null;
    this.forgetAll();
    if (this.local) await this.publish(this.local);
  }

  unpublish() {
    if (!this.up) return;
    this.send({ type: 'sfu-unpublish' });
    this.up.close();
    this.up = null;
  }

  close() {
    this.closed = true;
    this.up?.close();
    this.down?.close();
    this.up = this.down = null;
  }

  // A frame from the signaling socket; returns whether it was an SFU frame.
  // Frames are handled one after another, as they came.
  handle(frame) {
    if (!frame || typeof frame.type !== 'string' || !frame.type.startsWith('sfu-')) return false;
    this.inTurn(frame.type, () => this.apply(frame));
    return true;
  }

  async apply(frame) {
    switch (frame.type) {
      case 'sfu-answer':
        if (this.up) await this.up.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
        break;
      case 'sfu-offer':
        await this.subscribe(frame);
        break;
      case 'sfu-ice': {
        const pc = frame.target === 'publisher' ? this.up : this.down;
        if (pc) await pc.addIceCandidate(frame.candidate || null);
        break;
      }
      case 'sfu-reset':
        // The server lost its media state: start both connections again.
        await this.restart();
        break;
      default:
        break;
    }
  }

  downstream() {
    const pc = new RTCPeerConnection(this.config);
    pc.ontrack = (e) => this.track(e.transceiver.mid, e.track);
    pc.onconnectionstatechange = () => this.onState(pc.connectionState);
    pc.onicecandidate = (e) => this.send({
      type: 'sfu-ice', target: 'subscriber', candidate: e.candidate ? e.candidate.toJSON() : null,
    });
    return pc;
  }

  async subscribe(frame) {
    if (!this.down) this.down = this.downstream();
    const before = this.activeUsers();
    this.mids.clear();
    for (const s of frame.streams || []) this.mids.set(String(s.mid), s);
    await this.down.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
    const answer = await this.down.createAnswer();
    await this.down.setLocalDescription(answer);
    this.send({ type: 'sfu-subscribe-answer', sdp: answer.sdp });
    const now = this.activeUsers();
    for (const userId of before) if (!now.has(userId)) this.gone(userId);
    // A transceiver reused for another user fires no new track event.
    for (const t of this.down.getTransceivers()) {
      const s = this.mids.get(String(t.mid));
      if (s && s.active && t.receiver.track) this.track(t.mid, t.receiver.track);
    }
  }

  // The users whose streams the downstream offer carries now.
  activeUsers() {
    return new Set([...this.mids.values()].filter((s) => s.active).map((s) => s.user_id));
  }

  // A remote track into its user's streams: the camera into `streams`, a
  // screen into `screens`, the microphone into both (a tile plays either).
  track(mid, track) {
    const s = this.mids.get(String(mid));
    if (!s) return;
    const kind = s.screen ? 'screen' : track.kind;
    const targets = kind === 'audio' ? [this.streams, this.screens]
      : [kind === 'screen' ? this.screens : this.streams];
    let added = false;
    for (const map of targets) {
      let stream = map.get(s.user_id);
      if (!stream) {
        stream = new MediaStream();
        map.set(s.user_id, stream);
        if (map === this.screens) this.streams.get(s.user_id)?.getAudioTracks()
          .forEach((a) => stream.addTrack(a));
      }
      if (stream.getTracks().includes(track)) continue;
      for (const old of stream.getTracks()) if (old.kind === track.kind) stream.removeTrack(old);
      stream.addTrack(track);
      added = true;
    }
    if (added) this.onTrack(s.user_id, track, this.streams.get(s.user_id) || this.screens.get(s.user_id));
  }

  gone(userId) {
    this.streams.delete(userId);
    this.screens.delete(userId);
    this.onGone(userId);
  }

  forgetAll() {
    for (const userId of [...this.streams.keys()]) this.gone(userId);
    this.mids.clear();
  }

  // The downstream connection's inbound-rtp reports, each with the stream
  // ({user_id, kind, active, screen}) its mid carries.
  async inbound() {
    if (!this.down) return [];
    const out = [];
    (await this.down.getStats()).forEach((r) => {
      const s = r.type === 'inbound-rtp' && r.mid !== undefined && this.mids.get(String(r.mid));
      if (s) out.push([s, r]);
    });
    return out;
  }

  // Per remote user, what the downstream connection receives: {user_id:
  // {video: {framesDecoded}, audio: {packetsReceived, audioLevel}}}.
  async receiving() {
    const out = {};
    for (const [s, r] of await this.inbound()) {
      const entry = out[s.user_id] || (out[s.user_id] = {});
      entry[r.kind] = r.kind === 'video'
        ? { framesDecoded: r.framesDecoded || 0 }
        : { packetsReceived: r.packetsReceived || 0, audioLevel: r.audioLevel || 0 };
    }
    return out;
  }

  // Per remote user, the sums the mesh's stats() gives per peer connection
  // (web/js/mesh.js), so a page reads both the same way.
  async stats() {
    const out = {};
    const state = this.down?.connectionState;
    for (const [s, r] of await this.inbound()) {
      if (!s.active) continue;
      const e = out[s.user_id] || (out[s.user_id] = { connectionState: state, framesDecoded: 0,
        bytesReceived: 0, screenFramesDecoded: 0, audioPacketsReceived: 0, audioEnergy: 0,
        audioLevel: 0 });
      if (r.kind === 'video' && s.screen) {
        e.screenFramesDecoded += r.framesDecoded || 0;
      } else if (r.kind === 'video') {
        e.framesDecoded += r.framesDecoded || 0;
        e.bytesReceived += r.bytesReceived || 0;
      } else {
        e.audioPacketsReceived += r.packetsReceived || 0;
        e.audioEnergy += r.totalAudioEnergy || 0;
        e.audioLevel = Math.max(e.audioLevel, r.audioLevel || 0);
      }
    }
    return out;
  }
}
