// The cluster test's browser case (tests/cluster/test_cluster.py): two
// headless Chromium pages (own contexts, fake camera and microphone) load the
// web client from haproxy's address, sign in as two existing users, open one
// meeting (the first starts it, the second joins) and set up a mesh call.
// Prints one JSON line: per page its user id, the X-Meeting-Node of every
// API response it got, and two samples of the video frames it decoded from
// the other page. Usage:
//   node browser_call.mjs BASE_URL MEETING_ID USER_A USER_B   (password in MM_PASSWORD)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(path.join(HERE, '../e2e/package.json'))('playwright-core');

const [base, meetingId, ...names] = process.argv.slice(2);
const password = process.env.MM_PASSWORD;
const STEP = 20000;              // each wait: expected about a second
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function openAs(browser, username) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  const seen = { username, nodes: [], errors: [] };
  page.on('response', (r) => {
    if (r.url().includes('/api/v1/') && r.request().headers().authorization) {
      seen.nodes.push(r.headers()['x-meeting-node'] || '');
    }
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForSelector('body:not([data-user-id=""])');
  seen.userId = Number(await page.getAttribute('body', 'data-user-id'));
  return { page, seen };
}

async function enter({ page }) {
  await page.goto(`${base}/#/m/${meetingId}`);
  await page.waitForSelector('body[data-view="prejoin"]');
  await page.waitForFunction(
    () => !document.querySelector('.prejoin-side button[type=submit]')?.disabled);
  await page.getByRole('button', { name: /^(Join now|Start meeting)$/ }).click();
  await page.waitForSelector('body[data-phase="in"]');
}

// Frames of video from peerId decoded on this page (0 before any).
async function decoded({ page }, peerId) {
  return (await page.evaluate(() => window.mm.stats()))[peerId]?.framesDecoded || 0;
}

async function waitDecoding(p, peerId) {
  const deadline = Date.now() + STEP;
  while (Date.now() < deadline) {
    if (await decoded(p, peerId) > 0) return;
    await sleep(200);
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    // haproxy's address is plain http and not loopback: camera and
    // microphone need a secure context, which this flag grants that origin.
    `--unsafely-treat-insecure-origin-as-secure=${base}`],
});
const killer = setTimeout(() => { console.error('browser_call: timed out'); process.exit(2); },
  150000);
try {
  const pages = [];
  for (const name of names) pages.push(await openAs(browser, name));
  const [a, b] = pages;
  await enter(a);
  await enter(b);
  await Promise.all([waitDecoding(a, b.seen.userId), waitDecoding(b, a.seen.userId)]);
  for (const [p, q] of [[a, b], [b, a]]) p.seen.framesDecoded = [await decoded(p, q.seen.userId)];
  await sleep(2000);
  for (const [p, q] of [[a, b], [b, a]]) {
    p.seen.framesDecoded.push(await decoded(p, q.seen.userId));
    p.seen.sfu = await p.page.evaluate(() => window.mm.sfu !== null);
  }
  console.log(JSON.stringify(pages.map((p) => p.seen)));
} finally {
  clearTimeout(killer);
  await browser.close().catch(() => {});
}
