// The pieces of an SFU meeting in headless Chromium, shared by the browser
// test (sfu.test.mjs) and the benchmark (tests/bench/sfu.mjs): Janus rendered
// by scripts/stack.sh and started on a free loopback API port with its media
// on the namespace's veth address, the e2e stack with MeetingMediaServer, and
// pages of the product web client (web/) that join a meeting from its
// pre-join screen and so publish their fake camera and microphone through
// web/js/call.js and web/sfu.js. Run inside the network namespace of
// tests/e2e/sfu.sh.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { STACK, Stack, freePort, sh, sleep } from './stack.mjs';

export { sleep };
const JANUS_IP = '10.99.0.1';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--auto-select-desktop-capture-source=Entire screen',
];

// Debian's Chromium, headless, with the fake camera and microphone.
export const launchChromium = () => chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
});

// Stops what a test started (any of them may be missing).
export async function stopAll({ browser, stack, janus }) {
  await browser?.close().catch(() => {});
  await stack?.stop();
  janus?.stop();
}
let serial = 0;
export const unique = (p) => `${p}${process.pid}_${++serial}_${Date.now() % 100000}`;

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// Janus on its own loopback API port, its media on the veth address.
export class Janus {
  constructor(base) {
    this.dir = path.join(base, 'janus');
    this.secretFile = path.join(this.dir, 'api.secret');
  }

  async start() {
    this.port = await freePort();
    mkdirSync(this.dir, { recursive: true });
    await sh(STACK, ['janus-render', this.dir, this.port, this.secretFile],
      { JANUS_INTERFACE: JANUS_IP, JANUS_ICE_ENFORCE: 'v0' });
    this.proc = spawn('janus', ['-F', this.dir, '-C', path.join(this.dir, 'janus.jcfg'),
      '-L', path.join(this.dir, 'janus.log'), '-N', '-o'], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(await listening(this.port)); i++) await sleep(100);
    if (!(await listening(this.port))) throw new Error(`janus did not come up\n${this.log()}`);
  }

  log() {
    try { return readFileSync(path.join(this.dir, 'janus.log'), 'utf8'); } catch { return ''; }
  }

  get pid() {
    return this.proc?.pid;
  }

  stop() {
    this.proc?.kill('SIGTERM');
  }
}

// The e2e stack with MeetingMediaServer (and `more` lines, or a function of
// the stack giving them once its ports are chosen) added to its configuration.
export class SfuStack extends Stack {
  start(janus, more = '') {
    const media = `MeetingMediaServer ws://127.0.0.1:${janus.port} ${janus.secretFile}\n`;
    return super.start((s) => media + (typeof more === 'function' ? more(s) : more));
  }
}

export async function user(stack, nickname) {
  const username = unique('sfu');
  const reg = await stack.api('POST', '/auth/register',
    { json: { username, email: `${username}@example.com`, password: 'secret123', nickname } });
  assert.equal(reg.status, 200, JSON.stringify(reg.body));
  const login = await stack.api('POST', '/auth/login',
    { json: { username, password: 'secret123' } });
  return { ...reg.body.data, user: login.body.data.user, token: login.body.data.token };
}

// The web client signed in as `u` (its session put where the client keeps
// it), joining meeting `mid` from the pre-join screen like a person would.
// window.mm is the client's test hook (web/app.js): mm.call, mm.sfu,
// mm.stats(). From the click on the join button the page itself polls (every
// 20 ms) for the first decoded frame of someone else's video,
// mm.firstFrameMs, and notes when each step before it was first seen, in
// mm.marks (ms from the click): the socket open, joined, the SFU's answer to
// our offer, its first offer of the others' streams, the downstream
// connection connected.
export async function openClient(browser, stack, label, u, mid) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(([key, value]) => {
    if (!sessionStorage.getItem(key)) sessionStorage.setItem(key, value);
  }, ['mm.session', JSON.stringify({ user: u.user, token: u.token })]);
  const page = await context.newPage();
  // A machine loaded by other work may take long to load a page: not a failure.
  page.setDefaultTimeout(90000);
  page.setDefaultNavigationTimeout(90000);
  const entry = { label, context, page, console: [], errors: [], userId: u.user_id };
  page.on('console', (m) => entry.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => entry.errors.push(String(e)));
  // Same origin as the API and a secure context (127.0.0.1): getUserMedia works.
  await page.goto(`${stack.url}/#/m/${mid}`);
  await page.waitForSelector('body[data-view="prejoin"]');
  const button = page.getByRole('button', { name: /^(Join now|Start meeting)$/ });
  await button.waitFor();
  await page.waitForFunction(() => !document.querySelector('.prejoin-side button[type=submit]')?.disabled);
  await page.evaluate(() => {
    const t0 = performance.now();
    const marks = {};
    window.mm.marks = marks;
    const steps = {
      open: (mm) => mm.call?.sig.state === 'open',
      joined: (mm) => mm.frames.some((f) => f.type === 'joined'),
      answer: (mm) => mm.frames.some((f) => f.type === 'sfu-answer'),
      offer: (mm) => mm.frames.some((f) => f.type === 'sfu-offer'),
      connected: (mm) => mm.sfu?.down?.connectionState === 'connected',
    };
    // One poll at a time (getStats can take longer than 20 ms on a busy page).
    const poll = async () => {
      for (const [name, seen] of Object.entries(steps)) {
        if (marks[name] === undefined && seen(window.mm)) marks[name] = performance.now() - t0;
      }
      const stats = window.mm.call ? await window.mm.stats() : {};
      if (Object.values(stats).some((s) => s.framesDecoded > 0)) {
        window.mm.firstFrameMs = performance.now() - t0;
      } else if (performance.now() - t0 < 60000) {
        setTimeout(poll, 20);
      }
    };
    setTimeout(poll, 20);
  });
  await button.click();
  await page.waitForSelector('body[data-phase="in"]');
  return entry;
}

export const receiving = (p) => p.page.evaluate(() => window.mm.stats());



// A meeting of the given users (the first hosts it and starts it over REST;
// the others are added as participants): its id.
export async function meeting(stack, users) {
  const host = users[0];
  const created = await stack.api('POST', '/meetings', { token: host.token, json: {
    title: 'SFU', start_time: '2030-05-01T10:00:00Z', end_time: '2030-05-01T11:00:00Z',
    max_participants: 50, meeting_type: 'video',
    settings: { enable_screen_share: true } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const mid = created.body.data.meeting_id;
  const started = await stack.api('POST', `/meetings/${mid}/start`, { token: host.token });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  for (const u of users.slice(1)) {
    const added = await stack.api('POST', `/meetings/${mid}/participants`,
      { token: host.token, json: { user_id: u.user_id, role: 'participant' } });
    assert.ok(added.status < 300, JSON.stringify(added.body));
  }
  return mid;
}
