// Hedged requests (models[].hedge): when the first target is slower than usual, a second
// request goes to another target; the first answer wins and the slow request is cancelled.
import assert from 'node:assert/strict';
import { before, beforeEach, test } from 'node:test';
import {
  deltaText, establishedTo, metricValue, postJson, simProvider, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

let slow;
let fast;
let gw;

before(async () => {
  [slow, fast] = await Promise.all([startSim({ name: 'sim-slow' }), startSim({ name: 'sim-fast' })]);
  gw = await startGateway({
    providers: [simProvider(slow), simProvider(fast)],
    models: [
      { name: 'fixed', targets: [{ provider: 'sim-slow', model: 'm' }, { provider: 'sim-fast', model: 'm' }], hedge: { after: '150ms', max: 1 } },
      { name: 'p95', targets: [{ provider: 'sim-slow', model: 'm' }, { provider: 'sim-fast', model: 'm' }], hedge: { after: 'p95', max: 1 } },
    ],
    auth: { required: false },
  });
});

beforeEach(async () => {
  await Promise.all([slow.reset(), fast.reset()]);
});

test('a slow first target is hedged after the fixed delay; the fast answer wins', async () => {
  await slow.fault({ mode: 'slow_first_byte', delay_ms: 3000 });
  const t0 = Date.now();
  const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'fixed', messages: [{ role: 'user', content: 'race' }] });
  const elapsed = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-llmgw-provider'), 'sim-fast');
  assert.equal(r.json.choices[0].message.content, '[sim-fast] race');
  assert.ok(elapsed >= 140 && elapsed < 1500, `answered after ${elapsed}ms`);
  // The losing request is cancelled: the gateway drops its connection to the slow target.
  await waitFor(() => establishedTo(gw.pid, slow.port) === 0, { timeout: 2000, what: 'slow request cancelled' });
  assert.equal(metricValue(await gw.metrics(), 'llmgw_hedges_total', { model: 'fixed' }), 1);
});

test('streams are hedged before their first byte too', async () => {
  await slow.fault({ mode: 'slow_first_byte', delay_ms: 3000 });
  const s = await streamChat(`${gw.url}/v1/chat/completions`, { model: 'fixed', stream: true, messages: [{ role: 'user', content: 'stream race' }] });
  assert.equal(s.headers.get('x-llmgw-provider'), 'sim-fast');
  assert.equal(s.events.at(-1), '[DONE]');
  assert.equal(deltaText(s.events), '[sim-fast] stream race');
});

test('a fast first target is never hedged', async () => {
  const before = metricValue(await gw.metrics(), 'llmgw_hedges_total', { model: 'fixed' }) ?? 0;
  for (let i = 0; i < 5; i++) {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'fixed', messages: [{ role: 'user', content: `quick ${i}` }] });
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-slow');
  }
  assert.equal(metricValue(await gw.metrics(), 'llmgw_hedges_total', { model: 'fixed' }) ?? 0, before);
  assert.equal((await fast.stats()).requests, 0, 'no wasted hedge requests');
});

test('after: p95 hedges only once the target has a latency history, then beyond its p95', async () => {
  // No history yet: no hedge even when slow.
  await slow.fault({ mode: 'slow_first_byte', delay_ms: 400, count: 1 });
  let r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'p95', messages: [{ role: 'user', content: 'cold' }] });
  assert.equal(r.headers.get('x-llmgw-provider'), 'sim-slow');
  // Build a history of fast answers.
  for (let i = 0; i < 12; i++) {
    r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'p95', messages: [{ role: 'user', content: `warm ${i}` }] });
    assert.equal(r.status, 200);
  }
  await slow.fault({ mode: 'slow_first_byte', delay_ms: 3000 });
  const t0 = Date.now();
  r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'p95', messages: [{ role: 'user', content: 'now slow' }] });
  assert.equal(r.headers.get('x-llmgw-provider'), 'sim-fast');
  assert.ok(Date.now() - t0 < 1500);
});
