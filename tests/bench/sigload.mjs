// signald load client of the benchmark (tests/bench/bench.py runs it).
//
//   node sigload.mjs --url ws://127.0.0.1:PORT/ws/signaling --tickets FILE
//                    [--pid SIGNALD_PID] [--seconds 10] [--rate 1] [--parallel 200]
//
// FILE: one seat a line, "meeting_id <tab> user_id <tab> ticket". Opens one
// WebSocket per seat (at most --parallel handshakes at a time) and waits for
// every "joined". Then, in each room, members are paired (1st with 2nd, 3rd
// with 4th, ...) and relay offers and answers through signald:
//   paced:    each pair exchanges --rate offer+answer a second, at staggered
//             times: relay latency p50/p99 at a steady load
//   flat out: each pair sends its next offer as soon as its answer is back
//             (one exchange in flight per pair): messages/s
// Latency is from the sender's send() to the receiver's message event, on the
// same clock (one process). RSS of --pid is read once every socket is seated.
// Prints "@@RESULT {json}" at the end.
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const opt = { seconds: 10, rate: 1, parallel: 200, pid: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, "");
  opt[k] = ["url", "tickets"].includes(k) ? process.argv[i + 1] : Number(process.argv[i + 1]);
}

const SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
  + "a=group:BUNDLE 0 1\r\n" + "a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host\r\n".repeat(12)
  + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" + "a=rtpmap:111 opus/48000/2\r\n".repeat(8)
  + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" + "a=rtpmap:96 VP8/90000\r\n".repeat(8);

const now = () => Number(process.hrtime.bigint()) / 1000; // µs
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKib(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const seats = readFileSync(opt.tickets, "utf8").trim().split("\n").map((l) => {
  const [m, u, t] = l.split("\t");
  return { meeting: Number(m), user: Number(u), ticket: t, ws: null, seated: false };
});
const byKey = new Map(seats.map((s) => [`${s.meeting}:${s.user}`, s]));
const stats = { errors: 0, errorFrames: {}, closes: {}, lat: [], received: 0, phase: "connect" };

function onFrame(seat, data) {
  const t = now();
  let f;
  try {
    f = JSON.parse(data);
  } catch {
    stats.errors++;
    return;
  }
  if (f.type === "joined") {
    seat.seated = true;
    seat.onSeated?.();
    return;
  }
  if (f.type === "error") {
    stats.errors++;
    stats.errorFrames[f.code] = (stats.errorFrames[f.code] || 0) + 1;
    return;
  }
  if (f.type !== "offer" && f.type !== "answer") return; // user-joined etc.
  stats.received++;
  if (stats.phase === "paced") stats.lat.push(t - f.t_us);
  const peer = byKey.get(`${f.meeting_id}:${f.from_user_id}`);
  if (f.type === "offer") {
    send(seat, { type: "answer", target_user_id: f.from_user_id, sdp: SDP, t_us: now() });
  } else if (stats.phase === "flat" && peer) {
    send(seat, { type: "offer", target_user_id: f.from_user_id, sdp: SDP, t_us: now() });
  }
}

function send(seat, frame) {
  if (seat.ws && seat.ws.readyState === WebSocket.OPEN) seat.ws.send(JSON.stringify(frame));
}

function open(seat) {
  return new Promise((resolve) => {
    const url = `${opt.url}?meeting_id=${seat.meeting}&user_id=${seat.user}`
      + `&token=${encodeURIComponent(seat.ticket)}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30000 });
    seat.ws = ws;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    seat.onSeated = finish;
    ws.on("message", (data) => onFrame(seat, data.toString()));
    ws.on("close", (code) => {
      if (stats.phase !== "closing") {
        stats.closes[code] = (stats.closes[code] || 0) + 1;
        stats.errors++;
      }
      seat.seated = false;
      finish();
    });
    ws.on("error", () => finish());
  });
}

async function connectAll() {
  let next = 0;
  const worker = async () => {
    while (next < seats.length) await open(seats[next++]);
  };
  await Promise.all(Array.from({ length: opt.parallel }, worker));
}

// Pairs of seated members of the same room: [offerer, answerer].
function pairs() {
  const rooms = new Map();
  for (const s of seats) {
    if (!rooms.has(s.meeting)) rooms.set(s.meeting, []);
    rooms.get(s.meeting).push(s);
  }
  const out = [];
  for (const members of rooms.values())
    for (let i = 0; i + 1 < members.length; i += 2) out.push([members[i], members[i + 1]]);
  return { out, rooms: rooms.size };
}

function offer(a, b) {
  send(a, { type: "offer", target_user_id: b.user, sdp: SDP, t_us: now() });
}

function pct(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main() {
  const t0 = now();
  await connectAll();
  const connectS = (now() - t0) / 1e6;
  const held = () => seats.filter((s) => s.seated && s.ws.readyState === WebSocket.OPEN).length;
  const heldAfterConnect = held();
  await sleep(1000);
  const rssHeld = opt.pid ? rssKib(opt.pid) : 0;
  const { out: prs, rooms } = pairs();

  // Paced: every pair offers `rate` times a second, spread over the second.
  stats.phase = "paced";
  const period = 1000 / opt.rate;
  const timers = prs.map(([a, b], i) => setTimeout(() => {
    offer(a, b);
    timers[i] = setInterval(() => offer(a, b), period);
  }, (i / prs.length) * period));
  const p0 = now(), r0 = stats.received;
  await sleep(opt.seconds * 1000);
  const pacedRps = (stats.received - r0) / ((now() - p0) / 1e6);
  timers.forEach((t) => { clearTimeout(t); clearInterval(t); });
  await sleep(500);

  // Flat out: one exchange in flight per pair, the next offer on each answer.
  stats.phase = "flat";
  const f0 = now(), fr0 = stats.received;
  prs.forEach(([a, b]) => offer(a, b));
  await sleep(opt.seconds * 1000);
  const flatRps = (stats.received - fr0) / ((now() - f0) / 1e6);
  stats.phase = "drain";
  await sleep(500);
  const heldEnd = held();

  stats.lat.sort((x, y) => x - y);
  stats.phase = "closing";
  for (const s of seats) s.ws?.terminate();
  const result = {
    seats: seats.length, rooms, held: heldEnd, held_after_connect: heldAfterConnect,
    connect_s: connectS, rss_held_kib: rssHeld, pairs: prs.length,
    paced_rps: pacedRps, rps: flatRps, p50: pct(stats.lat, 50), p99: pct(stats.lat, 99),
    max: stats.lat.length ? stats.lat[stats.lat.length - 1] : 0, samples: stats.lat.length,
    errors: stats.errors, error_frames: stats.errorFrames, closes: stats.closes,
  };
  console.log("@@RESULT " + JSON.stringify(result));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
