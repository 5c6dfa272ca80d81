// End-to-end: media through the SFU. Four headless Chromium pages (fake
// camera and microphone) in one meeting, each with one upstream and one
// downstream peer connection to Janus, driven through signald's sfu-* frames
// by web/sfu.js. Run by tests/e2e/sfu.sh, which puts this process (and so
// PostgreSQL, httpd, signald, Janus and Chromium) in a private network
// namespace with a veth pair: Janus gathers no ICE candidates on loopback.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { ROOT, Stack, freePort } from './stack.mjs';

const run = promisify(execFile);
const STACK = path.join(ROOT, 'scripts', 'stack.sh');
const HTTPD = '/usr/sbin/apache2';
const JANUS_IP = '10.99.0.1';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];
const PAGES = 4;
const MEDIA_TIMEOUT = 30000;      // expected: a few seconds on a loaded 2-core machine

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let serial = 0;
const unique = (p) => `${p}${process.pid}_${++serial}_${Date.now() % 100000}`;

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
class Janus {
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

  stop() {
    this.proc?.kill('SIGTERM');
  }
}

// The e2e stack with MeetingMediaServer added to its configuration.
class SfuStack extends Stack {
  async start(janus) {
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
      + `MeetingMediaServer ws://127.0.0.1:${janus.port} ${janus.secretFile}\n`);
    await sh(STACK, ['render', this.state, this.port, this.pgPort, this.sigPort, extra]);
    await sh(HTTPD, ['-f', this.conf, '-k', 'start']);
    await this.waitUp();
  }
}

let stack;
let janus;
let browser;

before(async () => {
  assert.ok(process.env.MM_SFU_NETNS, 'run through tests/e2e/sfu.sh (a private network namespace)');
  janus = new Janus(process.env.MM_E2E_DIR);
  await janus.start();
  stack = new SfuStack();
  await stack.start(janus);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
  janus?.stop();
});

async function user(nickname) {
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
async function openPage(label, roomUrl) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const entry = { label, context, page, console: [] };
  page.on('console', (m) => entry.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => entry.console.push(`[pageerror] ${e}`));
  // Same origin as the API and a secure context (127.0.0.1): getUserMedia works.
  await page.goto(`${stack.url}/sfu.js`);
  await page.evaluate(async (url) => {
    const { SfuSession } = await import('/sfu.js');
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: 160, height: 120, frameRate: 10 },
    });
    const ws = new WebSocket(url);
    const mm = { ws, frames: [], joined: null };
    window.mm = mm;
    mm.sfu = new SfuSession((f) => ws.send(JSON.stringify(f)));
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
  }, roomUrl);
  return entry;
}

const receiving = (p) => p.page.evaluate(() => window.mm.sfu.receiving());

// Per page: the users whose video it has decoded frames of.
async function decoding(pages) {
  const out = [];
  for (const p of pages) {
    const r = await receiving(p);
    out.push(Object.entries(r).filter(([, v]) => v.video?.framesDecoded > 0)
      .map(([id]) => Number(id)).sort());
  }
  return out;
}

async function diagnostics(pages) {
  const out = [];
  for (const p of pages) {
    const frames = await p.page.evaluate(() => window.mm?.frames.slice(-30)).catch(() => []);
    out.push(`--- ${p.label}: frames`, JSON.stringify(frames), ...p.console.slice(-20));
  }
  out.push('--- httpd error log', ...stack.errorLog().split('\n').slice(-40));
  out.push('--- janus log', ...janus.log().split('\n').slice(-30));
  return out.join('\n');
}

