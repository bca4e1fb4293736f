// The persistent session stores through the real daemon (docs/sessions.md#stores): SQLite keeps
// a conversation across a restart; Redis shares one between two instances (turns and the
// per-session lock), answers 503 session_store_unavailable while it is down and serves again
// when it is back; a store the daemon cannot open stops it at start; a reload that changes only
// the models keeps the (memory) store's sessions.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  getJson, LLMGW_BIN, baseConfig, http, makeTmpDir, metricValue, postJson, sha256, simProvider, startGateway,
  startSim, toYaml, waitFor,
} from './lib/harness.mjs';
import { freePort, haveRedisServer, startRedis, stopRedis } from './lib/redis.mjs';

const HOST = '127.0.0.1';
const KEY = 'sk-llmgw-session-stores-key';
const auth = { authorization: `Bearer ${KEY}` };

let sim;

before(async () => {
  sim = await startSim({ name: 'stores-sim' });
});

const config = (sessions, extra = {}) => ({
  providers: [simProvider(sim)],
  models: [{ name: 'chat', targets: [{ provider: sim.name, model: 'gpt-4o-mini' }], retry: { attempts: 1 } }],
  keys: [{ name: 'team-a', sha256: sha256(KEY) }],
  auth: { required: true },
  sessions,
  ...extra,
});

function say(gw, content, { id, timeout } = {}) {
  return postJson(`${gw.url}/v1/chat/completions`,
    { model: 'chat', messages: [{ role: 'user', content }] },
    { headers: { ...auth, ...(id ? { 'x-session-id': id } : {}) }, timeout });
}

function transcript(gw, id) {
  return getJson(`${gw.url}/v1/sessions/${id}`, { headers: auth, timeout: 5000 });
}

// The store is written just after the answer goes out: poll for the message count.
async function waitForMessages(gw, id, n, timeout = 5000) {
  let last;
  await waitFor(async () => {
    last = await transcript(gw, id);
    return last.status === 200 && last.json.messages.length >= n;
  }, { timeout, what: `session ${id} with ${n} messages` }).catch((e) => {
    throw new Error(`${e.message}; last transcript: ${last?.status} ${last?.text}`);
  });
  return last.json;
}

// What the sim saw for a `!history` turn: "role:content" per message, system messages left out.
function historySeen(r) {
  assert.equal(r.status, 200, r.text);
  const seen = JSON.parse(r.json.choices[0].message.content);
  return seen.filter((m) => m.role !== 'system').map((m) => `${m.role}:${m.content}`);
}

const gatewayLog = (gw) => `${gw.stdout.text()}\n${gw.stderr.text()}`;

// ---------------------------------------------------------------------------------------------

