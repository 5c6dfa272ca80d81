// The chat side panel: the history (newest page first, earlier pages on
// demand) and the messages pushed live over signaling, in message order.

import { api } from '../api.js';
import { clock, h } from '../dom.js';
import { words } from '../words.js';

const PAGE_SIZE = 30;

export function chatPanel(call, meeting) {
  const seen = new Set();
  let page = 0;
  let total = 0;
  const list = h('ol', { class: 'messages', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const earlier = h('button', { type: 'button', class: 'btn ghost small', hidden: true,
    onclick: () => loadPage() }, 'Load earlier messages');
  const empty = h('p', { class: 'muted center' }, 'No messages yet. Say hello!');
  const input = h('input', { name: 'content', maxLength: 1000, autocomplete: 'off',
    placeholder: 'Send a message to everyone', 'aria-label': 'Message' });
  const send = h('button', { type: 'submit', class: 'btn primary small' }, 'Send');
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'composer', onsubmit: async (ev) => {
    ev.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    send.disabled = true;
    error.textContent = '';
    try {
      const data = await api('POST', `/meetings/${call.meetingId}/messages`, { content });
      input.value = '';
      // The pushed frame usually comes first; this covers a closed socket.
      show({ message_id: data.message_id, user_id: call.me.user_id,
        username: call.me.username, content, timestamp: data.timestamp });
    } catch (err) {
      error.textContent = words(err, { 403: 'Chat is turned off in this meeting.',
        409: 'The meeting is over: messages can no longer be sent.' });
    } finally {
      send.disabled = false;
      input.focus();
    }
  } }, input, send);

  function show(m) {
    if (seen.has(m.message_id)) return;
    seen.add(m.message_id);
    empty.remove();
    const mine = m.user_id === call.me.user_id;
    const who = mine ? 'You' : (call.members.get(m.user_id)?.nickname || m.username
      || `User ${m.user_id}`);
    const li = h('li', { class: mine ? 'mine' : '', dataset: { messageId: m.message_id } },
      h('div', { class: 'meta' }, h('strong', {}, who), ' ',
        h('time', { datetime: m.timestamp }, clock(m.timestamp))),
      h('p', {}, m.content));
    const after = [...list.children].find((x) => Number(x.dataset.messageId) > m.message_id);
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.insertBefore(li, after || null);
    if (!after && atBottom) list.scrollTop = list.scrollHeight;
  }

  async function loadPage() {
    try {
      const data = await api('GET',
        `/meetings/${call.meetingId}/messages?page=${page + 1}&page_size=${PAGE_SIZE}`);
      page += 1;
      total = data.total;
      const keep = list.scrollHeight - list.scrollTop;
      for (const m of data.messages) show(m);
      if (page > 1) list.scrollTop = list.scrollHeight - keep;
      else list.scrollTop = list.scrollHeight;
      earlier.hidden = page * PAGE_SIZE >= total;
    } catch (err) {
      error.textContent = words(err);
    }
  }

  function applySettings() {
    const off = (call.settings || meeting?.settings)?.enable_chat === false;
    input.disabled = off;
    send.disabled = off;
    input.placeholder = off ? 'Chat is turned off in this meeting' : 'Send a message to everyone';
  }

  call.addEventListener('chat', (e) => show(e.detail.message));
  call.addEventListener('settings', applySettings);
  applySettings();
  // History once seated: a user in the waiting room may not read it yet.
  const loadWhenIn = () => {
    if (call.phase !== 'in' || page > 0) return;
    call.removeEventListener('phase', loadWhenIn);
    loadPage();
  };
  call.addEventListener('phase', loadWhenIn);
  loadWhenIn();
  const el = h('section', { class: 'panel-body chat', 'aria-label': 'Chat' },
    h('div', { class: 'messages-wrap' }, earlier, empty, list), error, form);
  return { el, focus: () => input.focus() };
}
