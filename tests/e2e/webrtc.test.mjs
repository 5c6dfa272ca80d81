// End-to-end: the demo web client (web/) in two real headless Chromium
// contexts against a private mod_meeting stack (PostgreSQL, httpd, signald).
// Run with tests/e2e/run.sh, or `node --test` here once the stack's
// prerequisites (build/, Debian's chromium, node_modules) are in place.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { Stack } from './stack.mjs';

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
];
const CONNECT_TIMEOUT = 20000;   // expected: about a second
const PASSWORD = 'secret123';

let stack;
let browser;
let opened = [];                 // pages of the current test
let serial = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unique = (prefix) => `${prefix}${process.pid}_${++serial}_${Date.now() % 100000}`;

before(async () => {
  stack = new Stack();
  await stack.start();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
});

afterEach(async () => {
  for (const p of opened) await p.context.close().catch(() => {});
  opened = [];
});

// A page in its own browser context (its own cookies, storage, camera).
async function openPage(label) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const entry = { label, context, page, console: [], errors: [] };
  page.on('console', (m) => entry.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => entry.errors.push(String(e)));
  opened.push(entry);
  await page.goto(`${stack.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  return entry;
}

// What a failing test prints: each page's event log, console and errors,
// and the new part of httpd's error log.
async function diagnostics() {
  const out = [];
  for (const p of opened) {
    const log = await p.page.locator('#log li').allTextContents().catch(() => []);
    out.push(`--- page ${p.label}: event log (newest first)`, ...log.slice(0, 40),
      `--- page ${p.label}: console`, ...p.console.slice(-40),
      ...p.errors.map((e) => `[pageerror] ${e}`));
  }
  out.push('--- httpd error log (tail)', ...stack.errorLog().split('\n').slice(-40));
  return out.join('\n');
}

// Runs the body; on failure prints the diagnostics before rethrowing.
function scenario(name, body) {
  test(name, async (t) => {
    try {
      await body(t);
    } catch (err) {
      console.error(await diagnostics());
      throw err;
    }
    for (const p of opened) assert.deepEqual(p.errors, [], `uncaught errors on page ${p.label}`);
  });
}

// Fills the account form and registers (which also logs in). Returns user_id.
async function register(p, username) {
  const form = p.page.locator('#auth-form');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByLabel('Email').fill(`${username}@example.com`);
  await form.getByLabel('Nickname').fill(`Nick ${username}`);
  await form.getByRole('button', { name: 'Register' }).click();
  await p.page.waitForSelector('body:not([data-user-id=""])');
  return Number(await p.page.getAttribute('body', 'data-user-id'));
}

// Clicks a button and returns the API response it caused.
async function clickFor(p, buttonName, urlPart) {
  const [res] = await Promise.all([
    p.page.waitForResponse((r) => r.url().includes(urlPart) && r.request().method() !== 'GET'),
    p.page.getByRole('button', { name: buttonName, exact: true }).click(),
  ]);
  return res;
}

async function createMeeting(p, title) {
  const form = p.page.locator('#create-form');
  await form.getByLabel('Title').fill(title);
  const res = await clickFor(p, 'Create meeting', '/api/v1/meetings');
  assert.equal(res.status(), 201, await res.text());
  await p.page.waitForFunction(() => document.querySelector('#meeting-id').value !== '');
  return Number(await p.page.inputValue('#meeting-id'));
}

async function join(p, meetingId) {
  await p.page.locator('#meeting-form').getByLabel('Meeting id').fill(String(meetingId));
  const res = await clickFor(p, 'Join', `/meetings/${meetingId}/join`);
  assert.equal(res.status(), 200, await res.text());
  await p.page.waitForSelector('body[data-signaling="open"]');
}

async function connectionState(p, peerId) {
  return p.page.evaluate((id) => window.mm.pcs.get(id)?.connectionState ?? 'none', peerId);
}

async function waitConnected(p, peerId) {
  await p.page.waitForFunction(
    (id) => window.mm.pcs.get(id)?.connectionState === 'connected', peerId,
    { timeout: CONNECT_TIMEOUT });
}

// Polls getStats() until video from peerId has been decoded.
async function waitFramesDecoded(p, peerId, timeoutMs = CONNECT_TIMEOUT) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = (await p.page.evaluate(() => window.mm.stats()))[peerId];
    if (last?.framesDecoded > 0) return last;
    await sleep(200);
  }
  assert.fail(`page ${p.label}: no video decoded from user ${peerId}: ${JSON.stringify(last)}`);
}

// Host A registers, creates, starts and joins a meeting through the page;
// B registers and joins it (an ongoing meeting needs no prior membership).
// Returns once both peer connections are connected.
async function call(t) {
  const [a, b] = await Promise.all([openPage('A'), openPage('B')]);
  const [aId, bId] = await Promise.all([register(a, unique('a')), register(b, unique('b'))]);
  const mid = await createMeeting(a, `e2e ${unique('m')}`);
  const started = await clickFor(a, 'Start', `/meetings/${mid}/start`);
  assert.equal(started.status(), 200, await started.text());
  await join(a, mid);

  const t0 = Date.now();
  await join(b, mid);
  await Promise.all([waitConnected(a, bId), waitConnected(b, aId)]);
  t.diagnostic(`meeting ${mid}: both peer connections connected ${Date.now() - t0} ms after B joined`);
  return { a, b, aId, bId, mid };
}

scenario('two browsers connect over WebRTC and decode each other\'s video', async (t) => {
  const { a, b, aId, bId } = await call(t);
  assert.equal(await connectionState(a, bId), 'connected');
  assert.equal(await connectionState(b, aId), 'connected');
  assert.equal(await a.page.getAttribute(`.tile[data-user-id="${bId}"]`, 'data-connection-state'),
    'connected');
  const atB = await waitFramesDecoded(b, aId);
  const atA = await waitFramesDecoded(a, bId);
  t.diagnostic(`frames decoded: at B from A ${atB.framesDecoded}, at A from B ${atA.framesDecoded}`);
});

scenario('a participant removed over REST is disconnected within a second', async (t) => {
  const { a, b, bId, mid } = await call(t);
  const token = await a.page.evaluate(() => window.mm.state.token);

  const t0 = Date.now();
  const res = await stack.api('DELETE', `/meetings/${mid}/participants/${bId}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  await b.page.waitForSelector('body[data-close-code="4403"]', { timeout: 3000 });
  const closedAt = await b.page.evaluate(() => window.mm.state.closedAt);
  t.diagnostic(`B's socket closed with 4403 ${closedAt - t0} ms after the DELETE was sent`);
  assert.ok(closedAt - t0 < 1000, `closed after ${closedAt - t0} ms`);

  // A hears of it on its socket, and drops B's peer connection and tile.
  await a.page.waitForFunction((id) => {
    const seen = (type) => window.mm.frames.some((f) => f.type === type && f.user_id === id);
    return seen('participant-removed') && seen('user-left');
  }, bId, { timeout: 2000 });
  await a.page.waitForSelector(`.tile[data-user-id="${bId}"]`, { state: 'detached' });
  assert.equal(await a.page.evaluate((id) => window.mm.pcs.has(id), bId), false);
  // B was told before the close, and left the call.
  assert.ok(await b.page.evaluate(
    (id) => window.mm.frames.some((f) => f.type === 'participant-removed' && f.user_id === id),
    bId), 'B did not get participant-removed');
  assert.equal(await b.page.getAttribute('body', 'data-meeting-id'), '');
});

