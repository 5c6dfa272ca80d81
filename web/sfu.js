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
// when a user's streams leave the downstream connection. sfu.streams maps a
// user_id to the MediaStream of their tracks.

export class SfuSession {
  constructor(send, { iceServers = [], onTrack = () => {}, onGone = () => {} } = {}) {
    this.send = send;
    this.config = { iceServers, bundlePolicy: 'max-bundle' };
    this.onTrack = onTrack;
    this.onGone = onGone;
    this.up = null;
    this.down = null;
    this.local = null;
    this.mids = new Map();        // downstream mid -> {user_id, kind, active}
    this.streams = new Map();     // user_id -> MediaStream
    this.queue = Promise.resolve();
  }

  // Sends the stream's tracks upstream (again, after sfu-reset).
  async publish(stream) {
    this.local = stream;
    if (this.up) this.up.close();
    const pc = new RTCPeerConnection(this.config);
    this.up = pc;
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    pc.onicecandidate = (e) => this.send({
      type: 'sfu-ice', target: 'publisher', candidate: e.candidate ? e.candidate.toJSON() : null,
    });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({ type: 'sfu-publish', sdp: offer.sdp });
  }

  unpublish() {
    if (!this.up) return;
    this.send({ type: 'sfu-unpublish' });
    this.up.close();
    this.up = null;
  }

  close() {
    this.up?.close();
    this.down?.close();
    this.up = this.down = null;
  }

  // A frame from the signaling socket; returns whether it was an SFU frame.
  // Frames are handled one after another, as they came.
  handle(frame) {
    if (!frame || typeof frame.type !== 'string' || !frame.type.startsWith('sfu-')) return false;
    this.queue = this.queue.then(() => this.apply(frame)).catch((err) => {
      console.error(`sfu: ${frame.type}: ${err}`);
    });
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
        this.down?.close();
        this.down = null;
        this.forgetAll();
        if (this.local) await this.publish(this.local);
        break;
      default:
        break;
    }
  }

  downstream() {
    const pc = new RTCPeerConnection(this.config);
    pc.ontrack = (e) => this.track(e.transceiver.mid, e.track);
    pc.onicecandidate = (e) => this.send({
      type: 'sfu-ice', target: 'subscriber', candidate: e.candidate ? e.candidate.toJSON() : null,
    });
    return pc;
  }

  async subscribe(frame) {
    if (!this.down) this.down = this.downstream();
    const before = new Set([...this.mids.values()].filter((s) => s.active).map((s) => s.user_id));
    this.mids.clear();
    for (const s of frame.streams || []) this.mids.set(String(s.mid), s);
    await this.down.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
    const answer = await this.down.createAnswer();
    await this.down.setLocalDescription(answer);
    this.send({ type: 'sfu-subscribe-answer', sdp: answer.sdp });
    const now = new Set([...this.mids.values()].filter((s) => s.active).map((s) => s.user_id));
    for (const userId of before) if (!now.has(userId)) this.gone(userId);
    // A transceiver reused for another user fires no new track event.
    for (const t of this.down.getTransceivers()) {
      const s = this.mids.get(String(t.mid));
      if (s && s.active && t.receiver.track) this.track(t.mid, t.receiver.track);
    }
  }

  track(mid, track) {
    const s = this.mids.get(String(mid));
    if (!s) return;
    let stream = this.streams.get(s.user_id);
    if (!stream) {
      stream = new MediaStream();
      this.streams.set(s.user_id, stream);
    }
    if (stream.getTracks().includes(track)) return;
    for (const old of stream.getTracks()) if (old.kind === track.kind) stream.removeTrack(old);
    stream.addTrack(track);
    this.onTrack(s.user_id, track, stream);
  }

  gone(userId) {
    this.streams.delete(userId);
    this.onGone(userId);
  }

  forgetAll() {
    for (const userId of [...this.streams.keys()]) this.gone(userId);
    this.mids.clear();
  }

  // Per remote user, what the downstream connection receives: {user_id:
  // {video: {framesDecoded}, audio: {packetsReceived, audioLevel}}}.
  async receiving() {
    const out = {};
    if (!this.down) return out;
    const stats = await this.down.getStats();
    stats.forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.mid === undefined) return;
      const s = this.mids.get(String(r.mid));
      if (!s) return;
      const entry = out[s.user_id] || (out[s.user_id] = {});
      entry[r.kind] = r.kind === 'video'
        ? { framesDecoded: r.framesDecoded || 0 }
        : { packetsReceived: r.packetsReceived || 0, audioLevel: r.audioLevel || 0 };
    });
    return out;
  }
}