describe('sqlite: sessions survive a restart', () => {
  test('turns 1-2 stored by one daemon come back in the next one', async () => {
    const dir = makeTmpDir('llmgw-sqlite-');
    const cfg = config({ store: 'sqlite', sqlite: { path: path.join(dir, 'sessions.db') } });
    const id = 'sqlite-restart';

    const first = await startGateway(cfg);
    let r = await say(first, 'one', { id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-session'), id);
    await waitForMessages(first, id, 2);
    r = await say(first, 'two', { id });
    assert.equal(r.status, 200, r.text);
    await waitForMessages(first, id, 4);
    assert.equal(await first.stop(), 0, gatewayLog(first));

    const second = await startGateway(cfg);
    try {
      r = await say(second, '!history', { id });
      assert.deepEqual(historySeen(r), [
        'user:one', `assistant:[${sim.name}] one`,
        'user:two', `assistant:[${sim.name}] two`,
        'user:!history',
      ]);
      const t = await waitForMessages(second, id, 6);
      assert.equal(t.messages.length, 6);
      assert.equal(t.owner, 'team-a', 'the owner survives the restart too');
      assert.deepEqual(t.messages.slice(0, 5).map((m) => m.content),
        ['one', `[${sim.name}] one`, 'two', `[${sim.name}] two`, '!history']);
    } finally {
      await second.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Redis

describe('redis: one session shared by two gateway instances', { skip: !haveRedisServer() && 'redis-server is not on PATH' }, () => {
  let port;
  let dir;
  let redis;
  let a;
  let b;

  const redisSessions = (extra = {}) => ({ store: 'redis', redis: { url: `redis://${HOST}:${port}/0` }, ...extra });

  before(async () => {
    dir = makeTmpDir('llmgw-redis-');
    port = await freePort();
    redis = await startRedis(port, dir);
    a = await startGateway(config(redisSessions()));
    b = await startGateway(config(redisSessions({ busy_wait: '100ms' })));
  });

  after(async () => {
    await sim?.fault({ mode: 'none' }).catch(() => {});
    await stopRedis(redis);
  });

  test('turn 1 on A, turn 2 on B, turn 3 on A sees both; B shows the transcript', async () => {
    const id = 'redis-shared';
    let r = await say(a, 'one', { id });
    assert.equal(r.status, 200, r.text);
    await waitForMessages(b, id, 2);  // visible to the other instance
    r = await say(b, 'two', { id });
    assert.equal(r.status, 200, r.text);
    await waitForMessages(a, id, 4);
    r = await say(a, '!history', { id });
    assert.deepEqual(historySeen(r), [
      'user:one', `assistant:[${sim.name}] one`,
      'user:two', `assistant:[${sim.name}] two`,
      'user:!history',
    ]);
    const t = await waitForMessages(b, id, 6);
    assert.equal(t.messages.length, 6);
    assert.equal(t.owner, 'team-a');
    assert.deepEqual(t.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  });

  test('a request on B while A serves the same session gets 409 session_busy', async () => {
    const id = 'redis-busy';
    const before = (await sim.stats()).requests;
    await sim.fault({ mode: 'slow_first_byte', delay_ms: 800, count: 1 });
    let slowDone = false;
    const slow = say(a, 'slow one', { id }).finally(() => { slowDone = true; });
    try {
      // A holds the session's lock once its request reached the provider.
      await waitFor(async () => (await sim.stats()).requests > before, { timeout: 5000, what: 'A\'s request at the sim' });
      const busy = await say(b, 'impatient', { id });
      assert.equal(slowDone, false, 'B answered while A was still serving');
      assert.equal(busy.status, 409, busy.text);
      assert.equal(busy.json.error.code, 'session_busy');
      assert.equal(busy.json.error.param, 'x-session-id');
    } finally {
      const r = await slow;
      assert.equal(r.status, 200, r.text);
    }
    const t = await waitForMessages(b, id, 2);
    assert.deepEqual(t.messages.map((m) => m.content), ['slow one', `[${sim.name}] slow one`]);
    // The lock went with A's turn: B may go on with the session.
    const next = await say(b, 'after', { id });
    assert.equal(next.status, 200, next.text);
    await waitForMessages(a, id, 4);
  });

  test('Redis down: 503 session_store_unavailable (fast), others unaffected; back up: sessions work', async () => {
    const id = 'redis-outage';
    const ok = await say(a, 'before the outage', { id });
    assert.equal(ok.status, 200, ok.text);
    await waitForMessages(a, id, 2);
    const errorsBefore = metricValue(await a.metrics(), 'llmgw_session_store_errors_total', { store: 'redis' }) ?? 0;

    await stopRedis(redis);

    const t0 = Date.now();
    const r = await say(a, 'during the outage', { id, timeout: 5000 });
    const took = Date.now() - t0;
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'session_store_unavailable');
    assert.equal(r.json.error.param, 'x-session-id');
    assert.match(r.json.error.message, /redis/);
    assert.doesNotMatch(r.json.error.message, /redis:\/\//, 'names host:port, not the URL');
    assert.ok(took < 3000, `the 503 took ${took} ms`);

    const plain = await say(a, 'no session');
    assert.equal(plain.status, 200, plain.text);
    assert.equal(plain.json.choices[0].message.content, `[${sim.name}] no session`);

    const errorsAfter = metricValue(await a.metrics(), 'llmgw_session_store_errors_total', { store: 'redis' }) ?? 0;
    assert.ok(errorsAfter > errorsBefore, `llmgw_session_store_errors_total rose: ${errorsBefore} -> ${errorsAfter}`);
    // The warning is logged just before the 503 goes out.
    await waitFor(() => /\bwarning session store redis: \w+ failed: /.test(gatewayLog(a)),
      { timeout: 5000, what: 'a warning about the session store in the daemon log' });
    assert.doesNotMatch(gatewayLog(a), /redis:\/\//, 'the log names no URL');

    redis = await startRedis(port, dir);
    // The client may be in its connect back-off (up to 2 s): poll until a session request passes.
    // Redis kept nothing (no persistence), so this is a new session.
    const id2 = 'redis-after-outage';
    let last;
    await waitFor(async () => {
      last = await say(a, 'after the outage', { id: id2, timeout: 5000 });
      return last.status === 200;
    }, { timeout: 10_000, interval: 100, what: 'a session request to succeed again' }).catch((e) => {
      throw new Error(`${e.message}; last: ${last?.status} ${last?.text}`);
    });
    await waitForMessages(b, id2, 2, 10_000);
  });
});

// ---------------------------------------------------------------------------------------------

describe('store configuration errors', () => {
  test('a SQLite path the daemon cannot open stops it at start, naming the path', () => {
    const dir = makeTmpDir('llmgw-badstore-');
    const dbPath = '/nonexistent-dir/x.db';
    const file = path.join(dir, 'llmgw.yaml');
    writeFileSync(file, toYaml(baseConfig(config({ store: 'sqlite', sqlite: { path: dbPath } }))));
    const r = spawnSync(LLMGW_BIN, ['--config', file], { encoding: 'utf8', timeout: 10_000, killSignal: 'SIGKILL' });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.error, undefined, `the daemon did not exit: ${r.error?.message}\n${out}`);
    assert.notEqual(r.status, 0, out);
    assert.equal(r.signal, null, out);
    assert.ok(out.includes(dbPath), `the message names ${dbPath}:\n${out}`);
    assert.match(out, /sessions/);
    assert.doesNotMatch(out, /listening on port/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('reload', () => {
  test('a reload that changes only the models keeps the memory store\'s sessions', async () => {
    const gw = await startGateway(config({ store: 'memory' }), { configVia: 'symlink' });
    try {
      const id = 'reload-keeps';
      let r = await say(gw, 'one', { id });
      assert.equal(r.status, 200, r.text);
      await waitForMessages(gw, id, 2);

      const cfg = config({ store: 'memory' });
      cfg.models.push({ name: 'extra', targets: [{ provider: sim.name, model: 'gpt-4o' }] });
      gw.writeConfig(cfg);
      const res = await gw.admin('/admin/reload', { method: 'POST' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { result: 'applied' });
      const models = await (await gw.fetch('/v1/models', { headers: auth })).json();
      assert.deepEqual(models.data.map((m) => m.id).sort(), ['chat', 'extra']);

      r = await say(gw, '!history', { id });
      assert.deepEqual(historySeen(r), ['user:one', `assistant:[${sim.name}] one`, 'user:!history']);
      await waitForMessages(gw, id, 4);
    } finally {
      await gw.stop();
    }
  });

  test('a reload to a SQLite path that cannot be opened keeps the running store, and says why', async () => {
    const dir = makeTmpDir('llmgw-sqlite-reload-');
    const gw = await startGateway(config({ store: 'sqlite', sqlite: { path: path.join(dir, 'sessions.db') } }),
      { configVia: 'symlink' });
    try {
      const id = 'reload-bad-path';
      let r = await say(gw, 'one', { id });
      assert.equal(r.status, 200, r.text);
      await waitForMessages(gw, id, 2);

      const badPath = '/nonexistent-dir/reload.db';
      gw.writeConfig(config({ store: 'sqlite', sqlite: { path: badPath } }));
      await gw.admin('/admin/reload', { method: 'POST' });
      await waitFor(() => gatewayLog(gw).split('\n').some((l) => /session store stays as it was/.test(l) && l.includes(badPath)),
        { timeout: 5000, what: 'the reload\'s session store error naming the path' });

      r = await say(gw, '!history', { id });
      assert.deepEqual(historySeen(r), ['user:one', `assistant:[${sim.name}] one`, 'user:!history']);
      await waitForMessages(gw, id, 4);
    } finally {
      await gw.stop();
    }
  });
});
