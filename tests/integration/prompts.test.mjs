// Managed prompts (docs/configuration.md#prompts): POST /v1/prompts/{name} renders the prompt's
// template with the call's variables and goes the chat path (decode, the key's allow-list,
// sessions, router, access log); versions side by side with the highest as the default; the
// answer as OpenAI JSON, SSE, text/plain or the output object; GET /v1/prompts; and a reload
// that adds a version.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  deltaText, http, postJson, sha256, simProvider, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

const KEY_A = 'sk-llmgw-prompts-key-a';
const KEY_B = 'sk-llmgw-prompts-key-b'; // may use model 'other' only

let sim;
let gw;

const auth = (key = KEY_A) => ({ authorization: `Bearer ${key}` });

const basePrompts = [
  {
    name: 'echo', model: 'chat', system: 'You are terse.', template: 'Say {{ text }} {{n}} times',
    temperature: 0.2, max_tokens: 100,
  },
  { name: 'hist', model: 'chat', system: 'You are a historian.', template: '!history' },
  { name: 'ver', model: 'chat', template: 'v1 {{x}}' },
  { name: 'ver', version: 2, model: 'chat', template: 'v2 {{x}}' },
  { name: 'json', model: 'chat', template: 'Give {{what}}', response_format: 'json_object' },
  { name: 'mine', model: 'other', template: 'for B: {{x}}' },
];

function config(prompts = basePrompts) {
  return {
    providers: [simProvider(sim)],
    models: [
      { name: 'chat', targets: [{ provider: sim.name, model: 'gpt-4o-mini' }] },
      { name: 'other', targets: [{ provider: sim.name, model: 'gpt-4o' }] },
    ],
    keys: [
      { name: 'team-a', sha256: sha256(KEY_A) },
      { name: 'team-b', sha256: sha256(KEY_B), models: ['other'] },
    ],
    auth: { required: true },
    sessions: { store: 'memory' },
    prompts,
  };
}

async function call(name, body = {}, { key = KEY_A, headers = {} } = {}) {
  return postJson(`${gw.url}/v1/prompts/${name}`, body, { headers: { ...auth(key), ...headers } });
}

async function list(path = '/v1/prompts', key = KEY_A) {
  const res = await http(`${gw.url}${path}`, { headers: auth(key) });
  return { status: res.status, json: await res.json() };
}

before(async () => {
  sim = await startSim({ name: 'psim' });
  // Behind a symlink: only the explicit reload below changes the config.
  gw = await startGateway(config(), { configVia: 'symlink' });
});

