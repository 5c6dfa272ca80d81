// The new-meeting dialog: title, when, how long, who, and the meeting's
// settings as switches (SPEC 3.1). Once created it shows the invite link.

import { api } from '../api.js';
import { h, inviteLink, toast } from '../dom.js';
import { words } from '../words.js';

const SWITCHES = [
  ['enable_chat', 'Chat', 'Everyone can send messages', true],
  ['enable_screen_share', 'Screen sharing', 'Participants can share their screen', true],
  ['enable_recording', 'Recording', 'Hosts and moderators can record', true],
  ['enable_waiting_room', 'Waiting room', 'You let each guest in', false],
  ['mute_on_join', 'Mute on arrival', 'Participants join with the microphone off', false],
];

function localValue(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

function utc(date) {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export function createDialog(onCreated) {
  const field = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input);
  const title = h('input', { name: 'title', required: true, maxLength: 100,
    placeholder: 'Team sync', autocomplete: 'off' });
  const description = h('textarea', { name: 'description', maxLength: 500, rows: 2 });
  const now = h('input', { type: 'radio', name: 'when', value: 'now', checked: true });
  const later = h('input', { type: 'radio', name: 'when', value: 'later' });
  const start = h('input', { type: 'datetime-local', name: 'start',
    value: localValue(new Date(Date.now() + 3600e3)) });
  const length = h('select', { name: 'length' },
    [15, 30, 45, 60, 90, 120, 180, 240].map((m) => h('option', { value: m, selected: m === 60 },
      m < 60 ? `${m} minutes` : `${m / 60} hour${m > 60 ? 's' : ''}`)));
  const capacity = h('input', { type: 'number', name: 'capacity', min: 1, max: 1000, value: 10,
    required: true });
  const type = h('select', { name: 'type' },
    h('option', { value: 'video' }, 'Video'), h('option', { value: 'audio' }, 'Audio only'));
  const password = h('input', { type: 'password', name: 'password', maxLength: 50,
    autocomplete: 'new-password', placeholder: 'Optional' });
  const startRow = field('Starts', start);
  startRow.hidden = true;
  for (const r of [now, later]) r.addEventListener('change', () => { startRow.hidden = now.checked; });

  const switches = SWITCHES.map(([name, label, hint, on]) => h('label', { class: 'switch-row' },
    h('span', {}, h('strong', {}, label), h('small', {}, hint)),
    h('input', { type: 'checkbox', role: 'switch', name, checked: on })));

  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create meeting');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'create-h' });
  const close = () => dialog.close();

  const form = h('form', { class: 'stack', onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const begins = now.checked ? new Date() : new Date(start.value);
    if (Number.isNaN(begins.getTime())) {
      error.textContent = 'Choose when the meeting starts.';
      return;
    }
    const body = {
      title: title.value.trim(),
      start_time: utc(begins),
      end_time: utc(new Date(begins.getTime() + Number(length.value) * 60000)),
      max_participants: Number(capacity.value),
      meeting_type: type.value,
      settings: Object.fromEntries(SWITCHES.map(([name]) => [name, form.elements[name].checked])),
    };
    if (description.value.trim()) body.description = description.value.trim();
    if (password.value) body.password = password.value;
    submit.disabled = true;
    try {
      const m = await api('POST', '/meetings', body);
      password.value = '';
      showCreated(m);
      onCreated?.(m);
    } catch (err) {
      error.textContent = words(err);
    } finally {
      submit.disabled = false;
    }
  } },
  field('Title', title), field('Description', description),
  h('fieldset', { class: 'when' }, h('legend', {}, 'When'),
    h('label', { class: 'radio' }, now, 'Now'), h('label', { class: 'radio' }, later, 'Later')),
  startRow,
  h('div', { class: 'two' }, field('Length', length), field('Capacity', capacity)),
  h('div', { class: 'two' }, field('Type', type), field('Meeting password', password)),
  h('fieldset', { class: 'switches' }, h('legend', {}, 'Settings'), switches),
  error,
  h('div', { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'btn ghost', onclick: close }, 'Cancel'), submit));

  function showCreated(m) {
    const link = inviteLink(m.meeting_id);
    const linkInput = h('input', { readOnly: true, value: link, 'aria-label': 'Invite link',
      onfocus: (e) => e.target.select() });
    body.replaceChildren(
      h('h2', { id: 'create-h' }, 'Your meeting is ready'),
      h('p', { class: 'muted' }, 'Share this link with the people you want in the meeting.'),
      h('div', { class: 'copy-row' }, linkInput, h('button', { type: 'button', class: 'btn',
        onclick: async () => {
          try { await navigator.clipboard.writeText(link); toast('Invite link copied.'); } catch {
            linkInput.select();
          }
        } }, 'Copy')),
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn ghost', onclick: close }, 'Close'),
        h('a', { class: 'btn primary', href: `#/m/${m.meeting_id}`, onclick: close }, 'Join now')));
    linkInput.focus();
  }

  const body = h('div', {}, h('h2', { id: 'create-h' }, 'New meeting'), form);
  dialog.append(body);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  title.focus();
}
