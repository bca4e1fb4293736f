// context.overflow: fallback_larger, and region preference (x-llmgw-region).
import assert from 'node:assert/strict';
import { before, beforeEach, test } from 'node:test';
import { postJson, simProvider, startGateway, startSim } from './lib/harness.mjs';

let small;
let large;
let eu;
let us;
let gw;

const tooLong = {
  mode: 'error', status: 400, error_type: 'invalid_request_error', error_code: 'context_length_exceeded',
  message: "This model's maximum context length is 8192 tokens.",
};

before(async () => {
  [small, large, eu, us] = await Promise.all([
    startSim({ name: 'small' }), startSim({ name: 'large' }), startSim({ name: 'eu' }), startSim({ name: 'us' }),
  ]);
  gw = await startGateway({
    providers: [
      simProvider(small), simProvider(large),
      { ...simProvider(eu), region: 'eu-west' }, { ...simProvider(us), region: 'us-east' },
    ],
    models: [
      {
        name: 'grow',
        targets: [{ provider: 'small', model: 's', context_window: 8192 }, { provider: 'large', model: 'l', context_window: 200000 }],
        context: { overflow: 'fallback_larger' },
      },
      {
        name: 'strict',
        targets: [{ provider: 'small', model: 's', context_window: 8192 }, { provider: 'large', model: 'l', context_window: 200000 }],
      },
      { name: 'geo', targets: [{ provider: 'us', model: 'm' }, { provider: 'eu', model: 'm' }] },
    ],
    auth: { required: false },
  });
});

beforeEach(async () => {
  await Promise.all([small, large, eu, us].map((s) => s.reset()));
});

const ask = (model, content, headers = {}) =>
  postJson(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }] }, { headers });

test('fallback_larger: a context-length error moves the request to a target with a larger window', async () => {
  await small.fault(tooLong);
  const r = await ask('grow', 'a very long conversation');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-llmgw-provider'), 'large');
  assert.equal(r.json.choices[0].message.content, '[large] a very long conversation');
});

test('without fallback_larger the context-length error is the client\'s and passes through', async () => {
  await small.fault(tooLong);
  const r = await ask('strict', 'a very long conversation');
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'context_length_exceeded');
  assert.equal((await large.stats()).requests, 0, 'not retried elsewhere');
});

test('fallback_larger with no larger window left returns the provider\'s own 400', async () => {
  await small.fault(tooLong);
  await large.fault({ ...tooLong, message: 'still too long' });
  const r = await ask('grow', 'enormous');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'context_length_exceeded');
  assert.match(r.json.error.message, /still too long|maximum context length/);
});

test('x-llmgw-region prefers targets in that region, and falls back to others', async () => {
  let r = await ask('geo', 'hello');
  assert.equal(r.headers.get('x-llmgw-provider'), 'us', 'priority order without a region');
  r = await ask('geo', 'hello', { 'x-llmgw-region': 'eu-west' });
  assert.equal(r.headers.get('x-llmgw-provider'), 'eu');
  await eu.fault({ mode: 'error', status: 503 });
  r = await ask('geo', 'hello', { 'x-llmgw-region': 'eu-west' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-llmgw-provider'), 'us');
});
