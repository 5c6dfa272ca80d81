// End-to-end: media through the SFU, in the product web client. Four
// headless Chromium pages (fake camera and microphone) join one meeting from
// its pre-join screen; `joined` says "media": "sfu", so web/js/call.js sends
// and receives through Janus (web/sfu.js: one upstream and one downstream
// peer connection per page) instead of the mesh. Run by tests/e2e/sfu.sh,
// which puts this process (and so PostgreSQL, httpd, signald, Janus and
// Chromium) in a private network namespace with a veth pair: Janus gathers
// no ICE candidates on loopback. The journey writes sfu-grid.png into SHOTS (stack.mjs).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Janus, SfuStack, launchChromium, meeting, openClient, receiving, sleep, stopAll,
  user as newUser } from './sfu-stack.mjs';
import { SHOTS } from './stack.mjs';

const PAGES = 4;
const MEDIA_TIMEOUT = 30000;      // expected: a few seconds on a loaded 2-core machine
const SOON = 20000;               // a frame's effect on another page: expected well under a second

let stack;
let janus;
let browser;

before(async () => {
  assert.ok(process.env.MM_SFU_NETNS, 'run through tests/e2e/sfu.sh (a private network namespace)');
  janus = new Janus(process.env.MM_E2E_DIR);
  await janus.start();
  stack = new SfuStack();
  await stack.start(janus);
  browser = await launchChromium();
});

after(() => stopAll({ browser, stack, janus }));

// Per page: the users whose camera video it has decoded frames of.
async function decoding(pages) {
  const out = [];
  for (const p of pages) {
    const r = await receiving(p);
    out.push(Object.entries(r).filter(([, v]) => v.framesDecoded > 0)
      .map(([id]) => Number(id)).sort());
  }
  return out;
}

// Polls page p's stats until what(stats of userId) holds.
async function until(p, userId, what, label) {
  const deadline = Date.now() + SOON;
  let last;
  while (Date.now() < deadline) {
    last = (await receiving(p))[userId];
    if (last && what(last)) return last;
    await sleep(200);
  }
  assert.fail(`page ${p.label}: no ${label} from user ${userId}: ${JSON.stringify(last)}`);
}

async function diagnostics(pages) {
  const out = [];
  for (const p of pages) {
    const frames = await p.page.evaluate(() => window.mm?.frames.slice(-30)
      .map((f) => (f.sdp ? { ...f, sdp: '…' } : f))).catch(() => []);
    out.push(`--- ${p.label}: frames`, JSON.stringify(frames), ...p.console.slice(-20),
      ...p.errors.map((e) => `[pageerror] ${e}`));
  }
  out.push('--- httpd error log', ...stack.errorLog().split('\n').slice(-40));
  out.push('--- janus log', ...janus.log().split('\n').slice(-30));
  return out.join('\n');
}

