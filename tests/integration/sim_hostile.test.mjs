// llmgw-sim against hostile input, and its hostile-answer fault modes (gzip, empty, wrong_shape,
// truncated, deep) that the gateway's own tests lean on: each mode must produce exactly what it
// claims, on every face, or those tests would prove nothing. Only the simulator runs here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';
import { before, beforeEach, describe, test } from 'node:test';
import { LLMGW_SIM_BIN, postJson, rawHttp, rawRequest, sseData, startSim } from './lib/harness.mjs';

const NAME = 'sim-h';
const TEXT = 'one two three four five six seven';
const DEEP = 100_000;

let sim;

before(async () => {
  sim = await startSim({ name: NAME });
});

beforeEach(async () => {
  await sim.reset();
});

// Each face's request for a chat answer, and how to read a whole answer / a stream's events.
const faces = {
  openai: {
    path: () => '/v1/chat/completions',
    headers: {},
    body: (stream) => ({ model: 'm', messages: [{ role: 'user', content: TEXT }], ...(stream ? { stream: true } : {}) }),
    text: (json) => json.choices[0].message.content,
    isAnswer: (json) => json.object === 'chat.completion',
    deltas: (events) => events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? '').join(''),
    ended: (events) => events.at(-1) === '[DONE]',
    finished: (events) => events.some((e) => e !== '[DONE]' && JSON.parse(e).choices?.[0]?.finish_reason),
  },
  anthropic: {
    path: () => '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01' },
    body: (stream) => ({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: TEXT }], ...(stream ? { stream: true } : {}) }),
    text: (json) => json.content[0].text,
    isAnswer: (json) => json.type === 'message',
    deltas: (events) => events.map((e) => JSON.parse(e)).filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join(''),
    ended: (events) => events.length > 0 && JSON.parse(events.at(-1)).type === 'message_stop',
    finished: (events) => events.some((e) => ['message_delta', 'message_stop'].includes(JSON.parse(e).type)),
  },
  gemini: {
    path: (stream) => (stream ? '/v1beta/models/g:streamGenerateContent?alt=sse' : '/v1beta/models/g:generateContent'),
    headers: {},
    body: () => ({ contents: [{ role: 'user', parts: [{ text: TEXT }] }] }),
    text: (json) => json.candidates[0].content.parts[0].text,
    isAnswer: (json) => Array.isArray(json.candidates),
    deltas: (events) => events.map((e) => JSON.parse(e).candidates?.[0]?.content?.parts?.[0]?.text ?? '').join(''),
    // Gemini streams have no terminator: the finishReason chunk is the end.
    ended: (events) => events.length > 0 && Boolean(JSON.parse(events.at(-1)).candidates?.[0]?.finishReason),
    finished: (events) => events.some((e) => JSON.parse(e).candidates?.[0]?.finishReason),
  },
};

const ask = (face, { stream = false, path } = {}) =>
  rawHttp(sim.port, {
    method: 'POST',
    path: path ?? faces[face].path(stream),
    headers: faces[face].headers,
    body: faces[face].body(stream),
  });

const utf8 = (buf) => buf.toString('utf8');

// Deepest nesting of [ and { outside strings; V8 parses such text, but this needs no parser.
function maxDepth(text) {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return max;
}

async function assertHealthy(face = 'openai') {
  assert.equal(sim.proc.exitCode, null, 'the simulator is still running');
  assert.equal(sim.proc.signalCode, null, 'the simulator is still running');
  // Refusals are answers, not accidents: nothing may have reached the exception backstops.
  assert.doesNotMatch(sim.stderr.text(), /handler threw|failed/);
  const res = await ask(face);
  assert.equal(res.status, 200, `a normal ${face} request is answered: ${utf8(res.body).slice(0, 200)}`);
  assert.equal(faces[face].text(JSON.parse(utf8(res.body))), `[${NAME}] ${TEXT}`);
}

