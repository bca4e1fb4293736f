// The OpenAI Responses API face (POST /v1/responses, GET/DELETE /v1/responses/{id}) driven by
// the real SDKs users point at the gateway: openai-node's responses.create / responses.stream,
// and the Vercel AI SDK's default OpenAI provider (createOpenAI(...)('model') speaks the
// Responses API). Served by every provider kind through the canonical model; previous_response_id
// continues a stored conversation from the session store.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, tool, stepCountIs } from 'ai';
import { z } from 'zod';
import { postJson as postUrl, sha256, simProvider, startGateway, startSim } from './lib/harness.mjs';

const KEY = 'sk-llmgw-responses-key-1';
const OTHER = 'sk-llmgw-responses-key-2';
const ANTHROPIC_KEY = 'sk-ant-upstream-responses';
const GEMINI_KEY = 'AIza-upstream-responses';

let a;
let b;
let ant;
let gem;
let gw;
let client;

// POST `body` to `path` on gateway `g`; { status, headers (a Headers), json }.
const postJson = (g, path, body, headers = {}) => postUrl(`${g.url}${path}`, body, { headers });

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

before(async () => {
  [a, b, ant, gem] = await Promise.all([
    startSim({ name: 'r-a' }),
    startSim({ name: 'r-b' }),
    startSim({ name: 'r-ant', apiKey: ANTHROPIC_KEY }),
    startSim({ name: 'r-gem', apiKey: GEMINI_KEY }),
  ]);
  gw = await startGateway({
    providers: [
      simProvider(a),
      simProvider(b),
      simProvider(ant, { kind: 'anthropic', base_url: `http://127.0.0.1:${ant.port}/v1`, api_key: ANTHROPIC_KEY }),
      simProvider(gem, { kind: 'gemini', base_url: `http://127.0.0.1:${gem.port}/v1beta`, api_key: GEMINI_KEY }),
    ],
    models: [
      {
        name: 'gpt-test',
        targets: [{ provider: 'r-a', model: 'upstream-a' }, { provider: 'r-b', model: 'upstream-b' }],
        retry: { attempts: 2, backoff: { base: '10ms', max: '20ms' } },
      },
      { name: 'claude', targets: [{ provider: 'r-ant', model: 'claude-sonnet-4-5' }], retry: { attempts: 1 } },
      { name: 'gemini', targets: [{ provider: 'r-gem', model: 'gemini-2.5-flash' }], retry: { attempts: 1 } },
    ],
    keys: [{ name: 'main', sha256: sha256(KEY) }, { name: 'other', sha256: sha256(OTHER) }],
    auth: { required: true },
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 10_000 });
});

beforeEach(async () => {
  await Promise.all([a.reset(), b.reset()]);
});

// The sim answers "!history" with the conversation it received, as JSON.
const history = (text) => JSON.parse(text).map((m) => [m.role, m.content ?? null]);

