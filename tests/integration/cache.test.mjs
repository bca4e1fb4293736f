// The exact response cache (models[].cache): miss then hit without a provider call, a hit
// replayed as a stream (OpenAI SDK) and as Anthropic events, temperature > 0 and the client's
// Cache-Control, per-key scope, the stale answer when every target fails, the access log and
// the metric (promtool-clean).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  metricValue, postJson, sha256, simProvider, sleep, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

const KEY_A = 'sk-llmgw-cache-team-a';
const KEY_B = 'sk-llmgw-cache-team-b';
let sim;
let staleSim;
let gw;

const auth = (key) => ({ authorization: `Bearer ${key}` });
const requests = async (s = sim) => (await s.stats()).requests;
const chat = (body, { key = KEY_A, headers = {} } = {}) =>
  postJson(`${gw.url}/v1/chat/completions`, body, { headers: { ...auth(key), ...headers } });
const ask = (content, extra = {}) => ({
  model: 'cached', messages: [{ role: 'user', content }], temperature: 0, ...extra,
});

before(async () => {
  [sim, staleSim] = await Promise.all([startSim({ name: 'cache' }), startSim({ name: 'stale' })]);
  gw = await startGateway({
    providers: [simProvider(sim), simProvider(staleSim)],
    models: [
      { name: 'cached', targets: [{ provider: 'cache', model: 'gpt-4o-mini' }], cache: { ttl: '10m' } },
      { name: 'plain', targets: [{ provider: 'cache', model: 'gpt-4o-mini' }] },
      { name: 'warm', targets: [{ provider: 'cache', model: 'gpt-4o-mini' }], cache: { ttl: '10m', any_temperature: true } },
      {
        name: 'fragile',
        targets: [{ provider: 'stale', model: 'gpt-4o-mini' }],
        retry: { attempts: 1 },
        cache: { ttl: '1s', serve_stale_on_outage: true },
        degrade: { message: 'The assistant is unavailable.' },
      },
      {
        name: 'strict',
        targets: [{ provider: 'stale', model: 'gpt-4o-mini' }],
        retry: { attempts: 1 },
        cache: { ttl: '1s' },
      },
    ],
    keys: [
      { name: 'team-a', sha256: sha256(KEY_A) },
      { name: 'team-b', sha256: sha256(KEY_B) },
    ],
    auth: { required: true },
  });
});

