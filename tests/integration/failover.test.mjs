// Priority failover: every kind of upstream failure before the first byte moves the request to
// the next target (or fallback model) invisibly; failures the client caused are not retried;
// a stream that breaks mid-way ends with an SSE error event, never a silent truncation.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import {
  deltaText, metricValue, postJson, simProvider, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

let a;
let b;
let c;
let gw;

const retry = { attempts: 3, backoff: { base: '10ms', max: '50ms', jitter: 'full' } };

before(async () => {
  [a, b, c] = await Promise.all([
    startSim({ name: 'sim-a' }),
    startSim({ name: 'sim-b' }),
    startSim({ name: 'sim-c' }),
  ]);
  const timeouts = { connect: '500ms', first_byte: '300ms', idle_between_chunks: '2s', total: '10s' };
  gw = await startGateway({
    providers: [
      simProvider(a, { timeouts }),
      simProvider(b, { timeouts }),
      simProvider(c, { timeouts }),
    ],
    models: [
      {
        name: 'chat',
        targets: [{ provider: 'sim-a', model: 'model-a' }, { provider: 'sim-b', model: 'model-b' }],
        retry,
      },
      {
        name: 'primary',
        targets: [{ provider: 'sim-a', model: 'model-a' }, { provider: 'sim-b', model: 'model-b' }],
        fallbacks: ['backup'],
        retry,
      },
      { name: 'backup', targets: [{ provider: 'sim-c', model: 'model-c' }], retry },
      { name: 'solo', targets: [{ provider: 'sim-a', model: 'model-a' }], retry: { ...retry, backoff: { base: '10ms', max: '10ms', jitter: 'none' } } },
    ],
    auth: { required: false },
  });
});

beforeEach(async () => {
  // (sim-a is killed by the last group of tests)
  await Promise.all([a, b, c].filter((s) => s.proc.exitCode === null && s.proc.signalCode === null).map((s) => s.reset()));
  // Each test starts from healthy targets: the gateway remembers cool-downs, ejections and
  // open circuits across requests (that is the point of it), so clear them between tests.
  await Promise.all(['sim-a', 'sim-b', 'sim-c'].map((n) => gw.admin(`/admin/upstreams/${n}/restore`, { method: 'POST' })));
});

const chat = (content, extra = {}) =>
  postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content }], ...extra });
const stream = (content, extra = {}) =>
  streamChat(`${gw.url}/v1/chat/completions`, { model: 'chat', stream: true, messages: [{ role: 'user', content }], ...extra });
const count = async (sim) => (await sim.stats()).by_path['/v1/chat/completions'] ?? 0;

