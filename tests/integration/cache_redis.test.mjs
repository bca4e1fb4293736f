// The response cache on Redis (state.backend: redis): two gateway instances share entries (a
// miss on one is a hit on the other), and a Redis that goes away makes lookups misses, never
// errors (counted, logged once), until it is back. On a real redis-server on a loopback port.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  makeTmpDir, metricValue, postJson, sha256, simProvider, startGateway, startSim, waitFor,
  waitForExit,
} from './lib/harness.mjs';

const HOST = '127.0.0.1';
const KEY = 'sk-llmgw-cache-redis';

// The Redis helpers are those of session_stores.test.mjs (a local copy: one file each).
function haveRedisServer() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5000 });
  return !r.error && r.status === 0;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

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

async function startRedis(port, dir) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function stopRedis(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGKILL');
  await waitForExit(proc, 5000);
}

describe('response cache on redis, shared by two instances', { skip: !haveRedisServer() && 'redis-server is not on PATH' }, () => {
  let sim;
  let redis;
  let port;
  let dir;
  let a;
  let b;

  const ask = (gw, content) => postJson(`${gw.url}/v1/chat/completions`,
    { model: 'chat', temperature: 0, messages: [{ role: 'user', content }] },
    { headers: { authorization: `Bearer ${KEY}` } });
  const requests = async () => (await sim.stats()).requests;

  before(async () => {
    sim = await startSim({ name: 'cache-redis' });
    port = await freePort();
    dir = makeTmpDir('llmgw-cache-redis-');
    redis = await startRedis(port, dir);
    const config = {
      providers: [simProvider(sim)],
      models: [{ name: 'chat', targets: [{ provider: sim.name, model: 'gpt-4o-mini' }], cache: { ttl: '10m' } }],
      keys: [{ name: 'team-a', sha256: sha256(KEY) }],
      auth: { required: true },
      state: { backend: 'redis', redis: { url: `redis://${HOST}:${port}/0` } },
    };
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
  });

  after(async () => {
    await stopRedis(redis);
  });

  test("one instance's miss is the other's hit", async () => {
    const first = await ask(a, 'shared across instances');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-llmgw-cache'), 'miss');
    const before = await requests();
    const second = await waitFor(async () => {
      const r = await ask(b, 'shared across instances');
      return r.headers.get('x-llmgw-cache') === 'hit' ? r : null;
    }, { what: 'the entry on redis' });
    assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
    assert.equal(await requests(), before, 'the hit on b called no provider');
  });

  test('redis down: lookups are misses answered by the provider, counted and logged once', async () => {
    await stopRedis(redis);
    for (let i = 0; i < 3; i++) {
      const r = await ask(a, 'shared across instances');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-llmgw-cache'), 'miss');
    }
    const m = await a.metrics();
    assert.ok(metricValue(m, 'llmgw_cache_store_errors_total', { store: 'redis', op: 'get' }) >= 3, m);
    const log = () => `${a.stdout.text()}\n${a.stderr.text()}`;
    await waitFor(() => /cache: the redis store failed/.test(log()), { what: 'the failure in the log' });
    assert.equal(log().match(/cache: the redis store failed/g).length, 1, 'logged once, not per request');
    redis = await startRedis(port, dir);
    // Back once a request meets it (the client's reconnect back-off may fail the first ones).
    await waitFor(async () => {
      const r = await ask(a, 'after the outage');
      assert.equal(r.status, 200, r.text);
      return /cache: the redis store is back/.test(log());
    }, { timeout: 10_000, interval: 100, what: 'the recovery in the log' });
    const hit = await waitFor(async () => {
      const r = await ask(b, 'after the outage');
      return r.headers.get('x-llmgw-cache') === 'hit' ? r : null;
    }, { what: 'a hit after the outage' });
    assert.equal(hit.status, 200);
  });
});
