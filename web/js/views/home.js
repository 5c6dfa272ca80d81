// Home: my meetings (GET /meetings: all, upcoming, live, past, and a
// search), a new meeting with its settings as switches, and a box that
// takes a meeting link or id.

import { api } from '../api.js';
import { h, icon, inviteLink, meetingIdFrom, toast, when } from '../dom.js';
import { words } from '../words.js';
import { page } from './shell.js';
import { createDialog } from './create.js';

const TABS = [
  ['', 'All'], ['scheduled', 'Upcoming'], ['ongoing', 'Live now'], ['ended', 'Past'],
];
const STATUS_WORDS = { scheduled: 'Upcoming', ongoing: 'Live', ended: 'Ended', cancelled: 'Cancelled' };
const PAGE_SIZE = 20;

export function homeView() {
  const q = { status: '', keyword: '', page: 1 };
  const list = h('ul', { class: 'meetings', 'aria-live': 'polite', 'aria-busy': 'true' });
  const more = h('button', { type: 'button', class: 'btn ghost', hidden: true,
    onclick: () => { q.page += 1; load(true); } }, 'Show more');
  const listError = h('p', { class: 'form-error', role: 'alert' });
  let seq = 0;

  async function load(append = false) {
    const mine = ++seq;
    if (!append) q.page = 1;
    const params = new URLSearchParams({ page: q.page, page_size: PAGE_SIZE });
    if (q.status) params.set('status', q.status);
    if (q.keyword) params.set('keyword', q.keyword);
    list.setAttribute('aria-busy', 'true');
    try {
      const data = await api('GET', `/meetings?${params}`);
      if (mine !== seq) return;     // a newer filter won
      listError.textContent = '';
      if (!append) list.replaceChildren();
      for (const m of data.meetings) list.append(row(m));
      if (!list.children.length) list.append(empty());
      more.hidden = data.page * data.page_size >= data.total;
    } catch (err) {
      if (mine === seq) listError.textContent = words(err);
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  function empty() {
    const text = q.keyword ? `No meetings match “${q.keyword}”.`
      : q.status ? 'Nothing here yet.' : 'You have no meetings yet. Start one above.';
    return h('li', { class: 'empty' }, text);
  }

  const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': 'Show meetings' },
    TABS.map(([status, label]) => h('button', { type: 'button', class: 'tab',
      'aria-pressed': String(status === q.status), dataset: { status },
      onclick: (ev) => {
        q.status = status;
        for (const b of tabs.children) b.setAttribute('aria-pressed', String(b === ev.currentTarget));
        load();
      } }, label)));

  let typing;
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search meetings',
    'aria-label': 'Search meetings', maxLength: 100,
    oninput: () => {
      clearTimeout(typing);
      typing = setTimeout(() => { q.keyword = search.value.trim(); load(); }, 250);
    } });

  const joinInput = h('input', { name: 'meeting', placeholder: 'Meeting link or ID',
    'aria-label': 'Meeting link or ID', autocomplete: 'off', required: true });
  const joinError = h('p', { class: 'form-error', role: 'alert' });
  const joinForm = h('form', { class: 'join-box', onsubmit: (ev) => {
    ev.preventDefault();
    joinError.textContent = '';
    const id = meetingIdFrom(joinInput.value);
    if (!id) {
      joinError.textContent = 'Paste a meeting link, or type the meeting number.';
      return;
    }
    location.hash = `#/m/${id}`;
  } }, joinInput, h('button', { type: 'submit', class: 'btn' }, 'Join'));

  const newBtn = h('button', { type: 'button', class: 'btn primary big',
    onclick: () => createDialog(() => load()) }, icon('cam'), 'New meeting');

  const el = page(
    h('section', { class: 'hero', 'aria-labelledby': 'hero-h' },
      h('h1', { id: 'hero-h' }, 'Video meetings for everyone'),
      h('p', { class: 'muted' }, 'Start a meeting, share the link, and talk face to face.'),
      h('div', { class: 'hero-actions' }, newBtn, joinForm), joinError),
    h('section', { class: 'card', 'aria-labelledby': 'list-h' },
      h('div', { class: 'list-head' }, h('h2', { id: 'list-h' }, 'Your meetings'), search),
      tabs, listError, list, more));
  load();
  return { name: 'home', title: 'Meetings', el, cleanup: () => clearTimeout(typing) };
}

function row(m) {
  const start = new Date(m.start_time);
  const copy = h('button', { type: 'button', class: 'btn ghost small',
    'aria-label': `Copy the invite link of ${m.title}`,
    onclick: () => copyLink(m.meeting_id) }, icon('link'), 'Copy link');
  const open = m.status === 'ongoing'
    ? h('a', { class: 'btn primary small', href: `#/m/${m.meeting_id}`,
      'aria-label': `Join ${m.title}` }, 'Join')
    : m.status === 'scheduled'
      ? h('a', { class: 'btn small', href: `#/m/${m.meeting_id}`,
        'aria-label': `Open ${m.title}` }, 'Open')
      : null;
  const recs = h('a', { class: 'btn ghost small', href: `#/m/${m.meeting_id}/recordings`,
    'aria-label': `Recordings of ${m.title}` }, 'Recordings');
  return h('li', { class: 'meeting', dataset: { meetingId: m.meeting_id, status: m.status } },
    h('div', { class: 'date', 'aria-hidden': 'true' },
      h('span', { class: 'month' }, start.toLocaleString(undefined, { month: 'short' })),
      h('span', { class: 'day' }, start.getDate())),
    h('div', { class: 'meeting-main' },
      h('h3', {}, m.title),
      h('p', { class: 'muted' }, `${when(m.start_time)} – ${new Date(m.end_time)
        .toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`,
      ' · ', `${m.participant_count} ${m.participant_count === 1 ? 'person' : 'people'}`)),
    h('span', { class: `chip ${m.status}` }, STATUS_WORDS[m.status] || m.status),
    h('div', { class: 'row-actions' }, open, copy, recs));
}

async function copyLink(id) {
  const link = inviteLink(id);
  try {
    await navigator.clipboard.writeText(link);
    toast('Invite link copied.');
  } catch {
    toast(`Invite link: ${link}`);
  }
}