describe('exact response cache', () => {
  test('a miss, then the same request is a hit that calls no provider', async () => {
    const before = await requests();
    const first = await chat(ask('What is 17 + 25?', { max_tokens: 50 }));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-llmgw-cache'), 'miss');
    assert.equal(await requests(), before + 1);
    // Key order and the stream-irrelevant fields do not change the key.
    const second = await chat({
      max_tokens: 50, temperature: 0, user: 'someone', metadata: { a: '1' },
      messages: [{ content: 'What is 17 + 25?', role: 'user' }], model: 'cached',
    });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.headers.get('x-llmgw-cache'), 'hit');
    assert.equal(second.headers.get('x-llmgw-provider'), 'cache');
    assert.equal(await requests(), before + 1, 'the hit did not reach the provider');
    assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
    assert.deepEqual(second.json.usage, first.json.usage);
    const log = await waitFor(() => {
      const lines = gw.accessLog().filter((l) => l.model === 'cached');
      return lines.length >= 2 ? lines : null;
    }, { what: 'access log lines' });
    assert.equal(log.at(-2).cache, 'miss');
    assert.equal(log.at(-1).cache, 'hit');
    assert.equal(log.at(-1).provider, 'cache');
    assert.equal(log.at(-1).cost_usd, 0);
    assert.equal(log.at(-1).tokens_in, 0, 'a hit is no provider usage');
  });

  test('a model without a cache says nothing of it', async () => {
    const r = await chat({ ...ask('plain'), model: 'plain' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-llmgw-cache'), null);
    const line = await waitFor(() => gw.accessLog().find((l) => l.model === 'plain'));
    assert.equal(line.cache, 'none');
  });

  test('a hit is replayed as a stream to a streaming request (openai SDK), usage included', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY_A, maxRetries: 0, timeout: 10_000 });
    const complete = await client.chat.completions.create(ask('stream me from the cache'));
    const before = await requests();
    const { data: stream, response } = await client.chat.completions
      .create({ ...ask('stream me from the cache'), stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.equal(response.headers.get('x-llmgw-cache'), 'hit');
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    let text = '';
    let finish;
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, complete.choices[0].message.content);
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, complete.usage);
    assert.equal(await requests(), before);
    // And a streamed miss is stored whole: the complete request then hits.
    const streamed = await streamChat(`${gw.url}/v1/chat/completions`,
      { ...ask('first streamed'), stream: true }, { headers: auth(KEY_A) });
    assert.equal(streamed.headers.get('x-llmgw-cache'), 'miss');
    assert.equal(streamed.events.at(-1), '[DONE]');
    const after = await chat(ask('first streamed'));
    assert.equal(after.headers.get('x-llmgw-cache'), 'hit');
  });

  test('the Anthropic face replays a hit as message events', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: KEY_A, maxRetries: 0, timeout: 10_000 });
    const body = { model: 'cached', max_tokens: 64, temperature: 0, messages: [{ role: 'user', content: 'anthropic hit' }] };
    const first = await client.messages.create(body);
    const before = await requests();
    const events = [];
    const stream = client.messages.stream(body);
    stream.on('streamEvent', (e) => events.push(e.type));
    const final = await stream.finalMessage();
    assert.equal(final.content[0].text, first.content[0].text);
    assert.equal(events[0], 'message_start');
    assert.equal(events.at(-1), 'message_stop');
    // And complete, as an Anthropic message.
    const { data: again, response } = await client.messages.create(body).withResponse();
    assert.equal(response.headers.get('x-llmgw-cache'), 'hit');
    assert.equal(again.type, 'message');
    assert.equal(again.content[0].text, first.content[0].text);
    assert.equal(again.stop_reason, first.stop_reason);
    assert.equal(await requests(), before);
  });

  test('the same canonical request from the two faces shares one entry', async () => {
    const body = { model: 'cached', max_tokens: 64, temperature: 0, messages: [{ role: 'user', content: 'both faces' }] };
    const anthropic = await postJson(`${gw.url}/v1/messages`, body,
      { headers: { ...auth(KEY_A), 'anthropic-version': '2023-06-01' } });
    assert.equal(anthropic.status, 200, anthropic.text);
    assert.equal(anthropic.headers.get('x-llmgw-cache'), 'miss');
    const before = await requests();
    const openai = await chat(body);
    assert.equal(openai.headers.get('x-llmgw-cache'), 'hit');
    assert.equal(openai.json.object, 'chat.completion', 'each face answers in its own format');
    assert.equal(openai.json.choices[0].message.content, anthropic.json.content[0].text);
    assert.equal(await requests(), before);
  });

  test('temperature > 0 is not cached unless the model says any_temperature', async () => {
    const before = await requests();
    const warmAsk = ask('warm', { temperature: 0.7 });
    for (let i = 0; i < 2; i++) {
      const r = await chat(warmAsk);
      assert.equal(r.headers.get('x-llmgw-cache'), 'bypass');
    }
    assert.equal(await requests(), before + 2);
    const first = await chat({ ...warmAsk, model: 'warm' });
    const second = await chat({ ...warmAsk, model: 'warm' });
    assert.equal(first.headers.get('x-llmgw-cache'), 'miss');
    assert.equal(second.headers.get('x-llmgw-cache'), 'hit');
    assert.equal(await requests(), before + 3);
  });

  test('Cache-Control: no-cache skips the lookup but stores; no-store does neither', async () => {
    await chat(ask('control'));
    const before = await requests();
    const fresh = await chat(ask('control'), { headers: { 'cache-control': 'no-cache' } });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers.get('x-llmgw-cache'), 'bypass');
    assert.equal(await requests(), before + 1);
    const none = await chat(ask('never kept'), { headers: { 'cache-control': 'no-store' } });
    assert.equal(none.headers.get('x-llmgw-cache'), 'bypass');
    const later = await chat(ask('never kept'));
    assert.equal(later.headers.get('x-llmgw-cache'), 'miss', 'no-store stored nothing');
    assert.equal(await requests(), before + 3);
    const stored = await chat(ask('no-cache stored'), { headers: { 'cache-control': 'no-cache' } });
    assert.equal(stored.headers.get('x-llmgw-cache'), 'bypass');
    assert.equal((await chat(ask('no-cache stored'))).headers.get('x-llmgw-cache'), 'hit');
  });

  test('entries are per API key', async () => {
    const a = await chat(ask('scoped question'));
    assert.equal(a.headers.get('x-llmgw-cache'), 'miss');
    const b = await chat(ask('scoped question'), { key: KEY_B });
    assert.equal(b.headers.get('x-llmgw-cache'), 'miss', "another key does not see team-a's entry");
    const again = await chat(ask('scoped question'), { key: KEY_B });
    assert.equal(again.headers.get('x-llmgw-cache'), 'hit');
  });

  test('every target failing: the expired entry is served stale, before the degrade message', async () => {
    const body = ask('keep me for a rainy day', { model: 'fragile' });
    const first = await chat(body);
    assert.equal(first.headers.get('x-llmgw-cache'), 'miss');
    await sleep(1200);  // past the 1 s ttl
    await staleSim.fault({ mode: 'error', status: 503 });
    try {
      const r = await chat(body);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-llmgw-cache'), 'stale');
      assert.equal(r.headers.get('x-llmgw-degraded'), null);
      assert.equal(r.json.choices[0].message.content, first.json.choices[0].message.content);
      const s = await streamChat(`${gw.url}/v1/chat/completions`, { ...body, stream: true },
        { headers: auth(KEY_A) });
      assert.equal(s.headers.get('x-llmgw-cache'), 'stale');
      assert.equal(s.events.at(-1), '[DONE]');
      // Nothing cached: the degrade message, as before.
      const other = await chat(ask('never seen', { model: 'fragile' }));
      assert.equal(other.headers.get('x-llmgw-degraded'), 'true');
      assert.equal(other.headers.get('x-llmgw-cache'), 'miss');
      // Without serve_stale_on_outage an expired entry is never served.
      const strict = ask('strict question', { model: 'strict' });
      await staleSim.fault({ mode: 'none' });
      await chat(strict);
      await sleep(1200);
      await staleSim.fault({ mode: 'error', status: 503 });
      const refused = await chat(strict);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.headers.get('x-llmgw-cache'), 'miss');
    } finally {
      await staleSim.fault({ mode: 'none' });
    }
  });

  test('llmgw_cache_requests_total counts each result, and promtool accepts it', async () => {
    const m = await gw.metrics();
    const value = (result) => metricValue(m, 'llmgw_cache_requests_total', { result });
    const results = ['hit', 'miss', 'stale', 'bypass'];
    // The access log is written in batches (every 50 ms): wait for the last lines.
    const counted = (log, result) => log.filter((l) => l.cache === result).length;
    const log = await waitFor(() => {
      const l = gw.accessLog();
      return results.every((r) => counted(l, r) === value(r)) ? l : null;
    }, { what: 'the access log to agree with the metric' }).catch(() => gw.accessLog());
    for (const result of results) {
      assert.equal(value(result), counted(log, result), result);
    }
    assert.ok(value('hit') >= 6 && value('stale') >= 2 && value('bypass') >= 4, m);
    assert.ok(metricValue(m, 'llmgw_cache_entries') >= 10, 'entries gauge');
    assert.ok(metricValue(m, 'llmgw_cache_bytes') > 1000, 'bytes gauge');
    const promtool = process.env.PROMTOOL || '/usr/bin/promtool';
    if (existsSync(promtool)) {
      const r = spawnSync(promtool, ['check', 'metrics'], { input: m, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    }
  });
});
