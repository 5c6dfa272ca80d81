// One call: the REST join, the signaling socket and its reconnection, the
// media (the mesh of peer connections of mesh.js, or, when `joined` says
// "media": "sfu", one upstream and one downstream connection with the
// server's SFU through ../sfu.js), the local media state, and what the room
// says about everyone. The view listens to its events:
//   phase     {phase}  joining | waiting | in | reconnecting | ended
//   members   the people in the room changed (list, media, speaking, roles)
//   chat      {message}
//   waiting   the waiting list changed
//   recording {active}
//   settings  {settings}
//   notice    {text, kind}
//   end       {reason}  ended | removed | denied | full | replaced | left | error

import { api, request } from './api.js';
import { Mesh } from './mesh.js';
import { Signaling } from './signaling.js';
import { openScreen } from './media.js';
import { SfuSession } from '../sfu.js';
import { CLOSE_WORDS, SIGNAL_ERRORS, words } from './words.js';

const RECONNECT_TRIES = 8;

export class Call extends EventTarget {
  constructor({ meetingId, me, stream, password = '', audioOn = true, videoOn = true }) {
    super();
    this.meetingId = meetingId;
    this.me = me;                          // {user_id, username, nickname}
    this.stream = stream;                  // camera + microphone
    this.password = password;
    this.local = { audio: audioOn, video: videoOn && stream.getVideoTracks().length > 0,
      screen: false };
    this.screenTrack = null;               // while sharing: the screen, and it as a stream
    this.screenStream = null;
    this.members = new Map();              // user_id -> who, role, audio, video, screen, level
    this.waiting = new Map();              // user_id -> {user_id, username, nickname, since}
    this.settings = null;                  // absent on a server without SPEC §6
    this.myRole = 'participant';
    this.phase = 'joining';
    this.recording = null;                 // recording_id while the meeting records
    this.tries = 0;
    this.sig = new Signaling((f) => this.handle(f));
    this.sig.addEventListener('status', (e) => this.onSocket(e.detail));
    this.mesh = new Mesh((f) => this.sig.send(f), () => this.emit('members'));
    this.mesh.stream = stream;
    this.mesh.video = stream.getVideoTracks()[0] || null;
    this.sfu = null;                       // the SfuSession while `joined` says "media": "sfu"
    this.applyLocalTracks();
  }

  get peers() { return this.mesh.peers; }

  // What the view shows of a remote user: their stream (in the SFU, the
  // screen while they present) and the state of the connection carrying it.
  remote(userId) {
    if (!this.sfu) {
      const peer = this.mesh.peers.get(userId);
      return { stream: peer?.stream || null, state: peer?.pc.connectionState || 'new' };
    }
    const camera = this.sfu.streams.get(userId);
    const screen = this.members.get(userId)?.screen ? this.sfu.screens.get(userId) : null;
    const stream = screen || camera || null;
    return { stream, state: stream ? this.sfu.down?.connectionState || 'new' : 'new' };
  }

  emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  setPhase(phase) {
    if (this.phase === 'ended') return;
    this.phase = phase;
    this.emit('phase', { phase });
  }

  notice(text, kind = 'info') { this.emit('notice', { text, kind }); }

  // ---- joining and leaving ------------------------------------------------

  // POST join: 200 seats us, 202 puts us in the waiting room. Throws ApiError.
  async join() {
    const body = this.password ? { password: this.password } : undefined;
    const { status, data } = await request('POST', `/meetings/${this.meetingId}/join`, body);
    this.mesh.iceServers = data.ice_servers || [];
    if (status === 202) this.setPhase('waiting');
    this.sig.connect(data.room_url);
    return status;
  }

  // Leaving gives the seat back at once: over REST when seated, with the
  // socket's `leave` frame from the waiting room (where REST knows us not).
  async leave() {
    if (this.phase === 'ended') return;
    const waiting = this.phase === 'waiting';
    if (waiting) this.sig.send({ type: 'leave' });
    this.finish('left');
    if (!waiting) await api('POST', `/meetings/${this.meetingId}/leave`).catch(() => {});
  }

  async endForAll() {
    await api('POST', `/meetings/${this.meetingId}/end`);
    this.finish('ended');
  }

