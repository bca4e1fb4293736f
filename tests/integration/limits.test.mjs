// Per-key rate limits on one instance (keys[].rate_limit) and the cost of served requests:
// the x-ratelimit-* headers on every answer, 429 rate_limited with retry-after, the metrics.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  metricValue, postJson, sha256, simProvider, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

const LIMITED = 'sk-llmgw-limits-three-a-minute';
const FREE = 'sk-llmgw-limits-unlimited';
let gw;

const ask = (key, content = 'hello') => postJson(`${gw.url}/v1/chat/completions`,
  { model: 'chat', messages: [{ role: 'user', content }] },
  { headers: { authorization: `Bearer ${key}` } });

before(async () => {
  const sim = await startSim({ name: 'lim' });
  gw = await startGateway({
    providers: [simProvider(sim, { kind: 'openai_compatible' })],
    models: [{
      name: 'chat',
      targets: [{ provider: 'lim', model: 'gpt-4o-mini', price: { input_per_mtok: 1000, output_per_mtok: 2000 } }],
    }],
    keys: [
      { name: 'three', sha256: sha256(LIMITED), rate_limit: { rpm: 3, tpm: 100000 } },
      { name: 'free', sha256: sha256(FREE) },
    ],
    auth: { required: true },
  });
});

describe('per-key rate limits', () => {
  test('three a minute: the headers count down, the fourth is 429 with retry-after', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await ask(LIMITED);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '3');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), String(2 - i));
      assert.match(r.headers.get('x-ratelimit-reset-requests'), /^\d+(ms|s|m\d+s)$/);
      assert.equal(r.headers.get('x-ratelimit-limit-tokens'), '100000');
    }
    const r = await ask(LIMITED);
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'rate_limited');
    assert.equal(r.json.error.type, 'rate_limit_error');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 20, `retry-after ${retry}`);
    assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
    // Another key is not touched.
    const other = await ask(FREE);
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-ratelimit-limit-requests'), null);
    const m = await gw.metrics();
    assert.equal(metricValue(m, 'llmgw_rate_limited_total', { key: 'three', kind: 'requests' }), 1);
  });

  test('served requests have their cost counted per provider, model and key', async () => {
    const m = await gw.metrics();
    const cost = metricValue(m, 'llmgw_cost_usd_total', { provider: 'lim', model: 'gpt-4o-mini', key: 'free' });
    assert.ok(cost > 0, `cost ${cost}`);
  });
});

describe('provider limits (providers[].limits)', () => {
  test('a provider at its own rpm is passed over for the next target, not failed', async () => {
    const first = await startSim({ name: 'quota-a' });
    const second = await startSim({ name: 'quota-b' });
    const pgw = await startGateway({
      providers: [
        simProvider(first, { kind: 'openai_compatible', limits: { rpm: 2 } }),
        simProvider(second, { kind: 'openai_compatible' }),
      ],
      models: [{
        name: 'chat',
        strategy: 'priority',
        targets: [{ provider: 'quota-a', model: 'gpt-4o-mini' }, { provider: 'quota-b', model: 'gpt-4o-mini' }],
      }],
      auth: { required: false },
    });
    const served = [];
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${pgw.url}/v1/chat/completions`,
        { model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.status, 200, r.text);
      served.push(r.headers.get('x-llmgw-provider'));
    }
    assert.deepEqual(served, ['quota-a', 'quota-a', 'quota-b', 'quota-b']);
    // Passed over, not failed: no retry was counted, the target's health is untouched.
    const m = await pgw.metrics();
    assert.equal(metricValue(m, 'llmgw_upstream_requests_total', { provider: 'quota-a' }), 2);
    assert.equal(metricValue(m, 'llmgw_upstream_healthy', { provider: 'quota-a', check: 'passive' }) ?? 1, 1);
    await pgw.stop();
  });
});

describe('budgets on one instance', () => {
  test('a client that hangs up mid-stream pays what its request held', async () => {
    const sim = await startSim({ name: 'hangup' });
    const KEY = 'sk-llmgw-limits-hangup';
    // One request holds ~$0.2 (100 output tokens at $2000 a million): more than the $0.1 cap,
    // which it is admitted under (nothing spent yet).
    const bgw = await startGateway({
      providers: [simProvider(sim)],
      models: [{
        name: 'chat',
        targets: [{ provider: 'hangup', model: 'gpt-4o-mini', price: { input_per_mtok: 1000, output_per_mtok: 2000 } }],
      }],
      keys: [{ name: 'capped', sha256: sha256(KEY), budget: { usd_per_day: 0.1 } }],
      auth: { required: true },
    });
    try {
      await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 200 });
      const body = { model: 'chat', stream: true, max_tokens: 100, messages: [{ role: 'user', content: 'a long answer please' }] };
      const r = await streamChat(`${bgw.url}/v1/chat/completions`, body, {
        headers: { authorization: `Bearer ${KEY}` },
        onEvent: (d, i) => (i >= 1 ? 'abort' : undefined),
      });
      assert.equal(r.status, 200);
      assert.ok(r.aborted, 'the client hung up mid-stream');
      await sim.fault({ mode: 'none' });
      // Once the hang-up is counted (the metrics tap runs after the budget's), it has been
      // charged its hold: the next request finds the day's budget spent.
      await waitFor(async () => (metricValue(await bgw.metrics(), 'llmgw_requests_total', { code: '499' }) ?? 0) >= 1,
        { timeout: 5000, what: 'the hang-up counted' });
      const next = await postJson(`${bgw.url}/v1/chat/completions`,
        { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(next.status, 429, next.text);
      assert.equal(next.json.error.code, 'budget_exceeded');
    } finally {
      await bgw.stop();
    }
  });
});
