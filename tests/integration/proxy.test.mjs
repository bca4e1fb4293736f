// The proxy path end to end: chat (plain and streamed), legacy completions, embeddings, model
// listing, health endpoints, and what the gateway sends upstream (model rewrite, provider key,
// request id, trace context).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  deltaText, postJson, rawRequest, sha256, simProvider, startGateway, startSim, streamChat,
} from './lib/harness.mjs';

const GW_KEY = 'gw-key-proxy-team-a-0123456789';
const LIMITED_KEY = 'gw-key-proxy-limited-9876543210';
const UPSTREAM_KEY = 'sk-upstream-sim-a-secret-42';

let sim;
let gw;
const auth = { authorization: `Bearer ${GW_KEY}` };

before(async () => {
  sim = await startSim({ name: 'sim-a', apiKey: UPSTREAM_KEY, models: ['upstream-model-a'] });
  gw = await startGateway({
    providers: [simProvider(sim, { api_key: UPSTREAM_KEY })],
    models: [
      { name: 'chat', targets: [{ provider: 'sim-a', model: 'upstream-model-a' }] },
      { name: 'embed', targets: [{ provider: 'sim-a', model: 'sim-embed-1' }] },
      { name: 'legacy', targets: [{ provider: 'sim-a', model: 'sim-instruct' }] },
    ],
    keys: [
      { name: 'team-a', sha256: sha256(GW_KEY) },
      { name: 'limited', sha256: sha256(LIMITED_KEY), models: ['chat'] },
    ],
    auth: { required: true },
  });
});

const chatUrl = () => `${gw.url}/v1/chat/completions`;

describe('non-streaming chat', () => {
  test('answer comes from the sim with the routing headers', async () => {
    await sim.reset();
    const r = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content: 'What is 17 + 25?' }] }, { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '42');
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-a');
    assert.equal(r.headers.get('x-llmgw-model'), 'upstream-model-a');
    assert.equal(r.headers.get('x-llmgw-attempts'), '1');
    assert.match(r.headers.get('content-type'), /^application\/json/);
    // No client id: one is generated, returned, and sent upstream.
    const rid = r.headers.get('x-request-id');
    assert.match(rid ?? '', /^[0-9a-f]{32}$/);
    const stats = await sim.stats();
    assert.equal(stats.requests, 1);
    assert.equal(stats.last_request.headers['x-request-id'], rid);
  });

  test('the prompt reaches the sim verbatim and its echo comes back', async () => {
    const r = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'system', content: 'be terse' }, { role: 'user', content: 'hello gateway, echo me' }] }, { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[sim-a] hello gateway, echo me');
    assert.ok(r.json.usage.prompt_tokens > 0);
  });

  test('model is rewritten upstream; provider key sent, gateway key not forwarded', async () => {
    await sim.reset();
    const r = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content: 'hi' }], temperature: 0.3 }, { headers: auth });
    assert.equal(r.status, 200, r.text);
    const { last_request: up } = await sim.stats();
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/v1/chat/completions');
    assert.equal(up.body.model, 'upstream-model-a');
    assert.equal(up.body.temperature, 0.3, 'sampling parameters pass through');
    assert.deepEqual(up.body.messages, [{ role: 'user', content: 'hi' }]);
    assert.equal(up.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const allHeaders = JSON.stringify(up.headers);
    assert.ok(!allHeaders.includes(GW_KEY), `gateway key leaked upstream: ${allHeaders}`);
    assert.ok(!allHeaders.includes(sha256(GW_KEY)));
  });

  test('a client x-request-id is kept and forwarded upstream', async () => {
    await sim.reset();
    const rid = 'client-req-7f3a-0001';
    const r = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content: 'id please' }] }, { headers: { ...auth, 'x-request-id': rid } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-request-id'), rid);
    assert.equal((await sim.stats()).last_request.headers['x-request-id'], rid);
    // And it is the id in the access log line (written after the response: poll for it).
    const line = await waitForLog(rid);
    assert.equal(line.key, 'team-a');
    assert.equal(line.model, 'chat');
    assert.equal(line.served_model, 'upstream-model-a');
    assert.equal(line.status, 200);
    assert.ok(!gw.stdout.text().includes(GW_KEY), 'the gateway key never appears in logs');
    assert.ok(!gw.stdout.text().includes(UPSTREAM_KEY), 'the provider key never appears in logs');
  });

  test('traceparent: same trace id, new parent span id, tracestate kept', async () => {
    await sim.reset();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = 'b7ad6b7169203331';
    const r = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content: 'trace me' }] }, {
      headers: { ...auth, traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=abc' },
    });
    assert.equal(r.status, 200, r.text);
    const { headers } = (await sim.stats()).last_request;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(headers.traceparent ?? '');
    assert.ok(m, `traceparent upstream: ${headers.traceparent}`);
    assert.equal(m[1], traceId);
    assert.notEqual(m[2], parent);
    assert.notEqual(m[2], '0000000000000000');
    assert.equal(headers.tracestate, 'vendor=abc');
  });
});

