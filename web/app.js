// mod_meeting demo client: the REST API at /api/v1 (same origin) and WebRTC
// signaling over the WebSocket whose URL join returns (room_url).
//
// Who offers: the newcomer. On `joined` this client offers to every
// participant listed; on `user-joined` it makes a peer connection and waits
// for the newcomer's offer. So every pair has exactly one offerer.

const API = '/api/v1';
const $ = (sel) => document.querySelector(sel);

const state = {
  token: null,
  user: null,            // {user_id, username, nickname}
  meetingId: null,       // the meeting joined
  meeting: null,         // its details (creator_id, settings, ...)
  iceServers: [],
  ws: null,
  localStream: null,
  peers: new Map(),      // user_id -> {pc, info, pending: [candidates], tile}
  recorder: null,        // {rec, recordingId, chunks}
  messageIds: new Set(),
  leaving: false,
  reconnects: 0,
  inbox: Promise.resolve(),   // frames are handled one after another
};

// ---- small helpers -------------------------------------------------------

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('#log').prepend(li);
  while ($('#log').children.length > 200) $('#log').lastChild.remove();
}

function status(text) {
  $('#status').textContent = text;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// One API call. body: an object (sent as JSON), a Blob (sent as is, with its
// type) or undefined (no body). Returns the envelope's data (or the envelope).
async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = body.type;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(API + path, { method, headers, body: payload });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, json);
  return json?.data ?? json;
}

// Runs an action from a button: errors go to the status line.
function action(fn) {
  return async (ev) => {
    ev?.preventDefault?.();
    try {
      await fn(ev);
    } catch (err) {
      status(`Error: ${err.message}`);
      log(`error: ${err.message}${err.body?.error ? ` (${err.body.error})` : ''}`);
      console.error(err);
    }
  };
}

function meetingIdInput() {
  const id = Number($('#meeting-id').value);
  if (!Number.isInteger(id) || id < 1) throw new Error('enter a meeting id');
  return id;
}

function currentMeeting() {
  if (!state.meetingId) throw new Error('join a meeting first');
  return state.meetingId;
}

// RFC 3339 in UTC without fractions, from a datetime-local value.
function rfc3339(local) {
  return new Date(local).toISOString().replace(/\.\d+Z$/, 'Z');
}