describe('non-streaming failover', () => {
  test('healthy primary serves (baseline)', async () => {
    const r = await chat('baseline');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-a');
    assert.equal(r.headers.get('x-llmgw-attempts'), '1');
    assert.equal(await count(b), 0);
  });

  test('primary 503 -> answer from the secondary, attempts 2', async () => {
    await a.fault({ mode: 'error', status: 503 });
    const r = await chat('who answers?');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[sim-b] who answers?');
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(r.headers.get('x-llmgw-model'), 'model-b');
    assert.equal(r.headers.get('x-llmgw-attempts'), '2');
    assert.equal(await count(a), 1);
    assert.equal(await count(b), 1);
  });

  test('429 with retry-after moves on to the secondary without waiting', async () => {
    await a.fault({ mode: 'error', status: 429, retry_after: '5' });
    const t0 = Date.now();
    const r = await chat('rate limited primary');
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(r.headers.get('x-llmgw-attempts'), '2');
    assert.ok(elapsed < 2000, `took ${elapsed}ms: the gateway waited out retry-after instead of failing over`);
  });

  test('hang past first_byte timeout (300ms) -> secondary', async () => {
    await a.fault({ mode: 'hang' });
    const t0 = Date.now();
    const r = await chat('primary hangs');
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(r.headers.get('x-llmgw-attempts'), '2');
    assert.ok(elapsed >= 250 && elapsed < 3000, `elapsed ${elapsed}ms`);
  });

  test('primary resets the connection -> secondary', async () => {
    await a.fault({ mode: 'reset' });
    const r = await chat('primary resets');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
  });

  test('primary answers nothing at all (closes the connection) -> secondary', async () => {
    await a.fault({ mode: 'die_after' }); // non-stream: the sim closes without a response
    const r = await chat('silent primary');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
  });

  test("401 from the provider (the gateway's own provider key) fails over instead of passing through", async () => {
    await a.fault({ mode: 'error', status: 401, message: 'Incorrect API key provided: sk-***', error_code: 'invalid_api_key' });
    const r = await chat('provider key revoked');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
    assert.ok(!r.text.includes('Incorrect API key'), 'the provider auth error is not shown to the client');
  });

  test('404 model_not_found from the provider fails over (the target is misconfigured)', async () => {
    await a.fault({ mode: 'error', status: 404, message: 'The model does not exist', error_code: 'model_not_found' });
    const r = await chat('wrong upstream model');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
  });

  test('a transient 503 on a single-target model is retried on the same target', async () => {
    await a.fault({ mode: 'error', status: 503, count: 1 });
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'solo', messages: [{ role: 'user', content: 'retry me' }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-a');
    assert.equal(r.headers.get('x-llmgw-attempts'), '2');
    assert.equal(await count(a), 2);
  });

  test('a retry waits out retry-after-ms when no other target exists', async () => {
    await a.fault({ mode: 'error', status: 429, retry_after_ms: '400', count: 1 });
    const t0 = Date.now();
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'solo', messages: [{ role: 'user', content: 'patience' }] });
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-attempts'), '2');
    assert.ok(elapsed >= 380, `retried after ${elapsed}ms, before retry-after-ms 400`);
  });

  test('content_policy / context-length errors are the client\'s: passed through, not retried', async () => {
    await a.fault({ mode: 'error', status: 400, message: 'This model\'s maximum context length is 8 tokens.', error_code: 'context_length_exceeded' });
    const r = await chat('too long');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'context_length_exceeded');
    assert.equal(await count(b), 0);
  });

  test('a client-fault 400 passes through with the provider message and is not retried', async () => {
    const message = "Invalid value for 'logit_bias': simulated client mistake #4711";
    await a.fault({ mode: 'error', status: 400, message, error_code: 'invalid_value' });
    const r = await chat('bad request');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.message, message);
    assert.equal(r.json.error.code, 'invalid_value');
    assert.equal(await count(a), 1);
    assert.equal(await count(b), 0, 'a client error must not be retried elsewhere');
  });

  test('all targets down -> 503 no_healthy_upstream naming every target and reason', async () => {
    await a.fault({ mode: 'error', status: 503, message: 'primary melted' });
    await b.fault({ mode: 'error', status: 500, message: 'secondary exploded' });
    const r = await chat('anyone?');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'no_healthy_upstream');
    assert.equal(r.json.error.type, 'server_error');
    const msg = r.json.error.message;
    assert.match(msg, /sim-a[^;]*503[^;]*primary melted/);
    assert.match(msg, /sim-b[^;]*500[^;]*secondary exploded/);
    assert.equal(r.headers.get('x-llmgw-attempts'), '3');
    assert.equal((await count(a)) + (await count(b)), 3, 'attempts are bounded by retry.attempts');
  });

  test('fallbacks: model served by the fallback model when its own targets are down', async () => {
    const before = metricValue(await gw.metrics(), 'llmgw_fallbacks_total', { from: 'primary', to: 'backup' }) ?? 0;
    await a.fault({ mode: 'error', status: 503 });
    await b.fault({ mode: 'error', status: 502 });
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'primary', messages: [{ role: 'user', content: 'fall back' }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[sim-c] fall back');
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-c');
    assert.equal(r.headers.get('x-llmgw-model'), 'model-c');
    assert.equal(r.headers.get('x-llmgw-attempts'), '3');
    assert.equal((await c.stats()).last_request.body.model, 'model-c');
    const after = metricValue(await gw.metrics(), 'llmgw_fallbacks_total', { from: 'primary', to: 'backup' });
    assert.equal(after, before + 1);
  });

  test('fallback model not used while the own targets serve', async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'primary', messages: [{ role: 'user', content: 'own target' }] });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-a');
    assert.equal(await count(c), 0);
  });
});

