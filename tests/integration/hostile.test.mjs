// Hostile input, end to end: deep JSON, oversized trailers, odd-but-valid and wrong-typed fields,
// descriptor exhaustion (EMFILE), upstreams answering 200 with something unusable (gzip, empty,
// wrong shape, truncated, deep), request smuggling shapes, 413/401 read by SDK-style clients,
// drain cutting streams, and a handful of smaller abuses. Every case checks the exact answer,
// that another client is served while it happens (a slow stream started before it completes,
// with no stall), that a normal request is served right after, and that the daemon is alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  LLMGW_BIN, baseConfig, cpuSeconds, deltaText, makeTmpDir, metricValue, openFdCount, postJson,
  rawHttp, rawRequest, sha256, simProvider, sseData, startGateway, startSim, streamChat, toYaml,
  waitFor,
} from './lib/harness.mjs';

const KEY = 'sk-llmgw-hostile-key-000000001';
const AUTH = { authorization: `Bearer ${KEY}` };
const ADMIN_TOKEN = 'hostile-admin-token-0123456789abcdef';
const ANTHROPIC = { 'anthropic-version': '2023-06-01' };
const DEEP = 100_000;
const BYSTANDER_DELAY_MS = 20;
// HOSTILE_DEBUG=1 prints what each case observed (as TAP comments).
const dbg = (...args) => { if (process.env.HOSTILE_DEBUG) console.log('[hostile]', ...args); };

let simA; // primary target: gets the faults
let simB; // healthy secondary
let simBy; // the bystander's upstream: every stream is slow
let simOk; // always healthy: the "afterwards" requests
let gw; // the shared gateway (groups without special settings)
let accessLogPath;

const keys = [{ name: 'hostile', sha256: sha256(KEY) }];
const retry = { attempts: 2, backoff: { base: '10ms', max: '20ms' } };

// Models every gateway here has: "chat" (always healthy) and "slow" (the bystander's stream).
const commonModels = () => [
  { name: 'chat', targets: [{ provider: 'h-ok', model: 'ok' }] },
  { name: 'slow', targets: [{ provider: 'h-by', model: 'by' }] },
];

before(async () => {
  [simA, simB, simBy, simOk] = await Promise.all([
    startSim({ name: 'h-a' }),
    startSim({ name: 'h-b' }),
    startSim({ name: 'h-by' }),
    startSim({ name: 'h-ok' }),
  ]);
  // Streams trickle; a non-stream answer is immediate (delay_ms 0).
  await simBy.fault({ mode: 'slow_chunks', chunk_delay_ms: BYSTANDER_DELAY_MS, delay_ms: 0 });
  accessLogPath = path.join(makeTmpDir('llmgw-hostile-log-'), 'access.log');
  gw = await startGateway({
    server: { max_body_bytes: '1MiB' },
    logging: { access_log: accessLogPath },
    providers: [simProvider(simA), simProvider(simB), simProvider(simBy), simProvider(simOk)],
    models: [
      ...commonModels(),
      { name: 'pair', targets: [{ provider: 'h-a', model: 'model-a' }, { provider: 'h-b', model: 'model-b' }], retry },
      { name: 'solo', targets: [{ provider: 'h-a', model: 'model-a' }], retry: { attempts: 1 } },
    ],
    keys,
    auth: { required: true },
  });
});

// ---------------------------------------------------------------------------------------------
// Shared checks: another client served meanwhile, a normal request afterwards, still alive
// ---------------------------------------------------------------------------------------------

function assertAlive(g) {
  assert.equal(g.proc.exitCode, null, `gateway exited (code ${g.proc.exitCode})\n${g.stderr.text().slice(-2000)}`);
  assert.equal(g.proc.signalCode, null, `gateway killed by ${g.proc.signalCode}\n${g.stderr.text().slice(-2000)}`);
}

/**
 * Starts a slow stream (the bystander) on `g`, waits for its first event, runs `fn` (the hostile
 * part), then requires the stream to complete correctly, to have received events after `fn`
 * began, and never to have stalled (the single worker thread kept serving it).
 */
async function withBystander(g, fn, { words = 15, maxGapMs = 2000 } = {}) {
  const text = Array.from({ length: words }, (_, i) => `by${i}`).join(' ');
  const times = [];
  const streaming = streamChat(`${g.url}/v1/chat/completions`,
    { model: 'slow', stream: true, messages: [{ role: 'user', content: text }] },
    { headers: AUTH, timeout: 30_000, onEvent: () => { times.push(Date.now()); } });
  await waitFor(() => times.length > 0, { timeout: 5000, what: 'the bystander stream to start' });
  const t0 = Date.now();
  let result;
  let failure;
  try {
    result = await fn();
  } catch (e) {
    failure = e;
  }
  const s = await streaming;
  if (failure) throw failure;
  assert.ifError(s.error);
  assert.equal(s.status, 200, 'bystander stream status');
  assert.equal(s.events.at(-1), '[DONE]', `the bystander stream completed:\n${s.raw.slice(-500)}`);
  assert.equal(deltaText(s.events), `[h-by] ${text}`, 'the bystander got its whole answer');
  assert.ok(times.some((t) => t >= t0), 'the bystander was still being served while the hostile input ran');
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  const worst = Math.max(0, ...gaps);
  dbg(`bystander: ${times.length} events, ${times.filter((t) => t >= t0).length} after the hostile input began, worst gap ${worst}ms`);
  assert.ok(worst < maxGapMs, `the bystander stalled for ${worst}ms`);
  return result;
}

/** The daemon is alive and a normal chat request right now gets its 200. */
async function assertServesAfter(g) {
  assertAlive(g);
  const r = await postJson(`${g.url}/v1/chat/completions`,
    { model: 'chat', messages: [{ role: 'user', content: 'What is 6 * 7?' }] }, { headers: AUTH, timeout: 5000 });
  assert.equal(r.status, 200, `normal request afterwards: ${r.text}`);
  assert.equal(r.json.choices[0].message.content, '42');
  assertAlive(g);
}

