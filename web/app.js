// The web client's entry: the session, the hash router and the test hooks.
// Screens live in js/views/, one file each; the REST client in js/api.js,
// the signaling socket in js/signaling.js, the call (mesh, media) in
// js/call.js.

import { currentUser, onSessionChange, restoreSession, token } from './js/api.js';
import { authView } from './js/views/auth.js';
import { homeView } from './js/views/home.js';
import { prejoinView } from './js/views/prejoin.js';
import { recordingsView } from './js/views/recordings.js';
import { setWebhooksAvailable } from './js/views/shell.js';
import { webhooksAvailable, webhooksView } from './js/views/webhooks.js';

const ROUTES = [
  [/^#?\/?$/, () => homeView()],
  [/^#\/m\/(\d+)\/?$/, (m) => prejoinView(Number(m[1]))],
  [/^#\/m\/(\d+)\/recordings$/, (m) => recordingsView(Number(m[1]))],
  [/^#\/webhooks$/, () => webhooksView()],
];

let current = null;   // {el, cleanup}

function render() {
  current?.cleanup?.();
  current = null;
  const app = document.getElementById('app');
  const user = currentUser();
  document.body.dataset.userId = user ? String(user.user_id) : '';
  let view;
  if (!user) {
    view = authView(location.hash);
  } else {
    const hit = ROUTES.map(([re, make]) => [location.hash.match(re), make]).find(([m]) => m);
    if (!hit) {
      location.replace('#/');
      return;
    }
    view = hit[1](hit[0]);
  }
  current = view;
  document.body.dataset.view = view.name;
  document.title = view.title ? `${view.title} · Meet` : 'Meet';
  app.replaceChildren(view.el);
  // Screen readers hear the new screen's heading; keyboard users start there.
  const heading = app.querySelector('h1');
  if (heading && !app.contains(document.activeElement?.closest?.('[autofocus]'))) {
    heading.setAttribute('tabindex', '-1');
    if (!view.keepFocus) heading.focus({ preventScroll: true });
  }
}

function probeWebhooks() {
  if (currentUser()) webhooksAvailable().then(setWebhooksAvailable).catch(() => {});
}

window.addEventListener('hashchange', render);
onSessionChange(() => {
  if (current) render();
  probeWebhooks();
});
restoreSession();
render();

// For tests and debugging: the current call's peer connections and stats.
window.mm = {
  call: null,
  get pcs() { return new Map([...(this.call?.peers || [])].map(([id, p]) => [id, p.pc])); },
  get sfu() { return this.call?.sfu || null; },
  get frames() { return this.call?.sig.frames || []; },
  get state() { return { token: token(), closedAt: this.call?.sig.closedAt }; },
  stats() { return this.call ? this.call.stats() : Promise.resolve({}); },
};
document.body.dataset.ready = 'true';
