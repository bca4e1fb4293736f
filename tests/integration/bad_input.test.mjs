// Hostile and broken input: validation errors with the JSON path at fault, auth errors, size
// limits, malformed HTTP, slowloris — and the daemon keeps serving everyone else throughout.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  deltaText, postJson, rawRequest, sha256, simProvider, startGateway, startSim, streamChat,
} from './lib/harness.mjs';

const KEY = 'gw-bad-input-key-0001';
const LIMITED = 'gw-bad-input-limited-0002';

let sim;
let gw;
const auth = { authorization: `Bearer ${KEY}` };

before(async () => {
  sim = await startSim({ name: 'bi-sim' });
  gw = await startGateway({
    server: { max_body_bytes: '1KiB', max_header_bytes: '2KiB', read_timeout: '500ms', idle_timeout: '1200ms' },
    providers: [simProvider(sim)],
    models: [
      { name: 'chat', targets: [{ provider: 'bi-sim', model: 'm' }] },
      { name: 'other', targets: [{ provider: 'bi-sim', model: 'o' }] },
    ],
    keys: [
      { name: 'full', sha256: sha256(KEY) },
      { name: 'limited', sha256: sha256(LIMITED), models: ['other'] },
    ],
    auth: { required: true },
  });
});

const url = () => `${gw.url}/v1/chat/completions`;
const ok = { model: 'chat', messages: [{ role: 'user', content: 'fine' }] };

function assertOpenAiError(r, status, code, param) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(r.json?.error, `OpenAI error body expected: ${r.text}`);
  const e = r.json.error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(e.code, code);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.type, 'string');
  if (param !== undefined) assert.equal(e.param, param);
}

describe('request validation', () => {
  test('invalid JSON -> 400 invalid_request', async () => {
    const r = await postJson(url(), '{"model": "chat", "messages": [', { headers: auth });
    assertOpenAiError(r, 400, 'invalid_request');
    assert.equal(r.json.error.type, 'invalid_request_error');
  });

  test('a JSON array body -> 400', async () => {
    assertOpenAiError(await postJson(url(), '[1,2,3]', { headers: auth }), 400, 'invalid_request');
  });

  test('missing messages -> 400 with param "messages"', async () => {
    assertOpenAiError(await postJson(url(), { model: 'chat' }, { headers: auth }), 400, 'invalid_request', 'messages');
  });

  test('missing model -> 400 with param "model"', async () => {
    assertOpenAiError(await postJson(url(), { messages: ok.messages }, { headers: auth }), 400, 'invalid_request', 'model');
  });

  test('wrong role -> param "messages[0].role"', async () => {
    const r = await postJson(url(), { model: 'chat', messages: [{ role: 'wizard', content: 'x' }] }, { headers: auth });
    assertOpenAiError(r, 400, 'invalid_request', 'messages[0].role');
  });

  test('bad nested field -> its JSON path', async () => {
    const r = await postJson(url(), { model: 'chat', messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 42 }] }, { headers: auth });
    assertOpenAiError(r, 400, 'invalid_request', 'messages[1].content');
    const t = await postJson(url(), { ...ok, temperature: 7 }, { headers: auth });
    assertOpenAiError(t, 400, 'invalid_request', 'temperature');
  });

  test('nothing invalid reached the upstream', async () => {
    await sim.reset();
    await postJson(url(), { model: 'chat', messages: [] }, { headers: auth });
    await postJson(url(), 'not json', { headers: auth });
    assert.equal((await sim.stats()).requests, 0);
  });

  test('unknown model -> 404 model_not_found', async () => {
    const r = await postJson(url(), { ...ok, model: 'gpt-17-ultra' }, { headers: auth });
    assertOpenAiError(r, 404, 'model_not_found', 'model');
    assert.match(r.json.error.message, /gpt-17-ultra/);
  });
});

