// End to end through the gateway's provider adapters with the official npm clients, as users run
// them: the OpenAI SDK (v6) against Anthropic-kind and Gemini-kind targets, the Anthropic SDK
// against /v1/messages served by an Anthropic-kind target, and the Vercel AI SDK
// (ai + @ai-sdk/openai-compatible) against the OpenAI route. Every upstream is an llmgw-sim
// speaking that provider's wire format, started with --api-key, so the adapters' auth headers
// are exercised on every request (a missing or wrong header is a 401 from the sim).
//
// Azure is not covered here: llmgw-sim serves no /openai/deployments/... paths.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { postJson, sha256, simProvider, startGateway, startSim, streamChat } from './lib/harness.mjs';

const KEY = 'sk-llmgw-providers-e2e-key-7';
const ANTHROPIC_KEY = 'sk-ant-upstream-e2e-0001';
const GEMINI_KEY = 'AIza-upstream-e2e-0002';
const OPENAI_KEY = 'sk-openai-upstream-e2e-0003';
// A gemini-3 model: the sim then insists (like Google) that the function-call thought signature
// comes back on the next turn.
const GEMINI_MODEL = 'gemini-3-pro-preview';

let antA;
let antB;
let gemA;
let gemB;
let oai;
let gw;
let openai;
let anthropic;

const anthropicProvider = (sim, name = sim.name) =>
  simProvider(sim, { name, kind: 'anthropic', base_url: `http://127.0.0.1:${sim.port}/v1`, api_key: ANTHROPIC_KEY });
const geminiProvider = (sim, name = sim.name) =>
  simProvider(sim, { name, kind: 'gemini', base_url: `http://127.0.0.1:${sim.port}/v1beta`, api_key: GEMINI_KEY });

const single = (name, provider, model) => ({ name, targets: [{ provider, model }], retry: { attempts: 1 } });
const pair = (name, a, b, model) => ({
  name,
  targets: [{ provider: a, model }, { provider: b, model }],
  retry: { attempts: 2, backoff: { base: '10ms', max: '20ms' } },
});

before(async () => {
  [antA, antB, gemA, gemB, oai] = await Promise.all([
    startSim({ name: 'ant-a', apiKey: ANTHROPIC_KEY }),
    startSim({ name: 'ant-b', apiKey: ANTHROPIC_KEY }),
    startSim({ name: 'gem-a', apiKey: GEMINI_KEY }),
    startSim({ name: 'gem-b', apiKey: GEMINI_KEY }),
    startSim({ name: 'oai', apiKey: OPENAI_KEY }),
  ]);
  gw = await startGateway({
    providers: [
      anthropicProvider(antA),
      anthropicProvider(antB),
      geminiProvider(gemA),
      geminiProvider(gemB),
      // The same sims under a second provider name, first target of the failover pairs: a 429
      // cools down (only) this provider entry, so the single-target models above are not touched.
      anthropicProvider(antA, 'ant-a-pri'),
      anthropicProvider(antA, 'ant-a-cont'),  // first target of the continuation pair
      geminiProvider(gemA, 'gem-a-pri'),
      simProvider(oai, { kind: 'openai_compatible', api_key: OPENAI_KEY }),
    ],
    models: [
      single('claude', 'ant-a', 'claude-sonnet-4-5'),
      single('gemini', 'gem-a', GEMINI_MODEL),
      single('gemini-embed', 'gem-a', 'text-embedding-004'),
      single('gpt', 'oai', 'gpt-4o-mini'),
      pair('claude-pair', 'ant-a-pri', 'ant-b', 'claude-sonnet-4-5'),
      pair('claude-cont', 'ant-a-cont', 'ant-b', 'claude-sonnet-4-5'),
      pair('gemini-pair', 'gem-a-pri', 'gem-b', GEMINI_MODEL),
    ],
    keys: [{ name: 'e2e', sha256: sha256(KEY) }],
    auth: { required: true },
  });
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 10_000 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0, timeout: 10_000 });
});

