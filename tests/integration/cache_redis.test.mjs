// The response cache on Redis (state.backend: redis): two gateway instances share entries (a
// miss on one is a hit on the other), and a Redis that goes away makes lookups misses, never
// errors (counted, logged once), until it is back. On a real redis-server on a loopback port.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  makeTmpDir, metricValue, postJson, sha256, simProvider, startGateway, startSim, waitFor,
} from './lib/harness.mjs';
import { freePort, haveRedisServer, startRedis, stopRedis } from './lib/redis.mjs';

const HOST = '127.0.0.1';
const KEY = 'sk-llmgw-cache-redis';


describe('response cache on redis, shared by two instances', { skip: !haveRedisServer() && 'redis-server is not on PATH' }, () => {
  let sim;
  let redis;
  let port;
  let dir;
  let a;
  let b;
  let strict;  // on_unavailable.cache: deny

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
    [a, b, strict] = await Promise.all([startGateway(config), startGateway(config),
      startGateway({ ...config, state: { ...config.state, on_unavailable: { cache: 'deny' } } })]);
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
    // With on_unavailable.cache: deny, a request to a cached model is refused instead.
    const refused = await ask(strict, 'shared across instances');
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.error.code, 'state_unavailable');
    assert.equal(refused.headers.get('retry-after'), '1');
    for (let i = 0; i < 3; i++) {
      const r = await ask(a, 'shared across instances');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-llmgw-cache'), 'miss');
    }
    const m = await a.metrics();
    assert.ok(metricValue(m, 'llmgw_cache_store_errors_total', { store: 'redis', op: 'get' }) >= 3, m);
    const log = () => `${a.stdout.text()}\n${a.stderr.text()}`;
    assert.equal(metricValue(m, 'llmgw_state_available', { feature: 'cache' }), 0);
    await waitFor(() => /unreachable for cache/.test(log()), { what: 'the failure in the log' });
    assert.equal(log().match(/unreachable for cache/g).length, 1, 'logged once, not per request');
    redis = await startRedis(port, dir);
    // Back once a request meets it (the client's reconnect back-off may fail the first ones).
    await waitFor(async () => {
      const r = await ask(a, 'after the outage');
      assert.equal(r.status, 200, r.text);
      return /reachable again for cache/.test(log());
    }, { timeout: 10_000, interval: 100, what: 'the recovery in the log' });
    const hit = await waitFor(async () => {
      const r = await ask(b, 'after the outage');
      return r.headers.get('x-llmgw-cache') === 'hit' ? r : null;
    }, { what: 'a hit after the outage' });
    assert.equal(hit.status, 200);
  });
});
