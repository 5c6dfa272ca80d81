// A meeting's recordings: when, status, length, size, play and download.
// The list refreshes by itself while a recording is still being made or
// processed, and on demand.

import { api } from '../api.js';
import { bytes, duration, h, when } from '../dom.js';
import { words } from '../words.js';
import { page } from './shell.js';

const REFRESH_MS = 4000;
const STATUS_WORDS = { recording: 'Recording…', processing: 'Processing…', completed: 'Ready',
  failed: 'Failed' };
// What a row says while it has no file yet: the server makes it, or a
// browser uploads it.
const PENDING_WORDS = { server: { recording: 'Recording on the server',
  processing: 'The server is making the file' } };
const EXTENSIONS = { 'video/mp4': 'mp4', 'video/webm': 'webm', 'audio/webm': 'webm' };

export function recordingsView(meetingId) {
  let timer = null;
  let gone = false;
  const title = h('h1', {}, 'Recordings');
  const sub = h('p', { class: 'muted' }, `Meeting ${meetingId}`);
  const list = h('ul', { class: 'recordings', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const player = h('div', { class: 'player', hidden: true });
  const refresh = h('button', { type: 'button', class: 'btn ghost', onclick: () => load() }, 'Refresh');

  async function load() {
    clearTimeout(timer);
    try {
      const [meeting, data] = await Promise.all([
        api('GET', `/meetings/${meetingId}`),
        api('GET', `/meetings/${meetingId}/recordings`)]);
      if (gone) return;
      error.textContent = '';
      title.textContent = `Recordings of ${meeting.title}`;
      document.title = `Recordings · ${meeting.title} · Meet`;
      sub.textContent = when(meeting.start_time);
      list.replaceChildren(...data.recordings.map(row));
      if (!data.recordings.length) list.append(h('li', { class: 'empty' }, 'No recordings yet.'));
      const busy = data.recordings.some((r) => r.status === 'recording' || r.status === 'processing'
        || (r.status === 'completed' && !r.size));
      if (busy) timer = setTimeout(load, REFRESH_MS);
    } catch (err) {
      if (!gone) error.textContent = words(err, { 403: 'Only the people of this meeting can see its recordings.' });
    }
  }

  function row(r) {
    const ready = r.file_url && r.size > 0;
    const label = `recording of ${when(r.created_at)}`;
    return h('li', { class: 'recording', dataset: { recordingId: r.recording_id, status: r.status } },
      h('div', { class: 'rec-main' },
        h('strong', {}, when(r.created_at)),
        h('span', { class: 'muted' }, `${duration(r.duration)} · ${bytes(r.size)}`)),
      h('span', { class: `chip ${r.status}` }, STATUS_WORDS[r.status] || r.status),
      h('div', { class: 'row-actions' },
        ready ? h('button', { type: 'button', class: 'btn small', 'aria-label': `Play ${label}`,
          onclick: () => play(r, label) }, 'Play') : null,
        ready ? h('a', { class: 'btn ghost small', href: r.file_url,
          download: `${r.recording_id}.${EXTENSIONS[r.content_type] || 'webm'}`,
          'aria-label': `Download ${label}` }, 'Download') : null,
        !ready && r.status !== 'failed' ? h('span', { class: 'muted small' }, pending(r)) : null),
      r.status === 'failed' && r.reason
        ? h('p', { class: 'rec-reason form-error' }, `Why: ${r.reason}`) : null);
  }

  function pending(r) {
    return PENDING_WORDS[r.source]?.[r.status] || 'Not uploaded yet';
  }

  function play(r, label) {
    player.hidden = false;
    const v = h('video', { controls: true, autoplay: true, src: r.file_url, 'aria-label': label });
    player.replaceChildren(v, h('button', { type: 'button', class: 'btn ghost small',
      onclick: () => { player.hidden = true; player.replaceChildren(); } }, 'Close player'));
    v.focus();
  }

  const el = page(h('section', { class: 'card' },
    h('div', { class: 'list-head' }, h('div', {}, title, sub),
      h('div', { class: 'row-actions' }, refresh, h('a', { class: 'btn', href: `#/m/${meetingId}` }, 'Open meeting'))),
    error, list, player));
  load();
  return { name: 'recordings', title: 'Recordings', el,
    cleanup: () => { gone = true; clearTimeout(timer); } };
}
