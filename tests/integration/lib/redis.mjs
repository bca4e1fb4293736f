// A real redis-server for the integration tests that need one (sessions, shared state): started
// on a free loopback port with no persistence, ready once it answers PING, killed with the
// test process.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { waitFor, waitForExit } from './harness.mjs';

const HOST = '127.0.0.1';

export function haveRedisServer() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5000 });
  return !r.error && r.status === 0;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** true when a Redis on the port answers PING with PONG (one short connection). */
function redisPing(port, timeout = 500) {
  return new Promise((resolve) => {
    const sock = net.connect(port, HOST);
    let got = '';
    const done = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeout);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

const redisProcs = new Set();
process.once('exit', () => {
  for (const p of redisProcs) {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});

export async function startRedis(port, dir) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no',
    '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  redisProcs.add(proc);
  proc.once('exit', () => redisProcs.delete(proc));
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  await waitFor(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited: ${output}`);
    return redisPing(port);
  }, { timeout: 10_000, interval: 50, what: `redis-server on port ${port}` });
  return proc;
}

export async function stopRedis(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGKILL');
  await waitForExit(proc, 5000);
}
