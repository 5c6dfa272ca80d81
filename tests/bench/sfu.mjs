// make bench, the SFU part (run by tests/e2e/sfu.sh --bench, inside its private
// network namespace): meetings of N headless Chromium pages of the product
// web client through Janus. For each N: Janus's CPU while every page sends
// its fake camera (640x480, as the client asks) and microphone and receives
// everyone else's (N x (N-1) x 2 forwarded streams), and the time from the
// click on "Join now" (REST join, signaling socket, joined, publish,
// subscribe) to the first decoded frame of someone else's video, over the
// joins and BENCH_SFU_REJOINS rejoins of the largest meeting. Timings are
// printed, never asserted. Settings: BENCH_SFU_PAGES (default "2,4"),
// BENCH_SFU_REJOINS (10), BENCH_SFU_WINDOW_S (10).
import { readFileSync } from 'node:fs';
import { chromium } from '../e2e/node_modules/playwright-core/index.mjs';
import { CHROMIUM_ARGS, Janus, SfuStack, meeting, openClient, receiving, sleep, user }
  from '../e2e/sfu-stack.mjs';

const SIZES = (process.env.BENCH_SFU_PAGES || '2,4').split(',').map(Number);
const REJOINS = Number(process.env.BENCH_SFU_REJOINS || 10);
const WINDOW_S = Number(process.env.BENCH_SFU_WINDOW_S || 10);
const CLK_TCK = 100;

// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// Waits (60 s at most) until every page decodes every other page's video.
async function allFlowing(pages) {
  for (let i = 0; i < 120; i++) {
    const stats = await Promise.all(pages.map(receiving));
    if (stats.every((s) => Object.values(s)
      .filter((v) => v.framesDecoded > 0).length === pages.length - 1)) return true;
    await sleep(500);
  }
  return false;
}

// The join's time to the first decoded remote frame, and its steps (marks).
const steps = [];
async function firstFrame(page) {
  for (let i = 0; i < 200; i++) {
    const [ms, marks] = await page.page.evaluate(() => [window.mm.firstFrameMs, window.mm.marks]);
    if (ms !== undefined) {
      steps.push({ ...marks, frame: ms });
      return ms;
    }
    await sleep(100);
  }
  return undefined;
}

const janus = new Janus(process.env.MM_E2E_DIR);
const stack = new SfuStack();
let browser;
const rows = [];
const joins = [];
try {
  await janus.start();
  await stack.start(janus);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
  for (const n of SIZES) {
    const users = [];
    for (let i = 0; i < n; i++) users.push(await user(stack, `B${i}`));
    const mid = await meeting(stack, users);
    const pages = [];
    for (let i = 0; i < n; i++) {
      pages.push(await openClient(browser, stack, `B${i}`, users[i], mid));
      if (i > 0) joins.push(await firstFrame(pages[i]));
    }
    if (!(await allFlowing(pages))) throw new Error(`${n} pages: media did not flow`);
    await sleep(3000);
    const c0 = cpuSeconds(janus.pid);
    const t0 = Date.now();
    await sleep(WINDOW_S * 1000);
    const pct = ((cpuSeconds(janus.pid) - c0) / ((Date.now() - t0) / 1000)) * 100;
    const streams = n * (n - 1) * 2;
    rows.push({ n, streams, pct });
    if (n === Math.max(...SIZES)) {
      for (let r = 0; r < REJOINS; r++) {
        await pages[n - 1].context.close();
        pages[n - 1] = await openClient(browser, stack, `B${n - 1}`, users[n - 1], mid);
        joins.push(await firstFrame(pages[n - 1]));
      }
    }
    for (const p of pages) await p.context.close();
    await sleep(2000);
  }
} finally {
  await browser?.close().catch(() => {});
  await stack.stop();
  janus.stop();
}

console.log('== SFU (Janus), web client pages (640x480 camera + audio), all in one namespace');
console.log('pages | forwarded streams | Janus CPU (% of a core) | per stream | per participant');
for (const r of rows) {
  console.log(`${r.n} | ${r.streams} | ${r.pct.toFixed(1)} | ${(r.pct / r.streams).toFixed(2)}`
    + ` | ${(r.pct / r.n).toFixed(1)}`);
}
const ok = joins.filter((x) => x !== undefined);
console.log(`join -> first decoded remote frame: ${ok.length} joins, `
  + `p50 ${Math.round(percentile(ok, 50))} ms, p95 ${Math.round(percentile(ok, 95))} ms, `
  + `max ${Math.round(Math.max(...ok))} ms; ${joins.length - ok.length} without a frame in 20 s`);
const names = ['open', 'joined', 'answer', 'offer', 'connected', 'frame'];
console.log(`where the time goes (median ms from the click on "Join now", ${steps.length} joins): `
  + names.map((k) => `${k} ${Math.round(percentile(steps.map((x) => x[k])
    .filter((x) => x !== undefined), 50))}`).join(', '));
