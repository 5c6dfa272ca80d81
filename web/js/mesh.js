// The mesh (docs/signaling.md, "Setting up calls"): one RTCPeerConnection
// per other person. The newcomer offers to everyone listed in `joined`; the
// others make a connection on `user-joined` and wait for its offer, so every
// pair has exactly one offerer. Media never passes through the server.

const FAILED = ['failed', 'closed'];

export class Mesh {
  constructor(send, onChange) {
    this.send = send;              // (frame) => void, over signaling
    this.onChange = onChange;      // a connection's state or streams changed
    this.peers = new Map();        // user_id -> {pc, pending, stream, videoSender}
    this.iceServers = [];
    this.stream = new MediaStream();   // the microphone (and camera) we send
    this.video = null;             // the video track we send: camera, screen or none
  }

  peerFor(userId) {
    let peer = this.peers.get(userId);
    if (peer && !FAILED.includes(peer.pc.connectionState)) return peer;
    if (peer) this.closePeer(userId);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    peer = { pc, pending: [], stream: null, videoSender: null };
    this.peers.set(userId, peer);
    for (const t of this.stream.getAudioTracks()) pc.addTrack(t, this.stream);
    if (this.video) peer.videoSender = pc.addTrack(this.video, this.stream);
    pc.onicecandidate = (e) => this.send({ type: 'ice-candidate', target_user_id: userId,
      candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      peer.stream = e.streams[0] || new MediaStream([e.track]);
      this.onChange();
    };
    pc.onconnectionstatechange = () => this.onChange();
    return peer;
  }

  // A connection is (re)made unless a live one exists.
  needsOffer(userId) {
    const known = this.peers.get(userId);
    return !known || FAILED.includes(known.pc.connectionState);
  }

  closePeer(userId) {
    const peer = this.peers.get(userId);
    if (!peer) return;
    this.peers.delete(userId);
    peer.pc.close();
  }

  closeAll() {
    for (const id of [...this.peers.keys()]) this.closePeer(id);
  }

  async offerTo(userId) {
    const peer = this.peerFor(userId);
    await peer.pc.setLocalDescription(await peer.pc.createOffer());
    this.send({ type: 'offer', target_user_id: userId, sdp: peer.pc.localDescription.sdp });
  }

  async onOffer(f) {
    const peer = this.peerFor(f.from_user_id);
    await peer.pc.setRemoteDescription(description('offer', f.sdp));
    await flush(peer);
    await peer.pc.setLocalDescription(await peer.pc.createAnswer());
    this.send({ type: 'answer', target_user_id: f.from_user_id,
      sdp: peer.pc.localDescription.sdp });
  }

  async onAnswer(f) {
    const peer = this.peers.get(f.from_user_id);
    if (!peer) return;
    await peer.pc.setRemoteDescription(description('answer', f.sdp));
    await flush(peer);
  }

  async onCandidate(f) {
    const peer = this.peers.get(f.from_user_id);
    if (!peer) return;                   // from someone who already left
    const c = f.candidate ?? null;       // null: end of candidates
    if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(c);
    else peer.pending.push(c);
  }

  // Sends another video track (the screen, the camera again) to everyone:
  // replaced in place where a video sender exists; a peer without one (we
  // joined without a camera) gets it added and is offered again.
  async useVideoTrack(track) {
    this.video = track;
    for (const [id, peer] of this.peers) {
      if (peer.videoSender) {
        await peer.videoSender.replaceTrack(track);
      } else if (track) {
        peer.videoSender = peer.pc.addTrack(track, this.stream);
        await this.offerTo(id);
      }
    }
  }

  // The inbound audio level (0..1) of each peer, from getStats.
  async levels() {
    const out = new Map();
    for (const [id, peer] of this.peers) {
      let level = 0;
      (await peer.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') level = Math.max(level, s.audioLevel || 0);
      });
      out.set(id, level);
    }
    return out;
  }

  // For tests and debugging: what each peer connection received and sent.
  async stats() {
    const out = {};
    for (const [id, peer] of this.peers) {
      const e = { connectionState: peer.pc.connectionState, framesDecoded: 0, bytesReceived: 0,
        framesSent: 0, audioPacketsReceived: 0, audioEnergy: 0 };
      (await peer.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          e.framesDecoded += s.framesDecoded || 0;
          e.bytesReceived += s.bytesReceived || 0;
        } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          e.audioPacketsReceived += s.packetsReceived || 0;
          e.audioEnergy += s.totalAudioEnergy || 0;
        } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
          e.framesSent += s.framesSent || 0;
        }
      });
      out[id] = e;
    }
    return out;
  }
}

async function flush(peer) {
  for (const c of peer.pending.splice(0)) await peer.pc.addIceCandidate(c);
}

// `sdp` as the other side sent it: a string or a full description object.
function description(type, sdp) {
  return typeof sdp === 'string' ? { type, sdp } : sdp;
}