describe('hostile input', () => {
  const deepContent = '['.repeat(DEEP) + ']'.repeat(DEEP);

  test('a body nested 100k levels deep is a 400 in each face\'s error shape, and the sim serves on', async () => {
    const raw = `{"model":"x","messages":[{"role":"user","content":${deepContent}}]}`;
    const openai = await postJson(`http://127.0.0.1:${sim.port}/v1/chat/completions`, raw);
    assert.equal(openai.status, 400);
    assert.equal(openai.json.error.type, 'invalid_request_error');

    const anthropic = await postJson(`http://127.0.0.1:${sim.port}/v1/messages`, raw, { headers: faces.anthropic.headers });
    assert.equal(anthropic.status, 400);
    assert.equal(anthropic.json.type, 'error');
    assert.equal(anthropic.json.error.type, 'invalid_request_error');

    const gemini = await postJson(`http://127.0.0.1:${sim.port}/v1beta/models/g:generateContent`,
      `{"contents":[{"role":"user","parts":[{"text":"x","extra":${deepContent}}]}]}`);
    assert.equal(gemini.status, 400);
    assert.equal(gemini.json.error.status, 'INVALID_ARGUMENT');

    // Stats re-read the last body: it comes back as a string, not as a tree.
    const stats = await sim.stats();
    assert.equal(typeof stats.last_request.body, 'string');
    await assertHealthy();
  });

  test('deep JSON in the control API and in --fault is refused, not followed', async () => {
    const res = await postJson(`http://127.0.0.1:${sim.controlPort}/_sim/fault`, `{"mode":"error","x":${deepContent}}`);
    assert.equal(res.status, 400);
    assert.match(res.json.error.message, /deeper than 128/);
    assert.equal((await sim.stats()).requests, 0);
    await assertHealthy();

    // (argv caps one argument at 128 KiB; 1000 levels is already far past the bound)
    const run = spawnSync(LLMGW_SIM_BIN, ['--listen', '127.0.0.1:0', '--fault', `{"mode":"error","x":${'['.repeat(1000)}${']'.repeat(1000)}}`],
      { timeout: 5000, encoding: 'utf8' });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--fault nests deeper than 128/);
  });

  test('deep tool-call arguments do not reach a recursive walk', async () => {
    const args = `{"a":${deepContent}}`;
    const res = await rawHttp(sim.port, {
      method: 'POST',
      path: '/v1/messages',
      headers: faces.anthropic.headers,
      body: {
        model: 'm',
        max_tokens: 100,
        tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
        messages: [{ role: 'user', content: `!tool lookup ${args}` }],
      },
    });
    assert.equal(res.status, 200);
    const json = JSON.parse(utf8(res.body));
    assert.equal(json.content[0].type, 'tool_use');
    assert.deepEqual(json.content[0].input, {}, 'arguments too deep to be an object become {}');
    await assertHealthy('anthropic');
  });

  test('a chunked request with a huge trailer is refused, and the sim serves on', async () => {
    const chunked = (rest) =>
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Transfer-Encoding: chunked\r\n\r\n${rest}`;
    const cases = {
      'one 70000-byte trailer field': `0\r\nX-T: ${'x'.repeat(70_000)}\r\n\r\n`,
      'several trailer fields, 90000 bytes in all': `0\r\n${[1, 2, 3].map((i) => `X-T${i}: ${'x'.repeat(30_000)}\r\n`).join('')}\r\n`,
      'a 100000-byte chunk extension': `2;ext=${'e'.repeat(100_000)}\r\n{}\r\n0\r\n\r\n`,
    };
    for (const [what, rest] of Object.entries(cases)) {
      const res = await rawRequest(sim.port, chunked(rest), { timeout: 5000 });
      assert.notEqual(res.how, 'timeout', `${what}: the connection is not left hanging`);
      if (res.received) {
        assert.match(res.received, /^HTTP\/1\.1 431 /, `${what}: answered 431`);
      }
      await assertHealthy();
    }
  });

  test('large bodies still pass, plain and chunked (the read buffer cap is not a body cap)', async () => {
    const big = 'word '.repeat(200_000).trim(); // ~1 MB
    const plain = await postJson(`http://127.0.0.1:${sim.port}/v1/chat/completions`,
      { model: 'm', messages: [{ role: 'user', content: big }] });
    assert.equal(plain.status, 200);
    assert.equal(plain.json.choices[0].message.content, `[${NAME}] ${big}`);

    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: big }] });
    let framed = '';
    for (let at = 0; at < body.length; at += 100_000) {
      const piece = body.slice(at, at + 100_000);
      framed += `${piece.length.toString(16)}\r\n${piece}\r\n`;
    }
    const res = await rawRequest(sim.port,
      'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${framed}0\r\nX-Small: ok\r\n\r\n`, { timeout: 10_000 });
    assert.match(res.received, /^HTTP\/1\.1 200 /);
  });
});

