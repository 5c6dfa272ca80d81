// The pieces of an SFU meeting in headless Chromium, shared by the browser
// test (sfu.test.mjs) and the benchmark (tests/bench/sfu.mjs): Janus rendered
// by scripts/stack.sh and started on a free loopback API port with its media
// on the namespace's veth address, the e2e stack with MeetingMediaServer, and
// pages that join a meeting and publish their fake camera and microphone
// through web/sfu.js. Run inside the network namespace of tests/e2e/sfu.sh.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { ROOT, Stack, freePort } from './stack.mjs';

const run = promisify(execFile);
const STACK = path.join(ROOT, 'scripts', 'stack.sh');
const HTTPD = '/usr/sbin/apache2';
const JANUS_IP = '10.99.0.1';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

async function sh(cmd, args, env = {}) {
  try {
    return await run(cmd, args.map(String), { cwd: ROOT, env: { ...process.env, ...env } });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

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
  async start(janus, more = '') {
    [this.pgPort, this.port, this.sigPort] =
      await Promise.all([freePort(), freePort(), freePort()]);
    this.url = `http://127.0.0.1:${this.port}`;
    await sh(STACK, ['pg-start', this.pgDir, this.pgPort]);
    this.pgStarted = true;
    await sh(STACK, ['migrate', this.pgPort]);
    mkdirSync(this.state, { recursive: true, mode: 0o755 });
    chmodSync(this.state, 0o755);
    const extra = path.join(this.state, 'extra.conf');
    writeFileSync(extra, 'MeetingBcryptCost 4\nMeetingRateLimit * 1000000/min\n'
      + `MeetingMediaServer ws://127.0.0.1:${janus.port} ${janus.secretFile}\n`
      + (typeof more === 'function' ? more(this) : more));
    await sh(STACK, ['render', this.state, this.port, this.pgPort, this.sigPort, extra]);
    await sh(HTTPD, ['-f', this.conf, '-k', 'start']);
    await this.waitUp();
  }
}

export async function user(stack, nickname) {
  const username = unique('sfu');
  const reg = await stack.api('POST', '/auth/register',
    { json: { username, email: `${username}@example.com`, password: 'secret123', nickname } });
  assert.equal(reg.status, 200, JSON.stringify(reg.body));
  const login = await stack.api('POST', '/auth/login',
    { json: { username, password: 'secret123' } });
  return { ...reg.body.data, token: login.body.data.token };
}

// A page that joins over the room_url and publishes its fake camera and
// microphone through web/sfu.js; window.mm holds the session and the socket.
// With `color` its camera is a canvas of that colour (a small white square
// moving on it), so that pictures of different pages can be told apart.
export async function openPage(browser, stack, label, roomUrl, { color } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const entry = { label, context, page, console: [] };
  page.on('console', (m) => entry.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => entry.console.push(`[pageerror] ${e}`));
  // Same origin as the API and a secure context (127.0.0.1): getUserMedia works.
  await page.goto(`${stack.url}/sfu.js`);
  await page.evaluate(async ([url, color]) => {
    const { SfuSession } = await import('/sfu.js');
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true, video: !color && { width: 160, height: 120, frameRate: 10 },
    });
    if (color) {
      const canvas = document.createElement('canvas');
      canvas.width = 160;
      canvas.height = 120;
      document.body.append(canvas);
      const g = canvas.getContext('2d');
      let x = 0;
      setInterval(() => {
        g.fillStyle = color;
        g.fillRect(0, 0, 160, 120);
        g.fillStyle = '#fff';
        g.fillRect(x, 50, 16, 16);
        x = (x + 4) % 144;
      }, 100);
      stream.addTrack(canvas.captureStream(10).getVideoTracks()[0]);
    }
    const ws = new WebSocket(url);
    const mm = { ws, frames: [], joined: null };
    window.mm = mm;
    mm.sfu = new SfuSession((f) => ws.send(JSON.stringify(f)));
    // Join -> first decoded frame of anyone else: polled in the page.
    mm.t0 = performance.now();
    const poll = setInterval(async () => {
      const r = await mm.sfu.receiving();
      if (Object.values(r).some((v) => v.video?.framesDecoded > 0)) {
        mm.firstFrameMs = performance.now() - mm.t0;
        clearInterval(poll);
      } else if (performance.now() - mm.t0 > 60000) {
        clearInterval(poll);
      }
    }, 20);
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      mm.frames.push(f.type === 'sfu-offer' || f.type === 'sfu-answer' ? { type: f.type } : f);
      if (f.type === 'joined') {
        mm.joined = f;
        mm.sfu.publish(stream);
      } else {
        mm.sfu.handle(f);
      }
    };
    await new Promise((resolve, reject) => {
      ws.onclose = (e) => reject(new Error(`socket closed ${e.code}`));
      const t = setInterval(() => { if (mm.joined) { clearInterval(t); resolve(); } }, 50);
    });
  }, [roomUrl, color]);
  return entry;
}

export const receiving = (p) => p.page.evaluate(() => window.mm.sfu.receiving());


// An ongoing meeting of the given users (the first hosts it): each one's room_url.
export async function meeting(stack, users, settings = {}) {
  const host = users[0];
  const created = await stack.api('POST', '/meetings', { token: host.token, json: {
    title: 'SFU', start_time: '2030-05-01T10:00:00Z', end_time: '2030-05-01T11:00:00Z',
    max_participants: 50, meeting_type: 'video', settings } });
  const mid = created.body.data.meeting_id;
  const urls = [(await stack.api('POST', `/meetings/${mid}/start`,
    { token: host.token })).body.data.room_url];
  for (const u of users.slice(1)) {
    await stack.api('POST', `/meetings/${mid}/participants`,
      { token: host.token, json: { user_id: u.user_id, role: 'participant' } });
    urls.push((await stack.api('POST', `/meetings/${mid}/join`,
      { token: u.token })).body.data.room_url);
  }
  return { mid, urls };
}
