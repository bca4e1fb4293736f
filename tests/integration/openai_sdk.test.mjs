// The official OpenAI Node SDK (v6, pinned) pointed at the gateway: what users actually run.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { sha256, simProvider, startGateway, startSim } from './lib/harness.mjs';

const KEY = 'sk-llmgw-sdk-test-key-4242';

let a;
let b;
let gw;
let client;

before(async () => {
  [a, b] = await Promise.all([startSim({ name: 'sdk-a' }), startSim({ name: 'sdk-b' })]);
  gw = await startGateway({
    providers: [simProvider(a), simProvider(b)],
    models: [
      { name: 'gpt-test', targets: [{ provider: 'sdk-a', model: 'upstream-a' }, { provider: 'sdk-b', model: 'upstream-b' }], retry: { attempts: 2, backoff: { base: '10ms', max: '20ms' } } },
      { name: 'embed-test', targets: [{ provider: 'sdk-a', model: 'emb' }] },
      { name: 'solo-test', targets: [{ provider: 'sdk-a', model: 'upstream-a' }], retry: { attempts: 1 } },
    ],
    keys: [{ name: 'sdk', sha256: sha256(KEY) }],
    auth: { required: true },
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 10_000 });
});

beforeEach(async () => {
  await Promise.all([a.reset(), b.reset()]);
});

const messages = (content) => [{ role: 'user', content }];

describe('openai SDK v6 against the gateway', () => {
  test('chat.completions.create (non-stream)', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-test', messages: messages('What is 17 + 25?') })
      .withResponse();
    assert.equal(data.choices[0].message.content, '42');
    assert.equal(data.object, 'chat.completion');
    assert.ok(data.usage.total_tokens > 0);
    assert.equal(response.headers.get('x-llmgw-provider'), 'sdk-a');
    // The SDK's own key went to the gateway, not upstream.
    const up = (await a.stats()).last_request.headers;
    assert.equal(up.authorization, undefined);
  });

  test('chat.completions.create with stream: true', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-test', stream: true, messages: messages('stream through the sdk'),
    });
    let text = '';
    let chunks = 0;
    let finish;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(chunks >= 4);
    assert.equal(text, '[sdk-a] stream through the sdk');
    assert.equal(finish, 'stop');
  });

  test('chat.completions.stream() helper and finalChatCompletion()', async () => {
    const runner = client.chat.completions.stream({
      model: 'gpt-test', messages: messages('helper stream'), stream_options: { include_usage: true },
    });
    const deltas = [];
    runner.on('content', (delta) => deltas.push(delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, '[sdk-a] helper stream');
    assert.equal(final.choices[0].finish_reason, 'stop');
    assert.equal(deltas.join(''), '[sdk-a] helper stream');
    assert.ok(final.usage && final.usage.completion_tokens > 0, 'usage from include_usage');
  });

  test('failover is invisible to the SDK', async () => {
    await a.fault({ mode: 'error', status: 503 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-test', messages: messages('via b') })
      .withResponse();
    assert.equal(data.choices[0].message.content, '[sdk-b] via b');
    assert.equal(response.headers.get('x-llmgw-attempts'), '2');
  });

  test('a stream broken mid-way is continued on the other target: the SDK sees one stream', async () => {
    await a.fault({ mode: 'die_after', after_chunks: 2 });
    const stream = await client.chat.completions.create({
      model: 'gpt-test', stream: true, messages: messages('one two three four five six'),
    });
    let text = '';
    const ids = new Set();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, '[sdk-a] one two three four five six');
    assert.equal(ids.size, 1);
  });

  test('a stream broken mid-way with nothing to continue on raises in the SDK', async () => {
    await a.fault({ mode: 'die_after', after_chunks: 2 });
    const stream = await client.chat.completions.create({
      model: 'solo-test', stream: true, messages: messages('one two three four five six'),
    });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
      }
    }, (e) => e instanceof OpenAI.APIError && /upstream/i.test(e.message));
    assert.equal(text, '[sdk-a] one');
  });

  test('embeddings.create with the SDK default (base64) equals the float request', async () => {
    const input = ['first text', 'second text'];
    const dflt = await client.embeddings.create({ model: 'embed-test', input });
    assert.equal((await a.stats()).last_request.body.encoding_format, 'base64', 'the SDK asked for base64');
    const float = await client.embeddings.create({ model: 'embed-test', input, encoding_format: 'float' });
    assert.equal(dflt.data.length, 2);
    for (let i = 0; i < 2; i++) {
      const v = dflt.data[i].embedding;
      assert.ok(Array.isArray(v) && v.length > 0, 'decoded to a float array');
      assert.ok(v.every((x) => Number.isFinite(x)));
      assert.deepEqual(v, float.data[i].embedding.map((x) => Math.fround(x)));
    }
  });

  test('models.list()', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), ['embed-test', 'gpt-test', 'solo-test']);
    const one = await client.models.retrieve('gpt-test');
    assert.equal(one.id, 'gpt-test');
  });

  test('unknown model -> NotFoundError 404', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: messages('x') }),
      (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 404);
        assert.equal(e.code, 'model_not_found');
        return true;
      },
    );
  });

  test('bad key -> AuthenticationError 401', async () => {
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0, timeout: 10_000 });
    await assert.rejects(
      bad.chat.completions.create({ model: 'gpt-test', messages: messages('x') }),
      (e) => {
        assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}`);
        assert.equal(e.status, 401);
        assert.equal(e.code, 'invalid_api_key');
        return true;
      },
    );
  });

  test('validation error -> BadRequestError with the param', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'robot', content: 'x' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError);
        assert.equal(e.param, 'messages[0].role');
        return true;
      },
    );
  });
});