describe('hostile answers', () => {
  for (const face of Object.keys(faces)) {
    test(`gzip (${face}): the body decompresses to the normal answer`, async () => {
      await sim.fault({ mode: 'gzip' });
      const res = await ask(face);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(Number(res.headers['content-length']), res.body.length);
      const json = JSON.parse(utf8(zlib.gunzipSync(res.body)));
      assert.ok(faces[face].isAnswer(json), JSON.stringify(json).slice(0, 200));
      assert.equal(faces[face].text(json), `[${NAME}] ${TEXT}`);
    });

    test(`gzip (${face} stream): compressed incrementally, every chunk completes whole events`, async () => {
      await sim.fault({ mode: 'gzip' });
      const res = await ask(face, { stream: true });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.ok(res.complete, 'the chunked body ends properly');
      assert.ok(res.chunks.length > 3, `one chunk per event (got ${res.chunks.length})`);
      // A decoder that only has the chunks so far (no gzip trailer yet) gets whole events.
      let seen = Buffer.alloc(0);
      let previous = '';
      for (const [i, chunk] of res.chunks.entries()) {
        seen = Buffer.concat([seen, chunk]);
        const text = utf8(zlib.gunzipSync(seen, { finishFlush: zlib.constants.Z_SYNC_FLUSH }));
        assert.ok(text.length >= previous.length && text.startsWith(previous));
        if (text.length > 0) {
          assert.match(text, /\r?\n\r?\n$/, `after chunk ${i} the decoded text ends at an event boundary`);
        }
        previous = text;
      }
      const events = sseData(utf8(zlib.gunzipSync(Buffer.concat(res.chunks))));
      assert.equal(faces[face].deltas(events), `[${NAME}] ${TEXT}`);
      assert.ok(faces[face].ended(events), 'the decompressed stream is complete');
    });

    test(`truncated (${face} stream): a clean end without the terminal event`, async () => {
      await sim.fault({ mode: 'truncated' });
      const res = await ask(face, { stream: true });
      assert.equal(res.status, 200);
      assert.equal(res.how, 'closed');
      assert.ok(res.complete, 'the chunked body ends with its terminal chunk (no transport error)');
      const events = sseData(utf8(res.body));
      assert.equal(faces[face].deltas(events), `[${NAME}] one`, 'after_chunks (2) content events');
      assert.ok(!faces[face].ended(events), 'no terminal event');
      assert.ok(!faces[face].finished(events), 'no finish reason');
      assert.ok(!events.includes('[DONE]'));
    });

    test(`truncated (${face}): a 200 JSON body cut in the middle, framed correctly`, async () => {
      await sim.fault({ mode: 'truncated' });
      const res = await ask(face);
      assert.equal(res.status, 200);
      assert.ok(res.complete);
      assert.equal(Number(res.headers['content-length']), res.body.length);
      assert.ok(res.body.length > 20);
      assert.throws(() => JSON.parse(utf8(res.body)), SyntaxError);
    });

    test(`empty (${face}): 200 with no body; a stream with no events`, async () => {
      await sim.fault({ mode: 'empty' });
      const res = await ask(face);
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^application\/json/);
      assert.equal(res.headers['content-length'], '0');
      assert.equal(res.body.length, 0);

      await sim.fault({ mode: 'empty' });
      const stream = await ask(face, { stream: true });
      assert.equal(stream.status, 200);
      assert.match(stream.headers['content-type'], /^text\/event-stream/);
      assert.ok(stream.complete);
      assert.equal(stream.body.length, 0);
    });

    test(`wrong_shape (${face}): valid JSON of the wrong shape, streams ended normally`, async () => {
      await sim.fault({ mode: 'wrong_shape' });
      const res = await ask(face);
      assert.equal(res.status, 200);
      const json = JSON.parse(utf8(res.body));
      assert.deepEqual(json, { unexpected: true });

      await sim.fault({ mode: 'wrong_shape' });
      const stream = await ask(face, { stream: true });
      assert.equal(stream.status, 200);
      assert.ok(stream.complete);
      const events = sseData(utf8(stream.body));
      const payloads = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
      assert.ok(payloads.some((p) => p.unexpected === true));
      if (face === 'openai') assert.equal(events.at(-1), '[DONE]');
      if (face === 'anthropic') assert.equal(payloads.at(-1).type, 'message_stop');
    });

    test(`deep (${face}): a normal-looking answer nesting more than 100k levels`, async () => {
      await sim.fault({ mode: 'deep' });
      const res = await ask(face);
      assert.equal(res.status, 200);
      const text = utf8(res.body);
      assert.ok(maxDepth(text) > DEEP, `depth ${maxDepth(text)}`);
      assert.ok(text.includes(`[${NAME}] ${TEXT}`), 'the answer itself is there');

      await sim.fault({ mode: 'deep', depth: 150_000 });
      const stream = await ask(face, { stream: true });
      assert.equal(stream.status, 200);
      assert.ok(stream.complete);
      const events = sseData(utf8(stream.body));
      const depths = events.map(maxDepth);
      assert.equal(depths.filter((d) => d > 150_000).length, 1, 'exactly one deep event');
      assert.ok(faces[face].ended(events), 'the rest of the stream is normal');
    });
  }

  test('truncated (Gemini JSON-array stream, no alt=sse): a closed array with no finishReason', async () => {
    await sim.fault({ mode: 'truncated' });
    const res = await ask('gemini', { stream: true, path: '/v1beta/models/g:streamGenerateContent' });
    assert.equal(res.status, 200);
    assert.ok(res.complete);
    const items = JSON.parse(utf8(res.body));
    assert.equal(items.length, 2);
    assert.ok(items.every((item) => !item.candidates[0].finishReason));
  });

  test('count and paths scope the hostile modes like the others', async () => {
    await sim.fault({ mode: 'empty', count: 1 });
    assert.equal((await ask('openai')).body.length, 0, 'the first request gets the fault');
    await assertHealthy();

    await sim.fault({ mode: 'gzip', paths: ['/v1/messages'] });
    const openai = await ask('openai');
    assert.equal(openai.headers['content-encoding'], undefined, 'other paths are not affected');
    const anthropic = await ask('anthropic');
    assert.equal(anthropic.headers['content-encoding'], 'gzip');

    const state = await sim.fault({ mode: 'deep', depth: 7, count: 2 });
    assert.equal(state.mode, 'deep');
    assert.equal(state.depth, 7);
    assert.equal(state.count, 2);
    const bad = await postJson(`http://127.0.0.1:${sim.controlPort}/_sim/fault`, { mode: 'deep', depth: 0 });
    assert.equal(bad.status, 400);
  });
});