/** The hostile part runs beside a bystander stream; a normal request follows. */
async function hostile(g, fn, opts) {
  const result = await withBystander(g, fn, opts);
  await assertServesAfter(g);
  return result;
}

function assertOpenAiError(r, status, code, paramPrefix) {
  assert.equal(r.status, status, `status (body: ${r.text?.slice(0, 600)})`);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(r.json?.error, `OpenAI error body expected: ${r.text?.slice(0, 600)}`);
  assert.equal(r.json.error.code, code, r.text.slice(0, 600));
  assert.equal(typeof r.json.error.message, 'string');
  if (paramPrefix !== undefined) {
    assert.equal(typeof r.json.error.param, 'string', `param: ${r.text.slice(0, 600)}`);
    assert.ok(r.json.error.param.startsWith(paramPrefix), `param ${JSON.stringify(r.json.error.param)} starts with ${paramPrefix}`);
  }
}

function assertAnthropicError(r, status, type) {
  assert.equal(r.status, status, `status (body: ${r.text?.slice(0, 600)})`);
  assert.equal(r.json?.type, 'error', `Anthropic error body expected: ${r.text?.slice(0, 600)}`);
  assert.equal(r.json.error.type, type);
  assert.equal(typeof r.json.error.message, 'string');
}

const chatUrl = (g) => `${g.url}/v1/chat/completions`;
const user = (content) => [{ role: 'user', content }];
const okMessages = JSON.stringify(user('hi'));
const deepArray = (n) => '['.repeat(n) + ']'.repeat(n);
// An object value whose nesting (itself included) is `n` levels.
const nestedObject = (n) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);

/** The access log line (JSON, from the file) for a request id, once written. */
function accessLogLine(file, requestId) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.includes(requestId)) continue;
    try {
      const j = JSON.parse(line);
      if (j.request_id === requestId) return { line, json: j };
    } catch {
      // a partial line
    }
  }
  return undefined;
}

/** Counts HTTP/1.x status lines in raw response bytes. */
const statusLines = (raw) => [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));

function rawBody(received) {
  const at = received.indexOf('\r\n\r\n');
  return at < 0 ? '' : received.slice(at + 4);
}

// ---------------------------------------------------------------------------------------------
// 1. Deep JSON
// ---------------------------------------------------------------------------------------------