describe('auth', () => {
  test('missing key -> 401 invalid_api_key', async () => {
    assertOpenAiError(await postJson(url(), ok), 401, 'invalid_api_key');
  });

  test('wrong key -> 401', async () => {
    assertOpenAiError(await postJson(url(), ok, { headers: { authorization: 'Bearer nope-not-a-key' } }), 401, 'invalid_api_key');
  });

  test('malformed authorization header -> 401', async () => {
    assertOpenAiError(await postJson(url(), ok, { headers: { authorization: `Basic ${KEY}` } }), 401, 'invalid_api_key');
  });

  test('key not allowed the model -> 403 model_not_allowed', async () => {
    const r = await postJson(url(), ok, { headers: { authorization: `Bearer ${LIMITED}` } });
    assertOpenAiError(r, 403, 'model_not_allowed', 'model');
    const allowed = await postJson(url(), { ...ok, model: 'other' }, { headers: { authorization: `Bearer ${LIMITED}` } });
    assert.equal(allowed.status, 200, allowed.text);
  });

  test('key as x-api-key also works', async () => {
    const r = await postJson(url(), ok, { headers: { 'x-api-key': KEY } });
    assert.equal(r.status, 200, r.text);
  });
});

describe('routes and limits', () => {
  test('unknown path -> 404 OpenAI body', async () => {
    const res = await gw.fetch('/v1/nonexistent', { headers: auth });
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.error.code, 'not_found');
  });

  test('GET on /v1/chat/completions -> 405', async () => {
    const res = await gw.fetch('/v1/chat/completions', { headers: auth });
    assert.equal(res.status, 405);
    assert.equal((await res.json()).error.code, 'method_not_allowed');
  });

  test('POST on /v1/models -> 405', async () => {
    const res = await gw.fetch('/v1/models', { method: 'POST', headers: auth, body: '{}' });
    assert.equal(res.status, 405);
  });

  test('body over max_body_bytes (1KiB) -> 413 request_too_large', async () => {
    const big = { ...ok, messages: [{ role: 'user', content: 'x'.repeat(4096) }] };
    const r = await postJson(url(), big, { headers: auth });
    assertOpenAiError(r, 413, 'request_too_large');
    // Just under the limit is fine.
    const small = { ...ok, messages: [{ role: 'user', content: 'y'.repeat(800) }] };
    assert.equal((await postJson(url(), small, { headers: auth })).status, 200);
  });

  test('chunked body over the limit -> 413', async () => {
    const body = JSON.stringify({ ...ok, messages: [{ role: 'user', content: 'z'.repeat(3000) }] });
    const raw = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const res = await rawRequest(gw.port, raw, { timeout: 3000 });
    assert.match(res.received, /^HTTP\/1\.1 413/);
    assert.match(res.received, /request_too_large/);
  });

  test('headers over max_header_bytes (2KiB) -> 431', async () => {
    const r = await postJson(url(), ok, { headers: { ...auth, 'x-padding': 'p'.repeat(4096) } });
    assert.equal(r.status, 431, r.text);
    assert.equal(r.json?.error?.code, 'request_header_fields_too_large');
  });
});

