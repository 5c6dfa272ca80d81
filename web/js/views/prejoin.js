// Before joining: the camera preview, the choice of microphone and camera,
// joining muted or with the camera off, the password when the meeting has
// one, and then the call itself (callView) on the same address.

import { api, currentUser } from '../api.js';
import { Call } from '../call.js';
import { h, icon, when } from '../dom.js';
import { listDevices, openLocal, stopStream } from '../media.js';
import { words } from '../words.js';
import { page } from './shell.js';
import { callView } from './call.js';

const RETRY_MS = 5000;
const RETRIES = 360;        // half an hour of waiting for the host to start

// What we can know about the meeting before joining: members read it (the
// list of my meetings tells whether we are one, without a refused request).
async function lookUp(id) {
  const mine = await api('GET', '/meetings?page=1&page_size=100');
  if (!mine.meetings.some((m) => m.meeting_id === id)) return null;
  const [detail, people] = await Promise.all([api('GET', `/meetings/${id}`),
    api('GET', `/meetings/${id}/participants`)]);
  const me = people.participants.find((p) => p.user_id === currentUser().user_id);
  return { ...detail, myRole: me?.role || 'participant' };
}

export function prejoinView(meetingId) {
  let stream = null;
  let meeting = null;
  let audioOn = true;
  let videoOn = true;
  let retryTimer = null;
  let retries = 0;
  let call = null;
  let gone = false;
  let opening = null;       // the camera and microphone being opened
  const user = currentUser();

  const video = h('video', { class: 'mirror', autoplay: true, muted: true, playsInline: true,
    'aria-label': 'Your camera preview' });
  const camOffNote = h('div', { class: 'preview-off' }, 'Starting camera…');
  const micBtn = h('button', { type: 'button', class: 'round', 'aria-pressed': 'true',
    onclick: () => { audioOn = !audioOn; applyToggles(); } });
  const camBtn = h('button', { type: 'button', class: 'round', 'aria-pressed': 'true',
    onclick: () => { videoOn = !videoOn; applyToggles(); } });
  const micSel = h('select', { onchange: () => { opening = reopen(); } });
  const camSel = h('select', { onchange: () => { opening = reopen(); } });
  const micField = h('label', { class: 'field' }, h('span', {}, 'Microphone'), micSel);
  const camField = h('label', { class: 'field' }, h('span', {}, 'Camera'), camSel);
  const deviceNote = h('p', { class: 'muted small', role: 'status' });

  const title = h('h1', {}, 'Ready to join?');
  const info = h('p', { class: 'muted' }, `Meeting ${meetingId}`);
  const status = h('p', { class: 'state', role: 'status', 'aria-live': 'polite' });
  const pwInput = h('input', { type: 'password', name: 'password', maxLength: 50,
    autocomplete: 'off' });
  const pwField = h('label', { class: 'field', hidden: true }, h('span', {}, 'Meeting password'),
    pwInput);
  const joinBtn = h('button', { type: 'submit', class: 'btn primary big' }, 'Join now');
  const form = h('form', { class: 'stack', onsubmit: (ev) => { ev.preventDefault(); join(); } },
    pwField, joinBtn);

  function applyToggles() {
    for (const t of stream?.getAudioTracks() || []) t.enabled = audioOn;
    for (const t of stream?.getVideoTracks() || []) t.enabled = videoOn;
    micBtn.replaceChildren(icon(audioOn ? 'mic' : 'micOff'));
    camBtn.replaceChildren(icon(videoOn ? 'cam' : 'camOff'));
    micBtn.setAttribute('aria-pressed', String(!audioOn));
    camBtn.setAttribute('aria-pressed', String(!videoOn));
    micBtn.setAttribute('aria-label', audioOn ? 'Turn microphone off' : 'Turn microphone on');
    camBtn.setAttribute('aria-label', videoOn ? 'Turn camera off' : 'Turn camera on');
    micBtn.classList.toggle('off', !audioOn);
    camBtn.classList.toggle('off', !videoOn);
    if (stream) camOffNote.textContent = stream.getVideoTracks().length ? 'Camera is off' : 'No camera';
    camOffNote.hidden = Boolean(videoOn && stream?.getVideoTracks().length > 0);
  }

  async function reopen() {
    stopStream(stream);
    stream = null;
    const wantVideo = meeting?.meeting_type !== 'audio';
    try {
      stream = await openLocal({ audio: true, video: wantVideo, audioId: micSel.value,
        videoId: camSel.value });
      if (gone) { stopStream(stream); return; }
      video.srcObject = stream;
      deviceNote.textContent = stream.videoError && wantVideo
        ? `No camera: ${words(stream.videoError)}` : '';
      const { mics, cams } = await listDevices();
      fill(micSel, mics, stream.getAudioTracks()[0]);
      fill(camSel, cams, stream.getVideoTracks()[0]);
      camField.hidden = !wantVideo;
    } catch (err) {
      deviceNote.textContent = `${words(err)} You can still join and listen.`;
      stream = new MediaStream();
    }
    applyToggles();
  }

  function fill(select, devices, track) {
    const chosen = track?.getSettings().deviceId || select.value;
    select.replaceChildren(...devices.map((d) => h('option', { value: d.id,
      selected: d.id === chosen }, d.label)));
    select.disabled = devices.length < 2;
  }

  function describe() {
    if (!meeting) return;
    title.textContent = meeting.title;
    document.title = `${meeting.title} · Meet`;
    const soon = new Date(meeting.start_time) - Date.now() < 5 * 60e3;
    const words_ = { scheduled: soon ? 'Not started yet' : `Scheduled for ${when(meeting.start_time)}`,
      ongoing: 'The meeting is live', ended: 'This meeting has ended',
      cancelled: 'This meeting was cancelled' };
    info.textContent = words_[meeting.status] || '';
    if (meeting.has_password && meeting.myRole !== 'host') pwField.hidden = false;
    if (meeting.status === 'scheduled' && meeting.myRole === 'host') joinBtn.textContent = 'Start meeting';
    if (meeting.status === 'ended' || meeting.status === 'cancelled') {
      joinBtn.hidden = true;
      status.replaceChildren(h('a', { href: `#/m/${meetingId}/recordings` }, 'See the recordings'));
    }
  }

  async function join() {
    clearTimeout(retryTimer);
    status.textContent = '';
    joinBtn.disabled = true;
    try {
      await opening;            // join with the camera and microphone, not before them
      if (meeting?.status === 'scheduled' && meeting.myRole === 'host') {
        await api('POST', `/meetings/${meetingId}/start`).catch((err) => {
          if (err.status !== 409) throw err;     // started meanwhile
        });
        meeting.status = 'ongoing';
      }
      call = new Call({ meetingId, me: user, stream: stream || new MediaStream(),
        password: pwInput.value, audioOn, videoOn });
      await call.join();
      pwInput.value = '';
      const started = call;
      call = null;
      stream = null;            // the call owns it now
      const view = callView(started, meeting);
      current.cleanup = view.cleanup;
      el.replaceWith(view.el);
      document.body.dataset.view = 'call';
    } catch (err) {
      call = null;
      joinBtn.disabled = false;
      failed(err);
    }
  }

  function failed(err) {
    if (err.code === 'wrong_password') {
      pwField.hidden = false;
      status.textContent = pwInput.value ? 'That password is not right. Try again.'
        : 'This meeting has a password. Enter it to join.';
      pwInput.value = '';
      pwInput.focus();
      return;
    }
    if (err.status === 409 && err.code !== 'meeting_full') {
      if (meeting?.status === 'ended' || meeting?.status === 'cancelled') {
        status.textContent = 'This meeting has ended.';
        return;
      }
      status.textContent = meeting
        ? 'The meeting has not started yet. You will join as soon as the host starts it.'
        : 'The meeting is not open right now. If it has not started yet, you will join as soon as the host starts it.';
      waitForHost();
      return;
    }
    status.textContent = words(err, {
      forbidden: 'You cannot join this meeting: the host removed you.',
      403: 'You cannot join this meeting: the host removed you.',
    });
  }

  function waitForHost() {
    if (gone || retries++ >= RETRIES) return;
    joinBtn.disabled = true;
    retryTimer = setTimeout(async () => {
      if (meeting) meeting = { ...meeting, ...(await lookUp(meetingId).catch(() => null)) };
      if (meeting?.status === 'ended') {
        describe();
        status.textContent = 'This meeting has ended.';
        return;
      }
      join();
    }, RETRY_MS);
  }

  const el = page(h('div', { class: 'prejoin' },
    h('div', { class: 'preview' }, video, camOffNote,
      h('div', { class: 'preview-controls' }, micBtn, camBtn)),
    h('div', { class: 'prejoin-side' }, title, info,
      h('p', { class: 'muted' }, `You will join as ${user.nickname || user.username}.`),
      form, status,
      h('div', { class: 'devices' }, micField, camField), deviceNote,
      h('a', { href: '#/', class: 'link' }, 'Back to meetings'))));

  const current = {
    name: 'prejoin', title: 'Join', el, keepFocus: true,
    cleanup: () => {
      gone = true;
      clearTimeout(retryTimer);
      stopStream(stream);
    },
  };
  applyToggles();
  opening = reopen();
  (async () => {
    meeting = await lookUp(meetingId).catch(() => null);
    if (gone) return;
    describe();
    await opening;
    // An audio meeting needs no camera.
    if (meeting?.meeting_type === 'audio' && stream?.getVideoTracks().length) {
      opening = reopen();
      await opening;
    }
    if (!gone) joinBtn.focus();
  })();
  return current;
}