beforeEach(async () => {
  await Promise.all([antA, antB, gemA, gemB, oai].map((s) => s.reset()));
});

const messages = (content) => [{ role: 'user', content }];
const weatherFunction = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const openaiTools = [{ type: 'function', function: weatherFunction }];
const TOOL_PROMPT = '!tool get_weather {"city":"Paris"}';

/** Reads an OpenAI SDK stream into { text, chunks, finish, usageChunks, toolCalls, ids }. */
async function drain(stream) {
  const out = { text: '', chunks: [], finish: undefined, usageChunks: [], toolCalls: [], ids: new Set() };
  for await (const chunk of stream) {
    out.chunks.push(chunk);
    out.ids.add(chunk.id);
    if (chunk.usage) out.usageChunks.push(chunk);
    const choice = chunk.choices[0];
    if (!choice) continue;
    out.text += choice.delta?.content ?? '';
    out.finish = choice.finish_reason ?? out.finish;
    for (const tc of choice.delta?.tool_calls ?? []) {
      const slot = (out.toolCalls[tc.index] ??= { id: '', type: '', name: '', arguments: '', fragments: 0 });
      if (tc.id) slot.id = tc.id;
      if (tc.type) slot.type = tc.type;
      if (tc.function?.name) slot.name += tc.function.name;
      if (tc.function?.arguments !== undefined) {
        slot.arguments += tc.function.arguments;
        slot.fragments++;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// openai SDK against Anthropic- and Gemini-kind targets
// ---------------------------------------------------------------------------------------------

const kinds = [
  {
    kind: 'anthropic',
    model: 'claude',
    pairModel: 'claude-pair',
    upstreamModel: 'claude-sonnet-4-5',
    sim: () => antA,
    second: () => antB,
    upstreamPath: '/v1/messages',
    streamPath: '/v1/messages',
    authHeader: (h) => h['x-api-key'],
  },
  {
    kind: 'gemini',
    model: 'gemini',
    pairModel: 'gemini-pair',
    upstreamModel: GEMINI_MODEL,
    sim: () => gemA,
    second: () => gemB,
    upstreamPath: `/v1beta/models/${GEMINI_MODEL}:generateContent`,
    streamPath: `/v1beta/models/${GEMINI_MODEL}:streamGenerateContent`,
    authHeader: (h) => h['x-goog-api-key'],
  },
];

for (const k of kinds) {
  describe(`openai SDK v6 -> ${k.kind}-kind target`, () => {
    test('chat.completions.create (non-stream): content, usage, provider auth', async () => {
      const sim = k.sim();
      const { data, response } = await openai.chat.completions
        .create({ model: k.model, messages: messages('hello from the openai sdk') })
        .withResponse();
      assert.equal(data.object, 'chat.completion');
      assert.equal(data.choices.length, 1);
      assert.equal(data.choices[0].message.role, 'assistant');
      assert.equal(data.choices[0].message.content, `[${sim.name}] hello from the openai sdk`);
      assert.equal(data.choices[0].finish_reason, 'stop');
      assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0, JSON.stringify(data.usage));
      assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
      assert.equal(response.headers.get('x-llmgw-provider'), sim.name);
      const up = (await sim.stats()).last_request;
      assert.equal(up.path, k.upstreamPath);
      assert.equal(k.authHeader(up.headers), k.kind === 'anthropic' ? ANTHROPIC_KEY : GEMINI_KEY);
      assert.equal(up.headers.authorization, undefined, 'the client key stays at the gateway');
    });

    test('arithmetic answer', async () => {
      const r = await openai.chat.completions.create({ model: k.model, messages: messages('What is 17 + 25?') });
      assert.equal(r.choices[0].message.content, '42');
    });

    test('stream without include_usage: deltas concatenate, finish stop, no usage chunk', async () => {
      const sim = k.sim();
      const stream = await openai.chat.completions.create({
        model: k.model, stream: true, messages: messages('one two three four five'),
      });
      const s = await drain(stream);
      assert.equal(s.text, `[${sim.name}] one two three four five`);
      assert.ok(s.chunks.length >= 3, `several chunks (got ${s.chunks.length})`);
      assert.equal(s.finish, 'stop');
      assert.equal(s.ids.size, 1, 'one completion id across chunks');
      assert.ok(s.chunks.every((c) => c.object === 'chat.completion.chunk'));
      assert.deepEqual(s.usageChunks, [], 'no usage chunk unless asked for');
      assert.equal((await sim.stats()).last_request.path, k.streamPath);
    });

    test('raw SSE: OpenAI chunks, one finish_reason, terminated by data: [DONE]', async () => {
      const sim = k.sim();
      const r = await streamChat(`${gw.url}/v1/chat/completions`, {
        model: k.model, stream: true, messages: messages('raw sse check'),
      }, { headers: { authorization: `Bearer ${KEY}` }, timeout: 10_000 });
      assert.equal(r.error, null, String(r.error));
      assert.equal(r.status, 200);
      assert.ok(r.ended, 'the body ended');
      assert.match(r.headers.get('content-type'), /text\/event-stream/);
      assert.equal(r.events.at(-1), '[DONE]');
      assert.equal(r.events.filter((e) => e === '[DONE]').length, 1);
      const chunks = r.events.slice(0, -1).map((e) => JSON.parse(e));
      assert.equal(chunks.filter((c) => c.choices?.[0]?.finish_reason).length, 1, 'one finish_reason');
      assert.equal(chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join(''), `[${sim.name}] raw sse check`);
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      // Like the OpenAI-kind pass-through, chunks name the upstream model.
      assert.ok(chunks.every((c) => c.model === k.upstreamModel), JSON.stringify(chunks.map((c) => c.model)));
      if (k.kind === 'gemini') {
        assert.equal((await sim.stats()).last_request.query, 'alt=sse');
      }
    });

    test('stream with include_usage: a final usage chunk with empty choices', async () => {
      const sim = k.sim();
      const stream = await openai.chat.completions.create({
        model: k.model, stream: true, stream_options: { include_usage: true }, messages: messages('count my tokens'),
      });
      const s = await drain(stream);
      assert.equal(s.text, `[${sim.name}] count my tokens`);
      assert.equal(s.finish, 'stop');
      assert.equal(s.usageChunks.length, 1, 'exactly one usage chunk');
      const last = s.chunks.at(-1);
      assert.equal(last, s.usageChunks[0], 'the usage chunk is the last one');
      assert.deepEqual(last.choices, []);
      assert.ok(last.usage.prompt_tokens > 0 && last.usage.completion_tokens > 0, JSON.stringify(last.usage));
      assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    });

    test('chat.completions.stream() helper: finalChatCompletion()', async () => {
      const sim = k.sim();
      const runner = openai.chat.completions.stream({
        model: k.model, messages: messages('helper stream'), stream_options: { include_usage: true },
      });
      const deltas = [];
      runner.on('content', (d) => deltas.push(d));
      const final = await runner.finalChatCompletion();
      assert.equal(final.choices[0].message.content, `[${sim.name}] helper stream`);
      assert.equal(deltas.join(''), `[${sim.name}] helper stream`);
      assert.equal(final.choices[0].finish_reason, 'stop');
      assert.ok(final.usage?.completion_tokens > 0);
    });

    test('tool call (non-stream): tool_calls with parsed arguments, finish tool_calls', async () => {
      const r = await openai.chat.completions.create({
        model: k.model, tools: openaiTools, messages: messages(TOOL_PROMPT),
      });
      const choice = r.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.tool_calls.length, 1);
      const call = choice.message.tool_calls[0];
      assert.equal(call.type, 'function');
      assert.ok(call.id, 'tool call id');
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
      assert.ok(!choice.message.content, `no text content (got ${JSON.stringify(choice.message.content)})`);
    });

    test('tool call (stream): arguments concatenate to valid JSON, finish tool_calls', async () => {
      const stream = await openai.chat.completions.create({
        model: k.model, stream: true, tools: openaiTools, messages: messages('!tool get_weather {"city":"Zürich","days":[1,2]}'),
      });
      const s = await drain(stream);
      assert.equal(s.finish, 'tool_calls');
      assert.equal(s.toolCalls.length, 1);
      const call = s.toolCalls[0];
      assert.ok(call.id);
      assert.equal(call.type, 'function');
      assert.equal(call.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.arguments), { city: 'Zürich', days: [1, 2] });
      assert.equal(s.text, '');
    });

    test('tool round trip: the replayed assistant turn and tool result reach the provider', async () => {
      const sim = k.sim();
      const first = await openai.chat.completions.create({
        model: k.model, tools: openaiTools, messages: messages(TOOL_PROMPT),
      });
      const assistant = first.choices[0].message;
      const call = assistant.tool_calls[0];
      // The assistant message goes back exactly as the SDK returned it (with any extra fields
      // such as Gemini's thought signature), then the tool result, then a question.
      const second = await openai.chat.completions.create({
        model: k.model,
        tools: openaiTools,
        messages: [
          ...messages(TOOL_PROMPT),
          assistant,
          { role: 'tool', tool_call_id: call.id, content: '18C and sunny' },
          { role: 'user', content: '!history' },
        ],
      });
      assert.equal(second.choices[0].finish_reason, 'stop');
      const history = JSON.parse(second.choices[0].message.content);
      const roles = history.map((m) => m.role);
      assert.deepEqual(roles, ['user', 'assistant', 'tool', 'user'], second.choices[0].message.content);
      assert.equal(history[1].tool_calls[0].function.name, 'get_weather');
      assert.deepEqual(JSON.parse(history[1].tool_calls[0].function.arguments), { city: 'Paris' });
      const up = (await sim.stats()).last_request;
      assert.equal(up.path, k.upstreamPath);
      if (k.kind === 'anthropic') {
        assert.equal(history[2].content, '18C and sunny');
        const replayed = up.body.messages[1].content.find((b) => b.type === 'tool_use');
        assert.equal(replayed.id, call.id);
        assert.deepEqual(replayed.input, { city: 'Paris' });
        assert.equal(up.body.messages[2].content[0].type, 'tool_result');
        assert.equal(up.body.messages[2].content[0].tool_use_id, call.id);
      } else {
        // Gemini wants an object as the function response: the gateway wraps plain text as
        // {"result": ...} (src/providers/gemini/gemini_adapter.cpp function_response).
        assert.deepEqual(JSON.parse(history[2].content), { result: '18C and sunny' });
        // The thought signature travelled on the tool call and was replayed (the sim rejects a
        // gemini-3 function call without one; the gateway's placeholder would pass too, so
        // check it is the real one).
        const signature = call.extra_content?.google?.thought_signature;
        assert.ok(signature, `thought signature on the tool call: ${JSON.stringify(call)}`);
        const model = up.body.contents.find((c) => c.role === 'model');
        const part = model.parts.find((p) => p.functionCall);
        assert.equal(part.thoughtSignature, signature);
        assert.equal(part.functionCall.name, 'get_weather');
      }
    });

    test('provider-side 400 passes through as BadRequestError (no failover)', async () => {
      const sim = k.sim();
      const other = k.second();
      await sim.fault({ mode: 'error', status: 400, message: 'upstream says the request is malformed' });
      await assert.rejects(
        openai.chat.completions.create({ model: k.pairModel, messages: messages('x') }),
        (e) => {
          assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
          assert.equal(e.status, 400);
          assert.match(e.message, /upstream says the request is malformed/);
          return true;
        },
      );
      assert.equal((await other.stats()).requests, 0, 'a 400 is the client\'s fault: not retried elsewhere');
    });

    test('429 with Retry-After fails over to the second target', async () => {
      const sim = k.sim();
      const other = k.second();
      await sim.fault({ mode: 'error', status: 429, retry_after: '1' });
      const { data, response } = await openai.chat.completions
        .create({ model: k.pairModel, messages: messages('rate limited') })
        .withResponse();
      assert.equal(data.choices[0].message.content, `[${other.name}] rate limited`);
      assert.equal(response.headers.get('x-llmgw-provider'), other.name);
      assert.equal(response.headers.get('x-llmgw-attempts'), '2');
      assert.equal((await sim.stats()).requests, 1);
    });
  });
}

describe('openai SDK v6 -> anthropic-kind: unsupported parameters', () => {
  test('n: 2 -> 400 naming n and the provider; nothing sent upstream', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'claude', n: 2, messages: messages('x') }),
      (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 400);
        assert.match(e.message, /\bn\b/);
        assert.match(e.message, /ant-a/);
        assert.match(e.message, /anthropic/);
        assert.equal(e.param, 'n', 'the error names the parameter at fault');
        return true;
      },
    );
    assert.equal((await antA.stats()).requests, 0);
  });
});