describe('openai SDK responses against the gateway', () => {
  test('responses.create: a response object with output_text, usage and the request echoed', async () => {
    const { data, response } = await client.responses
      .create({ model: 'gpt-test', input: 'What is 17 + 25?', temperature: 0.2, metadata: { run: 'x' } })
      .withResponse();
    assert.match(data.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(data.object, 'response');
    assert.equal(data.status, 'completed');
    assert.equal(data.output_text, '42');
    assert.equal(data.output.length, 1);
    assert.equal(data.output[0].type, 'message');
    assert.equal(data.output[0].role, 'assistant');
    assert.equal(data.output[0].content[0].type, 'output_text');
    assert.ok(data.usage.input_tokens > 0 && data.usage.output_tokens > 0);
    assert.equal(data.usage.total_tokens, data.usage.input_tokens + data.usage.output_tokens);
    assert.equal(data.temperature, 0.2);
    assert.deepEqual(data.metadata, { run: 'x' });
    assert.equal(data.store, true);
    assert.equal(response.headers.get('x-llmgw-provider'), 'r-a');
    // Upstream got a chat request: the gateway translated it.
    const up = (await a.stats()).last_request;
    assert.equal(up.path, '/v1/chat/completions');
  });

  test('instructions become the system message; input items keep their roles', async () => {
    const r = await client.responses.create({
      model: 'gpt-test',
      instructions: 'Answer briefly.',
      input: [
        { role: 'developer', content: 'Prefer metric units.' },
        { role: 'user', content: [{ type: 'input_text', text: 'earlier question' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'earlier answer' }] },
        { role: 'user', content: '!history' },
      ],
    });
    assert.deepEqual(history(r.output_text), [
      ['system', 'Answer briefly.'],
      ['system', 'Prefer metric units.'],
      ['user', 'earlier question'],
      ['assistant', 'earlier answer'],
      ['user', '!history'],
    ]);
  });

  test('responses.create with stream: true: the response.* sequence, numbered in order', async () => {
    const stream = await client.responses.create({ model: 'gpt-test', input: 'stream me', stream: true });
    const types = [];
    let text = '';
    let last = -1;
    let completed;
    for await (const event of stream) {
      types.push(event.type);
      assert.ok(event.sequence_number > last, 'sequence numbers increase');
      last = event.sequence_number;
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    assert.deepEqual(types.slice(0, 4), [
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
    ]);
    assert.deepEqual(types.slice(-4), [
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 2);
    assert.equal(text, '[r-a] stream me');
    assert.equal(completed.status, 'completed');
    assert.equal(completed.output[0].content[0].text, '[r-a] stream me');
    assert.ok(completed.usage.output_tokens > 0, 'usage from the stream reaches response.completed');
  });

  test('responses.stream() helper: text events and finalResponse()', async () => {
    const runner = client.responses.stream({ model: 'gpt-test', input: 'helper stream' });
    const deltas = [];
    runner.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await runner.finalResponse();
    assert.equal(final.output_text, '[r-a] helper stream');
    assert.equal(deltas.join(''), '[r-a] helper stream');
  });

  test('function tools: a function_call item, then its output continues the conversation', async () => {
    const first = await client.responses.create({
      model: 'gpt-test', tools: [weather], input: '!tool get_weather {"city":"Paris"}',
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    assert.ok(call.call_id);
    // The tool result, continuing the stored conversation.
    const second = await client.responses.create({
      model: 'gpt-test',
      tools: [weather],
      previous_response_id: first.id,
      input: [
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
        { role: 'user', content: '!history' },
      ],
    });
    const roles = JSON.parse(second.output_text).map((m) => m.role);
    assert.deepEqual(roles, ['user', 'assistant', 'tool', 'user']);
    const sent = JSON.parse(second.output_text);
    assert.equal(sent[1].tool_calls[0].id, call.call_id);
    assert.equal(sent[2].tool_call_id, call.call_id);
  });

  test('a streamed function call: arguments deltas, then the whole call', async () => {
    const runner = client.responses.stream({
      model: 'gpt-test', tools: [weather], input: '!tool get_weather {"city":"Oslo"}',
    });
    const deltas = [];
    runner.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
    const final = await runner.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo' });
    assert.equal(deltas.join(''), call.arguments);
    assert.ok(deltas.length >= 2);
  });

  test('previous_response_id continues the stored conversation; instructions are not carried', async () => {
    const first = await client.responses.create({
      model: 'gpt-test', instructions: 'first instructions', input: 'What is 2 + 3?',
    });
    assert.equal(first.output_text, '5');
    const second = await client.responses.create({
      model: 'gpt-test', previous_response_id: first.id, input: '!history',
    });
    assert.deepEqual(history(second.output_text), [
      ['user', 'What is 2 + 3?'], ['assistant', '5'], ['user', '!history'],
    ]);
    assert.equal(second.previous_response_id, first.id);
    // A streamed answer is stored as well, and chains further.
    const runner = client.responses.stream({
      model: 'gpt-test', previous_response_id: second.id, input: 'What is 1 + 1?',
    });
    const third = await runner.finalResponse();
    assert.equal(third.output_text, '2');
    const fourth = await client.responses.create({
      model: 'gpt-test', previous_response_id: third.id, input: '!history',
    });
    assert.equal(history(fourth.output_text).length, 7);
  });

  test('GET and DELETE /v1/responses/{id}; store: false keeps nothing', async () => {
    const created = await client.responses.create({ model: 'gpt-test', input: 'keep me' });
    const got = await client.responses.retrieve(created.id);
    assert.equal(got.id, created.id);
    assert.equal(got.output_text, '[r-a] keep me');
    // Another key does not see it.
    const other = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: OTHER, maxRetries: 0 });
    await assert.rejects(other.responses.retrieve(created.id), (e) => e.status === 404);
    const deleted = await client.responses.delete(created.id);
    assert.deepEqual(deleted, { id: created.id, object: 'response', deleted: true });
    await assert.rejects(client.responses.retrieve(created.id), (e) => e.status === 404);

    const unstored = await client.responses.create({ model: 'gpt-test', input: 'forget me', store: false });
    assert.equal(unstored.store, false);
    await assert.rejects(client.responses.retrieve(unstored.id), (e) => e.status === 404);
    await assert.rejects(
      client.responses.create({ model: 'gpt-test', previous_response_id: unstored.id, input: 'x' }),
      (e) => e.status === 404 && e.code === 'previous_response_not_found' && e.param === 'previous_response_id',
    );
  });

  test('a chain with a key persona and the response cache: one system message, cached answers stored', async () => {
    const PERSONA_KEY = 'sk-llmgw-responses-persona-3';
    const g = await startGateway({
      providers: [simProvider(a)],
      models: [{ name: 'cached', targets: [{ provider: 'r-a', model: 'upstream-a' }], cache: { ttl: '1m', any_temperature: true } }],
      keys: [{ name: 'p', sha256: sha256(PERSONA_KEY), persona: 'You are terse.' }],
      auth: { required: true },
    });
    try {
      const c = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: PERSONA_KEY, maxRetries: 0 });
      const first = await c.responses.create({ model: 'cached', input: 'What is 2 + 2?' });
      const { data: again, response } = await c.responses
        .create({ model: 'cached', input: 'What is 2 + 2?' }).withResponse();
      assert.equal(response.headers.get('x-llmgw-cache'), 'hit');
      assert.notEqual(again.id, first.id);
      assert.equal(again.output_text, '4');
      // The cached answer was stored under its own id, and continues with one system message.
      const next = await c.responses.create({ model: 'cached', previous_response_id: again.id, input: '!history' });
      const seen = history(next.output_text);
      assert.equal(seen[0][0], 'system');
      assert.match(seen[0][1], /You are terse\./);
      assert.deepEqual(seen.slice(1), [['user', 'What is 2 + 2?'], ['assistant', '4'], ['user', '!history']]);
      const last = await c.responses.create({ model: 'cached', previous_response_id: next.id, input: '!history' });
      assert.equal(history(last.output_text).filter(([role]) => role === 'system').length, 1);
      // A stored response and a session cannot both be continued at once.
      const both = await postJson(g, '/v1/responses', { model: 'cached', previous_response_id: again.id, input: 'x' },
        { authorization: `Bearer ${PERSONA_KEY}`, 'x-session-id': 's1' });
      assert.equal(both.status, 400);
      assert.equal(both.json.error.param, 'previous_response_id');
    } finally {
      await g.stop();
    }
  });

  test('every provider kind serves it: anthropic and gemini targets, stream and not', async () => {
    for (const model of ['claude', 'gemini']) {
      const r = await client.responses.create({ model, input: 'What is 6 + 7?' });
      assert.equal(r.output_text, '13', model);
      const runner = client.responses.stream({ model, input: 'What is 8 + 1?' });
      const final = await runner.finalResponse();
      assert.equal(final.output_text, '9', model);
      assert.ok(final.usage.input_tokens > 0, model);
    }
  });

  test('bad requests name the JSON path in Responses terms', async () => {
    const cases = [
      [{ model: 'gpt-test' }, 'input'],
      [{ model: 'gpt-test', input: [{ role: 'user', content: [{ type: 'input_audio' }] }] }, 'input[0].content[0].type'],
      [{ model: 'gpt-test', input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
      [{ model: 'gpt-test', input: 'x', background: true }, 'background'],
      [{ model: 'gpt-test', input: 'x', nonsense: 1 }, 'nonsense'],
      [{ model: 'gpt-test', input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]'],
    ];
    for (const [body, param] of cases) {
      const r = await postJson(gw, '/v1/responses', body, { authorization: `Bearer ${KEY}` });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error.param, param, JSON.stringify(r.json));
      assert.equal(r.json.error.type, 'invalid_request_error');
    }
  });

  test('an upstream failure mid-stream ends with an error event the SDK raises', async () => {
    await Promise.all([a.fault({ mode: 'error', status: 500 }), b.fault({ mode: 'error', status: 500 })]);
    const stream = await client.responses.create({ model: 'gpt-test', input: 'x', stream: true })
      .catch((e) => e);
    // Nothing was sent yet, so the failure is a complete error answer.
    assert.ok(stream instanceof OpenAI.APIError, String(stream));
    assert.ok(stream.status >= 500);
  });
});

describe('Vercel AI SDK default provider (Responses API)', () => {
  const provider = () => createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY });

  test('generateText', async () => {
    const { text, usage, finishReason } = await generateText({
      model: provider()('gpt-test'), prompt: 'What is 20 + 22?', maxRetries: 0,
    });
    assert.equal(text, '42');
    assert.equal(finishReason, 'stop');
    assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0);
  });

  test('streamText', async () => {
    const result = streamText({ model: provider()('gpt-test'), prompt: 'vercel stream', maxRetries: 0 });
    let text = '';
    for await (const part of result.textStream) text += part;
    assert.equal(text, '[r-a] vercel stream');
    assert.equal(await result.finishReason, 'stop');
    assert.ok((await result.usage).outputTokens > 0);
  });

  test('a tool loop: the call, the result, the answer', async () => {
    let called;
    const { steps } = await generateText({
      model: provider()('gpt-test'),
      tools: {
        get_weather: tool({
          description: 'The weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => { called = city; return 'What is 4 + 4?'; },
        }),
      },
      // Not stored: the SDK then sends the whole conversation rather than item references.
      providerOptions: { openai: { store: false } },
      stopWhen: stepCountIs(2),
      prompt: '!tool get_weather {"city":"Rome"}',
      maxRetries: 0,
    });
    assert.equal(called, 'Rome');
    assert.equal(steps[0].finishReason, 'tool-calls');
    assert.equal(steps.length, 2);
  });
});

