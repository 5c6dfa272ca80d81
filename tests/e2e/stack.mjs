// A private mod_meeting stack for the end-to-end test: PostgreSQL and httpd
// (with the signald it supervises) in a temporary directory on free ports,
// built with scripts/stack.sh exactly as tests/integration/conftest.py does.
//
// The directory is $MM_E2E_DIR when run.sh made one (so run.sh can clean up
// even if node dies), otherwise a fresh one under the system temp dir.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync,
  writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Where the journeys write their screenshots: build/screenshots, so a test
// run leaves the tree clean; MM_SCREENSHOTS=docs/screenshots refreshes the
// README's pictures.
export const SHOTS = path.resolve(ROOT, process.env.MM_SCREENSHOTS || 'build/screenshots');
export const STACK = path.join(ROOT, 'scripts', 'stack.sh');
const HTTPD = '/usr/sbin/apache2';

// Cheap bcrypt and rate limits out of the way, as in the integration tests.
const TEST_CONF = `
MeetingBcryptCost 4
MeetingRateLimit * 1000000/min
`;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Runs cmd in ROOT (with `env` added to the environment); its failure says
// what failed and its stderr.
export async function sh(cmd, args, env = {}) {
  try {
    return await run(cmd, args.map(String), { cwd: ROOT, env: { ...process.env, ...env } });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Stack {
  constructor() {
    this.base = process.env.MM_E2E_DIR || mkdtempSync(path.join(os.tmpdir(), 'mm-e2e-'));
    this.ownBase = !process.env.MM_E2E_DIR;
    // httpd's children run as www-data and read htdocs under it.
    chmodSync(this.base, 0o755);
    this.pgDir = path.join(this.base, 'pg');
    this.state = path.join(this.base, 'httpd');
    this.conf = path.join(this.state, 'httpd.conf');
    this.pgStarted = false;
  }

  // `more`: configuration lines added to TEST_CONF, or a function of the
  // stack giving them once its ports are chosen.
  async start(more = '') {
    [this.pgPort, this.port, this.sigPort] =
      await Promise.all([freePort(), freePort(), freePort()]);
    this.url = `http://127.0.0.1:${this.port}`;
    await sh(STACK, ['pg-start', this.pgDir, this.pgPort]);
    this.pgStarted = true;
    await sh(STACK, ['migrate', this.pgPort]);

    mkdirSync(this.state, { recursive: true, mode: 0o755 });
    chmodSync(this.state, 0o755);
    const extra = path.join(this.state, 'extra.conf');
    writeFileSync(extra, TEST_CONF + (typeof more === 'function' ? more(this) : more));
    await sh(STACK, ['render', this.state, this.port, this.pgPort, this.sigPort, extra]);
    if (!existsSync(path.join(this.state, 'htdocs', 'index.html'))) {
      throw new Error('web/ was not copied to the DocumentRoot');
    }

    await sh(HTTPD, ['-f', this.conf, '-k', 'start']);
    await this.waitUp();
  }

  async waitUp(timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const r = await fetch(`${this.url}/api/v1/health`);
        if (r.status < 500) return;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error(`httpd did not come up\n${this.errorLog()}`);
  }

  errorLog() {
    try {
      return readFileSync(path.join(this.state, 'logs', 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  httpdPid() {
    try {
      return Number(readFileSync(path.join(this.state, 'httpd.pid'), 'utf8'));
    } catch {
      return 0;
    }
  }

  async stop() {
    const pid = this.httpdPid();
    if (existsSync(this.conf) && pid) {
      await sh(HTTPD, ['-f', this.conf, '-k', 'stop']).catch(() => {});
      for (let i = 0; i < 300; i++) {
        try { process.kill(pid, 0); } catch { break; }
        await sleep(50);
      }
    }
    if (this.pgStarted) {
      await sh(STACK, ['pg-stop', this.pgDir]).catch(() => {});
      this.pgStarted = false;
    }
    if (this.ownBase) rmSync(this.base, { recursive: true, force: true });
  }

  // One REST call; returns {status, body}.
  async api(method, p, { token, json } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${this.url}/api/v1${p}`, {
      method, headers, body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await r.text();
    let body = text;
    try { body = JSON.parse(text); } catch { /* keep text */ }
    return { status: r.status, body };
  }
}
