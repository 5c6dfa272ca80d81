// The REST client: one function per call shape, the session (token and user)
// kept in sessionStorage, and every failure turned into an ApiError whose
// `words` a person can read (see words.js).

const BASE = '/api/v1';
const KEY = 'mm.session';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error || '';
    this.field = body?.field || '';
    this.retryAfter = retryAfter;
  }
}

const session = { token: null, user: null };
const listeners = new Set();

export function currentUser() { return session.user; }
export function onSessionChange(fn) { listeners.add(fn); }

export function setSession(user, token) {
  session.user = user;
  session.token = token;
  if (token) sessionStorage.setItem(KEY, JSON.stringify({ user, token }));
  else sessionStorage.removeItem(KEY);
  for (const fn of listeners) fn(user);
}

export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (saved?.token) setSession(saved.user, saved.token);
  } catch { sessionStorage.removeItem(KEY); }
}

export function token() { return session.token; }

// One call. body: an object (JSON), a Blob (sent as is) or undefined.
// Resolves to {status, data}; rejects with ApiError. A 401 on an authenticated
// call means the session is over: it is dropped, so the app shows sign-in.
export async function request(method, path, body) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = body.type;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(BASE + path, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, { error: 'network', message: 'network error' });
  }
  let json = null;
  try { json = await res.json(); } catch { /* an empty or non-JSON body */ }
  if (!res.ok) {
    const err = new ApiError(res.status, json, Number(res.headers.get('Retry-After')) || 0);
    if (res.status === 401 && session.token && !path.startsWith('/auth/')) setSession(null, null);
    throw err;
  }
  return { status: res.status, data: json?.data ?? json };
}

export async function api(method, path, body) {
  return (await request(method, path, body)).data;
}

export async function signIn(username, password) {
  const data = await api('POST', '/auth/login', { username, password });
  setSession(data.user, data.token);
  return data.user;
}

export async function signUp({ username, email, password, nickname }) {
  const body = { username, email, password };
  if (nickname) body.nickname = nickname;
  await api('POST', '/auth/register', body);
  return signIn(username, password);
}

export async function signOut() {
  try { await api('POST', '/auth/logout', {}); } catch { /* the token may be gone already */ }
  setSession(null, null);
}