describe('streaming chat', () => {
  const prompt = 'please stream these several words back to me';

  test('SSE chunks end with [DONE] and equal the non-stream content', async () => {
    const plain = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content: prompt }] }, { headers: auth });
    assert.equal(plain.status, 200);
    const s = await streamChat(chatUrl(), { model: 'chat', stream: true, messages: [{ role: 'user', content: prompt }] }, { headers: auth });
    assert.equal(s.status, 200);
    assert.ifError(s.error);
    assert.ok(s.ended);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(s.headers.get('x-llmgw-provider'), 'sim-a');
    assert.equal(s.headers.get('x-llmgw-attempts'), '1');
    assert.match(s.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
    // Every event is a `data: ` line and the stream ends with [DONE].
    for (const block of s.raw.trim().split('\n\n')) {
      assert.match(block, /^data: /);
    }
    assert.ok(s.events.length >= 4, `events: ${s.events.length}`);
    assert.equal(s.events.at(-1), '[DONE]');
    assert.equal(s.events.filter((e) => e === '[DONE]').length, 1);
    const chunks = s.events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.model, 'upstream-model-a');
      assert.equal(c.id, chunks[0].id, 'one stream, one id');
    }
    assert.equal(deltaText(s.events), plain.json.choices[0].message.content);
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  test('no usage chunk unless the client asked; the gateway still asks upstream', async () => {
    await sim.reset();
    const s = await streamChat(chatUrl(), { model: 'chat', stream: true, messages: [{ role: 'user', content: prompt }] }, { headers: auth });
    assert.equal(s.status, 200);
    const chunks = s.events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    assert.ok(chunks.every((c) => Array.isArray(c.choices) && c.choices.length > 0), 'no choices:[] chunk');
    assert.ok(chunks.every((c) => !c.usage), 'no usage numbers in any chunk');
    // SPEC §4: the gateway asks for usage on the client's behalf (to count tokens) ...
    const up = (await sim.stats()).last_request.body;
    assert.equal(up.stream_options?.include_usage, true);
    // ... and counts them: the access log has the sim's token counts for this stream.
    const rid = s.headers.get('x-request-id');
    const line = await waitForLog(rid);
    assert.ok(line.tokens_out > 0, JSON.stringify(line));
  });

  test('usage chunk (choices: []) present when stream_options.include_usage is set', async () => {
    const s = await streamChat(chatUrl(), {
      model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: prompt }],
    }, { headers: auth });
    assert.equal(s.status, 200);
    assert.equal(s.events.at(-1), '[DONE]');
    const chunks = s.events.slice(0, -1).map((e) => JSON.parse(e));
    const usageChunks = chunks.filter((c) => Array.isArray(c.choices) && c.choices.length === 0);
    assert.equal(usageChunks.length, 1);
    assert.equal(usageChunks[0], chunks.at(-1), 'the usage chunk is the last before [DONE]');
    const u = usageChunks[0].usage;
    assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  });
});

