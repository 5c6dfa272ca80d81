// Webhooks (SPEC §8): my endpoints, a new one (its secret shown once), turning
// one off and on, a test delivery, a new secret, and the recent deliveries
// with a retry for the failed ones. Shown only where the server has them.

import { api } from '../api.js';
import { h, toast, when } from '../dom.js';
import { words } from '../words.js';
import { page } from './shell.js';

const EVENTS = ['meeting.started', 'meeting.ended', 'participant.joined',
  'participant.left', 'participant.removed', 'participant.waiting', 'recording.started',
  'recording.completed', 'recording.failed', 'chat.message'];
const DELIVERY_WORDS = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };

export function webhooksView() {
  const list = h('ul', { class: 'hooks', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const secretBox = h('div', { class: 'secret', hidden: true, role: 'status' });

  const url = h('input', { type: 'url', name: 'url', required: true, maxLength: 2000,
    placeholder: 'https://example.com/hooks/meetings', autocomplete: 'off' });
  const description = h('input', { name: 'description', maxLength: 200, placeholder: 'Optional' });
  const boxes = EVENTS.map((e) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'events', value: e, defaultChecked: e.startsWith('meeting.') }),
    h('code', {}, e)));
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'stack', onsubmit: async (ev) => {
    ev.preventDefault();
    formError.textContent = '';
    const events = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked)
      .map((i) => i.value);
    if (!events.length) {
      formError.textContent = 'Choose at least one event.';
      return;
    }
    const body = { url: url.value.trim(), events };
    if (description.value.trim()) body.description = description.value.trim();
    try {
      const hook = await api('POST', '/webhooks', body);
      form.reset();
      showSecret(hook.url, hook.secret);
      load();
    } catch (err) {
      formError.textContent = words(err);
    }
  } },
  h('label', { class: 'field' }, h('span', {}, 'Endpoint URL'), url),
  h('label', { class: 'field' }, h('span', {}, 'Description'), description),
  h('fieldset', { class: 'events' }, h('legend', {}, 'Events'), boxes),
  formError,
  h('div', {}, h('button', { type: 'submit', class: 'btn primary' }, 'Add webhook')));

  function showSecret(target, secret) {
    const input = h('input', { readOnly: true, value: secret, 'aria-label': 'Signing secret',
      onfocus: (e) => e.target.select() });
    secretBox.hidden = false;
    secretBox.replaceChildren(
      h('p', {}, h('strong', {}, `Signing secret for ${target}. `),
        'Copy it now: it will not be shown again.'),
      input,
      h('button', { type: 'button', class: 'btn ghost small',
        onclick: () => { secretBox.hidden = true; secretBox.replaceChildren(); } }, 'Done'));
    input.focus();
  }

  async function load() {
    try {
      const data = await api('GET', '/webhooks');
      error.textContent = '';
      list.replaceChildren(...data.webhooks.map(row));
      if (!data.webhooks.length) list.append(h('li', { class: 'empty' }, 'No webhooks yet.'));
    } catch (err) {
      error.textContent = words(err);
    }
  }

  const act = (fn, done) => async () => {
    try {
      const out = await fn();
      if (done) toast(done);
      return out;
    } catch (err) {
      toast(words(err), 'error');
      return null;
    }
  };

  function row(w) {
    const deliveries = h('div', { class: 'deliveries', hidden: true });
    const base = `/webhooks/${w.webhook_id}`;
    const toggle = h('input', { type: 'checkbox', role: 'switch', checked: w.enabled,
      'aria-label': `Deliver to ${w.url}`, onchange: async (e) => {
        const ok = await act(() => api('PUT', base, { enabled: e.target.checked }),
          e.target.checked ? 'Webhook turned on.' : 'Webhook turned off.')();
        if (!ok) e.target.checked = !e.target.checked;
      } });
    return h('li', { class: 'hook', dataset: { webhookId: w.webhook_id } },
      h('div', { class: 'hook-head' },
        h('div', { class: 'hook-main' }, h('strong', {}, w.url),
          h('span', { class: 'muted small' }, w.description || '',
            w.description ? ' · ' : '', w.events.join(', '))),
        toggle),
      h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'btn ghost small', onclick: act(async () => {
          await api('POST', `${base}/test`);
          showDeliveries(w, deliveries, true);
        }, 'A test event was queued.') }, 'Send test'),
        h('button', { type: 'button', class: 'btn ghost small',
          onclick: () => showDeliveries(w, deliveries, deliveries.hidden) }, 'Deliveries'),
        h('button', { type: 'button', class: 'btn ghost small', onclick: act(async () => {
          const { secret } = await api('POST', `${base}/rotate_secret`);
          showSecret(w.url, secret);
        }) }, 'New secret'),
        h('button', { type: 'button', class: 'btn ghost small danger', onclick: () => {
          if (confirm(`Delete the webhook to ${w.url}?`)) {
            act(async () => { await api('DELETE', base); load(); }, 'Webhook deleted.')();
          }
        } }, 'Delete')),
      deliveries);
  }

  async function showDeliveries(w, box, open) {
    box.hidden = !open;
    if (!open) return;
    const base = `/webhooks/${w.webhook_id}`;
    try {
      const data = await api('GET', `${base}/deliveries?page=1&page_size=20`);
      box.replaceChildren(data.deliveries.length ? h('table', {},
        h('thead', {}, h('tr', {}, ['Event', 'Meeting', 'Status', 'Tries', 'When', '']
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, data.deliveries.map((d) => h('tr', {},
          h('td', {}, h('code', {}, d.type)), h('td', {}, d.meeting_id ?? '—'),
          h('td', {}, DELIVERY_WORDS[d.status] || d.status,
            d.last_status_code ? ` (answered ${d.last_status_code})` : ''),
          h('td', {}, d.attempts), h('td', {}, when(d.created_at)),
          h('td', {}, d.status === 'failed' ? h('button', { type: 'button',
            class: 'btn ghost small', onclick: act(async () => {
              await api('POST', `${base}/deliveries/${d.delivery_id}/retry`);
              showDeliveries(w, box, true);
            }, 'Sent again.') }, 'Retry') : null)))))
        : h('p', { class: 'muted' }, 'Nothing delivered yet.'));
      // Pending deliveries settle within seconds: look again while the list is open.
      clearTimeout(box.timer);
      if (data.deliveries.some((d) => d.status === 'pending')) {
        box.timer = setTimeout(() => {
          if (box.isConnected && !box.hidden) showDeliveries(w, box, true);
        }, 3000);
      }
    } catch (err) {
      box.replaceChildren(h('p', { class: 'form-error' }, words(err)));
    }
  }

  const el = page(
    h('section', { class: 'hero small-hero' }, h('h1', {}, 'Webhooks'),
      h('p', { class: 'muted' }, 'Tell your own systems what happens in the meetings you host. '
        + 'Each event is signed with the endpoint\'s secret.')),
    h('section', { class: 'card', 'aria-labelledby': 'hooks-h' },
      h('h2', { id: 'hooks-h' }, 'Your endpoints'), secretBox, error, list),
    h('section', { class: 'card', 'aria-labelledby': 'new-hook-h' },
      h('h2', { id: 'new-hook-h' }, 'New webhook'), form));
  load();
  return { name: 'webhooks', title: 'Webhooks', el };
}

// Whether this server has webhooks (SPEC §8): asked once per session.
export async function webhooksAvailable() {
  const known = sessionStorage.getItem('mm.webhooks');
  if (known) return known === 'yes';
  let yes = false;
  try {
    await api('GET', '/webhooks');
    yes = true;
  } catch (err) {
    if (err.status !== 404) return false;     // unknown for now: ask again later
  }
  sessionStorage.setItem('mm.webhooks', yes ? 'yes' : 'no');
  return yes;
}