describe('deep JSON in the request body', () => {
  const deep = deepArray(DEEP);
  const openaiCases = [
    ['messages[0].content', '/v1/chat/completions', `{"model":"chat","messages":[{"role":"user","content":${deep}}]}`],
    ['metadata', '/v1/chat/completions', `{"model":"chat","messages":${okMessages},"metadata":{"k":${deep}}}`],
    ['zz_unknown_field', '/v1/chat/completions', `{"model":"chat","messages":${okMessages},"zz_unknown_field":${deep}}`],
    ['tools[0].function.parameters', '/v1/chat/completions',
      `{"model":"chat","messages":${okMessages},"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":${deep}}}}]}`],
    ['input', '/v1/embeddings', `{"model":"chat","input":${deep}}`],
  ];
  for (const [where, route, body] of openaiCases) {
    test(`${DEEP} levels in ${where} (${route}) -> 400 invalid_request naming the path`, async () => {
      assert.ok(body.length > 200_000 && body.length < 1 << 20, `body ${body.length} bytes, under max_body_bytes`);
      const r = await hostile(gw, () => postJson(`${gw.url}${route}`, body, { headers: AUTH, timeout: 10_000 }));
      dbg(`${where}: ${r.text.slice(0, 300)}`);
      assertOpenAiError(r, 400, 'invalid_request', where);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, /nests deeper than 128 levels/);
    });
  }

  const anthropicCases = [
    ['tools[0].input_schema',
      `{"model":"chat","max_tokens":10,"tools":[{"name":"t","input_schema":{"type":"object","x":${deep}}}],"messages":${okMessages}}`],
    ['messages[1].content[0].input',
      `{"model":"chat","max_tokens":10,"messages":[{"role":"user","content":"hi"},` +
      `{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":{"x":${deep}}}]},` +
      `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]}`],
  ];
  for (const [where, body] of anthropicCases) {
    test(`/v1/messages: ${DEEP} levels in ${where} -> 400 in Anthropic shape`, async () => {
      const r = await hostile(gw, () => postJson(`${gw.url}/v1/messages`, body, { headers: { ...AUTH, ...ANTHROPIC }, timeout: 10_000 }));
      dbg(`${where}: ${r.text.slice(0, 300)}`);
      assertAnthropicError(r, 400, 'invalid_request_error');
      assert.match(r.json.error.message, /nests deeper than 128 levels/);
      assert.ok(r.json.error.message.includes(where), `the message names ${where}: ${r.json.error.message}`);
    });
  }

  test('exactly 128 levels (metadata) is accepted; 129 is refused', async () => {
    const body = (depth) => `{"model":"chat","messages":${okMessages},"metadata":${nestedObject(depth - 1)}}`;
    const [ok, tooDeep] = await hostile(gw, async () => [
      await postJson(chatUrl(gw), body(128), { headers: AUTH }),
      await postJson(chatUrl(gw), body(129), { headers: AUTH }),
    ]);
    assert.equal(ok.status, 200, `depth 128: ${ok.text.slice(0, 600)}`);
    assertOpenAiError(tooDeep, 400, 'invalid_request', 'metadata');
    assert.match(tooDeep.json.error.message, /deeper than 128 levels/);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Oversized chunked trailers
// ---------------------------------------------------------------------------------------------

const trailerRequest = (trailerBytes) =>
  'POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
  `0\r\nX-T: ${'x'.repeat(trailerBytes)}\r\n\r\n`;

function assert431OrClosed(res, what) {
  dbg(`${what}: how=${res.how} elapsed=${res.elapsed}ms received=${JSON.stringify(res.received.slice(0, 120))}`);
  assert.notEqual(res.how, 'timeout', `${what}: the connection is not left hanging`);
  if (res.received) {
    assert.match(res.received, /^HTTP\/1\.1 431 /, `${what}: ${res.received.slice(0, 300)}`);
    assert.equal(JSON.parse(rawBody(res.received)).error.code, 'request_header_fields_too_large');
  } else {
    assert.match(res.how, /^(closed|error:ECONNRESET|error:EPIPE)$/, `${what}: ${res.how}`);
  }
}

describe('chunked request with a huge trailer', () => {
  test('70000-byte trailer on the main listener -> 431 or closed', async () => {
    const res = await hostile(gw, () => rawRequest(gw.port, trailerRequest(70_000), { timeout: 5000 }));
    assert431OrClosed(res, 'main');
  });

  test('70000-byte trailer on the admin listener -> 431 or closed', async () => {
    const res = await hostile(gw, () => rawRequest(gw.adminPort, trailerRequest(70_000), { timeout: 5000 }));
    assert431OrClosed(res, 'admin');
    const h = await gw.admin('/healthz', { timeout: 3000 });
    assert.equal(h.status, 200, 'the admin listener serves on');
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Null and wrong-typed fields
// ---------------------------------------------------------------------------------------------

describe('null and wrong-typed fields', () => {
  for (const [route, body] of [
    ['/v1/chat/completions', { model: 'chat', messages: user('stream null chat'), stream: null }],
    ['/v1/completions', { model: 'chat', prompt: 'stream null completion', stream: null }],
  ]) {
    test(`"stream": null on ${route} -> 200 (not streamed) promptly, access-logged`, async () => {
      const id = `hostile-stream-null-${route.replace(/\W/g, '')}-${Date.now()}`;
      const t0 = Date.now();
      const r = await hostile(gw, () => postJson(`${gw.url}${route}`, body, { headers: { ...AUTH, 'x-request-id': id }, timeout: 5000 }));
      const took = Date.now() - t0;
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/, 'a JSON answer, not a stream');
      assert.ok(r.json, 'the body parses as JSON');
      assert.ok(took < 4000, `answered in ${took}ms`);
      await waitFor(() => accessLogLine(accessLogPath, id), { timeout: 3000, what: `access log line for ${id}` });
      const { json } = accessLogLine(accessLogPath, id);
      assert.equal(json.status, 200);
      assert.equal(json.stream, false);
    });
  }

  test('"stream": "yes" -> 400 param stream; "n": null OK; "max_tokens": "5" -> 400; "stream_options": 5 -> 400', async () => {
    const [yes, nNull, maxTokens, streamOptions] = await hostile(gw, async () => [
      await postJson(chatUrl(gw), { model: 'chat', messages: user('x'), stream: 'yes' }, { headers: AUTH }),
      await postJson(chatUrl(gw), { model: 'chat', messages: user('n null'), n: null }, { headers: AUTH }),
      await postJson(chatUrl(gw), { model: 'chat', messages: user('x'), max_tokens: '5' }, { headers: AUTH }),
      await postJson(chatUrl(gw), { model: 'chat', messages: user('x'), stream: true, stream_options: 5 }, { headers: AUTH }),
    ]);
    assertOpenAiError(yes, 400, 'invalid_request', 'stream');
    assert.equal(yes.json.error.param, 'stream');
    assert.equal(nNull.status, 200, nNull.text);
    assert.equal(nNull.json.choices[0].message.content, '[h-ok] n null');
    assertOpenAiError(maxTokens, 400, 'invalid_request', 'max_tokens');
    assert.equal(maxTokens.json.error.param, 'max_tokens');
    assertOpenAiError(streamOptions, 400, 'invalid_request', 'stream_options');
  });
});

// ---------------------------------------------------------------------------------------------
// 5 + 6. Upstreams answering 200 with something unusable
// ---------------------------------------------------------------------------------------------

describe('hostile upstream answers', () => {
  beforeEach(async () => {
    await Promise.all([simA.reset(), simB.reset()]);
    // The gateway remembers failures (cool-downs, ejections): each case starts from healthy.
    for (const name of ['h-a', 'h-b']) {
      const res = await gw.admin(`/admin/upstreams/${name}/restore`, { method: 'POST', timeout: 3000 });
      assert.equal(res.status, 200, `restore ${name}`);
    }
  });

  const TEXT = 'alpha beta gamma delta epsilon';

  test('gzip: a plain 200 chat completion (no content-encoding), asked with accept-encoding: identity', async () => {
    await simA.fault({ mode: 'gzip' });
    const res = await hostile(gw, () => rawHttp(gw.port, {
      method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: { model: 'solo', messages: user(TEXT) },
    }));
    assert.equal(res.status, 200, res.body.toString().slice(0, 300));
    assert.equal(res.headers['content-encoding'], undefined, 'not compressed towards the client');
    assert.equal(res.headers['x-llmgw-provider'], 'h-a');
    const json = JSON.parse(res.body.toString('utf8'));
    assert.equal(json.object, 'chat.completion');
    assert.equal(json.choices[0].message.content, `[h-a] ${TEXT}`);
    const last = (await simA.stats()).last_request;
    const headers = Object.fromEntries(Object.entries(last.headers).map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(headers['accept-encoding'], 'identity', `upstream request headers: ${JSON.stringify(headers)}`);
  });

  test('gzip stream: relayed as plain SSE ending in [DONE]', async () => {
    await simA.fault({ mode: 'gzip' });
    const res = await hostile(gw, () => rawHttp(gw.port, {
      method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: { model: 'solo', stream: true, messages: user(TEXT) },
    }));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.ok(res.complete, 'the stream framing ended properly');
    const events = sseData(res.body.toString('utf8'));
    assert.equal(events.at(-1), '[DONE]', res.body.toString('utf8').slice(-500));
    assert.equal(deltaText(events), `[h-a] ${TEXT}`);
  });

  const badModes = [
    ['empty', { mode: 'empty' }, false],
    ['wrong_shape', { mode: 'wrong_shape' }, false],
    ['truncated', { mode: 'truncated' }, false],
    [`deep (${DEEP})`, { mode: 'deep', depth: DEEP }, false],
    ['empty stream', { mode: 'empty' }, true],
    ['wrong_shape stream', { mode: 'wrong_shape' }, true],
    ['truncated stream before any content', { mode: 'truncated', after_chunks: 0 }, true],
    [`deep (${DEEP}) stream`, { mode: 'deep', depth: DEEP }, true],
  ];

  const badResponses = async () =>
    metricValue(await gw.metrics(), 'llmgw_upstream_requests_total', { provider: 'h-a', outcome: 'bad_response' }) ?? 0;

  /** Waits for h-a's bad_response count to pass `before`; the failure shows h-a's samples. */
  async function assertBadResponseCounted(before) {
    try {
      await waitFor(async () => (await badResponses()) > before,
        { timeout: 3000, what: 'llmgw_upstream_requests_total{provider="h-a",outcome="bad_response"} to increase' });
    } catch (e) {
      const samples = (await gw.metrics()).split('\n')
        .filter((l) => l.startsWith('llmgw_upstream_requests_total{') && l.includes('provider="h-a"'));
      throw new Error(`${e.message}; was ${before}; h-a samples now:\n${samples.join('\n')}`);
    }
  }

  for (const [what, fault, stream] of badModes) {
    test(`${what} from the primary -> correct 200 from the secondary, counted bad_response`, async () => {
      const before = await badResponses();
      await simA.fault(fault);
      const r = await hostile(gw, () => (stream
        ? streamChat(chatUrl(gw), { model: 'pair', stream: true, messages: user(TEXT) }, { headers: AUTH, timeout: 10_000 })
        : postJson(chatUrl(gw), { model: 'pair', messages: user(TEXT) }, { headers: AUTH, timeout: 10_000 })));
      assert.equal(r.status, 200, r.text ?? r.raw);
      assert.equal(r.headers.get('x-llmgw-provider'), 'h-b');
      if (stream) {
        assert.ifError(r.error);
        assert.equal(r.events.at(-1), '[DONE]', r.raw.slice(-500));
        assert.ok(!r.raw.includes('"error"'), r.raw.slice(0, 500));
        assert.equal(deltaText(r.events), `[h-b] ${TEXT}`);
      } else {
        assert.equal(r.json.choices[0].message.content, `[h-b] ${TEXT}`);
      }
      assert.ok((await simA.stats()).requests >= 1, 'the primary was tried');
      await assertBadResponseCounted(before);
    });

    test(`${what} from the only target -> an error, never a 200 carrying it`, async () => {
      await simA.fault(fault);
      if (!stream) {
        const r = await hostile(gw, () => postJson(chatUrl(gw), { model: 'solo', messages: user(TEXT) }, { headers: AUTH, timeout: 10_000 }));
        assert.ok([502, 503].includes(r.status), `status ${r.status}: ${r.text.slice(0, 500)}`);
        assert.ok(r.json?.error?.code, `OpenAI error shape: ${r.text.slice(0, 500)}`);
        assert.ok(!r.text.includes('unexpected'), 'the bad body is not passed on');
        return;
      }
      const r = await hostile(gw, () => streamChat(chatUrl(gw), { model: 'solo', stream: true, messages: user(TEXT) }, { headers: AUTH, timeout: 10_000 }));
      assert.ok([502, 503].includes(r.status), `status ${r.status}: ${r.raw.slice(0, 500)}`);
      const json = JSON.parse(r.raw);
      assert.ok(json.error?.code, `OpenAI error shape: ${r.raw.slice(0, 500)}`);
    });
  }

  test('a stream truncated mid-way (after content) is continued on the secondary: one complete stream', async () => {
    const before = await badResponses();
    await simA.fault({ mode: 'truncated', after_chunks: 2 });
    const s = await hostile(gw, () => streamChat(chatUrl(gw), { model: 'pair', stream: true, messages: user(TEXT) }, { headers: AUTH, timeout: 10_000 }));
    assert.equal(s.status, 200);
    assert.ifError(s.error);
    assert.equal(s.events.at(-1), '[DONE]', s.raw.slice(-500));
    assert.ok(!s.raw.includes('"error"'), s.raw.slice(-500));
    assert.equal(deltaText(s.events), `[h-a] ${TEXT}`, 'nothing lost, nothing repeated');
    assert.ok((await simB.stats()).requests >= 1, 'the secondary continued the stream');
    await assertBadResponseCounted(before);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Smuggling and framing
// ---------------------------------------------------------------------------------------------

describe('request smuggling and framing', () => {
  const post = (headers, rest = '') =>
    `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n` +
    `Content-Type: application/json\r\n${headers}\r\n${rest}`;

  const assert400Closed = (res, what) => {
    const statuses = statusLines(res.received);
    assert.deepEqual(statuses, [400], `${what}: exactly one response, a 400 (got ${JSON.stringify(res.received.slice(0, 400))}, ${res.how})`);
    assert.equal(res.how, 'closed', `${what}: the connection is closed`);
    assert.equal(JSON.parse(rawBody(res.received)).error.code, 'invalid_request');
  };

  test('Transfer-Encoding: chunked, identity -> 400; the pipelined request behind it is not served', async () => {
    const smuggled = `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n\r\n`;
    const res = await hostile(gw, () => rawRequest(gw.port, post('Transfer-Encoding: chunked, identity\r\n', smuggled), { timeout: 3000 }));
    assert400Closed(res, 'chunked, identity');
    assert.ok(!res.received.includes('"object":"list"'), 'the model list was not served');
  });

  test('Transfer-Encoding: xchunked with Content-Length -> 400', async () => {
    const res = await hostile(gw, () => rawRequest(gw.port, post('Transfer-Encoding: xchunked\r\nContent-Length: 2\r\n', '{}'), { timeout: 3000 }));
    assert400Closed(res, 'xchunked');
  });

  test('Transfer-Encoding: chunked plus Content-Length -> 400', async () => {
    const res = await hostile(gw, () => rawRequest(gw.port, post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'), { timeout: 3000 }));
    assert400Closed(res, 'chunked + content-length');
  });

  test('obs-fold, missing Host, two Host headers -> 400', async () => {
    const [fold, noHost, twoHosts] = await hostile(gw, async () => [
      await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n', { timeout: 3000 }),
      await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', { timeout: 3000 }),
      await rawRequest(gw.port, 'GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n', { timeout: 3000 }),
    ]);
    assert400Closed(fold, 'obs-fold');
    assert400Closed(noHost, 'no Host');
    assert400Closed(twoHosts, 'two Host headers');
  });

  test('headers over max_header_bytes -> 431', async () => {
    const res = await hostile(gw, () => rawRequest(gw.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, { timeout: 3000 }));
    assert.deepEqual(statusLines(res.received), [431], res.received.slice(0, 300));
    assert.equal(JSON.parse(rawBody(res.received)).error.code, 'request_header_fields_too_large');
  });

  test('absolute-form target -> 200', async () => {
    const res = await hostile(gw, () => rawRequest(gw.port, 'GET http://localhost/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { timeout: 3000 }));
    assert.deepEqual(statusLines(res.received), [200], res.received.slice(0, 300));
  });
});

// ---------------------------------------------------------------------------------------------
// 8. 413 / 401 readable by an SDK-style client still sending its body
// ---------------------------------------------------------------------------------------------

/** POST with node's http client, the body written in chunks (as SDKs do). */
function sdkPost(port, { headers = {}, totalBytes }) {
  return new Promise((resolve) => {
    const prefix = '{"model":"chat","messages":[{"role":"user","content":"';
    const suffix = '"}]}';
    const fill = totalBytes - prefix.length - suffix.length;
    const req = httpRequest({
      host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', 'content-length': String(totalBytes), ...headers },
    });
    let settled = false;
    const done = (v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done({ error: 'timeout' }), 10_000);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => done({ status: res.statusCode, body }));
      res.on('error', (e) => done({ status: res.statusCode, error: e.code ?? e.message, body }));
    });
    req.on('error', (e) => done({ error: e.code ?? e.message }));
    const chunk = 'x'.repeat(64 * 1024);
    let left = fill;
    req.write(prefix);
    const pump = () => {
      while (!settled && left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(chunk.slice(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!settled) req.end(suffix);
    };
    pump();
  });
}

describe('413 and 401 before the body is read are readable', () => {
  const TWO_MIB = 2 * 1024 * 1024;

  test('a 2 MiB body against max_body_bytes 1MiB: 413 request_too_large, 5 times out of 5', async () => {
    const results = await hostile(gw, async () => {
      const out = [];
      for (let i = 0; i < 5; i++) out.push(await sdkPost(gw.port, { headers: AUTH, totalBytes: TWO_MIB }));
      return out;
    }, { words: 40 });
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 413, `attempt ${i + 1}: ${JSON.stringify(r).slice(0, 300)}`);
      assert.equal(r.error, undefined, `attempt ${i + 1}: ${r.error}`);
      assert.equal(JSON.parse(r.body).error.code, 'request_too_large');
    }
  });

  // Content-Length over the limit is refused from the head before the key is looked at: the
  // client reads a 413 (a 401 follows for the same client once the body fits).
  test('a wrong API key with a 2 MiB body over the limit: 413, read 5 times out of 5', async () => {
    const results = await hostile(gw, async () => {
      const out = [];
      for (let i = 0; i < 5; i++) {
        out.push(await sdkPost(gw.port, { headers: { authorization: 'Bearer sk-wrong-key-0000000000' }, totalBytes: TWO_MIB }));
      }
      return out;
    }, { words: 40 });
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 413, `attempt ${i + 1}: ${JSON.stringify(r).slice(0, 300)}`);
      assert.equal(r.error, undefined, `attempt ${i + 1}: ${r.error}`);
      assert.equal(JSON.parse(r.body).error.code, 'request_too_large');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 10. Smaller abuses (shared gateway)
// ---------------------------------------------------------------------------------------------

describe('smaller abuses', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  test('a 4 KB tracestate is not forwarded upstream; a small valid one is', async () => {
    const [big, small] = await hostile(gw, async () => {
      const bigState = `k=${'v'.repeat(4096)}`;
      const r1 = await postJson(chatUrl(gw), { model: 'chat', messages: user('big tracestate') },
        { headers: { ...AUTH, traceparent, tracestate: bigState } });
      const h1 = (await simOk.stats()).last_request.headers;
      const r2 = await postJson(chatUrl(gw), { model: 'chat', messages: user('small tracestate') },
        { headers: { ...AUTH, traceparent, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' } });
      const h2 = (await simOk.stats()).last_request.headers;
      return [{ r: r1, h: h1 }, { r: r2, h: h2 }];
    });
    const lower = (h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(big.r.status, 200, big.r.text);
    assert.equal(lower(big.h).tracestate, undefined, 'the oversized tracestate was dropped');
    assert.match(lower(big.h).traceparent ?? '', /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    assert.equal(small.r.status, 200, small.r.text);
    assert.equal(lower(small.h).tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });

  test('a duplicate key -> 400; bytes after a NUL following the JSON -> 400', async () => {
    const [dup, nul] = await hostile(gw, async () => [
      await postJson(chatUrl(gw), `{"model":"chat","model":"x","messages":${okMessages}}`, { headers: AUTH }),
      await postJson(chatUrl(gw), `{"model":"chat","messages":${okMessages}}\u0000garbage`, { headers: AUTH }),
    ]);
    assertOpenAiError(dup, 400, 'invalid_request');
    assertOpenAiError(nul, 400, 'invalid_request');
  });

  test('a chat content part of unknown type -> 400 param messages[0].content[0].type (as /v1/messages)', async () => {
    const [chat, messages] = await hostile(gw, async () => [
      await postJson(chatUrl(gw), {
        model: 'chat', messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'http://x/v.mp4' } }] }],
      }, { headers: AUTH }),
      await postJson(`${gw.url}/v1/messages`, {
        model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'video', source: {} }] }],
      }, { headers: { ...AUTH, ...ANTHROPIC } }),
    ]);
    assertOpenAiError(chat, 400, 'invalid_request');
    assert.equal(chat.json.error.param, 'messages[0].content[0].type');
    assertAnthropicError(messages, 400, 'invalid_request_error');
  });
});

// ---------------------------------------------------------------------------------------------
// 2, 1, 10 with tight limits: max_header_bytes 4KiB, max_json_depth 16, an admin token
// ---------------------------------------------------------------------------------------------

describe('tight limits and an admin token', () => {
  let tgw;
  let tightLog;

  before(async () => {
    tightLog = path.join(makeTmpDir('llmgw-hostile-tlog-'), 'access.log');
    tgw = await startGateway({
      server: { max_header_bytes: '4KiB', max_json_depth: 16, max_body_bytes: '4MiB', admin_token: ADMIN_TOKEN },
      logging: { access_log: tightLog },
      providers: [simProvider(simBy), simProvider(simOk)],
      models: commonModels(),
      keys,
      auth: { required: true },
    });
  });

  after(async () => {
    await tgw?.stop('SIGKILL').catch(() => {});
  });

  test('a 6 KB trailer with max_header_bytes 4KiB -> 431', async () => {
    const res = await hostile(tgw, () => rawRequest(tgw.port, trailerRequest(6 * 1024), { timeout: 5000 }));
    assert.notEqual(res.how, 'timeout');
    assert.match(res.received, /^HTTP\/1\.1 431 /, `${JSON.stringify(res.received.slice(0, 300))} (${res.how})`);
    assert.equal(JSON.parse(rawBody(res.received)).error.code, 'request_header_fields_too_large');
  });

  test('max_json_depth 16: 16 levels accepted, 17 refused', async () => {
    const body = (depth) => `{"model":"chat","messages":${okMessages},"metadata":${nestedObject(depth - 1)}}`;
    const [ok, tooDeep] = await hostile(tgw, async () => [
      await postJson(chatUrl(tgw), body(16), { headers: AUTH }),
      await postJson(chatUrl(tgw), body(17), { headers: AUTH }),
    ]);
    assert.equal(ok.status, 200, ok.text.slice(0, 500));
    assertOpenAiError(tooDeep, 400, 'invalid_request', 'metadata');
    assert.match(tooDeep.json.error.message, /deeper than 16 levels/);
  });

  test('a 1 MiB model name -> a short 404 with the name cut ("…"); a short access log line', async () => {
    const id = `hostile-long-model-${Date.now()}`;
    const name = 'm'.repeat(1 << 20);
    const r = await hostile(tgw, () => postJson(chatUrl(tgw), { model: name, messages: user('x') },
      { headers: { ...AUTH, 'x-request-id': id }, timeout: 10_000 }));
    assertOpenAiError(r, 404, 'model_not_found');
    assert.ok(r.text.length < 2048, `error body is ${r.text.length} bytes`);
    assert.match(r.json.error.message, /m{8,}…/, r.json.error.message);
    await waitFor(() => accessLogLine(tightLog, id), { timeout: 3000, what: 'access log line' });
    const { line } = accessLogLine(tightLog, id);
    assert.ok(line.length < 4096, `access log line is ${line.length} bytes`);
  });

  test('a wrong API key with a 2 MiB body under max_body_bytes (4MiB): 401 invalid_api_key, 5 times out of 5', async () => {
    const results = await hostile(tgw, async () => {
      const out = [];
      for (let i = 0; i < 5; i++) {
        out.push(await sdkPost(tgw.port, { headers: { authorization: 'Bearer sk-wrong-key-0000000000' }, totalBytes: 2 * 1024 * 1024 }));
      }
      return out;
    }, { words: 40 });
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 401, `attempt ${i + 1}: ${JSON.stringify(r).slice(0, 300)}`);
      assert.equal(r.error, undefined, `attempt ${i + 1}: ${r.error}`);
      assert.equal(JSON.parse(r.body).error.code, 'invalid_api_key');
    }
  });

  test('admin_token: /metrics 401 without it, 200 with it; /healthz needs none', async () => {
    const [without, wrong, withToken, health] = await hostile(tgw, async () => [
      await tgw.admin('/metrics', { timeout: 3000 }),
      await tgw.admin('/metrics', { headers: { authorization: 'Bearer not-the-admin-token-000' }, timeout: 3000 }),
      await tgw.admin('/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, timeout: 3000 }),
      await tgw.admin('/healthz', { timeout: 3000 }),
    ]);
    assert.equal(without.status, 401);
    assert.equal((await without.json()).error.code, 'invalid_api_key');
    assert.equal(wrong.status, 401);
    assert.equal(withToken.status, 200);
    assert.match(await withToken.text(), /llmgw_requests_total|# HELP/);
    assert.equal(health.status, 200);
  });
});

describe('admin_listen off loopback without admin_token', () => {
  test('--check-config exits 1 naming server.admin_listen; the daemon refuses to start', () => {
    const dir = makeTmpDir('llmgw-hostile-cfg-');
    const file = path.join(dir, 'llmgw.yaml');
    const cfg = baseConfig({
      server: { admin_listen: '0.0.0.0:0' },
      providers: [simProvider(simOk)],
      models: [{ name: 'chat', targets: [{ provider: 'h-ok', model: 'ok' }] }],
      keys,
      auth: { required: true },
    });
    writeFileSync(file, toYaml(cfg));
    const check = spawnSync(LLMGW_BIN, ['--check-config', file], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(check.status, 1, `--check-config: ${check.stdout}${check.stderr}`);
    assert.match(check.stderr, /server\.admin_listen/);
    assert.match(check.stderr, /admin_token/);
    const run = spawnSync(LLMGW_BIN, ['--config', file], { encoding: 'utf8', timeout: 5000 });
    assert.equal(run.signal, null, `the daemon started instead of refusing: ${run.stdout}`);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /server\.admin_listen/);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Out of descriptors (EMFILE)
// ---------------------------------------------------------------------------------------------

/** A connection that stays open (idle); records whether the gateway answered or closed it. */
function openIdle(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const c = { sock, data: '', closed: false, connected: false };
    sock.on('data', (d) => { c.data += d.toString('latin1'); });
    sock.on('close', () => { c.closed = true; });
    sock.on('error', () => { c.closed = true; });
    sock.once('connect', () => { c.connected = true; resolve(c); });
    sock.once('error', () => resolve(c));
    setTimeout(() => resolve(c), 3000);
  });
}

// Skipped against sanitizer builds: their runtimes open descriptors of their own (UBSan's vptr
// check probes memory through a pipe) and report false errors once none are left.
describe('out of file descriptors (EMFILE)', {
  skip: process.env.LLMGW_SANITIZED ? 'sanitizer runtimes need descriptors of their own' : false,
}, () => {
  const LIMIT = 64;
  let egw;

  before(async () => {
    egw = await startGateway({
      server: { read_timeout: '30s', idle_timeout: '30s' },
      providers: [simProvider(simBy), simProvider(simOk)],
      models: commonModels(),
      keys,
      auth: { required: true },
    }, { nofile: LIMIT });
  });

  after(async () => {
    await egw?.stop('SIGKILL').catch(() => {});
  });

  test('exhausted: new connections get a prompt 503, the loop does not spin, logs are rate-limited, all recovers', async () => {
    assert.match(readFileSync(`/proc/${egw.pid}/limits`, 'utf8'), new RegExp(`Max open files\\s+${LIMIT}\\s`));
    await assertServesAfter(egw); // warms the upstream connection
    const idle = [];
    const state = await withBystander(egw, async () => {
      // Fill the descriptor table with idle connections until a probe is shed.
      let shedProbe;
      for (let round = 0; round < 8 && !shedProbe; round++) {
        const want = Math.max(4, LIMIT - openFdCount(egw.pid) + 2);
        idle.push(...(await Promise.all(Array.from({ length: Math.min(want, 40) }, () => openIdle(egw.port)))));
        // The gateway accepts what it can; wait (bounded) for its descriptor count to settle.
        let last = -1;
        await waitFor(() => {
          const n = openFdCount(egw.pid);
          const settled = n === last;
          last = n;
          return settled;
        }, { timeout: 2000, interval: 100, what: 'descriptor count to settle' }).catch(() => {});
        const probe = await rawRequest(egw.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeout: 3000 });
        if (!/^HTTP\/1\.1 200 /.test(probe.received)) shedProbe = probe;
      }
      assert.ok(shedProbe, `descriptors never ran out (${idle.length} idle connections, ${openFdCount(egw.pid)} fds)`);

      // (a) further connections: a 503 with a JSON error (or a close), promptly.
      const probes = [];
      for (let i = 0; i < 4; i++) {
        probes.push(await rawRequest(egw.port, 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeout: 4000 }));
      }

      // (b) ~1 s of exhaustion with a client arriving every 100 ms costs little CPU.
      const cpu0 = cpuSeconds(egw.pid);
      const t0 = Date.now();
      const during = [];
      while (Date.now() - t0 < 1000) {
        during.push(rawRequest(egw.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeout: 3000 }));
        await new Promise((r) => setTimeout(r, 100)); // measuring: the fixed cadence is the point
      }
      const cpu = cpuSeconds(egw.pid) - cpu0;
      const wall = (Date.now() - t0) / 1000;
      const duringResults = await Promise.all(during);

      // (e) release the idle connections: normal service again.
      for (const c of idle) c.sock.destroy();
      await waitFor(async () => {
        const r = await postJson(chatUrl(egw), { model: 'chat', messages: user('back') }, { headers: AUTH, timeout: 3000 }).catch(() => null);
        return r?.status === 200;
      }, { timeout: 5000, interval: 50, what: 'a 200 after releasing the idle connections' });
      return { shedProbe, probes, cpu, wall, duringResults, idleCount: idle.length };
    }, { words: 200, maxGapMs: 2500 });
    await assertServesAfter(egw);

    dbg(`emfile: ${state.idleCount} idle connections; probes ${JSON.stringify([state.shedProbe, ...state.probes, ...state.duringResults].map((p) => [p.received.slice(0, 12), p.how, p.elapsed]))}; cpu ${state.cpu}s over ${state.wall}s`);
    // Every connection is answered at once: the shed 503 (JSON), or a normal 200 when a
    // descriptor happened to be free (e.g. a pooled upstream connection was closed meanwhile).
    const all = [state.shedProbe, ...state.probes, ...state.duringResults];
    for (const p of all) {
      assert.notEqual(p.how, 'timeout', `a connection was left hanging (${p.elapsed}ms): ${JSON.stringify(p.received.slice(0, 100))}`);
      if (p.received) {
        assert.match(p.received, /^HTTP\/1\.1 (503|200) /, p.received.slice(0, 200));
        if (p.received.startsWith('HTTP/1.1 503 ')) {
          const body = JSON.parse(rawBody(p.received));
          assert.equal(body.error.type, 'server_error');
          assert.ok(body.error.message.length > 0);
          assert.match(p.received, /connection: close/i);
        }
      }
      assert.ok(p.elapsed < 2500, `answered after ${p.elapsed}ms`);
    }
    assert.match(state.shedProbe.received, /^HTTP\/1\.1 503 /, 'the probe that found the table full was shed with a 503');
    const shedCount = all.filter((p) => p.received.startsWith('HTTP/1.1 503 ')).length;
    assert.ok(shedCount >= all.length / 2, `${shedCount} of ${all.length} connections made while exhausted got the 503`);
    assert.ok(state.cpu < 0.3 * state.wall, `CPU ${state.cpu.toFixed(3)}s over ${state.wall.toFixed(2)}s of exhaustion`);

    // (c) the daemon log: rate-limited warnings.
    const logText = `${egw.stdout.text()}\n${egw.stderr.text()}`;
    const warnings = logText.split('\n').filter((l) => /accept failed/.test(l));
    dbg(`emfile log:\n${warnings.join('\n')}`);
    assert.ok(warnings.length >= 1 && warnings.length <= 3, `accept-failed lines: ${warnings.length}\n${warnings.join('\n')}`);

    // (d) the counters (the admin listener shares the limit: scraped after the release).
    const metrics = await egw.metrics();
    const emfile = metricValue(metrics, 'llmgw_accept_errors_total', { listener: 'main', reason: 'emfile' });
    assert.ok(emfile >= 1, `llmgw_accept_errors_total{listener="main",reason="emfile"} = ${emfile}`);
    const shed = metricValue(metrics, 'llmgw_connections_shed_total');
    assert.ok(shed >= 1, `llmgw_connections_shed_total = ${shed}`);
  });
});

// ---------------------------------------------------------------------------------------------
// 9. Drain cutting streams at drain_timeout
// ---------------------------------------------------------------------------------------------

describe('drain truncation', () => {
  test('SIGTERM with long streams: each ends with an error event in its own format; a slow request gets 503; exit 0', async () => {
    const simDr = await startSim({ name: 'h-dr' });
    // Streams: 300 ms between events; a non-stream answer waits 10 s.
    await simDr.fault({ mode: 'slow_chunks', chunk_delay_ms: 300, delay_ms: 10_000 });
    const dgw = await startGateway({
      server: { drain_timeout: '1s' },
      providers: [
        simProvider(simDr, { timeouts: { connect: '1s', first_byte: '20s', idle_between_chunks: '5s', total: '60s' } }),
        simProvider(simBy), simProvider(simOk),
      ],
      models: [...commonModels(), { name: 'long', targets: [{ provider: 'h-dr', model: 'dr' }], retry: { attempts: 1 } }],
      keys,
      auth: { required: true },
    });
    await assertServesAfter(dgw);
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' '); // ~9 s of stream

    let openaiFirst = false;
    const openai = streamChat(chatUrl(dgw), { model: 'long', stream: true, messages: user(words) }, {
      headers: AUTH, timeout: 15_000,
      onEvent: (d) => { if (d !== '[DONE]' && JSON.parse(d).choices?.[0]?.delta?.content) openaiFirst = true; },
    });
    let anthropicFirst = false;
    const anthropic = streamChat(`${dgw.url}/v1/messages`, { model: 'long', max_tokens: 100, stream: true, messages: user(words) }, {
      headers: { ...AUTH, ...ANTHROPIC }, timeout: 15_000,
      onEvent: (d) => { if (JSON.parse(d).type === 'content_block_delta') anthropicFirst = true; },
    });
    const slow = postJson(chatUrl(dgw), { model: 'long', messages: user('slow non-stream') }, { headers: AUTH, timeout: 15_000 });
    await waitFor(() => openaiFirst && anthropicFirst, { timeout: 5000, what: 'first content event of both streams' });
    await waitFor(async () => (await simDr.stats()).requests >= 3, { timeout: 5000, what: 'the slow request to reach the upstream' });

    const exited = new Promise((resolve) => dgw.proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
    let signalledAt = 0;
    // Another client, served meanwhile: a short stream that finishes within the drain.
    const bystander = await withBystander(dgw, async () => {
      signalledAt = Date.now();
      dgw.proc.kill('SIGTERM');
      return 'signalled';
    }, { words: 10 });
    assert.equal(bystander, 'signalled');

    const [o, a, s, exit] = await Promise.all([openai, anthropic, slow, exited]);

    // OpenAI: data: {"error":{...,"code":"server_shutting_down"}} as the last event, clean end.
    assert.ifError(o.error);
    assert.equal(o.status, 200);
    assert.ok(o.ended, 'the OpenAI stream ended cleanly');
    const oLast = JSON.parse(o.events.at(-1));
    assert.equal(oLast.error?.code, 'server_shutting_down', `last OpenAI event: ${o.events.at(-1)}`);
    assert.ok(!o.events.includes('[DONE]'));

    // Anthropic: event: error, data {"type":"error","error":{"type":"overloaded_error"|"api_error",...}}.
    assert.ifError(a.error);
    assert.equal(a.status, 200);
    assert.ok(a.ended, 'the Anthropic stream ended cleanly');
    const blocks = a.raw.split(/\r?\n\r?\n/).filter((b) => b.trim());
    const errorBlock = blocks.find((b) => /^event: error$/m.test(b));
    assert.ok(errorBlock, `an "event: error" in the Anthropic stream:\n${a.raw.slice(-600)}`);
    const aErr = JSON.parse(sseData(`${errorBlock}\n\n`)[0]);
    assert.equal(aErr.type, 'error');
    assert.ok(['overloaded_error', 'api_error'].includes(aErr.error?.type), JSON.stringify(aErr));
    assert.ok(!blocks.some((b) => /^event: message_stop$/m.test(b)), 'no message_stop: the answer is not complete');

    // The non-streamed request in flight at the deadline.
    assertOpenAiError(s, 503, 'server_shutting_down');

    assert.equal(exit.signal, null);
    assert.equal(exit.code, 0, dgw.stderr.text().slice(-1000));
    const took = exit.at - signalledAt;
    dbg(`drain: exit ${took}ms after SIGTERM; openai last ${o.events.at(-1)}; anthropic error ${JSON.stringify(aErr)}; slow ${s.status} ${s.text}`);
    assert.ok(took >= 900 && took < 4000, `exited ${took}ms after SIGTERM (drain_timeout 1s)`);
    await simDr.kill();
  });
});