async function waitForLog(requestId) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const line = gw.accessLog().find((l) => l.request_id === requestId);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no access log line for ${requestId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('legacy completions and embeddings', () => {
  test('/v1/completions is proxied', async () => {
    await sim.reset();
    const r = await postJson(`${gw.url}/v1/completions`, { model: 'legacy', prompt: 'complete this sentence' }, { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'text_completion');
    assert.equal(r.json.choices[0].text, '[sim-a] complete this sentence');
    assert.equal(r.headers.get('x-llmgw-model'), 'sim-instruct');
    const up = (await sim.stats()).last_request;
    assert.equal(up.path, '/v1/completions');
    assert.equal(up.body.model, 'sim-instruct');
  });

  test('/v1/completions streaming', async () => {
    const s = await streamChat(`${gw.url}/v1/completions`, { model: 'legacy', prompt: 'stream the legacy way', stream: true }, { headers: auth });
    assert.equal(s.status, 200);
    assert.equal(s.events.at(-1), '[DONE]');
    const text = s.events.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.text ?? '').join('');
    assert.equal(text, '[sim-a] stream the legacy way');
  });

  test('/v1/embeddings float and base64 agree', async () => {
    const input = ['the quick brown fox', 'jumps over'];
    const f = await postJson(`${gw.url}/v1/embeddings`, { model: 'embed', input, encoding_format: 'float' }, { headers: auth });
    assert.equal(f.status, 200, f.text);
    assert.equal(f.json.object, 'list');
    assert.equal(f.json.data.length, 2);
    assert.equal(f.headers.get('x-llmgw-model'), 'sim-embed-1');
    const b = await postJson(`${gw.url}/v1/embeddings`, { model: 'embed', input, encoding_format: 'base64' }, { headers: auth });
    assert.equal(b.status, 200, b.text);
    for (let i = 0; i < input.length; i++) {
      const floats = f.json.data[i].embedding;
      assert.ok(Array.isArray(floats) && floats.length > 0);
      const enc = b.json.data[i].embedding;
      assert.equal(typeof enc, 'string');
      const buf = Buffer.from(enc, 'base64');
      assert.equal(buf.length, floats.length * 4);
      const decoded = Array.from({ length: floats.length }, (_, k) => buf.readFloatLE(k * 4));
      assert.deepEqual(decoded, floats.map((x) => Math.fround(x)));
    }
    // Different inputs, different vectors.
    assert.notDeepEqual(f.json.data[0].embedding, f.json.data[1].embedding);
  });
});

describe('models and health', () => {
  test('GET /v1/models lists the configured models', async () => {
    const res = await gw.fetch('/v1/models', { headers: auth });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((m) => m.id).sort(), ['chat', 'embed', 'legacy']);
    assert.ok(body.data.every((m) => m.object === 'model'));
  });

  test("GET /v1/models respects a key's models allowlist", async () => {
    const res = await gw.fetch('/v1/models', { headers: { authorization: `Bearer ${LIMITED_KEY}` } });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).data.map((m) => m.id), ['chat']);
    const hidden = await gw.fetch('/v1/models/embed', { headers: { authorization: `Bearer ${LIMITED_KEY}` } });
    assert.equal(hidden.status, 404);
  });

  test('GET /v1/models needs a key', async () => {
    const res = await gw.fetch('/v1/models');
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'invalid_api_key');
  });

  test('GET /v1/models/{id}', async () => {
    const res = await gw.fetch('/v1/models/chat', { headers: auth });
    assert.equal(res.status, 200);
    const m = await res.json();
    assert.equal(m.id, 'chat');
    assert.equal(m.object, 'model');
    const missing = await gw.fetch('/v1/models/no-such-model', { headers: auth });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, 'model_not_found');
  });

  test('/healthz and /readyz answer 200 without a key', async () => {
    const h = await gw.fetch('/healthz');
    assert.equal(h.status, 200);
    assert.equal((await h.json()).status, 'ok');
    const r = await gw.fetch('/readyz');
    assert.equal(r.status, 200);
    assert.equal((await r.json()).status, 'ready');
  });
});

describe('readiness without routes', () => {
  test('/readyz is 503 with a reason when no model is configured; /healthz still 200', async () => {
    const empty = await startGateway({ auth: { required: false } });
    const r = await empty.fetch('/readyz');
    assert.equal(r.status, 503);
    const body = await r.json();
    assert.match(body.reason, /no models/);
    assert.equal((await empty.fetch('/healthz')).status, 200);
  });
});

