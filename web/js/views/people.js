// The participants side panel: everyone in the call with their role and
// microphone, the host's and moderators' actions on them (mute, remove,
// change role), and the waiting room (admit, deny, admit all).

import { h, icon, initials, nameOf, toast } from '../dom.js';
import { words } from '../words.js';

const ROLE_WORDS = { host: 'Host', moderator: 'Moderator', participant: '' };

export function peoplePanel(call, meeting) {
  const waitingBox = h('section', { class: 'waiting-list', hidden: true,
    'aria-labelledby': 'waiting-h' });
  const list = h('ul', { class: 'people', 'aria-label': 'In the meeting' });

  const act = (fn, done) => async () => {
    try {
      await fn();
      if (done) toast(done);
    } catch (err) {
      toast(words(err, { 404: 'That person is no longer here.' }), 'error');
    }
  };

  function render() {
    const me = { ...call.me, role: call.myRole, audio: call.local.audio, self: true };
    const all = [me, ...call.members.values()];
    list.replaceChildren(...all.map((p) => person(p)));
    renderWaiting();
  }

  function person(p) {
    const name = p.self ? `${nameOf(p)} (you)` : nameOf(p);
    const actions = p.self ? [] : actionsFor(p, name);
    return h('li', { dataset: { userId: p.user_id } },
      h('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(nameOf(p))),
      h('span', { class: 'person' }, h('span', {}, name),
        ROLE_WORDS[p.role] ? h('small', {}, ROLE_WORDS[p.role]) : null),
      p.audio === false ? h('span', { class: 'muted-icon', role: 'img',
        'aria-label': 'Microphone off' }, icon('micOff')) : null,
      actions.length ? h('div', { class: 'person-actions' }, ...actions) : null);
  }

  function actionsFor(p, name) {
    const out = [];
    const host = call.myRole === 'host';
    const mod = call.myRole === 'moderator';
    const creator = p.user_id === meeting?.creator_id;
    // Mute needs the server's SPEC §6 (its `joined` carries settings).
    if (call.settings && (host || (mod && p.role !== 'host')) && p.audio !== false) {
      out.push(h('button', { type: 'button', class: 'btn ghost small',
        'aria-label': `Ask ${name} to mute`, onclick: act(() => call.mute(p.user_id),
          `${name} was asked to mute.`) }, 'Mute'));
    }
    if (host && !creator) {
      out.push(h('select', { class: 'small', 'aria-label': `Role of ${name}`,
        onchange: (e) => act(() => call.setRole(p.user_id, e.target.value),
          `${name} is now ${e.target.value}.`)() },
      ['participant', 'moderator', 'host'].map((r) => h('option', { value: r,
        selected: r === p.role }, r[0].toUpperCase() + r.slice(1)))));
    }
    if ((host && !creator) || (mod && p.role === 'participant')) {
      out.push(h('button', { type: 'button', class: 'btn ghost small danger',
        'aria-label': `Remove ${name}`, onclick: () => {
          if (confirm(`Remove ${name} from the meeting?`)) {
            act(() => call.remove(p.user_id), `${name} was removed.`)();
          }
        } }, 'Remove'));
    }
    return out;
  }

  function renderWaiting() {
    const show = call.isModerator() && call.waiting.size > 0;
    waitingBox.hidden = !show;
    if (!show) return;
    const rows = [...call.waiting.values()].map((w) => {
      const name = nameOf(w);
      return h('li', { dataset: { userId: w.user_id } },
        h('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(name)),
        h('span', { class: 'person' }, name),
        h('div', { class: 'person-actions' },
          h('button', { type: 'button', class: 'btn primary small', 'aria-label': `Admit ${name}`,
            onclick: act(() => call.admit(w.user_id)) }, 'Admit'),
          h('button', { type: 'button', class: 'btn ghost small', 'aria-label': `Deny ${name}`,
            onclick: act(() => call.deny(w.user_id)) }, 'Deny')));
    });
    waitingBox.replaceChildren(
      h('div', { class: 'list-head' }, h('h3', { id: 'waiting-h' }, `Waiting to join (${call.waiting.size})`),
        h('button', { type: 'button', class: 'btn small', onclick: act(() => call.admitAll()) },
          'Admit all')),
      h('ul', { class: 'people' }, rows));
  }

  for (const ev of ['members', 'waiting', 'settings']) call.addEventListener(ev, render);
  render();
  const el = h('section', { class: 'panel-body', 'aria-label': 'Participants' }, waitingBox,
    h('h3', { class: 'sr-only' }, 'In the meeting'), list);
  return { el, focus: () => el.querySelector('button, select')?.focus() };
}