describe('streaming failover', () => {
  test('stream: primary 503 before the first byte fails over invisibly', async () => {
    await a.fault({ mode: 'error', status: 503 });
    const s = await stream('stream over to b please');
    assert.equal(s.status, 200);
    assert.equal(s.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(s.headers.get('x-llmgw-attempts'), '2');
    assert.equal(s.events.at(-1), '[DONE]');
    assert.equal(deltaText(s.events), '[sim-b] stream over to b please');
    assert.ok(!s.raw.includes('"error"'));
  });

  // The role-only opening chunk is held back with the 200 until real content arrives, so an
  // upstream that dies right after it still fails over invisibly.
  test('stream: primary dies before any content (die_after 0) fails over invisibly', async () => {
    await a.fault({ mode: 'die_after', after_chunks: 0 });
    const s = await stream('die before content');
    assert.equal(s.status, 200);
    assert.ok(!s.raw.includes('"error"'), `client saw an error event:\n${s.raw}`);
    assert.equal(s.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(s.events.at(-1), '[DONE]');
    assert.equal(deltaText(s.events), '[sim-b] die before content');
    const roles = s.events.slice(0, -1).map((e) => JSON.parse(e)).filter((ch) => ch.choices[0]?.delta?.role);
    assert.equal(roles.length, 1, 'exactly one role chunk: nothing of the failed attempt leaked');
  });

  test('stream: primary hangs before the first byte -> secondary', async () => {
    await a.fault({ mode: 'hang' });
    const s = await stream('hang then b');
    assert.equal(s.status, 200);
    assert.equal(s.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(deltaText(s.events), '[sim-b] hang then b');
  });

  test('stream dying after K chunks is continued on the secondary: one complete, unduplicated stream', async () => {
    const K = 2;
    await a.fault({ mode: 'die_after', after_chunks: K });
    const s = await stream('one two three four five six seven eight');
    assert.equal(s.status, 200);
    assert.equal(s.headers.get('x-llmgw-provider'), 'sim-a');  // the headers were already out
    assert.ifError(s.error);
    assert.equal(s.events.at(-1), '[DONE]', s.raw);
    assert.ok(!s.raw.includes('"error"'), s.raw);
    const chunks = s.events.slice(0, -1).map((e) => JSON.parse(e));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one stream id');
    assert.equal(new Set(chunks.map((c) => c.model)).size, 1, 'one model name');
    assert.equal(chunks.filter((c) => c.choices?.[0]?.delta?.role).length, 1, 'one role chunk');
    assert.equal(chunks.filter((c) => c.choices?.[0]?.finish_reason).length, 1, 'one finish chunk');
    // sim-b continues the same answer from where sim-a stopped: nothing lost, nothing repeated.
    assert.equal(deltaText(s.events), '[sim-a] one two three four five six seven eight');
    assert.equal(await count(b), 1);
    // Counted after the last byte went out: poll rather than race the client's [DONE].
    await waitFor(async () => metricValue(await gw.metrics(), 'llmgw_stream_continuations_total', { result: 'ok' }) >= 1,
      { timeout: 3000, what: 'continuation counted' });
  });

  test('a stream that cannot be continued (no attempt left) ends with an SSE error event', async () => {
    const one = await startSim({ name: 'sim-one' });
    const tgw = await startGateway({
      providers: [simProvider(one)],
      models: [{ name: 'chat', targets: [{ provider: 'sim-one', model: 'm' }], retry: { attempts: 1 } }],
      auth: { required: false },
    });
    await one.fault({ mode: 'die_after', after_chunks: 2 });
    const s = await streamChat(`${tgw.url}/v1/chat/completions`, { model: 'chat', stream: true, messages: [{ role: 'user', content: 'one two three four' }] });
    assert.equal(s.status, 200);
    const last = s.events.at(-1);
    assert.notEqual(last, '[DONE]', 'a broken stream must not look complete');
    const err = JSON.parse(last);
    assert.ok(err.error, `last event: ${last}`);
    assert.equal(err.error.code, 'upstream_stream_failed');
    assert.equal(deltaText(s.events.slice(0, -1)), '[sim-one] one');
  });
});

describe('connection refused', () => {
  test('killed primary (connection refused) -> secondary', async () => {
    // Warm a pooled connection to the primary first: the kill must also be survived by a
    // request that picks up that now-dead connection.
    const warm = await chat('warm');
    assert.equal(warm.headers.get('x-llmgw-provider'), 'sim-a');
    await a.kill('SIGKILL');
    for (let i = 0; i < 3; i++) {
      const r = await chat(`after kill ${i}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
      assert.equal(r.json.choices[0].message.content, `[sim-b] after kill ${i}`);
    }
    const s = await stream('stream after kill');
    assert.equal(s.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(s.events.at(-1), '[DONE]');
  });

  test('everything unreachable -> 503 naming the connect failures', async () => {
    await b.fault({ mode: 'refuse' });
    const r = await chat('nobody home');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'no_healthy_upstream');
    assert.match(r.json.error.message, /sim-a \(model-a\): [^;]*(connect|refused)/i);
    assert.match(r.json.error.message, /sim-b \(model-b\): [^;]*(connect|refused|closed)/i);
  });
});

describe('deadlines', () => {
  test('request_timeout bounds the whole request: 504 upstream_timeout when every attempt timed out', async () => {
    const slow = await startSim({ name: 'sim-slow' });
    const tgw = await startGateway({
      server: { request_timeout: '800ms' },
      providers: [simProvider(slow, { timeouts: { connect: '500ms', first_byte: '30s', idle_between_chunks: '30s', total: '60s' } })],
      models: [{ name: 'chat', targets: [{ provider: 'sim-slow', model: 'm' }] }],
      auth: { required: false },
    });
    await slow.fault({ mode: 'hang' });
    const t0 = Date.now();
    const r = await postJson(`${tgw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'forever' }] });
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.error.code, 'upstream_timeout');
    assert.match(r.json.error.message, /sim-slow/);
    assert.ok(elapsed >= 700 && elapsed < 2500, `answered after ${elapsed}ms with request_timeout 800ms`);
  });
  test('providers[].timeouts.total bounds one attempt: a slow primary is abandoned for the secondary', async () => {
    const slow = await startSim({ name: 'sim-total' });
    const fast = await startSim({ name: 'sim-fast' });
    const tgw = await startGateway({
      providers: [
        simProvider(slow, { timeouts: { connect: '500ms', first_byte: '10s', idle_between_chunks: '10s', total: '700ms' } }),
        simProvider(fast),
      ],
      models: [{ name: 'chat', targets: [{ provider: 'sim-total', model: 'm' }, { provider: 'sim-fast', model: 'f' }] }],
      auth: { required: false },
    });
    // Non-stream: the answer would take 3 s; the attempt may take 700 ms.
    await slow.fault({ mode: 'slow_first_byte', delay_ms: 3000 });
    let t0 = Date.now();
    const r = await postJson(`${tgw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'quick' }] });
    let elapsed = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-fast');
    assert.ok(elapsed >= 600 && elapsed < 2000, `failed over after ${elapsed}ms, timeouts.total is 700ms`);
    // Stream trickling within idle_between_chunks but past total: the attempt is cut at 700 ms
    // and the answer is continued on the fast target, in the same stream.
    await slow.fault({ mode: 'slow_chunks', chunk_delay_ms: 200 });
    t0 = Date.now();
    const s = await streamChat(`${tgw.url}/v1/chat/completions`, { model: 'chat', stream: true, messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p' }] });
    elapsed = Date.now() - t0;
    assert.ok(elapsed < 2000, `stream ran ${elapsed}ms, timeouts.total is 700ms`);
    assert.equal(s.events.at(-1), '[DONE]', s.raw);
    assert.equal(deltaText(s.events), '[sim-total] a b c d e f g h i j k l m n o p');
    assert.ok((await fast.stats()).last_request.body.messages.at(-1).content.startsWith('Continue your previous answer'));
  });

  test('idle_between_chunks: a stream that goes silent before any content fails like any other attempt', async () => {
    const quiet = await startSim({ name: 'sim-quiet' });
    const tgw = await startGateway({
      providers: [simProvider(quiet, { timeouts: { connect: '500ms', first_byte: '5s', idle_between_chunks: '300ms', total: '30s' } })],
      models: [{ name: 'chat', targets: [{ provider: 'sim-quiet', model: 'm' }], retry: { attempts: 2, backoff: { base: '10ms', max: '10ms' } } }],
      auth: { required: false },
    });
    // The role chunk arrives, then silence: nothing of the answer reached the client yet, so the
    // gateway may still retry or fail over, and with no other target it answers with a status.
    await quiet.fault({ mode: 'slow_chunks', chunk_delay_ms: 1500 });
    const t0 = Date.now();
    const r = await postJson(`${tgw.url}/v1/chat/completions`, { model: 'chat', stream: true, messages: [{ role: 'user', content: 'a b c d e' }] });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 1400, `gave up after ${elapsed}ms with idle_between_chunks 300ms and 2 attempts`);
    assert.equal(r.status, 503, r.text);
    assert.match(r.json.error.message, /no data from upstream for 300ms after 2 tries/);
    assert.equal((await quiet.stats()).by_path['/v1/chat/completions'], 2);
  });
});

describe('upstream restarts', () => {
  test('a pooled connection to an upstream that restarted is replaced transparently', async () => {
    const first = await startSim({ name: 'sim-restart' });
    const port = first.port;
    const rgw = await startGateway({
      providers: [simProvider(first)],
      models: [{ name: 'chat', targets: [{ provider: 'sim-restart', model: 'm' }], retry: { attempts: 1 } }],
      auth: { required: false },
    });
    const one = await postJson(`${rgw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'before restart' }] });
    assert.equal(one.status, 200);
    await first.kill('SIGKILL');
    const second = await startSim({ name: 'sim-restart', port });
    // One attempt allowed: the dead pooled connection must not cost the request its only try.
    const two = await postJson(`${rgw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'after restart' }] });
    assert.equal(two.status, 200, two.text);
    assert.equal(two.headers.get('x-llmgw-attempts'), '1');
    assert.equal(two.json.choices[0].message.content, '[sim-restart] after restart');
    assert.equal((await second.stats()).requests, 1);
  });
});
