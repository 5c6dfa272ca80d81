// End-to-end: media through the SFU. Four headless Chromium pages (fake
// camera and microphone) in one meeting, each with one upstream and one
// downstream peer connection to Janus, driven through signald's sfu-* frames
// by web/sfu.js. Run by tests/e2e/sfu.sh, which puts this process (and so
// PostgreSQL, httpd, signald, Janus and Chromium) in a private network
// namespace with a veth pair: Janus gathers no ICE candidates on loopback.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, Janus, SfuStack, openPage as open, receiving, sleep,
  meeting, user as newUser } from './sfu-stack.mjs';

const PAGES = 4;
const MEDIA_TIMEOUT = 30000;      // expected: a few seconds on a loaded 2-core machine

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
    for (let i = 0; i < PAGES; i++) users.push(await newUser(stack, `P${i}`));
    const host = users[0];
    const { mid, urls } = await meeting(stack, users);
    const pages = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < PAGES; i++) pages.push(await open(browser, stack, `P${i}`, urls[i]));
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
