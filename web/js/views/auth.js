// Signed out: sign in or create an account, nothing else. Following an
// invite link signed out lands here and, once signed in, goes on to that
// meeting (the hash is kept).

import { signIn, signUp } from '../api.js';
import { h } from '../dom.js';
import { words } from '../words.js';
import { brand } from './shell.js';

export function authView(hash) {
  const invite = hash.match(/^#\/m\/(\d+)/);
  let mode = 'signin';
  const error = h('p', { class: 'form-error', role: 'alert' });
  const field = (label, attrs) => h('label', { class: 'field' }, h('span', {}, label), h('input', attrs));

  const username = field('Username', { name: 'username', autocomplete: 'username', required: true,
    minLength: 3, maxLength: 50, pattern: '[A-Za-z0-9_.\\-]+', autocapitalize: 'none',
    title: 'Letters, digits, dot, dash and underscore' });
  const password = field('Password', { name: 'password', type: 'password', required: true,
    minLength: 6, maxLength: 100, autocomplete: 'current-password' });
  const email = field('Email', { name: 'email', type: 'email', autocomplete: 'email' });
  const nickname = field('Display name', { name: 'nickname', maxLength: 50, autocomplete: 'name',
    placeholder: 'How others see you' });
  const extra = h('div', { class: 'signup-only', hidden: true }, email, nickname);
  const submit = h('button', { type: 'submit', class: 'btn primary wide' }, 'Sign in');
  const title = h('h1', {}, 'Sign in');
  const switchText = h('span', {}, 'New here?');
  const switchBtn = h('button', { type: 'button', class: 'link', onclick: () => setMode(
    mode === 'signin' ? 'signup' : 'signin') }, 'Create an account');

  function setMode(m) {
    mode = m;
    const up = m === 'signup';
    title.textContent = up ? 'Create your account' : 'Sign in';
    submit.textContent = up ? 'Create account' : 'Sign in';
    extra.hidden = !up;
    email.querySelector('input').required = up;
    password.querySelector('input').autocomplete = up ? 'new-password' : 'current-password';
    switchText.textContent = up ? 'Already have an account?' : 'New here?';
    switchBtn.textContent = up ? 'Sign in' : 'Create an account';
    error.textContent = '';
  }

  const form = h('form', { class: 'stack', novalidate: false, onsubmit: async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    error.textContent = '';
    submit.disabled = true;
    try {
      if (mode === 'signup') await signUp(f);
      else await signIn(f.username, f.password);
      // The view is replaced on success; the password never stays in a field.
      form.reset();
    } catch (err) {
      form.elements.password.value = '';
      error.textContent = words(err, {
        unauthorized: 'That username and password do not match.',
        409: 'That username or email is already taken.',
      });
    } finally {
      submit.disabled = false;
    }
  } }, username, password, extra, error, submit);

  const el = h('div', { class: 'auth' },
    h('main', { id: 'main', class: 'auth-card' }, brand(), title,
      invite ? h('p', { class: 'muted' }, `Sign in to join meeting ${invite[1]}.`)
        : h('p', { class: 'muted' }, 'Video meetings for your team.'),
      form,
      h('p', { class: 'switch' }, switchText, ' ', switchBtn)));
  return { name: 'auth', title: 'Sign in', el };
}