  // Leaves locally, for good: socket, peers, camera, screen.
  finish(reason) {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.sig.close();
    this.mesh.closeAll();
    this.sfu?.close();
    for (const t of this.stream.getTracks()) t.stop();
    this.screenTrack?.stop();
    clearInterval(this.levelTimer);
    this.emit('end', { reason });
  }

  onSocket({ state, code }) {
    document.body.dataset.signaling = state;
    if (code !== undefined) document.body.dataset.closeCode = String(code);
    if (state !== 'closed' || this.phase === 'ended') return;
    if (code === 4410) return this.finish('ended');
    if (code === 4403) return this.finish(this.phase === 'waiting' ? 'denied' : 'removed');
    if (code === 4429) return this.finish('full');
    if (code === 4409) return this.finish('replaced');
    if (code === 1000) return this.finish('left');
    // Anything else, 4307 included (the meeting lives on another node):
    // join again, whose room_url names the node that holds it now.
    this.reconnect();
  }

  // A dropped socket: join again (idempotent) for a fresh ticket and
  // connect, a few times with growing pauses. The peer connections live on
  // meanwhile: media does not pass through signaling.
  async reconnect() {
    if (this.phase !== 'waiting') this.setPhase('reconnecting');
    const wasWaiting = this.phase === 'waiting';
    while (this.tries < RECONNECT_TRIES && this.phase !== 'ended' && !this.sig.ws) {
      await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** this.tries)));
      this.tries += 1;
      if (this.phase === 'ended') return;
      try {
        await this.join();
        return;
      } catch (err) {
        if (err.status === 409 && err.code === 'meeting_full') return this.finish('full');
        if (err.status === 409) return this.finish('ended');
        if (err.status === 403 || err.status === 404) return this.finish(wasWaiting ? 'denied' : 'removed');
        if (err.status === 401) return this.finish('error');
      }
    }
    if (!this.sig.ws && this.phase !== 'ended') this.finish('lost');
  }

  // ---- frames ----------------------------------------------------------------

  async handle(f) {
    if (this.sfu?.handle(f)) return;
    switch (f.type) {
      case 'waiting': this.setPhase('waiting'); break;
      case 'admitted': this.notice('The host let you in.'); break;
      case 'denied': this.finish('denied'); break;
      case 'joined': await this.onJoined(f); break;
      case 'user-joined':
        this.upsert(f);
        if (!this.sfu) this.mesh.peerFor(f.user_id);   // their offer follows
        this.sendMediaState();          // so the newcomer knows our state
        this.emit('members');
        break;
      case 'user-left': this.drop(f.user_id); break;
      case 'participant-removed':
        // Our own removal: the server closes the socket with 4403 next.
        if (f.user_id === this.me.user_id) setTimeout(() => this.finish('removed'), 3000);
        else this.drop(f.user_id);
        break;
      case 'offer': await this.mesh.onOffer(f); break;
      case 'answer': await this.mesh.onAnswer(f); break;
      case 'ice-candidate': await this.mesh.onCandidate(f); break;
      case 'media-state': this.onMediaState(f); break;
      case 'chat': this.emit('chat', { message: f }); break;
      case 'role-changed': this.onRole(f); break;
      case 'recording-started':
        this.recording = f.recording_id;
        this.emit('recording', { active: true, recordingId: f.recording_id });
        break;
      case 'recording-stopped':
        this.recording = null;
        this.emit('recording', { active: false, recordingId: f.recording_id });
        break;
      case 'meeting-ended': this.finish('ended'); break;
      case 'settings-changed': this.onSettings(f.settings); break;
      case 'mute-requested':
        this.setMic(false);
        this.notice('The host asked you to mute. Your microphone is now off.');
        break;
      case 'screen-share-stopped':
        this.stopShare(false);
        this.notice('The host turned screen sharing off.');
        break;
      case 'waiting-joined':
        this.waiting.set(f.user_id, { ...f, since: new Date().toISOString() });
        this.emit('waiting');
        this.notice(`${f.nickname || f.username} is waiting to join.`);
        break;
      case 'waiting-left':
        this.waiting.delete(f.user_id);
        this.emit('waiting');
        break;
      case 'error': this.onError(f); break;
      default: break;
    }
  }

  async onJoined(f) {
    this.tries = 0;
    this.setPhase('in');
    if ('settings' in f && f.settings) this.onSettings(f.settings, true);
    if (f.audio_enabled === false && this.local.audio) {
      this.setMic(false, false);
      this.notice('You joined muted: the host mutes everyone on arrival.');
    }
    for (const p of f.participants || []) this.upsert(p);
    if (f.media === 'sfu') {
      this.startSfu();
    } else {
      this.stopSfu();
      for (const p of f.participants || []) {
        if (this.mesh.needsOffer(p.user_id)) await this.mesh.offerTo(p.user_id);
      }
    }
    this.sendMediaState();
    this.emit('members');
    this.startLevels();
  }

  // Media through the server: our camera and microphone (and screen) up,
  // everyone else's down. On a new socket (a reconnect) both start over:
  // the server's media session went with the old socket. The mesh's peer
  // connections (of a socket that said mesh) carry nothing any more.
  startSfu() {
    this.mesh.closeAll();
    if (!this.sfu) {
      const changed = () => this.emit('members');
      this.sfu = new SfuSession((frame) => this.sig.send(frame), {
        onTrack: changed, onGone: changed, onState: changed });
      if (this.screenTrack) this.sfu.screen = this.screenTrack;
    }
    // This join's ICE servers: TURN credentials of an earlier one may have expired.
    this.sfu.config.iceServers = this.mesh.iceServers;
    this.sfu.start(this.stream);
  }

  // A socket that says mesh (a reconnect that landed on a node without an
  // SFU): the SFU's connections go, and the mesh sends the screen if shared.
  stopSfu() {
    if (!this.sfu) return;
    this.sfu.close();
    this.sfu = null;
    this.mesh.video = this.screenTrack || this.stream.getVideoTracks()[0] || null;
  }

  onError(f) {
    if (f.code === 'SCREEN_SHARE_DISABLED') this.stopShare(false);
    this.notice(SIGNAL_ERRORS[f.code] || 'The server could not handle that. Please try again.',
      'error');
  }

  onSettings(settings, quiet = false) {
    const before = this.settings;
    this.settings = { ...settings };
    if (!quiet && before && before.enable_screen_share && !settings.enable_screen_share
        && this.local.screen && !this.isModerator()) {
      this.stopShare(false);
    }
    this.emit('settings', { settings: this.settings });
  }

  onRole(f) {
    if (f.user_id === this.me.user_id) {
      this.myRole = f.role;
      this.notice(`You are now ${f.role === 'participant' ? 'a participant' : `a ${f.role}`}.`);
    }
    const m = this.members.get(f.user_id);
    if (m) m.role = f.role;
    this.emit('members');
  }

  onMediaState(f) {
    const m = this.members.get(f.user_id);
    if (f.user_id === this.me.user_id) {
      // The server's word about our own microphone (a host muted us).
      if (f.audio_enabled === false && this.local.audio) this.setMic(false, false);
      return;
    }
    if (!m) return;
    m.audio = f.audio_enabled;
    m.video = f.video_enabled;
    m.screen = f.screen_sharing;
    this.emit('members');
  }

  upsert(p) {
    const m = this.members.get(p.user_id) || { audio: true, video: true, screen: false, level: 0 };
    Object.assign(m, { user_id: p.user_id, username: p.username ?? m.username,
      nickname: p.nickname ?? m.nickname, role: p.role ?? m.role });
    this.members.set(p.user_id, m);
    return m;
  }

  drop(userId) {
    this.mesh.closePeer(userId);
    this.members.delete(userId);
    this.emit('members');
  }

  isModerator() { return this.myRole === 'host' || this.myRole === 'moderator'; }

  // ---- local media ------------------------------------------------------------

  applyLocalTracks() {
    for (const t of this.stream.getAudioTracks()) t.enabled = this.local.audio;
    for (const t of this.stream.getVideoTracks()) t.enabled = this.local.video;
  }

  sendMediaState() {
    this.sig.send({ type: 'media-state', audio_enabled: this.local.audio,
      video_enabled: this.local.video, screen_sharing: this.local.screen });
  }

  setMic(on, tell = true) {
    if (on && !this.stream.getAudioTracks().length) return;
    this.local.audio = on;
    this.applyLocalTracks();
    if (tell) this.sendMediaState();
    this.emit('members');
  }

  setCamera(on) {
    if (on && !this.stream.getVideoTracks().length) return;
    this.local.video = on;
    this.applyLocalTracks();
    this.sendMediaState();
    this.emit('members');
  }

  mayShare() {
    return !this.settings || this.settings.enable_screen_share !== false || this.isModerator();
  }

  async startShare() {
    const track = await openScreen();
    this.screenTrack = track;
    this.screenStream = new MediaStream([track]);   // our own tile shows it
    track.onended = () => this.stopShare(true);
    this.local.screen = true;
    if (this.sfu) await this.sfu.share(track);
    else await this.mesh.useVideoTrack(track);
    this.sendMediaState();
    this.emit('members');
  }

  async stopShare(tell = true) {
    if (!this.screenTrack) return;
    const track = this.screenTrack;
    this.screenTrack = null;
    this.screenStream = null;
    track.onended = null;
    track.stop();
    this.local.screen = false;
    if (this.sfu) await this.sfu.unshare();
    else await this.mesh.useVideoTrack(this.stream.getVideoTracks()[0] || null);
    if (tell) this.sendMediaState();
    this.emit('members');
  }

  // ---- who is speaking ---------------------------------------------------------

  // Reads each peer's inbound audio level (getStats; in the SFU, of each
  // user's stream on the downstream connection) a few times a second; the
  // loudest above a threshold is the active speaker.
  startLevels() {
    if (this.levelTimer) return;
    this.levelTimer = setInterval(() => this.readLevels().catch(() => {}), 500);
  }

  async readLevels() {
    let loudest = null;
    let changed = false;
    for (const [id, level] of await this.levels()) {
      const m = this.members.get(id);
      if (!m) continue;
      const speaking = m.audio !== false && level > 0.02;
      if (speaking !== Boolean(m.speaking)) changed = true;
      m.speaking = speaking;
      m.level = level;
      if (speaking && (!loudest || level > loudest.level)) loudest = m;
    }
    const active = loudest ? loudest.user_id : this.activeSpeaker;
    if (active !== this.activeSpeaker) changed = true;
    this.activeSpeaker = active;
    if (changed) this.emit('members');
  }

  async levels() {
    if (!this.sfu) return this.mesh.levels();
    return new Map(Object.entries(await this.sfu.stats())
      .map(([id, s]) => [Number(id), s.audioLevel]));
  }

  // ---- host and moderator actions ------------------------------------------------

  base() { return `/meetings/${this.meetingId}`; }
  remove(userId) { return api('DELETE', `${this.base()}/participants/${userId}`); }
  setRole(userId, role) { return api('PUT', `${this.base()}/participants/${userId}/role`, { role }); }
  mute(userId) { return api('POST', `${this.base()}/participants/${userId}/mute`); }
  admit(userId) { return api('POST', `${this.base()}/waiting/${userId}/admit`); }
  deny(userId) { return api('POST', `${this.base()}/waiting/${userId}/deny`); }
  admitAll() { return api('POST', `${this.base()}/waiting/admit_all`); }

  async loadWaiting() {
    const data = await api('GET', `${this.base()}/waiting`);
    this.waiting = new Map((data.waiting || []).map((w) => [w.user_id, w]));
    this.emit('waiting');
  }

  stats() { return this.sfu ? this.sfu.stats() : this.mesh.stats(); }
}

export function endWords(reason) {
  const by = {
    ended: CLOSE_WORDS[4410],
    removed: CLOSE_WORDS[4403],
    full: CLOSE_WORDS[4429],
    replaced: CLOSE_WORDS[4409],
    denied: { title: 'You were not let in', text: 'The host declined your request to join.' },
    left: { title: 'You left the meeting', text: '' },
    lost: { title: 'Connection lost', text: 'We could not reconnect to the meeting.' },
    error: { title: 'You were signed out', text: 'Please sign in again to rejoin.' },
  };
  return by[reason] || { title: 'The call ended', text: words({ status: 500 }) };
}