function localInputValue(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

// ---- account -------------------------------------------------------------

function setUser(user, token) {
  state.user = user;
  state.token = token;
  document.body.dataset.userId = user ? String(user.user_id) : '';
  $('#whoami').textContent = user ? `${user.username} (user ${user.user_id})` : 'nobody';
  if (token) sessionStorage.setItem('mm', JSON.stringify({ user, token }));
  else sessionStorage.removeItem('mm');
}

async function login(username, password) {
  const data = await api('POST', '/auth/login', { username, password });
  setUser(data.user, data.token);
  status(`Logged in as ${data.user.username}.`);
  log(`logged in as ${data.user.username}`);
}

async function onAuth(ev) {
  const form = $('#auth-form');
  const f = Object.fromEntries(new FormData(form));
  const act = ev.submitter?.value || 'login';
  if (act === 'register') {
    const body = { username: f.username, email: f.email, password: f.password };
    if (f.nickname) body.nickname = f.nickname;
    const u = await api('POST', '/auth/register', body);
    log(`registered ${u.username} (user ${u.user_id})`);
  }
  await login(f.username, f.password);
}

async function onLogout() {
  if (state.meetingId) teardown('logged out');
  if (state.token) {
    try { await api('POST', '/auth/logout', {}); } catch { /* token may be gone */ }
  }
  setUser(null, null);
  status('Logged out.');
}

// ---- meetings ------------------------------------------------------------

async function onCreate() {
  const f = Object.fromEntries(new FormData($('#create-form')));
  const body = {
    title: f.title,
    start_time: rfc3339(f.start_time),
    end_time: rfc3339(f.end_time),
    max_participants: Number(f.max_participants),
    meeting_type: f.meeting_type,
    settings: { enable_recording: 'enable_recording' in f, enable_chat: 'enable_chat' in f },
  };
  if (f.description) body.description = f.description;
  if (f.password) body.password = f.password;
  const m = await api('POST', '/meetings', body);
  $('#meeting-id').value = m.meeting_id;
  status(`Meeting ${m.meeting_id} created.`);
  log(`created meeting ${m.meeting_id} "${m.title}"`);
}

async function onStart() {
  const id = meetingIdInput();
  await api('POST', `/meetings/${id}/start`);
  status(`Meeting ${id} started.`);
  log(`started meeting ${id}`);
}

async function onJoin() {
  const id = meetingIdInput();
  if (state.meetingId) teardown('joining another meeting');
  const pw = $('#join-password').value;
  const data = await api('POST', `/meetings/${id}/join`, pw ? { password: pw } : undefined);
  const meeting = await api('GET', `/meetings/${id}`);
  state.meetingId = id;
  state.meeting = meeting;
  state.iceServers = data.ice_servers || [];
  state.leaving = false;
  state.reconnects = 0;
  document.body.dataset.meetingId = String(id);
  log(`joined meeting ${id} as participant ${data.participant_id}`);
  await startLocalMedia(meeting.meeting_type !== 'audio');
  connect(data.room_url);
  status(`In meeting ${id}.`);
  await Promise.all([refreshParticipants(), loadHistory(), refreshRecordings()]);
}

async function onLeave() {
  const id = currentMeeting();
  state.leaving = true;
  try {
    await api('POST', `/meetings/${id}/leave`);
  } finally {
    teardown('left');
  }
  status(`Left meeting ${id}.`);
}

async function onEnd() {
  const id = state.meetingId || meetingIdInput();
  await api('POST', `/meetings/${id}/end`);
  log(`ended meeting ${id}`);
  teardown('meeting ended');
  status(`Meeting ${id} ended.`);
}

async function refreshParticipants() {
  const id = state.meetingId;
  if (!id) return;
  const data = await api('GET', `/meetings/${id}/participants`);
  const ul = $('#participants');
  ul.replaceChildren();
  // Remove buttons only where the API would allow it (see SPEC's roles).
  const me = data.participants.find((p) => p.user_id === state.user?.user_id);
  const mayRemove = (p) => p.user_id !== state.user?.user_id
    && p.user_id !== state.meeting?.creator_id
    && (me?.role === 'host' || (me?.role === 'moderator' && p.role === 'participant'));
  for (const p of data.participants) {
    const li = document.createElement('li');
    li.dataset.userId = p.user_id;
    li.dataset.status = p.status;
    li.textContent = `${p.nickname || p.username} (${p.username}) — ${p.role}, ${p.status} `;
    if (mayRemove(p)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Remove';
      b.setAttribute('aria-label', `Remove ${p.username}`);
      b.addEventListener('click', action(async () => {
        await api('DELETE', `/meetings/${id}/participants/${p.user_id}`);
        log(`removed user ${p.user_id}`);
        await refreshParticipants();
      }));
      li.append(b);
    }
    ul.append(li);
  }
}

// ---- chat ----------------------------------------------------------------

function showMessage(m) {
  if (state.messageIds.has(m.message_id)) return;
  state.messageIds.add(m.message_id);
  const li = document.createElement('li');
  li.dataset.messageId = m.message_id;
  const who = document.createElement('strong');
  who.textContent = `${m.username || `user ${m.user_id}`}: `;
  const when = document.createElement('time');
  when.dateTime = m.timestamp;
  when.textContent = ` ${new Date(m.timestamp).toLocaleTimeString()}`;
  li.append(who, document.createTextNode(m.content), when);
  // Keep the list in message order whatever the arrival order.
  const after = [...$('#messages').children].find((x) => Number(x.dataset.messageId) > m.message_id);
  $('#messages').insertBefore(li, after || null);
}

async function loadHistory() {
  const data = await api('GET', `/meetings/${state.meetingId}/messages?page=1&page_size=50`);
  for (const m of [...data.messages].reverse()) showMessage(m);
}

async function onChat() {
  const input = $('#chat-input');
  const content = input.value;
  const data = await api('POST', `/meetings/${currentMeeting()}/messages`, { content });
  input.value = '';
  // The pushed `chat` frame usually comes first; this covers a closed socket.
  showMessage({ message_id: data.message_id, user_id: state.user.user_id,
    username: state.user.username, content: content.trim(), timestamp: data.timestamp });
}

// ---- recording -----------------------------------------------------------

function recorderState(text) {
  $('#rec-state').textContent = text;
}

async function onRecStart() {
  const id = currentMeeting();
  if (!state.localStream) throw new Error('no local media to record');
  const data = await api('POST', `/meetings/${id}/recording/start`);
  const type = ['video/webm;codecs=vp8,opus', 'video/webm'].find((t) => MediaRecorder.isTypeSupported(t));
  const rec = new MediaRecorder(state.localStream, type ? { mimeType: type } : {});
  const r = { rec, recordingId: data.recording_id, meetingId: id, chunks: [] };
  rec.ondataavailable = (e) => { if (e.data.size) r.chunks.push(e.data); };
  rec.onstop = () => upload(r).catch((err) => {
    recorderState(`upload failed: ${err.message}`);
    log(`upload of ${r.recordingId} failed: ${err.message}`);
  });
  rec.start(1000);
  state.recorder = r;
  recorderState(`recording ${data.recording_id}`);
}

async function upload(r) {
  recorderState(`uploading ${r.recordingId}`);
  const blob = new Blob(r.chunks, { type: 'video/webm' });
  const data = await api('PUT', `/meetings/${r.meetingId}/recordings/${r.recordingId}/file`, blob);
  recorderState(`uploaded ${r.recordingId} (${data.size} bytes)`);
  log(`uploaded ${r.recordingId}: ${data.size} bytes`);
  if (state.meetingId === r.meetingId) await refreshRecordings();
}

function stopRecorder() {
  const r = state.recorder;
  state.recorder = null;
  if (r && r.rec.state !== 'inactive') r.rec.stop();   // onstop uploads
}

async function onRecStop() {
  const id = currentMeeting();
  try {
    await api('POST', `/meetings/${id}/recording/stop`);
  } finally {
    stopRecorder();
  }
}

async function refreshRecordings() {
  if (!state.meetingId) return;
  const data = await api('GET', `/meetings/${state.meetingId}/recordings`);
  const ul = $('#recordings');
  ul.replaceChildren();
  for (const rec of data.recordings) {
    const li = document.createElement('li');
    li.dataset.recordingId = rec.recording_id;
    li.append(`${rec.recording_id} — ${rec.status}, ${rec.duration ?? 0} s, ${rec.size} bytes `);
    if (rec.size > 0 && rec.file_url) {
      const a = document.createElement('a');
      a.href = rec.file_url;
      a.textContent = 'play';
      a.target = '_blank';
      const v = document.createElement('video');
      v.controls = true;
      v.preload = 'none';
      v.src = rec.file_url;
      v.setAttribute('aria-label', `Recording ${rec.recording_id}`);
      li.append(a, document.createElement('br'), v);
    }
    ul.append(li);
  }
}

// ---- media and WebRTC ------------------------------------------------------

async function startLocalMedia(video) {
  if (state.localStream) return;
  state.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
  $('#local-video').srcObject = state.localStream;
}

function stopLocalMedia() {
  for (const t of state.localStream?.getTracks() || []) t.stop();
  state.localStream = null;
  $('#local-video').srcObject = null;
}

function send(frame) {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

function tileFor(userId, info) {
  let tile = document.querySelector(`.tile[data-user-id="${userId}"]`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.className = 'tile remote';
    tile.dataset.userId = userId;
    tile.dataset.connectionState = 'new';
    const v = document.createElement('video');
    v.autoplay = true;
    v.playsInline = true;
    const cap = document.createElement('figcaption');
    tile.append(v, cap);
    $('#videos').append(tile);
  }
  const name = info?.nickname || info?.username || `user ${userId}`;
  tile.querySelector('video').setAttribute('aria-label', `Video of ${name}`);
  tile.querySelector('figcaption').textContent = `${name}: ${tile.dataset.connectionState}`;
  tile.dataset.name = name;
  return tile;
}

function peerFor(userId, info) {
  let peer = state.peers.get(userId);
  if (peer && !['failed', 'closed'].includes(peer.pc.connectionState)) {
    if (info) peer.info = info;
    return peer;
  }
  if (peer) closePeer(userId);
  const pc = new RTCPeerConnection({ iceServers: state.iceServers });
  peer = { pc, info: info || { user_id: userId }, pending: [] };
  peer.tile = tileFor(userId, peer.info);
  state.peers.set(userId, peer);
  for (const t of state.localStream?.getTracks() || []) pc.addTrack(t, state.localStream);
  pc.onicecandidate = (e) => send({ type: 'ice-candidate', target_user_id: userId,
    candidate: e.candidate ? e.candidate.toJSON() : null });
  pc.ontrack = (e) => {
    const v = peer.tile.querySelector('video');
    if (v.srcObject !== e.streams[0]) v.srcObject = e.streams[0];
  };
  pc.onconnectionstatechange = () => {
    peer.tile.dataset.connectionState = pc.connectionState;
    tileFor(userId, peer.info);
    log(`peer ${userId}: ${pc.connectionState}`);
  };
  return peer;
}

function closePeer(userId) {
  const peer = state.peers.get(userId);
  if (!peer) return;
  state.peers.delete(userId);
  peer.pc.close();
  peer.tile.remove();
}

async function flushCandidates(peer) {
  for (const c of peer.pending.splice(0)) await peer.pc.addIceCandidate(c);
}

// `sdp` as the other side sent it: a string or a full description object.
function description(type, sdp) {
  return typeof sdp === 'string' ? { type, sdp } : sdp;
}

async function offerTo(info) {
  const peer = peerFor(info.user_id, info);
  await peer.pc.setLocalDescription(await peer.pc.createOffer());
  send({ type: 'offer', target_user_id: info.user_id, sdp: peer.pc.localDescription.sdp });
}

async function onOffer(f) {
  const peer = peerFor(f.from_user_id);
  await peer.pc.setRemoteDescription(description('offer', f.sdp));
  await flushCandidates(peer);
  await peer.pc.setLocalDescription(await peer.pc.createAnswer());
  send({ type: 'answer', target_user_id: f.from_user_id, sdp: peer.pc.localDescription.sdp });
}

async function onAnswer(f) {
  const peer = state.peers.get(f.from_user_id);
  if (!peer) return;
  await peer.pc.setRemoteDescription(description('answer', f.sdp));
  await flushCandidates(peer);
}

async function onCandidate(f) {
  // The sender's offer (or our user-joined) made the peer; a late candidate
  // from someone who already left is dropped.
  const peer = state.peers.get(f.from_user_id);
  if (!peer) return;
  const c = f.candidate ?? null;   // null: end of candidates
  if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(c);
  else peer.pending.push(c);
}

// ---- signaling -------------------------------------------------------------

// Close codes after which reconnecting would not help.
const FINAL = { 1000: 'closed', 4401: 'ticket refused', 4403: 'removed from the meeting',
  4409: 'replaced by a newer connection', 4410: 'meeting ended', 4429: 'meeting is full' };

function signaling(s, code) {
  document.body.dataset.signaling = s;
  if (code !== undefined) document.body.dataset.closeCode = String(code);
  $('#signaling-state').textContent = code !== undefined ? `${s} (${code})` : s;
}

function connect(url) {
  const ws = new WebSocket(url);
  state.ws = ws;
  signaling('connecting');
  ws.onopen = () => signaling('open');
  ws.onmessage = (e) => {
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    mm.frames.push(f);
    // One frame at a time, in order: an ice-candidate must not overtake its offer.
    state.inbox = state.inbox.then(() => handle(f))
      .catch((err) => log(`${f.type}: ${err.message}`));
  };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;    // an older socket
    state.ws = null;
    state.closedAt = Date.now();
    signaling('closed', e.code);
    log(`signaling closed: ${e.code} ${e.reason || FINAL[e.code] || ''}`);
    if (FINAL[e.code] || state.leaving || !state.meetingId) {
      if (e.code === 4403 || e.code === 4410) teardown(FINAL[e.code]);
      return;
    }
    if (state.reconnects++ < 5) setTimeout(rejoin, 1000);
  };
}

// A dropped socket: join again (idempotent) for a fresh ticket, reconnect.
async function rejoin() {
  const id = state.meetingId;
  if (!id || state.ws) return;
  const pw = $('#join-password').value;
  try {
    const data = await api('POST', `/meetings/${id}/join`, pw ? { password: pw } : undefined);
    if (state.meetingId === id && !state.ws) connect(data.room_url);
  } catch (err) {
    log(`rejoin failed: ${err.message}`);
  }
}

async function handle(f) {
  switch (f.type) {
    case 'joined':
      state.reconnects = 0;
      log(`signaling: in the room with ${f.participants.length} other(s)`);
      for (const p of f.participants) {
        const known = state.peers.get(p.user_id);
        if (!known || ['failed', 'closed'].includes(known.pc.connectionState)) await offerTo(p);
      }
      break;
    case 'user-joined':
      log(`${f.username} joined`);
      peerFor(f.user_id, f);       // their offer follows
      refreshParticipants().catch(() => {});
      break;
    case 'user-left':
      log(`user ${f.user_id} left`);
      closePeer(f.user_id);
      refreshParticipants().catch(() => {});
      break;
    case 'participant-removed':
      log(`user ${f.user_id} was removed`);
      if (f.user_id !== state.user?.user_id) {
        closePeer(f.user_id);
        refreshParticipants().catch(() => {});
      }
      break;
    case 'offer': await onOffer(f); break;
    case 'answer': await onAnswer(f); break;
    case 'ice-candidate': await onCandidate(f); break;
    case 'chat': showMessage(f); break;
    case 'role-changed':
      log(`user ${f.user_id} is now ${f.role}`);
      refreshParticipants().catch(() => {});
      break;
    case 'media-state':
      log(`user ${f.user_id}: audio ${f.audio_enabled}, video ${f.video_enabled}`);
      break;
    case 'recording-started':
      log(`recording ${f.recording_id} started`);
      refreshRecordings().catch(() => {});
      break;
    case 'recording-stopped':
      log(`recording ${f.recording_id} stopped`);
      if (state.recorder?.recordingId === f.recording_id) stopRecorder();
      refreshRecordings().catch(() => {});
      break;
    case 'meeting-ended':
      log('the meeting ended');
      break;
    case 'error':
      log(`signaling error ${f.code}: ${f.message}`);
      break;
    default:
      break;
  }
}

// Leaves the call locally: socket, peers, camera, recorder.
function teardown(why) {
  state.leaving = true;
  stopRecorder();
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) {
    ws.close(1000);
    signaling('closed', 1000);
  }
  for (const id of [...state.peers.keys()]) closePeer(id);
  stopLocalMedia();
  $('#participants').replaceChildren();
  if (state.meetingId) log(`out of meeting ${state.meetingId}: ${why}`);
  state.meetingId = null;
  state.meeting = null;
  document.body.dataset.meetingId = '';
}