test('four people in the web client through the SFU: a grid of the others, mute, screen, '
  + 'who speaks, removal', async (t) => {
  const users = [];
  for (let i = 0; i < PAGES; i++) users.push(await newUser(stack, `Person ${i}`));
  const host = users[0];
  const mid = await meeting(stack, users);
  const ids = users.map((u) => u.user_id);
  const others = (i) => ids.filter((_, j) => j !== i).sort();
  const pages = [];
  try {
    const t0 = Date.now();
    for (let i = 0; i < PAGES; i++) {
      pages.push(await openClient(browser, stack, `P${i}`, users[i], mid));
    }
    t.diagnostic(`four pages in the call after ${Date.now() - t0} ms`);
    for (const p of pages) {
      const joined = await p.page.evaluate(() => window.mm.frames.find((f) => f.type === 'joined'));
      assert.equal(joined.media, 'sfu');
      // No mesh: no peer connection to any other page.
      assert.equal(await p.page.evaluate(() => window.mm.pcs.size), 0);
    }

    // Each page decodes the three others' video, shown in its grid.
    const deadline = Date.now() + MEDIA_TIMEOUT;
    let seen;
    do {
      await sleep(500);
      seen = await decoding(pages);
    } while (Date.now() < deadline && !seen.every((s, i) =>
      JSON.stringify(s) === JSON.stringify(others(i))));
    assert.deepEqual(seen, ids.map((_, i) => others(i)));
    t.diagnostic(`every page decodes the other three after ${Date.now() - t0} ms`);
    for (const [i, p] of pages.entries()) {
      for (const id of others(i)) {
        await p.page.waitForFunction((uid) => {
          const tile = document.querySelector(`.tile[data-user-id="${uid}"]`);
          return tile?.dataset.connectionState === 'connected'
            && tile.querySelector('video').videoWidth > 0;
        }, id, { timeout: SOON });
      }
      assert.equal(await p.page.locator('.grid .tile').count(), PAGES);
    }
    // ... and keeps decoding them, over one upstream and one downstream connection.
    const before1 = await Promise.all(pages.map(receiving));
    for (const [i, p] of pages.entries()) {
      for (const id of others(i)) {
        await until(p, id, (s) => s.framesDecoded > before1[i][id].framesDecoded,
          'more video');
      }
    }
    for (const p of pages) {
      assert.deepEqual(await p.page.evaluate(() => [!!window.mm.sfu.up, !!window.mm.sfu.down,
        window.mm.sfu.down.getReceivers().length >= 6]), [true, true, true]);
    }
    for (const p of pages.slice(1)) {
      const [ms, marks] = await p.page.evaluate(() => [window.mm.firstFrameMs, window.mm.marks]);
      t.diagnostic(`${p.label}: join click -> first decoded remote frame ${Math.round(ms)} ms `
        + `(steps: ${Object.entries(marks).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')})`);
    }

    // Who is speaking: the fake microphones beep; some tile lights up.
    await pages[0].page.waitForSelector('.tile[data-speaking="true"]', { timeout: SOON });
    mkdirSync(SHOTS, { recursive: true });
    await pages[0].page.screenshot({ path: path.join(SHOTS, 'sfu-grid.png') });

    // P2 mutes with its button: the others see it muted and the SFU stops
    // forwarding its audio (the packets stop, not just the sound).
    const muted = ids[2];
    await pages[2].page.getByRole('button', { name: 'Turn microphone off' }).click();
    await pages[2].page.getByRole('button', { name: 'Turn microphone on' }).waitFor();
    await pages[0].page.waitForSelector(`.tile[data-user-id="${muted}"][data-audio="off"]`,
      { timeout: SOON });
    let m1;
    let m2 = await receiving(pages[0]);
    for (let i = 0; i < 10; i++) {
      m1 = m2;
      await sleep(1000);
      m2 = await receiving(pages[0]);
      if (m2[muted].audioPacketsReceived === m1[muted].audioPacketsReceived) break;
    }
    assert.equal(m2[muted].audioPacketsReceived, m1[muted].audioPacketsReceived,
      'the muted participant\'s audio is still forwarded');
    assert.ok(m2[ids[1]].audioPacketsReceived > m1[ids[1]].audioPacketsReceived,
      'an unmuted participant\'s audio stopped too');
    // Unmuted: forwarded again.
    await pages[2].page.getByRole('button', { name: 'Turn microphone on' }).click();
    const back = m2[muted].audioPacketsReceived;
    await until(pages[0], muted, (s) => s.audioPacketsReceived > back + 10, 'audio after unmute');

    // P1 shares its screen: a second video of P1 reaches the others, marked
    // screen by the server, and their tile shows it as presenting.
    const sharer = ids[1];
    await pages[1].page.getByRole('button', { name: 'Share your screen' }).click();
    for (const p of [pages[0], pages[3]]) {
      await p.page.waitForSelector(`.tile[data-user-id="${sharer}"][data-screen="true"]`,
        { timeout: SOON });
      await until(p, sharer, (s) => s.screenFramesDecoded > 10, 'screen frames');
    }
    const screenShown = await pages[0].page.evaluate((uid) => {
      const v = document.querySelector(`.tile[data-user-id="${uid}"] video`);
      return v.srcObject === window.mm.sfu.screens.get(uid);
    }, sharer);
    assert.ok(screenShown, 'the presenting tile does not show the screen');
    await pages[1].page.getByRole('button', { name: 'Stop sharing your screen' }).click();
    await pages[0].page.waitForSelector(`.tile[data-user-id="${sharer}"][data-screen="false"]`,
      { timeout: SOON });

    // A removed participant's video stops at the others within a second,
    // and their tile goes.
    const removed = ids[3];
    const del = await stack.api('DELETE', `/meetings/${mid}/participants/${removed}`,
      { token: host.token });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    await sleep(1000);
    const r1 = await Promise.all(pages.slice(0, 3).map(receiving));
    await sleep(1000);
    const r2 = await Promise.all(pages.slice(0, 3).map(receiving));
    r1.forEach((s, i) => {
      const a = s[removed]?.framesDecoded ?? 0;
      const b = r2[i][removed]?.framesDecoded ?? 0;
      assert.ok(b <= a, `page ${i} still decodes the removed user's video (${a} -> ${b})`);
    });
    for (const [i, p] of pages.slice(0, 3).entries()) {
      const still = ids[i === 0 ? 1 : 0];
      await until(p, still, (s) => s.framesDecoded > r1[i][still].framesDecoded,
        'video after the removal');
    }
    for (const p of pages.slice(0, 3)) {
      await p.page.waitForSelector(`.tile[data-user-id="${removed}"]`,
        { state: 'detached', timeout: SOON });
    }
    await pages[3].page.waitForSelector('body[data-end-reason="removed"]', { timeout: SOON });

    // P1 leaves with its button: its tile goes at the others.
    await pages[1].page.getByRole('button', { name: 'Leave call' }).click();
    for (const p of [pages[0], pages[2]]) {
      await p.page.waitForSelector(`.tile[data-user-id="${ids[1]}"]`,
        { state: 'detached', timeout: SOON });
    }
    for (const p of pages) assert.deepEqual(p.errors, [], `uncaught errors on page ${p.label}`);
  } catch (err) {
    console.error(await diagnostics(pages));
    throw err;
  } finally {
    for (const p of pages) await p.context.close().catch(() => {});
  }
});
