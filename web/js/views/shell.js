// The frame of the light screens: a top bar with the product name, the
// navigation and the signed-in user, and the page's main region.

import { currentUser, signOut } from '../api.js';
import { h, icon, initials, nameOf } from '../dom.js';

let webhooksAvailable = false;
const webhookLinks = new Set();

// The Webhooks link shows only where the server has them (asked once).
export function setWebhooksAvailable(yes) {
  webhooksAvailable = yes;
  for (const a of webhookLinks) {
    if (!a.isConnected) webhookLinks.delete(a);
    else a.hidden = !yes;
  }
}

export function brand() {
  return h('a', { class: 'brand', href: '#/' },
    h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, icon('cam')), 'Meet');
}

export function page(...content) {
  const user = currentUser();
  const hooks = h('a', { href: '#/webhooks', hidden: !webhooksAvailable }, 'Webhooks');
  webhookLinks.add(hooks);
  const nav = h('nav', { class: 'topnav', 'aria-label': 'Main' },
    h('a', { href: '#/' }, 'Meetings'), hooks);
  const who = user ? h('div', { class: 'who' },
    h('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(nameOf(user))),
    h('span', { class: 'who-name' }, nameOf(user)),
    h('button', { type: 'button', class: 'btn ghost', onclick: () => signOut() }, 'Sign out'))
    : null;
  return h('div', { class: 'light' },
    h('header', { class: 'topbar' }, brand(), nav, who),
    h('main', { id: 'main', class: 'page' }, ...content));
}