describe('openai SDK v6 -> gemini-kind embeddings', () => {
  test('SDK default (base64) equals encoding_format float', async () => {
    const input = ['first text', 'second text'];
    const dflt = await openai.embeddings.create({ model: 'gemini-embed', input });
    const up = (await gemA.stats()).last_request;
    assert.equal(up.path, '/v1beta/models/text-embedding-004:batchEmbedContents');
    assert.equal(up.headers['x-goog-api-key'], GEMINI_KEY);
    const float = await openai.embeddings.create({ model: 'gemini-embed', input, encoding_format: 'float' });
    assert.equal(dflt.object, 'list');
    assert.equal(dflt.data.length, 2);
    assert.equal(float.data.length, 2);
    for (let i = 0; i < 2; i++) {
      assert.equal(dflt.data[i].index, i);
      const v = dflt.data[i].embedding;
      assert.ok(Array.isArray(v) && v.length > 0, 'decoded to a float array');
      assert.ok(v.every((x) => Number.isFinite(x)));
      assert.equal(v.length, float.data[i].embedding.length);
      assert.deepEqual(v, float.data[i].embedding.map((x) => Math.fround(x)));
    }
    assert.notDeepEqual(dflt.data[0].embedding, dflt.data[1].embedding, 'different inputs, different vectors');
    assert.ok(dflt.usage.prompt_tokens >= 0);
  });

  test('the wire answer to encoding_format base64 is base64 of little-endian float32', async () => {
    const input = 'wire check';
    const raw = await postJson(`${gw.url}/v1/embeddings`, { model: 'gemini-embed', input, encoding_format: 'base64' },
      { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(raw.status, 200, raw.text);
    const b64 = raw.json.data[0].embedding;
    assert.equal(typeof b64, 'string', 'base64 string, not a float array');
    const bytes = Buffer.from(b64, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    const float = await openai.embeddings.create({ model: 'gemini-embed', input, encoding_format: 'float' });
    assert.deepEqual(decoded, float.data[0].embedding.map((x) => Math.fround(x)));
  });

  test('a single string input', async () => {
    const r = await openai.embeddings.create({ model: 'gemini-embed', input: 'just one', encoding_format: 'float' });
    assert.equal(r.data.length, 1);
    assert.ok(r.data[0].embedding.length > 0);
  });
});

// ---------------------------------------------------------------------------------------------
// @anthropic-ai/sdk against /v1/messages served by an Anthropic-kind target
// ---------------------------------------------------------------------------------------------

const anthropicWeatherTool = {
  name: 'get_weather',
  description: weatherFunction.description,
  input_schema: weatherFunction.parameters,
};

describe('@anthropic-ai/sdk -> /v1/messages -> anthropic-kind target', () => {
  test('messages.create (non-stream)', async () => {
    const { data, response } = await anthropic.messages
      .create({ model: 'claude', max_tokens: 256, system: 'Be terse.', messages: messages('hello claude') })
      .withResponse();
    assert.match(data.id, /^msg_/);
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.deepEqual(data.content, [{ type: 'text', text: '[ant-a] hello claude' }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.ok(data.usage.input_tokens > 0 && data.usage.output_tokens > 0, JSON.stringify(data.usage));
    assert.equal(response.headers.get('x-llmgw-provider'), 'ant-a');
    const up = (await antA.stats()).last_request;
    assert.equal(up.path, '/v1/messages');
    assert.equal(up.headers['x-api-key'], ANTHROPIC_KEY, 'the provider key, not the client\'s');
    assert.ok(up.headers['anthropic-version']);
    assert.equal(up.body.model, 'claude-sonnet-4-5');
    assert.equal(up.body.max_tokens, 256);
    assert.ok(JSON.stringify(up.body.system).includes('Be terse.'), JSON.stringify(up.body.system));
  });

  test('messages.stream(): text deltas and finalMessage()', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude', max_tokens: 256, messages: messages('one two three four'),
    });
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    assert.equal(deltas.join(''), '[ant-a] one two three four');
    assert.ok(deltas.length >= 2, 'text arrived in several deltas');
    assert.match(final.id, /^msg_/);
    assert.deepEqual(final.content.map((b) => b.type), ['text']);
    assert.equal(final.content[0].text, '[ant-a] one two three four');
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0);
    assert.ok(final.usage.input_tokens > 0);
    assert.equal((await antA.stats()).last_request.body.stream, true);
  });

  test('tool use round trip (non-stream): tool_use block, then tool_result reaches the provider', async () => {
    const msg = await anthropic.messages.create({
      model: 'claude', max_tokens: 256, tools: [anthropicWeatherTool], messages: messages(TOOL_PROMPT),
    });
    assert.equal(msg.stop_reason, 'tool_use');
    const call = msg.content.find((b) => b.type === 'tool_use');
    assert.ok(call, JSON.stringify(msg.content));
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'Paris' });
    assert.match(call.id, /^toolu_/);

    const second = await anthropic.messages.create({
      model: 'claude', max_tokens: 256, tools: [anthropicWeatherTool],
      messages: [
        ...messages(TOOL_PROMPT),
        { role: 'assistant', content: msg.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: call.id, content: '18C and sunny' },
            { type: 'text', text: '!history' },
          ],
        },
      ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    const history = JSON.parse(second.content[0].text);
    assert.deepEqual(history.map((m) => m.role), ['user', 'assistant', 'tool', 'user'], second.content[0].text);
    assert.equal(history[2].content, '18C and sunny');
    const up = (await antA.stats()).last_request.body;
    const replayed = up.messages[1].content.find((b) => b.type === 'tool_use');
    assert.equal(replayed.id, call.id);
    assert.deepEqual(replayed.input, { city: 'Paris' });
    const result = up.messages.at(-1).content.find((b) => b.type === 'tool_result');
    assert.equal(result.tool_use_id, call.id);
  });

  test('tool use (stream): input_json_delta fragments accumulate into the tool input', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude', max_tokens: 256, tools: [anthropicWeatherTool],
      messages: messages('!tool get_weather {"city":"Zürich","days":[1,2]}'),
    });
    const fragments = [];
    stream.on('inputJson', (partial) => fragments.push(partial));
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const call = final.content.find((b) => b.type === 'tool_use');
    assert.ok(call, JSON.stringify(final.content));
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'Zürich', days: [1, 2] });
    assert.ok(fragments.length >= 1, 'input streamed as input_json_delta');
    assert.ok(final.usage.output_tokens > 0);
  });

  // Lossless Anthropic-to-Anthropic: thinking, its signature and cache breakpoints ride the
  // canonical model's extensions; the sim insists on a signature it issued when a turn is replayed.
  test('extended thinking (non-stream): signed thinking block, replayed in the next turn; cache_control reaches the provider', async () => {
    const thinking = { type: 'enabled', budget_tokens: 1024 };
    const system = [{ type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } }];
    const first = await anthropic.messages.create({
      model: 'claude', max_tokens: 2048, thinking, system, messages: messages('two plus two'),
    });
    assert.deepEqual(first.content.map((b) => b.type), ['thinking', 'text'], JSON.stringify(first.content));
    assert.equal(first.content[0].thinking, 'The user wrote: two plus two');
    assert.match(first.content[0].signature, /^sim-sig-/);
    let up = (await antA.stats()).last_request.body;
    assert.deepEqual(up.thinking, thinking);
    assert.deepEqual(up.system, system, 'the cache breakpoint reached the provider');

    const second = await anthropic.messages.create({
      model: 'claude', max_tokens: 2048, thinking,
      messages: [...messages('two plus two'), { role: 'assistant', content: first.content }, ...messages('and again')],
    });
    assert.equal(second.content[0].type, 'thinking');
    up = (await antA.stats()).last_request.body;
    assert.deepEqual(up.messages[1].content[0],
      { type: 'thinking', thinking: first.content[0].thinking, signature: first.content[0].signature });

    // A tampered signature reaches the provider as it was sent, and its refusal comes back as
    // the client's 400 (the gateway neither fixes nor drops a signed block).
    const forged = { ...first.content[0], signature: 'forged' };
    await assert.rejects(
      anthropic.messages.create({
        model: 'claude', max_tokens: 2048, thinking,
        messages: [...messages('two plus two'), { role: 'assistant', content: [forged, first.content[1]] },
          ...messages('and again')],
      }),
      (e) => e instanceof Anthropic.BadRequestError && /signature/.test(e.error.error.message),
    );
    assert.equal((await antA.stats()).last_request.body.messages[1].content[0].signature, 'forged');
  });

  test('extended thinking (stream): thinking and signature deltas accumulate into a signed block', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: messages('one two three'),
    });
    const thoughts = [];
    stream.on('thinking', (t) => thoughts.push(t));
    const final = await stream.finalMessage();
    assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'text'], JSON.stringify(final.content));
    assert.equal(thoughts.join(''), 'The user wrote: one two three');
    assert.equal(final.content[0].thinking, 'The user wrote: one two three');
    assert.match(final.content[0].signature, /^sim-sig-/);
    assert.equal(final.content[1].text, '[ant-a] one two three');
  });

  test('thinking on a model whose targets cannot think -> 400 naming thinking; nothing sent', async () => {
    await assert.rejects(
      anthropic.messages.create({
        model: 'gpt', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: messages('x'),
      }),
      (e) => e instanceof Anthropic.BadRequestError && /'thinking'/.test(e.error.error.message),
    );
    assert.equal((await oai.stats()).requests, 0);
  });

  // Same dialect at both ends: the provider's own events reach the client as it wrote them
  // (ping included, which the canonical model has no place for), not rebuilt.
  test('raw stream from an anthropic target is relayed natively, event for event', async () => {
    const raw = await streamChat(`${gw.url}/v1/messages`, {
      model: 'claude', max_tokens: 64, stream: true, messages: messages('native relay'),
    }, { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' } });
    assert.equal(raw.status, 200);
    const blocks = raw.raw.split('\n\n').filter((x) => x.length > 0);
    const names = blocks.map((b) => b.split('\n')[0].slice(7));
    assert.ok(names.includes('ping'), names.join(','));
    assert.ok(raw.raw.includes('data: {"type": "ping"}'), 'the ping as the sim wrote it');
    for (const block of blocks) {
      const [event, data] = block.split('\n');
      assert.equal(JSON.parse(data.slice(6)).type, event.slice(7));
    }
    assert.equal(names[0], 'message_start');
    assert.equal(names.at(-1), 'message_stop');
    const text = blocks
      .map((b) => JSON.parse(b.split('\n')[1].slice(6)))
      .filter((d) => d.type === 'content_block_delta' && d.delta.type === 'text_delta')
      .map((d) => d.delta.text).join('');
    assert.equal(text, '[ant-a] native relay');
  });

  test('a native stream broken mid-way is continued on the next anthropic target by prefill', async () => {
    await antA.fault({ mode: 'die_after', after_chunks: 2 });
    await antB.reset();
    const stream = anthropic.messages.stream({
      model: 'claude-cont', max_tokens: 256, messages: messages('one two three four five six'),
    });
    let starts = 0;
    stream.on('streamEvent', (ev) => {
      if (ev.type === 'message_start') starts++;
    });
    const final = await stream.finalMessage();
    assert.equal(starts, 1);
    assert.equal(final.content.length, 1, JSON.stringify(final.content));
    assert.equal(final.content[0].text, '[ant-a] one two three four five six');
    assert.equal(final.stop_reason, 'end_turn');
    const up = (await antB.stats()).last_request.body;
    const last = up.messages.at(-1);
    assert.equal(last.role, 'assistant', 'the partial answer is the last turn (prefill)');
    assert.doesNotMatch(JSON.stringify(up.messages), /Continue your previous answer/);
    await antA.reset();
  });

  test('provider-side 400 arrives as an Anthropic BadRequestError', async () => {
    await antA.fault({ mode: 'error', status: 400, message: 'upstream rejected the body' });
    await assert.rejects(
      anthropic.messages.create({ model: 'claude', max_tokens: 16, messages: messages('x') }),
      (e) => {
        assert.ok(e instanceof Anthropic.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 400);
        assert.equal(e.error?.type, 'error');
        assert.equal(e.error.error.type, 'invalid_request_error');
        assert.match(e.error.error.message, /upstream rejected the body/);
        return true;
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Vercel AI SDK (ai + @ai-sdk/openai-compatible) against the gateway's OpenAI route
// ---------------------------------------------------------------------------------------------

describe('Vercel ai SDK with @ai-sdk/openai-compatible', () => {
  const provider = () =>
    createOpenAICompatible({ name: 'llmgw', baseURL: `${gw.url}/v1`, apiKey: KEY, includeUsage: true });

  for (const [model, sim] of [['gpt', () => oai], ['claude', () => antA], ['gemini', () => gemA]]) {
    test(`generateText (${model})`, async () => {
      const r = await generateText({
        model: provider()(model), prompt: 'hello from vercel', maxRetries: 0, abortSignal: AbortSignal.timeout(10_000),
      });
      assert.equal(r.text, `[${sim().name}] hello from vercel`);
      assert.equal(r.finishReason, 'stop');
      assert.ok(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, JSON.stringify(r.usage));
    });

    test(`streamText (${model})`, async () => {
      let streamError;
      const r = streamText({
        model: provider()(model),
        prompt: 'stream from vercel please',
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(10_000),
        onError: ({ error }) => {
          streamError = error;
        },
      });
      const parts = [];
      for await (const t of r.textStream) parts.push(t);
      assert.equal(streamError, undefined, String(streamError));
      assert.equal(parts.join(''), `[${sim().name}] stream from vercel please`);
      assert.ok(parts.length >= 2, 'several text deltas');
      assert.equal(await r.finishReason, 'stop');
      const usage = await r.usage;
      assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0, JSON.stringify(usage));
    });
  }
});