test('four browsers through the SFU: each decodes the other three, removal and mute act at the SFU',
  async () => {
    const users = [];
    for (let i = 0; i < PAGES; i++) users.push(await user(`P${i}`));
    const host = users[0];
    const created = await stack.api('POST', '/meetings', { token: host.token, json: {
      title: 'SFU', start_time: '2030-05-01T10:00:00Z', end_time: '2030-05-01T11:00:00Z',
      max_participants: 10, meeting_type: 'video' } });
    const mid = created.body.data.meeting_id;
    const urls = [(await stack.api('POST', `/meetings/${mid}/start`,
      { token: host.token })).body.data.room_url];
    for (const u of users.slice(1)) {
      await stack.api('POST', `/meetings/${mid}/participants`,
        { token: host.token, json: { user_id: u.user_id, role: 'participant' } });
      urls.push((await stack.api('POST', `/meetings/${mid}/join`,
        { token: u.token })).body.data.room_url);
    }
    const pages = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < PAGES; i++) pages.push(await openPage(`P${i}`, urls[i]));
      console.log(`pages open after ${Date.now() - t0} ms`);
      for (const p of pages) {
        assert.equal(await p.page.evaluate(() => window.mm.joined.media), 'sfu');
      }
      const ids = users.map((u) => u.user_id);
      const others = (i) => ids.filter((_, j) => j !== i).sort();

      // Each page decodes the three others' video.
      const deadline = Date.now() + MEDIA_TIMEOUT;
      let seen;
      do {
        await sleep(500);
        seen = await decoding(pages);
      } while (Date.now() < deadline && !seen.every((s, i) =>
        JSON.stringify(s) === JSON.stringify(others(i))));
      assert.deepEqual(seen, ids.map((_, i) => others(i)));
      console.log(`every page decodes the other three after ${Date.now() - t0} ms`);
      // ... and keeps decoding them, over one upstream and one downstream connection.
      const before1 = await Promise.all(pages.map(receiving));
      await sleep(1500);
      const after1 = await Promise.all(pages.map(receiving));
      pages.forEach((_, i) => {
        for (const id of others(i)) {
          assert.ok(after1[i][id].video.framesDecoded > before1[i][id].video.framesDecoded,
            `page ${i} stopped decoding user ${id}`);
        }
      });
      for (const p of pages) {
        assert.deepEqual(await p.page.evaluate(() => [!!window.mm.sfu.up, !!window.mm.sfu.down,
          window.mm.sfu.down.getReceivers().length >= 6]), [true, true, true]);
      }

      // A muted participant (P2 says audio_enabled: false but its microphone
      // keeps sending): the SFU stops forwarding its audio.
      const muted = ids[2];
      await pages[2].page.evaluate(() => window.mm.ws.send(JSON.stringify({
        type: 'media-state', audio_enabled: false, video_enabled: true, screen_sharing: false,
      })));
      // Packets in flight and a loaded machine: it stops within some seconds.
      let m1;
      let m2 = await receiving(pages[0]);
      for (let i = 0; i < 10; i++) {
        m1 = m2;
        await sleep(1000);
        m2 = await receiving(pages[0]);
        if (m2[muted].audio.packetsReceived === m1[muted].audio.packetsReceived) break;
      }
      assert.equal(m2[muted].audio.packetsReceived, m1[muted].audio.packetsReceived,
        'the muted participant\'s audio is still forwarded');
      assert.ok(m2[ids[1]].audio.packetsReceived > m1[ids[1]].audio.packetsReceived,
        'an unmuted participant\'s audio stopped too');

      // A removed participant's video stops at the others within a second.
      const removed = ids[3];
      const del = await stack.api('DELETE', `/meetings/${mid}/participants/${removed}`,
        { token: host.token });
      assert.equal(del.status, 200, JSON.stringify(del.body));
      await sleep(1000);
      const r1 = await Promise.all(pages.slice(0, 3).map(receiving));
      await sleep(1000);
      const r2 = await Promise.all(pages.slice(0, 3).map(receiving));
      r1.forEach((s, i) => {
        const a = s[removed]?.video?.framesDecoded ?? 0;
        const b = r2[i][removed]?.video?.framesDecoded ?? 0;
        assert.ok(b <= a, `page ${i} still decodes the removed user's video (${a} -> ${b})`);
        assert.ok(r2[i][ids[i === 0 ? 1 : 0]].video.framesDecoded
          > s[ids[i === 0 ? 1 : 0]].video.framesDecoded, `page ${i} stopped decoding the rest`);
      });
    } catch (err) {
      console.error(await diagnostics(pages));
      throw err;
    } finally {
      for (const p of pages) await p.context.close().catch(() => {});
    }
  });