describe('malformed HTTP and slow clients', () => {
  const assert400 = (res) => {
    assert.match(res.received, /^HTTP\/1\.1 400 /, `got: ${JSON.stringify(res.received)} (${res.how})`);
    const body = JSON.parse(res.received.slice(res.received.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error.code, 'invalid_request');
    assert.match(body.error.message, /Malformed HTTP request/);
    assert.match(res.received, /connection: close/i);
    assert.equal(res.how, 'closed', 'and the connection is closed');
  };

  test('garbage instead of a request line -> 400 and close', async () => {
    assert400(await rawRequest(gw.port, 'GARBAGE\r\n\r\n', { timeout: 3000 }));
  });

  test('a TLS ClientHello on the plain port -> 400 and close', async () => {
    assert400(await rawRequest(gw.port, Buffer.from('160301020001000001fc0303', 'hex').toString('latin1'), { timeout: 3000 }));
  });

  test('bad HTTP version, bad header line -> 400', async () => {
    assert400(await rawRequest(gw.port, 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', { timeout: 3000 }));
    assert400(await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nNo Colon Here\r\n\r\n', { timeout: 3000 }));
  });

  test('control bytes in the request line -> answered or closed, never a hang', async () => {
    const res = await rawRequest(gw.port, 'HELLO THERE \x01\x02\r\n\r\n', { timeout: 3000 });
    assert.equal(res.how, 'closed');
    if (res.received) assert.match(res.received, /^HTTP\/1\.1 400/);
  });

  test('broken chunked framing -> 400', async () => {
    const raw = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n`;
    assert400(await rawRequest(gw.port, raw, { timeout: 3000 }));
  });

  test('conflicting Content-Length headers (request smuggling shape) -> 400', async () => {
    const raw = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello';
    assert400(await rawRequest(gw.port, raw, { timeout: 3000 }));
  });

  test('slowloris: half a header then silence is cut off after read_timeout (500ms)', async () => {
    const res = await rawRequest(gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: aaa', { timeout: 5000 });
    assert.equal(res.how, 'closed', `connection state: ${res.how}`);
    assert.ok(res.elapsed >= 400 && res.elapsed < 2500, `closed after ${res.elapsed}ms`);
  });

  test('slow body: headers complete, body stalls, cut off after read_timeout', async () => {
    const raw = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: 200\r\n\r\n{"model":`;
    const res = await rawRequest(gw.port, raw, { timeout: 5000 });
    assert.equal(res.how, 'closed');
    assert.ok(res.elapsed >= 400 && res.elapsed < 2500, `closed after ${res.elapsed}ms`);
  });

  test('an idle keep-alive connection is closed after idle_timeout (1200ms), not read_timeout', async () => {
    const res = await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 5000 });
    assert.match(res.received, /^HTTP\/1\.1 200 /);
    assert.equal(res.how, 'closed');
    assert.ok(res.elapsed >= 1000 && res.elapsed < 3500, `closed after ${res.elapsed}ms`);
    const silent = await rawRequest(gw.port, '', { timeout: 5000 });
    assert.equal(silent.how, 'closed');
    assert.ok(silent.elapsed >= 1000 && silent.elapsed < 3500, `silent connection closed after ${silent.elapsed}ms`);
  });

  test('malformed requests running alongside a good stream do not harm it', async () => {
    await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 80 });
    try {
      const words = Array.from({ length: 12 }, (_, i) => `ok${i}`).join(' ');
      const good = streamChat(url(), { model: 'chat', stream: true, messages: [{ role: 'user', content: words }] }, { headers: auth });
      const noise = [];
      for (let i = 0; i < 4; i++) {
        noise.push(rawRequest(gw.port, `BOGUS\x00${i}\r\n\r\n`, { timeout: 3000 }));
        noise.push(rawRequest(gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{', { timeout: 3000 }));
        noise.push(postJson(url(), '{{{{', { headers: auth }));
        noise.push(postJson(url(), ok, { headers: { ...auth, 'x-big': 'b'.repeat(5000) } }).catch((e) => e));
      }
      const [s] = await Promise.all([good, Promise.all(noise)]);
      assert.ifError(s.error);
      assert.equal(s.status, 200);
      assert.equal(s.events.at(-1), '[DONE]');
      assert.equal(deltaText(s.events), `[bi-sim] ${words}`);
    } finally {
      await sim.fault({ mode: 'none' });
    }
  });

  test('after all of that the daemon still serves normally', async () => {
    assert.equal(gw.proc.exitCode, null, 'gateway process still running');
    assert.equal(gw.proc.signalCode, null);
    const r = await postJson(url(), { model: 'chat', messages: [{ role: 'user', content: 'What is 6 * 7?' }] }, { headers: auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '42');
    const h = await gw.fetch('/healthz');
    assert.equal(h.status, 200);
  });
});
