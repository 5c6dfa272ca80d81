// End-to-end: a meeting recorded on the server (SPEC 7, docs/recordings.md).
// Three headless Chromium pages, each publishing a camera of its own colour
// and the fake microphone through Janus; recording/start, about 10 s,
// recording/stop; signald has Janus record every publisher into the
// recording's folder, the recording worker that httpd supervises turns the
// .mjr files into one MP4, and the list says `completed`. The file is
// checked with ffprobe and ffmpeg: a 1280x720 video, an audio stream that is
// not silent, 10 s +- 2, and a frame showing every participant's picture.
// Run by tests/e2e/sfu.sh, in its private network namespace.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './stack.mjs';
import { Janus, SfuStack, launchChromium, sleep, stopAll, user as newUser } from './sfu-stack.mjs';

const run = promisify(execFile);
const COLORS = { red: [220, 30, 30], green: [30, 200, 30], blue: [30, 30, 220] };
const GRID = [1280, 720];
const RECORD_MS = 10000;
const MEDIA_TIMEOUT = 30000;
const PROCESS_TIMEOUT = 180000;   // expected: well under a minute

// A page that joins over the room_url and publishes its fake camera and
// microphone through web/sfu.js; window.mm holds the session and the socket.
// With `color` its camera is a canvas of that colour (a small white square
// moving on it), so that pictures of different pages can be told apart.
async function openPage(browser, stack, label, roomUrl, { color } = {}) {
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

const receiving = (p) => p.page.evaluate(() => window.mm.sfu.receiving());

// An ongoing meeting of the given users (the first hosts it): each one's room_url.
async function meeting(stack, users, settings = {}) {
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

let stack;
let janus;
let browser;

before(async () => {
  assert.ok(process.env.MM_SFU_NETNS, 'run through tests/e2e/sfu.sh (a private network namespace)');
  // A folder of its own beside the other SFU test's.
  const base = path.join(process.env.MM_E2E_DIR, 'record');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  process.env.MM_E2E_DIR = base;
  janus = new Janus(base);
  await janus.start();
  stack = new SfuStack();
  await stack.start(janus, (s) => 'MeetingServerRecording On\nMeetingRecordingMinFree 0\n'
    + `MeetingRecordingWorker "${path.join(ROOT, 'build', 'recworker')}" --db "host=127.0.0.1`
    + ` port=${s.pgPort} dbname=meeting user=meeting" --poll 1 --settle 2\n`);
  browser = await launchChromium();
});

after(() => stopAll({ browser, stack, janus }));

async function decodesOthers(pages, ids) {
  for (let i = 0; i < pages.length; i++) {
    const r = await receiving(pages[i]);
    const seen = Object.entries(r).filter(([, v]) => v.video?.framesDecoded > 0)
      .map(([id]) => Number(id));
    if (!ids.every((id, j) => j === i || seen.includes(id))) return false;
  }
  return true;
}

async function item(host, mid, rid) {
  const r = await stack.api('GET', `/meetings/${mid}/recordings`, { token: host.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.recordings.find((x) => x.recording_id === rid);
}

// The colour name a patch of an RGB frame shows, or null (black, grey, mixed).
function colorOf(rgb, width, x0, y0, w, h) {
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = y0; y < y0 + h; y += 4) {
    for (let x = x0; x < x0 + w; x += 4) {
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) sum[c] += rgb[o + c];
      n++;
    }
  }
  const mean = sum.map((s) => s / n);
  let best = null;
  let bestDist = Infinity;
  for (const [name, ref] of Object.entries(COLORS)) {
    const d = Math.hypot(...ref.map((v, c) => v - mean[c]));
    if (d < bestDist) [best, bestDist] = [name, d];
  }
  return bestDist < 80 ? best : null;
}

async function probe(file) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries',
    'stream=codec_type,codec_name,width,height:format=duration', '-of', 'json', file]);
  return JSON.parse(stdout);
}

async function maxVolume(file) {
  const { stderr } = await run('ffmpeg', ['-v', 'info', '-nostats', '-i', file, '-vn',
    '-af', 'volumedetect', '-f', 'null', '-'], { maxBuffer: 16 << 20 });
  const m = /max_volume: (-?[\d.]+|-inf) dB/.exec(stderr);
  assert.ok(m, stderr.slice(-2000));
  return m[1] === '-inf' ? -Infinity : Number(m[1]);
}

async function frameAt(file, seconds) {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file,
    '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
  { encoding: 'buffer', maxBuffer: 32 << 20 });
  assert.equal(stdout.length, GRID[0] * GRID[1] * 3);
  return stdout;
}

// The host's recordings page of the web client (web/js/views/recordings.js),
// signed in, and the recording's row on it.
async function recordingsPage(context, host, mid, rid) {
  const view = await context.newPage();
  await view.goto(`${stack.url}/`);
  await view.evaluate(([u, t]) => sessionStorage.setItem('mm.session',
    JSON.stringify({ user: u, token: t })), [host.user, host.token]);
  await view.goto(`${stack.url}/#/m/${mid}/recordings`);
  await view.reload();
  const row = view.locator(`li.recording[data-recording-id="${rid}"]`);
  await row.waitFor({ timeout: 15000 });
  return { view, row };
}

