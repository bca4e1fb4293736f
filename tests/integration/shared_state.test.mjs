// Two gateway processes on one real redis-server (state.backend: redis): a key's rate limit is
// exact across both, its budget is not overspent by concurrent requests on both, and when Redis
// is killed mid-run each feature does what state.on_unavailable says — limits on each
// instance's own buckets, budgeted keys refused with 503 state_unavailable — with one metric
// step and one log line, no stall of unrelated requests, and recovery once Redis is back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  makeTmpDir, metricValue, postJson, sha256, simProvider, startGateway, startSim, waitFor,
} from './lib/harness.mjs';
import { freePort, haveRedisServer, startRedis, stopRedis } from './lib/redis.mjs';

const HOST = '127.0.0.1';
const TEN = 'sk-llmgw-shared-ten-a-minute';
const BUDGET = 'sk-llmgw-shared-budget';
const FREE = 'sk-llmgw-shared-free';
const PRICE = { input_per_mtok: 1000, output_per_mtok: 2000 };
const CAP = 0.5;  // usd a day

const ask = (gw, key, extra = {}) => postJson(`${gw.url}/v1/chat/completions`,
  { model: 'chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 40, ...extra },
  { headers: { authorization: `Bearer ${key}` }, timeout: 10_000 });

const costOf = (r) => (r.json.usage.prompt_tokens * PRICE.input_per_mtok
  + r.json.usage.completion_tokens * PRICE.output_per_mtok) / 1e6;

describe('shared state on Redis across two instances', { skip: !haveRedisServer() && 'redis-server is not on PATH' }, () => {
  let redis;
  let port;
  let dir;
  let a;
  let b;

  before(async () => {
    dir = makeTmpDir('llmgw-shared-');
    port = await freePort();
    redis = await startRedis(port, dir);
    const sim = await startSim({ name: 'shared-sim' });
    const config = {
      providers: [simProvider(sim)],
      models: [{ name: 'chat', targets: [{ provider: sim.name, model: 'gpt-4o-mini', price: PRICE }] }],
      keys: [
        { name: 'ten', sha256: sha256(TEN), rate_limit: { rpm: 10 } },
        { name: 'budget', sha256: sha256(BUDGET), budget: { usd_per_day: CAP } },
        { name: 'free', sha256: sha256(FREE) },
      ],
      auth: { required: true },
      state: { backend: 'redis', redis: { url: `redis://${HOST}:${port}/0` } },
    };
    a = await startGateway(config);
    b = await startGateway(config);
  });

  after(async () => {
    await stopRedis(redis);
  });

  test('rpm 10: exactly ten of thirty concurrent requests on both instances pass', async () => {
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(i % 2 ? a : b, TEN)));
    const ok = all.filter((r) => r.status === 200);
    const limited = all.filter((r) => r.status === 429);
    assert.equal(ok.length, 10, all.map((r) => r.status).join(','));
    assert.equal(limited.length, 20);
    for (const r of limited) {
      assert.equal(r.json.error.code, 'rate_limited');
      const retry = Number(r.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 6, `retry-after ${retry}`);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '10');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
    }
    const refusedA = metricValue(await a.metrics(), 'llmgw_rate_limited_total', { key: 'ten', kind: 'requests' }) ?? 0;
    const refusedB = metricValue(await b.metrics(), 'llmgw_rate_limited_total', { key: 'ten', kind: 'requests' }) ?? 0;
    assert.equal(refusedA + refusedB, 20);
  });

  test('a budget is not overspent by concurrent requests on both instances', async () => {
    let served = [];
    let refused = [];
    let spent = 0;
    let dearest = 0;
    // Waves of twelve concurrent requests, half on each instance, until the budget is spent to
    // within one request (a wave may find the last wave's holds not yet settled: it is refused
    // and the next one goes on). Bounded: 60 waves.
    const deadline = Date.now() + 30_000;
    for (let wave = 0; wave < 60 && Date.now() < deadline; wave++) {
      const all = await Promise.all(Array.from({ length: 12 }, (_, i) => ask(i % 2 ? a : b, BUDGET)));
      served = served.concat(all.filter((r) => r.status === 200));
      refused = refused.concat(all.filter((r) => r.status === 429));
      spent = served.reduce((sum, r) => sum + costOf(r), 0);
      dearest = Math.max(0, ...served.map(costOf));
      if (spent >= CAP - dearest) break;
    }
    assert.ok(served.length > 0, 'some requests were served');
    assert.ok(refused.length > 0, 'the budget refused some');
    assert.ok(spent <= CAP + dearest + 1e-9, `spent ${spent} of ${CAP} (one request costs ≤ ${dearest})`);
    assert.ok(spent >= CAP * 0.5, `the budget was used, not refused early: spent ${spent}`);
    const e = refused[0].json.error;
    assert.equal(e.code, 'budget_exceeded');
    assert.match(e.message, /for this day \(UTC\) is spent: \$[\d.]+ of \$0\.5000; it resets at \d{4}-\d\d-\d\dT00:00:00Z/);
    const retry = Number(refused[0].headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 86_400, `retry-after ${retry}`);
    // What both instances counted as cost is what the clients were served.
    const counted = (metricValue(await a.metrics(), 'llmgw_cost_usd_total', { key: 'budget' }) ?? 0)
      + (metricValue(await b.metrics(), 'llmgw_cost_usd_total', { key: 'budget' }) ?? 0);
    assert.ok(Math.abs(counted - spent) < 1e-6, `metrics ${counted}, served ${spent}`);
  });

  test('Redis killed mid-run: limits fall back, budgets refuse, nothing stalls; then recovery', async () => {
    const timed = async (gw, key) => {
      const t0 = performance.now();
      const r = await ask(gw, key);
      return { r, ms: performance.now() - t0 };
    };
    await stopRedis(redis);
    // A budgeted key: 503 state_unavailable (on_unavailable.budgets: deny by default).
    const denied = await ask(a, BUDGET);
    assert.equal(denied.status, 503, denied.text);
    assert.equal(denied.json.error.code, 'state_unavailable');
    assert.equal(denied.headers.get('retry-after'), '1');
    // A rate-limited key: this instance's own bucket meanwhile (limits: allow).
    const fallback = await ask(a, TEN);
    assert.equal(fallback.status, 200, fallback.text);
    assert.equal(fallback.headers.get('x-ratelimit-limit-requests'), '10');
    // Unrelated requests, and limited ones, do not wait on the dead Redis.
    for (let i = 0; i < 5; i++) {
      const free = await timed(b, FREE);
      assert.equal(free.r.status, 200);
      assert.ok(free.ms < 200, `an unrelated request took ${free.ms} ms`);
      const limited = await timed(a, TEN);
      assert.ok(limited.ms < 400, `a limited request took ${limited.ms} ms during the outage`);
    }
    const m = await a.metrics();
    assert.equal(metricValue(m, 'llmgw_state_available', { feature: 'limits' }), 0);
    assert.equal(metricValue(m, 'llmgw_state_available', { feature: 'budgets' }), 0);
    assert.equal(metricValue(m, 'llmgw_state_outages_total', { feature: 'budgets' }), 1);
    assert.equal(metricValue(m, 'llmgw_rate_limited_total', { key: 'budget', kind: 'unavailable' }), 1);
    const log = `${a.stdout.text()}\n${a.stderr.text()}`;
    const lines = log.split('\n').filter((l) => l.includes('unreachable for budgets'));
    assert.equal(lines.length, 1, log);
    assert.match(lines[0], /redis 127\.0\.0\.1:\d+ unreachable for budgets .*deny/);

    // Back: the shared state serves again (a fresh Redis: the day's spend starts over).
    redis = await startRedis(port, dir);
    await waitFor(async () => (await ask(a, BUDGET)).status === 200,
      { timeout: 10_000, interval: 100, what: 'a budgeted request served again' });
    const back = await a.metrics();
    assert.equal(metricValue(back, 'llmgw_state_available', { feature: 'budgets' }), 1);
    assert.match(`${a.stdout.text()}\n${a.stderr.text()}`, /reachable again for budgets/);
  });
});