// ---- test and debugging hooks ---------------------------------------------

// Inbound video stats per peer: {user_id: {framesDecoded, bytesReceived, ...}}.
async function stats() {
  const out = {};
  for (const [id, peer] of state.peers) {
    const report = await peer.pc.getStats();
    const entry = { connectionState: peer.pc.connectionState, framesDecoded: 0,
      bytesReceived: 0, framesSent: 0 };
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        entry.framesDecoded += s.framesDecoded || 0;
        entry.bytesReceived += s.bytesReceived || 0;
      } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
        entry.framesSent += s.framesSent || 0;
      }
    });
    out[id] = entry;
  }
  return out;
}

const mm = {
  get pcs() { return new Map([...state.peers].map(([id, p]) => [id, p.pc])); },
  get ws() { return state.ws; },
  state,
  stats,
  frames: [],
};
window.mm = mm;

// ---- wiring ----------------------------------------------------------------

function init() {
  const now = new Date();
  $('#create-form').start_time.value = localInputValue(now);
  $('#create-form').end_time.value = localInputValue(new Date(now.getTime() + 3600e3));
  $('#auth-form').addEventListener('submit', action(onAuth));
  $('#logout').addEventListener('click', action(onLogout));
  $('#create-form').addEventListener('submit', action(onCreate));
  $('#start').addEventListener('click', action(onStart));
  $('#meeting-form').addEventListener('submit', action(onJoin));
  $('#leave').addEventListener('click', action(onLeave));
  $('#end').addEventListener('click', action(onEnd));
  $('#refresh-participants').addEventListener('click', action(refreshParticipants));
  $('#chat-form').addEventListener('submit', action(onChat));
  $('#rec-start').addEventListener('click', action(onRecStart));
  $('#rec-stop').addEventListener('click', action(onRecStop));
  $('#rec-refresh').addEventListener('click', action(refreshRecordings));
  const saved = JSON.parse(sessionStorage.getItem('mm') || 'null');
  if (saved) {
    setUser(saved.user, saved.token);
    status(`Logged in as ${saved.user.username}.`);
  }
  document.body.dataset.ready = 'true';
}

init();
