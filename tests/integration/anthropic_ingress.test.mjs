// The official Anthropic SDK (@anthropic-ai/sdk 0.x, pinned) pointed at the gateway's
// POST /v1/messages, served by OpenAI-kind targets (llmgw-sim's OpenAI face): the request is
// decoded to an OpenAI chat body, the answer translated back, streams chunk by chunk.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { postJson, sha256, simProvider, startGateway, startSim, streamChat } from './lib/harness.mjs';

const KEY = 'sk-llmgw-anthropic-ingress-key-1';
const LIMITED = 'sk-llmgw-anthropic-ingress-limited-2';

let a;
let b;
let gw;
let client;

before(async () => {
  [a, b] = await Promise.all([startSim({ name: 'an-a' }), startSim({ name: 'an-b' })]);
  gw = await startGateway({
    server: { max_body_bytes: '64KiB' },
    providers: [simProvider(a), simProvider(b)],
    models: [
      {
        name: 'claude-test',
        targets: [{ provider: 'an-a', model: 'upstream-a' }, { provider: 'an-b', model: 'upstream-b' }],
        retry: { attempts: 2, backoff: { base: '10ms', max: '20ms' } },
      },
      { name: 'solo-test', targets: [{ provider: 'an-a', model: 'upstream-a' }], retry: { attempts: 1 } },
    ],
    keys: [
      { name: 'full', sha256: sha256(KEY) },
      { name: 'limited', sha256: sha256(LIMITED), models: ['solo-test'] },
    ],
    auth: { required: true },
  });
  client = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0, timeout: 10_000 });
});

beforeEach(async () => {
  await Promise.all([a.reset(), b.reset()]);
});