scenario('a chat message sent by A appears on B\'s page', async (t) => {
  const { a, b, aId } = await call(t);
  const text = `hello from A ${unique('c')}`;
  await a.page.locator('#chat-form').getByLabel('Message').fill(text);
  const res = await clickFor(a, 'Send', `/messages`);
  assert.equal(res.status(), 200, await res.text());
  await b.page.locator('#messages li', { hasText: text }).waitFor({ timeout: 3000 });
  // It came over B's socket as a pushed chat frame, not from the history.
  const frame = await b.page.evaluate(
    (c) => window.mm.frames.find((f) => f.type === 'chat' && f.content === c), text);
  assert.ok(frame, 'no chat frame on B');
  assert.equal(frame.user_id, aId);
  t.diagnostic(`chat frame: ${JSON.stringify(frame)}`);
});

scenario('a recording made in the page is uploaded and its signed URL serves it', async (t) => {
  const { a, b } = await call(t);
  const started = await clickFor(a, 'Start recording', '/recording/start');
  assert.equal(started.status(), 200, await started.text());
  await sleep(2500);
  const [upload] = await Promise.all([
    a.page.waitForResponse((r) => r.url().endsWith('/file') && r.request().method() === 'PUT',
      { timeout: 15000 }),
    a.page.getByRole('button', { name: 'Stop recording', exact: true }).click(),
  ]);
  assert.equal(upload.status(), 200, await upload.text());
  const { size } = (await upload.json()).data;
  assert.ok(size > 1000, `uploaded only ${size} bytes`);
  await a.page.waitForSelector('#recordings li a');
  // The pre-signed URL works without any token, e.g. from B's page.
  const url = await a.page.getAttribute('#recordings li a', 'href');
  const got = await b.page.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, type: r.headers.get('content-type'),
             bytes: (await r.arrayBuffer()).byteLength };
  }, url);
  assert.deepEqual(got, { status: 200, type: 'video/webm', bytes: size });
  t.diagnostic(`recorded and uploaded ${size} bytes; signed URL served them back`);
});