describe('HTTP behaviour', () => {
  test('40 concurrent requests (plain and streamed) each get their own answer', async () => {
    const jobs = Array.from({ length: 40 }, (_, i) => {
      const content = `concurrent request number ${i} with some padding words`;
      const rid = `conc-${i}`;
      if (i % 2 === 0) {
        return postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content }] }, { headers: { ...auth, 'x-request-id': rid } })
          .then((r) => ({ i, rid, content, status: r.status, got: r.json?.choices?.[0]?.message?.content, ridBack: r.headers.get('x-request-id') }));
      }
      return streamChat(chatUrl(), { model: 'chat', stream: true, messages: [{ role: 'user', content }] }, { headers: { ...auth, 'x-request-id': rid } })
        .then((s) => ({ i, rid, content, status: s.status, got: s.events.at(-1) === '[DONE]' ? deltaText(s.events) : `<no DONE> ${s.raw}`, ridBack: s.headers?.get('x-request-id') }));
    });
    const results = await Promise.all(jobs);
    for (const r of results) {
      assert.equal(r.status, 200, `request ${r.i}`);
      assert.equal(r.got, `[sim-a] ${r.content}`, `request ${r.i} got someone else's answer`);
      assert.equal(r.ridBack, r.rid);
    }
  });

  test('non-ASCII text survives both paths byte for byte', async () => {
    const content = 'héllo wörld — 你好，世界 🌍🚀 ünïcödé';
    const plain = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content }] }, { headers: auth });
    assert.equal(plain.json.choices[0].message.content, `[sim-a] ${content}`);
    const s = await streamChat(chatUrl(), { model: 'chat', stream: true, messages: [{ role: 'user', content }] }, { headers: auth });
    assert.equal(deltaText(s.events), `[sim-a] ${content}`);
  });

  test('a large response body (embeddings, 8 x 4096 dims) passes intact', async () => {
    const input = Array.from({ length: 8 }, (_, i) => `text ${i}`);
    const r = await postJson(`${gw.url}/v1/embeddings`, { model: 'embed', input, dimensions: 4096 }, { headers: auth });
    assert.equal(r.status, 200);
    assert.ok(r.text.length > 200_000, `body ${r.text.length} bytes`);
    assert.equal(r.json.data.length, 8);
    assert.ok(r.json.data.every((d) => d.embedding.length === 4096));
  });

  test('an invalid client x-request-id is replaced by a generated one', async () => {
    const r = await postJson(chatUrl(), { model: 'chat', messages: [{ role: 'user', content: 'x' }] }, { headers: { ...auth, 'x-request-id': 'x'.repeat(300) } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  });

  test('keep-alive pipelining: two requests in one write, two answers in order', async () => {
    const req = (id) => `GET /v1/models/${id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${GW_KEY}\r\n\r\n`;
    const res = await rawRequest(gw.port, req('chat') + req('embed') + 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeout: 3000 });
    assert.equal(res.how, 'closed', 'Connection: close is honoured');
    const statuses = [...res.received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200']);
    assert.ok(res.received.indexOf('"id":"chat"') < res.received.indexOf('"id":"embed"'));
  });

  test('Expect: 100-continue is answered before the body is sent', async () => {
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'continue please' }] });
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${GW_KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    const net = await import('node:net');
    const got = await new Promise((resolve, reject) => {
      const sock = net.connect(gw.port, '127.0.0.1');
      let buf = '';
      let sentBody = false;
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`timeout; got ${JSON.stringify(buf)}`)); }, 3000);
      sock.on('connect', () => sock.write(head));
      sock.on('data', (d) => {
        buf += d.toString();
        if (!sentBody && /^HTTP\/1\.1 100 /.test(buf)) {
          sentBody = true;
          sock.write(body);
        }
      });
      sock.on('close', () => { clearTimeout(timer); resolve(buf); });
      sock.on('error', reject);
    });
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.match(got, /\[sim-a\] continue please/);
  });

  test('the admin API is not served on the main port, nor the API on the admin port', async () => {
    for (const p of ['/metrics', '/admin/config']) {
      const res = await gw.fetch(p, { headers: auth });
      assert.equal(res.status, 404, `${p} on the main listener`);
      await res.text();
    }
    const reload = await gw.fetch('/admin/reload', { method: 'POST', headers: auth });
    assert.equal(reload.status, 404);
    await reload.text();
    const api = await gw.admin('/v1/chat/completions', { method: 'POST', body: '{}' });
    assert.equal(api.status, 404);
    await api.text();
  });
});