// The row is `completed`, and Play shows the 1280x720 video.
async function playsInTheWebClient(host, mid, rid) {
  const context = await browser.newContext();
  try {
    const { view, row } = await recordingsPage(context, host, mid, rid);
    assert.equal(await row.getAttribute('data-status'), 'completed');
    assert.equal(await row.locator('.chip').textContent(), 'Ready');
    assert.match(await row.locator('a[download]').getAttribute('download'), /\.mp4$/);
    await row.locator('button', { hasText: 'Play' }).click();
    const size = await view.waitForFunction(() => {
      const v = document.querySelector('.player video');
      return v && v.readyState >= 2 && v.videoWidth ? [v.videoWidth, v.videoHeight] : null;
    }, null, { timeout: 20000 });
    assert.deepEqual(await size.jsonValue(), GRID);
  } finally {
    await context.close();
  }
}

test('three browsers recorded on the server: one MP4 with their pictures side by side and sound',
  async () => {
    const names = Object.keys(COLORS);
    const users = [];
    for (const n of names) users.push(await newUser(stack, n));
    const host = users[0];
    const ids = users.map((u) => u.user_id);
    const { mid, urls } = await meeting(stack, users, { enable_recording: true });
    const pages = [];
    try {
      for (let i = 0; i < names.length; i++) {
        pages.push(await openPage(browser, stack, names[i], urls[i], { color: names[i] }));
      }
      const deadline = Date.now() + MEDIA_TIMEOUT;
      while (Date.now() < deadline && !(await decodesOthers(pages, ids))) await sleep(500);
      assert.ok(await decodesOthers(pages, ids), 'the pages do not see each other');

      const start = await stack.api('POST', `/meetings/${mid}/recording/start`,
        { token: host.token });
      assert.equal(start.status, 200, JSON.stringify(start.body));
      const rid = start.body.data.recording_id;
      const t0 = Date.now();
      assert.equal((await item(host, mid, rid)).status, 'recording');
      await sleep(RECORD_MS);
      const stop = await stack.api('POST', `/meetings/${mid}/recording/stop`,
        { token: host.token });
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
      console.log(`recorded for ${Date.now() - t0} ms`);

      let it = await item(host, mid, rid);
      const t1 = Date.now();
      while (Date.now() - t1 < PROCESS_TIMEOUT && ['recording', 'processing'].includes(it.status)) {
        await sleep(1000);
        it = await item(host, mid, rid);
      }
      console.log(`${it.status} ${Date.now() - t1} ms after the stop: ${JSON.stringify(it)}`);
      assert.equal(it.status, 'completed', JSON.stringify(it));
      assert.ok(it.file_url, JSON.stringify(it));

      const res = await fetch(it.file_url);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(body.length, it.size);
      const file = path.join(process.env.MM_E2E_DIR, `${rid}.mp4`);
      writeFileSync(file, body);

      const info = await probe(file);
      const video = info.streams.filter((s) => s.codec_type === 'video');
      const audio = info.streams.filter((s) => s.codec_type === 'audio');
      assert.equal(video.length, 1, JSON.stringify(info));
      assert.equal(audio.length, 1, JSON.stringify(info));
      assert.deepEqual([video[0].width, video[0].height], GRID);
      const duration = Number(info.format.duration);
      assert.ok(Math.abs(duration - RECORD_MS / 1000) <= 2, `duration ${duration} s`);
      assert.ok(Math.abs(it.duration - RECORD_MS / 1000) <= 2, `listed duration ${it.duration}`);
      // Chromium's fake microphone beeps: the mix is not silence.
      const vol = await maxVolume(file);
      assert.ok(vol > -40, `the audio is silent (max ${vol} dB)`);

      // The middle frame: the grid's tiles (2 columns of 640x360) show the
      // pages' colours, each tile's picture 480x360 in its middle.
      const rgb = await frameAt(file, duration / 2);
      const seen = [];
      for (let t = 0; t < 4; t++) {
        const x = (t % 2) * 640 + 200;
        const y = Math.floor(t / 2) * 360 + 100;
        seen.push(colorOf(rgb, GRID[0], x, y, 240, 160));
      }
      console.log(`tiles of the middle frame: ${JSON.stringify(seen)}`);
      // All three published throughout: each one's picture is in the frame.
      assert.deepEqual([...new Set(seen.filter(Boolean))].sort(), [...names].sort(),
        `not every participant's picture is in the frame: ${seen}`);

      // The web client's recordings page lists it as ready and plays it.
      await playsInTheWebClient(host, mid, rid);
    } catch (err) {
      console.error('--- httpd error log', stack.errorLog().split('\n').slice(-60).join('\n'));
      console.error('--- janus log', janus.log().split('\n').slice(-30).join('\n'));
      throw err;
    } finally {
      for (const p of pages) await p.context.close().catch(() => {});
    }
  });

test('a server recording with nothing published fails, and the recordings page says why',
  async () => {
    const host = await newUser(stack, 'alone');
    const { mid } = await meeting(stack, [host], { enable_recording: true });
    const start = await stack.api('POST', `/meetings/${mid}/recording/start`,
      { token: host.token });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const rid = start.body.data.recording_id;
    assert.equal((await stack.api('POST', `/meetings/${mid}/recording/stop`,
      { token: host.token })).status, 200);
    let it = await item(host, mid, rid);
    for (let i = 0; i < 120 && it.status === 'processing'; i++) {
      await sleep(1000);
      it = await item(host, mid, rid);
    }
    assert.equal(it.status, 'failed', JSON.stringify(it));
    const context = await browser.newContext();
    try {
      const { row } = await recordingsPage(context, host, mid, rid);
      assert.equal(await row.locator('.chip').textContent(), 'Failed');
      assert.match(await row.locator('.rec-reason').textContent(), /nothing was recorded/);
      assert.equal(await row.locator('button, a[download]').count(), 0);
    } finally {
      await context.close();
    }
  });