describe('POST /v1/messages/count_tokens and Anthropic-shaped errors', () => {
  const headers = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' };

  test('counts a Messages body: exact for an OpenAI model', async () => {
    const exactGw = await startGateway({
      providers: [simProvider(a)],
      models: [{ name: 'gpt-4o', targets: [{ provider: 'r-a', model: 'gpt-4o' }] }],
      keys: [{ name: 'main', sha256: sha256(KEY) }],
      auth: { required: true },
    });
    try {
      const r = await postJson(exactGw, '/v1/messages/count_tokens',
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello world' }] }, headers);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      // o200k_base: 3 per message + "user" (1) + "Hello world" (2) + 3 for the reply.
      assert.deepEqual(r.json, { input_tokens: 9 });
      assert.equal(r.headers.get('x-llmgw-token-count'), 'o200k_base');
    } finally {
      await exactGw.stop();
    }
  });

  test('an estimate for an Anthropic model, more with a system prompt and tools', async () => {
    const small = await postJson(gw, '/v1/messages/count_tokens',
      { model: 'claude', messages: [{ role: 'user', content: 'Hello there, how are you?' }] }, headers);
    assert.equal(small.status, 200, JSON.stringify(small.json));
    assert.equal(small.headers.get('x-llmgw-token-count'), 'estimate_anthropic');
    assert.ok(small.json.input_tokens > 5);
    const big = await postJson(gw, '/v1/messages/count_tokens', {
      model: 'claude',
      system: 'You are a weather bot with a long system prompt that adds tokens.',
      tools: [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'Hello there, how are you?' }],
    }, headers);
    assert.ok(big.json.input_tokens > small.json.input_tokens + 10);
  });

  test('errors on Anthropic routes are Anthropic-shaped, unknown paths included', async () => {
    const unknownModel = await postJson(gw, '/v1/messages/count_tokens',
      { model: 'nope', messages: [{ role: 'user', content: 'x' }] }, headers);
    assert.equal(unknownModel.status, 404);
    assert.equal(unknownModel.json.type, 'error');
    assert.equal(unknownModel.json.error.type, 'not_found_error');
    const badKey = await postJson(gw, '/v1/messages/count_tokens',
      { model: 'claude', messages: [] }, { 'x-api-key': 'wrong' });
    assert.equal(badKey.status, 401);
    assert.equal(badKey.json.error.type, 'authentication_error');
    const badBody = await postJson(gw, '/v1/messages/count_tokens', { model: 'claude', messages: 'x' }, headers);
    assert.equal(badBody.status, 400);
    assert.equal(badBody.json.error.type, 'invalid_request_error');
    const unknownPath = await postJson(gw, '/v1/messages/batches', {}, headers);
    assert.equal(unknownPath.status, 404);
    assert.equal(unknownPath.json.type, 'error');
    assert.equal(unknownPath.json.error.type, 'not_found_error');
  });
});