const user = (content) => [{ role: 'user', content }];
const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('@anthropic-ai/sdk against /v1/messages', () => {
  test('messages.create (non-stream)', async () => {
    const { data, response } = await client.messages
      .create({ model: 'claude-test', max_tokens: 256, system: 'Be terse.', messages: user('hello there') })
      .withResponse();
    assert.match(data.id, /^msg_/);
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.deepEqual(data.content, [{ type: 'text', text: '[an-a] hello there' }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.stop_sequence, null);
    assert.ok(data.usage.input_tokens > 0 && data.usage.output_tokens > 0, JSON.stringify(data.usage));
    assert.match(response.headers.get('content-type'), /application\/json/);
    assert.ok(response.headers.get('request-id'), 'request-id header for the SDK');
    assert.equal(response.headers.get('x-llmgw-provider'), 'an-a');
    // Upstream got an OpenAI chat body; the client's key stayed at the gateway.
    const up = (await a.stats()).last_request;
    assert.equal(up.path, '/v1/chat/completions');
    assert.deepEqual(up.body.messages, [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'hello there' },
    ]);
    assert.equal(up.body.max_tokens, 256);
    assert.equal(up.headers['x-api-key'], undefined);
  });

  test('Authorization: Bearer (SDK authToken, as SDK >=1.0 sends it) and another anthropic-version', async () => {
    const bearer = new Anthropic({
      baseURL: gw.url, apiKey: null, authToken: KEY, maxRetries: 0, timeout: 10_000,
      defaultHeaders: { 'anthropic-version': '2026-10-21' },
    });
    const msg = await bearer.messages.create({ model: 'claude-test', max_tokens: 64, messages: user('bearer ok') });
    assert.equal(msg.content[0].text, '[an-a] bearer ok');
  });

  test('messages.stream() with events and finalMessage()', async () => {
    const stream = client.messages.stream({
      model: 'claude-test', max_tokens: 256, messages: user('one two three four'),
    });
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    assert.equal(deltas.join(''), '[an-a] one two three four');
    assert.ok(deltas.length >= 4, 'text arrived in several deltas');
    assert.match(final.id, /^msg_/);
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].type, 'text');
    assert.equal(final.content[0].text, '[an-a] one two three four');
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0, 'output_tokens from message_delta');
    assert.ok(final.usage.input_tokens > 0, 'input_tokens from message_delta');
    // The router asked upstream for the usage chunk on the client's behalf.
    assert.deepEqual((await a.stats()).last_request.body.stream_options, { include_usage: true });
  });

  test('raw stream: every event has an event: line and JSON data, in Anthropic order', async () => {
    const raw = await streamChat(`${gw.url}/v1/messages`, {
      model: 'claude-test', max_tokens: 64, stream: true, messages: user('raw stream'),
    }, { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' } });
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-type'), /text\/event-stream/);
    assert.ok(!raw.raw.includes('[DONE]'), 'no OpenAI terminator');
    const blocks = raw.raw.split('\n\n').filter((x) => x.length > 0);
    const names = [];
    for (const block of blocks) {
      const lines = block.split('\n');
      assert.equal(lines.length, 2, block);
      assert.match(lines[0], /^event: [a-z_]+$/);
      assert.match(lines[1], /^data: \{/);
      const name = lines[0].slice(7);
      assert.equal(JSON.parse(lines[1].slice(6)).type, name);
      names.push(name);
    }
    assert.equal(names[0], 'message_start');
    assert.equal(names[1], 'content_block_start');
    assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(names.filter((n) => n === 'content_block_delta').length >= 2);
  });

  test('tool use (non-stream): tool_use block, then the tool_result turn reaches upstream as OpenAI tool messages', async () => {
    const msg = await client.messages.create({
      model: 'claude-test', max_tokens: 256, tools: [weatherTool],
      messages: user('!tool get_weather {"city":"Paris"}'),
    });
    assert.equal(msg.stop_reason, 'tool_use');
    assert.equal(msg.content.length, 1);
    const call = msg.content[0];
    assert.equal(call.type, 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'Paris' });
    assert.ok(call.id);
    let up = (await a.stats()).last_request.body;
    assert.deepEqual(up.tools, [{
      type: 'function',
      function: { name: 'get_weather', description: weatherTool.description, parameters: weatherTool.input_schema },
    }]);

    await client.messages.create({
      model: 'claude-test', max_tokens: 256, tools: [weatherTool], tool_choice: { type: 'auto' },
      messages: [
        ...user('!tool get_weather {"city":"Paris"}'),
        { role: 'assistant', content: msg.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '18C and sunny' }] },
      ],
    });
    up = (await a.stats()).last_request.body;
    assert.equal(up.tool_choice, 'auto');
    assert.deepEqual(up.messages.slice(1), [
      {
        role: 'assistant', content: null,
        tool_calls: [{ id: call.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: call.id, content: '18C and sunny' },
    ]);
  });

  test('tool use (stream): input_json_delta fragments accumulate into the tool input', async () => {
    const stream = client.messages.stream({
      model: 'claude-test', max_tokens: 256, tools: [weatherTool],
      messages: user('!tool get_weather {"city":"Zürich","days":[1,2]}'),
    });
    const fragments = [];
    stream.on('inputJson', (partial) => fragments.push(partial));
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].type, 'tool_use');
    assert.equal(final.content[0].name, 'get_weather');
    assert.deepEqual(final.content[0].input, { city: 'Zürich', days: [1, 2] });
    assert.ok(fragments.length >= 2, 'arguments streamed in fragments');
    assert.ok(final.usage.output_tokens > 0);
  });

  test('failover is invisible to the SDK', async () => {
    await a.fault({ mode: 'error', status: 503 });
    const msg = await client.messages.create({ model: 'claude-test', max_tokens: 64, messages: user('via b') });
    assert.equal(msg.content[0].text, '[an-b] via b');
  });

  test('a stream broken mid-way is continued on the other target: one Anthropic message', async () => {
    await a.fault({ mode: 'die_after', after_chunks: 2 });
    const stream = client.messages.stream({
      model: 'claude-test', max_tokens: 256, messages: user('one two three four five six'),
    });
    let starts = 0;
    stream.on('streamEvent', (ev) => {
      if (ev.type === 'message_start') starts++;
    });
    const final = await stream.finalMessage();
    assert.equal(starts, 1);
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].text, '[an-a] one two three four five six');
    assert.equal(final.stop_reason, 'end_turn');
  });

  test('a stream broken with nothing to continue on raises APIError from an error event', async () => {
    await a.fault({ mode: 'die_after', after_chunks: 2 });
    const stream = client.messages.stream({
      model: 'solo-test', max_tokens: 256, messages: user('one two three four five six'),
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    await assert.rejects(stream.finalMessage(), (e) => {
      assert.ok(e instanceof Anthropic.APIError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.match(e.message, /upstream/i);
      return true;
    });
    assert.equal(text, '[an-a] one');
  });
});

describe('errors on /v1/messages come in the Anthropic shape', () => {
  const assertAnthropicError = (e, cls, status, type) => {
    assert.ok(e instanceof cls, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, status);
    assert.equal(e.error?.type, 'error', JSON.stringify(e.error));
    assert.equal(e.error.error.type, type);
    assert.ok(e.error.error.message);
    assert.ok(e.requestID, 'request-id header');
    return true;
  };

  test('unknown model -> NotFoundError 404', async () => {
    await assert.rejects(
      client.messages.create({ model: 'no-such-model', max_tokens: 8, messages: user('x') }),
      (e) => assertAnthropicError(e, Anthropic.NotFoundError, 404, 'not_found_error'),
    );
  });

  test('bad key -> AuthenticationError 401 (x-api-key and Bearer)', async () => {
    const bad = new Anthropic({ baseURL: gw.url, apiKey: 'sk-wrong', maxRetries: 0, timeout: 10_000 });
    await assert.rejects(
      bad.messages.create({ model: 'claude-test', max_tokens: 8, messages: user('x') }),
      (e) => assertAnthropicError(e, Anthropic.AuthenticationError, 401, 'authentication_error'),
    );
    const badBearer = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(
      badBearer.messages.create({ model: 'claude-test', max_tokens: 8, messages: user('x') }),
      (e) => assertAnthropicError(e, Anthropic.AuthenticationError, 401, 'authentication_error'),
    );
  });

  test('model outside the key allowlist -> PermissionDeniedError 403', async () => {
    const limited = new Anthropic({ baseURL: gw.url, apiKey: LIMITED, maxRetries: 0, timeout: 10_000 });
    await assert.rejects(
      limited.messages.create({ model: 'claude-test', max_tokens: 8, messages: user('x') }),
      (e) => assertAnthropicError(e, Anthropic.PermissionDeniedError, 403, 'permission_error'),
    );
    const ok = await limited.messages.create({ model: 'solo-test', max_tokens: 8, messages: user('fine') });
    assert.equal(ok.content[0].text, '[an-a] fine');
  });

  test('validation errors -> BadRequestError naming the field', async () => {
    await assert.rejects(
      client.messages.create({ model: 'claude-test', max_tokens: 0, messages: user('x') }),
      (e) => assertAnthropicError(e, Anthropic.BadRequestError, 400, 'invalid_request_error') &&
        /'max_tokens'/.test(e.error.error.message),
    );
    await assert.rejects(
      client.messages.create({
        model: 'claude-test', max_tokens: 64, messages: user('x'),
        thinking: { type: 'enabled', budget_tokens: 1024 },
      }),
      (e) => assertAnthropicError(e, Anthropic.BadRequestError, 400, 'invalid_request_error') &&
        /'thinking\.budget_tokens'/.test(e.error.error.message),
    );
    // Valid thinking, but these targets (OpenAI-format) cannot think: refused, naming it.
    await assert.rejects(
      client.messages.create({
        model: 'claude-test', max_tokens: 2048, messages: user('x'),
        thinking: { type: 'enabled', budget_tokens: 1024 },
      }),
      (e) => assertAnthropicError(e, Anthropic.BadRequestError, 400, 'invalid_request_error') &&
        /'thinking'.*provider 'an-a'/.test(e.error.error.message),
    );
    await assert.rejects(
      client.messages.create({ model: 'claude-test', max_tokens: 64, messages: [{ role: 'robot', content: 'x' }] }),
      (e) => /'messages\[0\]\.role'/.test(e.error.error.message),
    );
    assert.equal((await a.stats()).requests, 0, 'nothing reached upstream');
  });

  test('body over max_body_bytes -> 413 request_too_large', async () => {
    const r = await postJson(`${gw.url}/v1/messages`, {
      model: 'claude-test', max_tokens: 8, messages: user('x'.repeat(70_000)),
    }, { headers: { 'x-api-key': KEY } });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json?.type, 'error', r.text);
    assert.equal(r.json.error.type, 'request_too_large');
  });

  test('GET /v1/messages -> 405 in the Anthropic shape', async () => {
    const res = await gw.fetch('/v1/messages', { headers: { 'x-api-key': KEY } });
    assert.equal(res.status, 405);
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
  });

  test('the OpenAI face is unchanged next to it', async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'no-such-model', messages: user('x') },
      { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'model_not_found');
  });
});