describe('a prompt call', () => {
  test('renders the template and is served like a chat call', async () => {
    const r = await call('echo', { variables: { text: 'hello', n: 3 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.choices[0].message.content, '[psim] Say hello 3 times');
    assert.equal(r.headers.get('x-llmgw-provider'), 'psim');
    assert.equal(r.headers.get('content-type'), 'application/json');
    const up = (await sim.stats()).last_request.body;
    assert.equal(up.model, 'gpt-4o-mini');
    assert.deepEqual(up.messages, [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hello 3 times' },
    ]);
    assert.equal(up.temperature, 0.2);
    assert.equal(up.max_tokens, 100);
  });

  test('the provider sees the system and user messages the prompt built', async () => {
    const r = await call('hist');
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.deepEqual(seen.map((m) => `${m.role}:${m.content}`),
      ['system:You are a historian.', 'user:!history']);
  });

  test('the call overrides the sampling defaults; a default response_format applies', async () => {
    const r = await call('echo', { variables: { text: 'x', n: 1 }, temperature: 0.9, top_p: 0.5 });
    assert.equal(r.status, 200, r.text);
    const up = (await sim.stats()).last_request.body;
    assert.equal(up.temperature, 0.9);
    assert.equal(up.top_p, 0.5);
    assert.equal(up.max_tokens, 100);
    const j = await call('json', { variables: { what: 'data' } });
    assert.equal(j.status, 200, j.text);
    assert.deepEqual(JSON.parse(j.json.choices[0].message.content), { ok: true, answer: '[psim] Give data' });
    assert.deepEqual((await sim.stats()).last_request.body.response_format, { type: 'json_object' });
  });

  test('a bad override is refused by the chat validation, naming the field', async () => {
    const r = await call('echo', { variables: { text: 'x', n: 1 }, temperature: 5 });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'temperature');
  });

  test('a missing variable is a 400 naming it', async () => {
    const r = await call('echo', { variables: { text: 'hello' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'invalid_request');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, 'variables.n');
    assert.match(r.json.error.message, /needs the variable 'n'/);
    const notObject = await call('echo', { variables: ['hello'] });
    assert.equal(notObject.status, 400);
    assert.equal(notObject.json.error.param, 'variables');
    const nested = await call('echo', { variables: { text: { a: 1 }, n: 1 } });
    assert.equal(nested.status, 400);
    assert.equal(nested.json.error.param, 'variables.text');
    const unknown = await call('echo', { messages: [] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error.param, 'messages');
    const broken = await postJson(`${gw.url}/v1/prompts/echo`, '{"variables":', { headers: auth() });
    assert.equal(broken.status, 400);
  });

  test('the highest version is the default; a version can be named', async () => {
    let r = await call('ver', { variables: { x: 'a' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[psim] v2 a');
    r = await call('ver', { version: 1, variables: { x: 'b' } });
    assert.equal(r.json.choices[0].message.content, '[psim] v1 b');
    r = await call('ver', { version: 9, variables: { x: 'c' } });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 'prompt_not_found');
    assert.equal(r.json.error.param, 'version');
    r = await call('nope', {});
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 'prompt_not_found');
    assert.equal(r.json.error.param, null);
    r = await call('ver', { version: '2', variables: { x: 'c' } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'version');
  });

  test('Accept: text/plain answers with the text alone', async () => {
    const res = await http(`${gw.url}/v1/prompts/echo`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', accept: 'text/plain' },
      body: JSON.stringify({ variables: { text: 'plain', n: 2 } }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('x-llmgw-provider'), 'psim');
    assert.equal(await res.text(), '[psim] Say plain 2 times');
    const streamed = await call('echo', { variables: { text: 'x', n: 1 }, stream: true },
      { headers: { accept: 'text/plain' } });
    assert.equal(streamed.status, 400, streamed.text);
    assert.equal(streamed.json.error.param, 'stream');
    // An error is still the OpenAI error object.
    const missing = await call('echo', {}, { headers: { accept: 'text/plain' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.param, 'variables.text');
  });

  test('"output": "plain" (or its Accept type) answers with the output object', async () => {
    const r = await call('echo', { variables: { text: 'obj', n: 1 }, output: 'plain' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ['output', 'prompt', 'version', 'model', 'usage']);
    assert.equal(r.json.output, '[psim] Say obj 1 times');
    assert.equal(r.json.prompt, 'echo');
    assert.equal(r.json.version, 1);
    assert.equal(r.json.model, 'gpt-4o-mini');
    assert.ok(r.json.usage.total_tokens > 0, JSON.stringify(r.json.usage));
    const viaAccept = await call('ver', { variables: { x: 'o' } },
      { headers: { accept: 'application/vnd.llmgw.output+json' } });
    assert.equal(viaAccept.status, 200, viaAccept.text);
    assert.equal(viaAccept.json.output, '[psim] v2 o');
    assert.equal(viaAccept.json.version, 2);
    const streamed = await call('echo', { variables: { text: 'x', n: 1 }, stream: true, output: 'plain' });
    assert.equal(streamed.status, 400);
    assert.equal(streamed.json.error.param, 'stream');
  });

  test('"stream": true gives the chat answer as SSE chunks', async () => {
    const s = await streamChat(`${gw.url}/v1/prompts/echo`,
      { variables: { text: 'streamed words', n: 4 }, stream: true, stream_options: { include_usage: true } },
      { headers: auth() });
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(s.events.at(-1), '[DONE]');
    assert.equal(deltaText(s.events), '[psim] Say streamed words 4 times');
    const usage = s.events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e)).find((c) => c.usage);
    assert.ok(usage, 'include_usage reached the router');
  });

  test('x-session-id keeps a conversation across prompt calls', async () => {
    const id = 'prompt-session-1';
    let r = await call('echo', { variables: { text: 'one', n: 1 } }, { headers: { 'x-session-id': id } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-session'), id);
    await waitFor(async () => {
      const t = await http(`${gw.url}/v1/sessions/${id}`, { headers: auth() });
      return t.status === 200 && (await t.json()).messages.length >= 2;
    }, { what: 'the first turn stored' });
    r = await call('hist', {}, { headers: { 'x-session-id': id } });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.deepEqual(seen.filter((m) => m.role !== 'system').map((m) => `${m.role}:${m.content}`), [
      'user:Say one 1 times', 'assistant:[psim] Say one 1 times', 'user:!history',
    ]);
    assert.ok(seen.some((m) => m.role === 'system' && m.content.includes('You are a historian.')),
      JSON.stringify(seen));
  });

  test('the key allow-list applies to the prompt\'s model', async () => {
    const r = await call('echo', { variables: { text: 'x', n: 1 } }, { key: KEY_B });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'model_not_allowed');
    const ok = await call('mine', { variables: { x: 'y' } }, { key: KEY_B });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.choices[0].message.content, '[psim] for B: y');
    const anonymous = await postJson(`${gw.url}/v1/prompts/echo`, {});
    assert.equal(anonymous.status, 401);
  });

  test('the access log names the route pattern and the prompt', async () => {
    const r = await call('ver', { version: 1, variables: { x: 'log' } });
    const id = r.headers.get('x-request-id');
    const line = await waitFor(() => gw.accessLog().find((l) => l.request_id === id),
      { what: 'the access log line' });
    assert.equal(line.route, '/v1/prompts/{name}');
    assert.equal(line.prompt, 'ver');
    assert.equal(line.prompt_version, 1);
    assert.equal(line.model, 'chat');
    assert.equal(line.status, 200);
  });
});

describe('listing prompts', () => {
  test('GET /v1/prompts lists every version with its variables', async () => {
    const r = await list();
    assert.equal(r.status, 200);
    assert.equal(r.json.object, 'list');
    const rows = r.json.data.map((p) => `${p.name}@${p.version}${p.default ? '*' : ''}`);
    assert.deepEqual(rows, ['echo@1*', 'hist@1*', 'json@1*', 'mine@1*', 'ver@2*', 'ver@1']);
    const echo = r.json.data.find((p) => p.name === 'echo');
    assert.deepEqual(echo, { name: 'echo', version: 1, model: 'chat', variables: ['text', 'n'], default: true });
  });

  test('a key sees only the prompts whose model it may use', async () => {
    const r = await list('/v1/prompts', KEY_B);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.data.map((p) => p.name), ['mine']);
    const hidden = await list('/v1/prompts/echo', KEY_B);
    assert.equal(hidden.status, 404);
    assert.equal(hidden.json.error.code, 'prompt_not_found');
    const anonymous = await http(`${gw.url}/v1/prompts`);
    assert.equal(anonymous.status, 401);
    await anonymous.text();
  });

  test('GET /v1/prompts/{name} lists that prompt\'s versions', async () => {
    const r = await list('/v1/prompts/ver');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.data.map((p) => [p.version, p.default, p.variables]), [[2, true, ['x']], [1, false, ['x']]]);
    const missing = await list('/v1/prompts/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'prompt_not_found');
  });
});

describe('reload', () => {
  test('a new version becomes the default', async () => {
    gw.writeConfig(config([...basePrompts, { name: 'ver', version: 3, model: 'chat', template: 'v3 {{x}}' }]));
    const res = await gw.admin('/admin/reload', { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
    const r = await call('ver', { variables: { x: 'new' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[psim] v3 new');
    const old = await call('ver', { version: 2, variables: { x: 'old' } });
    assert.equal(old.json.choices[0].message.content, '[psim] v2 old');
    const l = await list('/v1/prompts/ver');
    assert.deepEqual(l.json.data.map((p) => [p.version, p.default]), [[3, true], [2, false], [1, false]]);
  });

  test('a malformed template is refused and the running prompts stay', async () => {
    gw.writeConfig(config([{ name: 'ver', version: 4, model: 'chat', template: 'v4 {{x' }]));
    const res = await gw.admin('/admin/reload', { method: 'POST' });
    const text = await res.text();
    assert.equal(res.status, 422, text);
    assert.match(text, /prompts\[0\]\.template: prompt 'ver' version 4: unclosed/);
    const r = await call('ver', { variables: { x: 'still' } });
    assert.equal(r.json.choices[0].message.content, '[psim] v3 still');
  });
});
