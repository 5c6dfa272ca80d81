// In the call (dark): the grid of tiles, the control bar, the chat and
// participants side panels, the states in words (waiting, reconnecting,
// ended, removed...), and recording for hosts and moderators.

import { api } from '../api.js';
import { endWords } from '../call.js';
import { h, icon, initials, nameOf, toast } from '../dom.js';
import { canShareScreen } from '../media.js';
import { Recorder } from '../recorder.js';
import { words } from '../words.js';
import { chatPanel } from './chat.js';
import { peoplePanel } from './people.js';

export function callView(call, meetingInfo) {
  let meeting = meetingInfo;
  let panel = null;                 // 'chat' | 'people' | null
  let unread = 0;
  const tiles = new Map();          // user_id -> tile element
  window.mm.call = call;
  document.body.dataset.meetingId = String(call.meetingId);

  const titleEl = h('h1', { class: 'call-title' }, meeting?.title || `Meeting ${call.meetingId}`);
  const recPill = h('span', { class: 'rec-pill', hidden: true, role: 'status' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Recording');
  const banner = h('div', { class: 'banner', role: 'status', 'aria-live': 'assertive', hidden: true });
  const grid = h('div', { class: 'grid', role: 'list', 'aria-label': 'Video of the participants' });
  const panelTitle = h('h2', {}, '');
  const panelBody = h('div', { class: 'panel-content' });
  const side = h('aside', { class: 'side', hidden: true, 'aria-labelledby': 'panel-h' },
    h('div', { class: 'side-head' }, Object.assign(panelTitle, { id: 'panel-h' }),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close panel',
        onclick: () => openPanel(null) }, icon('close'))),
    panelBody);

  const ctl = (name, label, onclick, extra = {}) => h('button', { type: 'button',
    class: `ctl ${extra.class || ''}`, 'aria-label': label, title: label, onclick, ...extra.attrs },
  icon(name), h('span', { class: 'ctl-label' }, extra.text || label));
  const micBtn = ctl('mic', 'Turn microphone off', () => call.setMic(!call.local.audio));
  const camBtn = ctl('cam', 'Turn camera off', () => call.setCamera(!call.local.video));
  const shareBtn = ctl('share', 'Share screen', () => toggleShare(), { text: 'Share' });
  const recBtn = ctl('rec', 'Start recording', () => toggleRecording(), { text: 'Record' });
  const chatBtn = ctl('chat', 'Chat', () => openPanel(panel === 'chat' ? null : 'chat'));
  const peopleBtn = ctl('people', 'Participants', () => openPanel(panel === 'people' ? null : 'people'),
    { text: 'People' });
  const badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  chatBtn.append(badge);
  const peopleCount = h('span', { class: 'count', 'aria-hidden': 'true' }, '1');
  peopleBtn.append(peopleCount);
  const leaveBtn = ctl('phone', 'Leave call', () => call.leave(), { class: 'leave', text: 'Leave' });
  const endBtn = h('button', { type: 'button', class: 'btn danger end', hidden: true,
    onclick: () => endMeeting() }, 'End for all');

  const controls = h('footer', { class: 'controls', role: 'toolbar', 'aria-label': 'Call controls' },
    h('div', { class: 'ctl-group' }, micBtn, camBtn, shareBtn, recBtn),
    h('div', { class: 'ctl-group' }, chatBtn, peopleBtn),
    h('div', { class: 'ctl-group' }, leaveBtn, endBtn));

  const stage = h('div', { class: 'stage' }, grid, side);
  const clockEl = h('span', { class: 'clock', 'aria-hidden': 'true' });
  const tick = () => { clockEl.textContent = new Date().toLocaleTimeString(undefined,
    { hour: '2-digit', minute: '2-digit' }); };
  tick();
  const clockTimer = setInterval(tick, 15000);
  const room = h('div', { class: 'room' },
    h('header', { class: 'call-top' }, titleEl, recPill,
      clockEl),
    banner, stage, controls);
  const waitingScreen = h('div', { class: 'state-screen', hidden: true },
    h('div', { class: 'spinner', 'aria-hidden': 'true' }),
    h('h1', {}, 'Waiting for the host to let you in'),
    h('p', {}, 'You will join the meeting as soon as someone lets you in.'),
    h('button', { type: 'button', class: 'btn ghost light', onclick: () => call.leave() }, 'Leave'));
  const el = h('main', { id: 'main', class: 'call' }, room, waitingScreen);

  const recorder = new Recorder(call.meetingId, call.stream, (text) => toast(text));
  const chat = chatPanel(call, meeting);
  const people = peoplePanel(call, meeting);

  // ---- tiles ------------------------------------------------------------------

  function tileFor(id, self) {
    let t = tiles.get(id);
    if (t) return t;
    const video = h('video', { autoplay: true, playsInline: true, muted: self,
      class: self ? 'mirror' : '' });
    const avatar = h('div', { class: 'tile-avatar', 'aria-hidden': 'true' });
    const mic = h('span', { class: 'tile-mic', role: 'img', 'aria-label': 'Microphone off' },
      icon('micOff'));
    const name = h('span', { class: 'tile-name' });
    t = h('figure', { class: `tile${self ? ' self' : ''}`, role: 'listitem',
      dataset: { userId: id, connectionState: self ? 'connected' : 'new' } },
    video, avatar, h('figcaption', {}, mic, name));
    t.parts = { video, avatar, mic, name };
    tiles.set(id, t);
    grid.append(t);
    return t;
  }

  function renderTiles() {
    const me = tileFor(call.me.user_id, true);
    const localVideo = call.screenStream || call.stream;
    if (me.parts.video.srcObject !== localVideo) me.parts.video.srcObject = localVideo;
    me.classList.toggle('mirror-off', Boolean(call.screenTrack));
    paint(me, { ...call.me, audio: call.local.audio, video: call.local.video || call.local.screen,
      speaking: false }, 'You');
    for (const [id, t] of tiles) {
      if (id !== call.me.user_id && !call.members.has(id)) {
        t.remove();
        tiles.delete(id);
      }
    }
    for (const [id, m] of call.members) {
      const t = tileFor(id, false);
      const { stream, state } = call.remote(id);
      if (stream && t.parts.video.srcObject !== stream) t.parts.video.srcObject = stream;
      t.dataset.connectionState = state;
      paint(t, m, nameOf(m));
      t.dataset.active = String(call.activeSpeaker === id && call.members.size > 1);
    }
    const n = tiles.size;
    grid.dataset.count = String(n);
    const cols = n <= 1 ? 1 : n <= 4 ? 2 : n <= 9 ? 3 : 4;
    grid.style.setProperty('--cols', String(cols));
    grid.style.setProperty('--rows', String(Math.ceil(n / cols)));
    peopleCount.textContent = String(call.members.size + 1);
  }

  function paint(t, m, label) {
    const videoOn = m.video !== false;
    t.dataset.audio = m.audio === false ? 'off' : 'on';
    t.dataset.video = videoOn ? 'on' : 'off';
    t.dataset.speaking = String(Boolean(m.speaking));
    t.dataset.screen = String(Boolean(m.screen));
    t.parts.avatar.textContent = initials(label === 'You' ? nameOf(call.me) : label);
    const role = m.role === 'host' ? ' (host)' : '';
    t.parts.name.textContent = `${label}${role}${m.screen ? ' · presenting' : ''}`;
    t.parts.mic.hidden = m.audio !== false;
    t.parts.video.setAttribute('aria-label', `Video of ${label}`);
    t.setAttribute('aria-label', `${label}${m.audio === false ? ', microphone off' : ''}`
      + `${videoOn ? '' : ', camera off'}${m.speaking ? ', speaking' : ''}`);
  }

  // ---- controls -----------------------------------------------------------------

  function renderControls() {
    const a = call.local.audio;
    const v = call.local.video;
    micBtn.replaceChildren(icon(a ? 'mic' : 'micOff'), h('span', { class: 'ctl-label' }, a ? 'Mute' : 'Unmute'));
    micBtn.setAttribute('aria-label', a ? 'Turn microphone off' : 'Turn microphone on');
    micBtn.setAttribute('aria-pressed', String(!a));
    micBtn.classList.toggle('off', !a);
    micBtn.disabled = !call.stream.getAudioTracks().length;
    camBtn.replaceChildren(icon(v ? 'cam' : 'camOff'), h('span', { class: 'ctl-label' }, v ? 'Stop video' : 'Start video'));
    camBtn.setAttribute('aria-label', v ? 'Turn camera off' : 'Turn camera on');
    camBtn.setAttribute('aria-pressed', String(!v));
    camBtn.classList.toggle('off', !v);
    camBtn.hidden = !call.stream.getVideoTracks().length;
    shareBtn.hidden = !canShareScreen() || meeting?.meeting_type === 'audio' || !call.mayShare();
    shareBtn.setAttribute('aria-pressed', String(call.local.screen));
    shareBtn.setAttribute('aria-label', call.local.screen ? 'Stop sharing your screen' : 'Share your screen');
    shareBtn.classList.toggle('on', call.local.screen);
    const moderator = call.isModerator();
    const recordingOn = (call.settings || meeting?.settings)?.enable_recording;
    recBtn.hidden = !moderator || !recordingOn;
    recBtn.setAttribute('aria-label', call.recording ? 'Stop recording' : 'Start recording');
    recBtn.querySelector('.ctl-label').textContent = call.recording ? 'Stop rec' : 'Record';
    recBtn.classList.toggle('on', Boolean(call.recording));
    recPill.hidden = !call.recording;
    endBtn.hidden = call.myRole !== 'host';
    const waiting = moderator ? call.waiting.size : 0;
    peopleBtn.classList.toggle('attention', waiting > 0);
    peopleBtn.setAttribute('aria-label', waiting ? `Participants (${waiting} waiting to join)`
      : 'Participants');
  }

  async function toggleShare() {
    try {
      if (call.local.screen) await call.stopShare();
      else await call.startShare();
    } catch (err) {
      if (err.name !== 'NotAllowedError') toast(words(err), 'error');
    }
  }

  async function toggleRecording() {
    recBtn.disabled = true;
    try {
      if (call.recording) {
        await recorder.stop();
        call.recording = null;
        renderControls();
      } else {
        call.recording = await recorder.start();
        renderControls();
      }
    } catch (err) {
      toast(words(err, { 403: 'Recording is turned off for this meeting.',
        409: 'A recording is already running.' }), 'error');
    } finally {
      recBtn.disabled = false;
    }
  }

  async function endMeeting() {
    if (!confirm('End the meeting for everyone?')) return;
    try {
      await call.endForAll();
    } catch (err) {
      toast(words(err), 'error');
    }
  }

  function openPanel(which) {
    panel = which;
    side.hidden = !which;
    stage.classList.toggle('with-side', Boolean(which));
    chatBtn.setAttribute('aria-pressed', String(which === 'chat'));
    peopleBtn.setAttribute('aria-pressed', String(which === 'people'));
    if (!which) return;
    const p = which === 'chat' ? chat : people;
    panelTitle.textContent = which === 'chat' ? 'Chat' : 'People';
    panelBody.replaceChildren(p.el);
    if (which === 'chat') {
      unread = 0;
      badge.hidden = true;
    }
    p.focus();
  }

  // ---- states in words ----------------------------------------------------------

  function onPhase() {
    document.body.dataset.phase = call.phase;
    waitingScreen.hidden = call.phase !== 'waiting';
    room.hidden = call.phase === 'waiting';
    banner.hidden = call.phase !== 'reconnecting';
    banner.textContent = call.phase === 'reconnecting'
      ? 'Connection lost. Reconnecting…' : '';
    if (call.phase === 'in') {
      banner.hidden = true;
      afterJoined();
    }
  }

  let joinedOnce = false;
  async function afterJoined() {
    if (joinedOnce) return;
    joinedOnce = true;
    try {
      // Now a member: the details, my role, and whether it records.
      const [detail, people_, recs] = await Promise.all([
        api('GET', `/meetings/${call.meetingId}`),
        api('GET', `/meetings/${call.meetingId}/participants`),
        api('GET', `/meetings/${call.meetingId}/recordings`)]);
      meeting = { ...meeting, ...detail };
      titleEl.textContent = meeting.title;
      document.title = `${meeting.title} · Meet`;
      const me = people_.participants.find((p) => p.user_id === call.me.user_id);
      if (me) call.myRole = me.role;
      for (const p of people_.participants) {
        const m = call.members.get(p.user_id);
        if (m && !m.role) m.role = p.role;
      }
      const active = recs.recordings.find((r) => r.status === 'recording');
      if (active) call.recording = active.recording_id;
      if (call.isModerator() && call.settings?.enable_waiting_room) await call.loadWaiting();
    } catch (err) {
      toast(words(err), 'error');
    }
    renderAll();
  }

  function onEnd(e) {
    recorder.stopCapture();
    const { title, text } = endWords(e.detail.reason);
    document.body.dataset.phase = 'ended';
    document.body.dataset.endReason = e.detail.reason;
    document.body.dataset.meetingId = '';
    const rejoin = ['left', 'lost', 'full', 'replaced'].includes(e.detail.reason);
    const screen = h('main', { id: 'main', class: 'state-screen ended', dataset: { reason: e.detail.reason } },
      h('h1', { tabindex: '-1' }, title), text ? h('p', {}, text) : null,
      h('div', { class: 'actions' },
        rejoin ? h('button', { type: 'button', class: 'btn primary', onclick: () => {
          window.dispatchEvent(new HashChangeEvent('hashchange'));
        } }, 'Rejoin') : null,
        h('a', { class: rejoin ? 'btn ghost light' : 'btn primary', href: '#/' }, 'Back to home'),
        e.detail.reason === 'ended' ? h('a', { class: 'btn ghost light',
          href: `#/m/${call.meetingId}/recordings` }, 'Recordings') : null));
    document.getElementById('toasts').replaceChildren();
    el.replaceChildren(screen);
    screen.querySelector('h1').focus();
  }

  function renderAll() {
    renderTiles();
    renderControls();
  }

  call.addEventListener('members', renderAll);
  call.addEventListener('phase', onPhase);
  call.addEventListener('settings', renderAll);
  call.addEventListener('waiting', renderControls);
  call.addEventListener('end', onEnd);
  call.addEventListener('notice', (e) => toast(e.detail.text, e.detail.kind));
  call.addEventListener('recording', (e) => {
    if (!e.detail.active) recorder.stopCapture(e.detail.recordingId);
    renderControls();
  });
  call.addEventListener('chat', (e) => {
    if (panel !== 'chat' && e.detail.message.user_id !== call.me.user_id) {
      unread += 1;
      badge.textContent = String(unread);
      badge.hidden = false;
      const from = call.members.get(e.detail.message.user_id);
      toast(`${from ? nameOf(from) : e.detail.message.username}: ${e.detail.message.content}`
        .slice(0, 120));
    }
  });
  const keys = (e) => {
    if (e.target.closest('input, textarea, select')) return;
    if (e.ctrlKey && e.key.toLowerCase() === 'd') { e.preventDefault(); micBtn.click(); }
    if (e.ctrlKey && e.key.toLowerCase() === 'e') { e.preventDefault(); camBtn.click(); }
  };
  document.addEventListener('keydown', keys);

  onPhase();
  renderAll();
  // Keyboard users land on the controls once the call screen is in place.
  requestAnimationFrame(() => { if (el.isConnected && !room.hidden) micBtn.focus(); });

  return {
    el,
    cleanup: () => {
      document.removeEventListener('keydown', keys);
      clearInterval(clockTimer);
      recorder.stopCapture();
      call.leave();
      window.mm.call = null;
      document.body.dataset.meetingId = '';
      delete document.body.dataset.phase;
      delete document.body.dataset.endReason;
    },
  };
}
