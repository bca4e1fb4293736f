// Conversation sessions (docs/sessions.md): a conversation kept by the gateway that survives
// failover across provider kinds, its transcript and deletion, ownership by key, per-session
// serialisation, overlap detection, and the system context (system prompt, persona, profile)
// in each provider's own format.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  getJson, http, postJson, sha256, simProvider, startGateway, startSim, streamChat, deltaText,
} from './lib/harness.mjs';

const KEY_A = 'sk-llmgw-sessions-key-a';
const KEY_B = 'sk-llmgw-sessions-key-b';

let oai;
let ant;
let gem;
let gw;

const auth = (key = KEY_A) => ({ authorization: `Bearer ${key}` });

async function say(content, { id, key = KEY_A, model = 'chat', headers = {}, extra = {} } = {}) {
  return postJson(`${gw.url}/v1/chat/completions`,
    { model, messages: [{ role: 'user', content }], ...extra },
    { headers: { ...auth(key), ...(id ? { 'x-session-id': id } : {}), ...headers } });
}

function transcript(id, key = KEY_A) {
  return getJson(`${gw.url}/v1/sessions/${id}`, { headers: auth(key) });
}

// The store is written just after the answer goes out: poll for the turn count.
async function waitForTurns(id, n) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const t = await transcript(id);
    if (t.status === 200 && t.json.messages.length >= n) return t.json;
    if (Date.now() > deadline) assert.fail(`session ${id} never reached ${n} messages: ${JSON.stringify(t.json)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  [oai, ant, gem] = await Promise.all([
    startSim({ name: 'oai' }), startSim({ name: 'ant' }), startSim({ name: 'gem' }),
  ]);
  gw = await startGateway({
    providers: [
      simProvider(oai, { kind: 'openai_compatible' }),
      simProvider(ant, { kind: 'anthropic', base_url: `http://127.0.0.1:${ant.port}/v1` }),
      simProvider(gem, { kind: 'gemini', base_url: `http://127.0.0.1:${gem.port}/v1beta` }),
    ],
    models: [
      {
        name: 'chat',
        targets: [
          { provider: 'oai', model: 'gpt-4o-mini' },
          { provider: 'ant', model: 'claude-sonnet-4-5' },
          { provider: 'gem', model: 'gemini-2.5-flash' },
        ],
        retry: { attempts: 1 },
      },
      { name: 'claude', targets: [{ provider: 'ant', model: 'claude-sonnet-4-5' }] },
      // Context fitting: gpt-4o-mini counts exactly (o200k_base); 260 tokens, 60 reserved.
      {
        name: 'tiny',
        targets: [{ provider: 'oai', model: 'gpt-4o-mini', context_window: 260 }],
        context: { overflow: 'truncate_oldest', reserve_output: 60 },
      },
      {
        name: 'tiny-reject',
        targets: [{ provider: 'oai', model: 'gpt-4o-mini', context_window: 260 },
          { provider: 'gem', model: 'gemini-2.5-flash', context_window: 100000 }],
        context: { overflow: 'reject', reserve_output: 60 },
      },
      {
        name: 'tiny-fallback',
        targets: [{ provider: 'oai', model: 'gpt-4o-mini', context_window: 260 },
          { provider: 'gem', model: 'gemini-2.5-flash', context_window: 100000 }],
        context: { overflow: 'fallback_larger', reserve_output: 60 },
      },
      {
        // Turns the window cannot hold are summarised by the gemini model, once.
        name: 'tiny-sum',
        targets: [{ provider: 'oai', model: 'gpt-4o-mini', context_window: 1000 }],
        context: { overflow: 'summarize', summarizer: 'gemini', reserve_output: 60 },
      },
      {
        // A failover from a large window to a small one fits the history again.
        name: 'refit',
        targets: [{ provider: 'ant', model: 'claude-sonnet-4-5', context_window: 200000 },
          { provider: 'oai', model: 'gpt-4o-mini', context_window: 260 }],
        context: { overflow: 'truncate_oldest', reserve_output: 60 },
        retry: { attempts: 1 },
      },
      { name: 'gemini', targets: [{ provider: 'gem', model: 'gemini-2.5-flash' }] },
    ],
    keys: [
      { name: 'team-a', sha256: sha256(KEY_A), persona: 'The user is a cardiologist.' },
      { name: 'team-b', sha256: sha256(KEY_B) },
    ],
    auth: { required: true },
    sessions: {
      store: 'memory',
      system_prompt: 'You are a helpful assistant.',
      busy_wait: '100ms',
      profiles: { alice: 'Alice prefers metric units.' },
    },
  });
});

after(async () => {
  for (const s of [oai, ant, gem]) await s?.fault({ mode: 'none' }).catch(() => {});
});

describe('a session across three provider kinds', () => {
  test('turns 3 and 4 fail over (OpenAI -> Anthropic -> Gemini) and no turn is lost', async () => {
    const id = 'conv-5-turns';
    let r = await say('one', { id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-session'), id);
    assert.equal(r.headers.get('x-llmgw-provider'), 'oai');
    await waitForTurns(id, 2);
    r = await say('two', { id });
    assert.equal(r.headers.get('x-llmgw-provider'), 'oai');
    await waitForTurns(id, 4);

    await oai.fault({ mode: 'error', status: 503 });
    r = await say('three', { id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'ant');
    await waitForTurns(id, 6);

    await ant.fault({ mode: 'error', status: 529 });
    r = await say('four', { id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'gem');
    await waitForTurns(id, 8);

    // Turn 5 on Gemini: the sim answers with the conversation as it parsed it from the
    // Gemini wire format (systemInstruction + contents).
    r = await say('!history', { id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'gem');
    const seen = JSON.parse(r.json.choices[0].message.content);
    const texts = seen.map((m) => `${m.role}:${m.content}`);
    assert.deepEqual(texts, [
      'system:You are a helpful assistant.\n\nThe user is a cardiologist.',
      'user:one', 'assistant:[oai] one',
      'user:two', 'assistant:[oai] two',
      'user:three', 'assistant:[ant] three',
      'user:four', 'assistant:[gem] four',
      'user:!history',
    ]);
    const t = await waitForTurns(id, 10);
    assert.equal(t.last_provider, 'gem');
    assert.equal(t.owner, 'team-a');
    assert.deepEqual(t.messages.slice(0, 4).map((m) => m.content), ['one', '[oai] one', 'two', '[oai] two']);
    await oai.fault({ mode: 'none' });
    await ant.fault({ mode: 'none' });
  });

  test('the Anthropic target gets the history in its own format (system field)', async () => {
    const id = 'conv-anthropic';
    await say('alpha', { id, model: 'claude' });
    await waitForTurns(id, 2);
    const r = await say('!history', { id, model: 'claude', headers: { 'x-llmgw-user': 'alice' } });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.deepEqual(seen.map((m) => `${m.role}:${m.content}`), [
      'system:You are a helpful assistant.\n\nThe user is a cardiologist.\n\nAlice prefers metric units.',
      'user:alpha', 'assistant:[ant] alpha', 'user:!history',
    ]);
  });

  test('a stream continued on another target is stored as the one answer the client saw', async () => {
    const id = 'conv-continued';
    await oai.fault({ mode: 'die_after', after_chunks: 2 });
    try {
      const { events } = await streamChat(`${gw.url}/v1/chat/completions`,
        { model: 'chat', stream: true, messages: [{ role: 'user', content: 'one two three four five six' }] },
        { headers: { ...auth(), 'x-session-id': id } });
      assert.equal(deltaText(events), '[oai] one two three four five six');
    } finally {
      await oai.fault({ mode: 'none' });
    }
    const t = await waitForTurns(id, 2);
    assert.deepEqual(t.messages[1], { role: 'assistant', content: '[oai] one two three four five six' });
  });

  test('a streamed tool call is stored whole and its result turn reaches Claude as tool_use + tool_result', async () => {
    const id = 'conv-tools';
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const { events } = await streamChat(`${gw.url}/v1/chat/completions`,
      { model: 'chat', stream: true, tools, messages: [{ role: 'user', content: '!tool get_weather {"city":"Paris"}' }] },
      { headers: { ...auth(), 'x-session-id': id } });
    assert.ok(events.length > 1);
    const t = await waitForTurns(id, 2);
    const call = t.messages[1].tool_calls?.[0];
    assert.ok(call, JSON.stringify(t.messages[1]));
    assert.equal(call.function.name, 'get_weather');
    assert.equal(call.function.arguments, '{"city":"Paris"}');
    const r = await postJson(`${gw.url}/v1/chat/completions`, {
      model: 'claude', tools,
      messages: [{ role: 'tool', tool_call_id: call.id, content: '18C and sunny' }],
    }, { headers: { ...auth(), 'x-session-id': id } });
    assert.equal(r.status, 200, r.text);
    const up = (await ant.stats()).last_request.body;
    const blocks = up.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
    const use = blocks.find((b) => b.type === 'tool_use');
    const result = blocks.find((b) => b.type === 'tool_result');
    assert.equal(use?.id, call.id, JSON.stringify(up.messages));
    assert.deepEqual(use.input, { city: 'Paris' });
    assert.equal(result?.tool_use_id, call.id);
    await waitForTurns(id, 4);
  });

  test('a streamed answer is stored too', async () => {
    const id = 'conv-stream';
    const { events } = await streamChat(`${gw.url}/v1/chat/completions`,
      { model: 'chat', stream: true, messages: [{ role: 'user', content: 'streamed words' }] },
      { headers: { ...auth(), 'x-session-id': id } });
    assert.equal(deltaText(events), '[oai] streamed words');
    const t = await waitForTurns(id, 2);
    assert.deepEqual(t.messages[1], { role: 'assistant', content: '[oai] streamed words' });
  });
});

describe('the session protocol', () => {
  test('a client that sends the whole history itself is not doubled', async () => {
    const id = 'conv-overlap';
    await say('first', { id });
    await waitForTurns(id, 2);
    const r = await postJson(`${gw.url}/v1/chat/completions`, {
      model: 'chat',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: '[oai] first' },
        { role: 'user', content: '!history' },
      ],
    }, { headers: { ...auth(), 'x-session-id': id } });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.deepEqual(seen.filter((m) => m.role !== 'system').map((m) => m.content),
      ['first', '[oai] first', '!history']);
    const t = await waitForTurns(id, 4);
    assert.equal(t.messages.length, 4);
  });

  test('session ids are scoped to the key: another key cannot see, change or delete it', async () => {
    const id = 'conv-owned';
    await say('mine', { id });
    await waitForTurns(id, 2);
    const t = await transcript(id, KEY_B);
    assert.equal(t.status, 404);
    assert.equal(t.json.error.code, 'session_not_found');
    const del = await http(`${gw.url}/v1/sessions/${id}`, { method: 'DELETE', headers: auth(KEY_B) });
    assert.equal(del.status, 404);
    // The same id from key B is B's own, new session: A's history does not reach it.
    const r = await say('!history', { id, key: KEY_B });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.deepEqual(seen.filter((m) => m.role !== 'system').map((m) => m.content), ['!history']);
    const mine = await transcript(id);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.json.messages.map((m) => m.content), ['mine', '[oai] mine']);
  });

  test('DELETE drops the session', async () => {
    const id = 'conv-delete';
    await say('bye', { id });
    await waitForTurns(id, 2);
    const del = await http(`${gw.url}/v1/sessions/${id}`, { method: 'DELETE', headers: auth() });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { id, object: 'session.deleted', deleted: true });
    assert.equal((await transcript(id)).status, 404);
  });

  test('a second request on a busy session waits, then gets 409 session_busy', async () => {
    const id = 'conv-busy';
    await oai.fault({ mode: 'slow_first_byte', delay_ms: 600, count: 1 });
    const slow = say('slow one', { id });
    await new Promise((r) => setTimeout(r, 150));
    const busy = await say('impatient', { id });
    assert.equal(busy.status, 409, busy.text);
    assert.equal(busy.json.error.code, 'session_busy');
    assert.equal((await slow).status, 200);
    const t = await waitForTurns(id, 2);
    assert.deepEqual(t.messages.map((m) => m.content), ['slow one', '[oai] slow one']);
  });

  test('a bad session id or an unknown profile is a 400 naming the header', async () => {
    let r = await say('x', { id: 'bad id with spaces' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'x-session-id');
    r = await say('x', { headers: { 'x-llmgw-user': 'nobody' } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'x-llmgw-user');
  });

  test('without a session the persona is still merged into the system message', async () => {
    const r = await postJson(`${gw.url}/v1/chat/completions`, {
      model: 'gemini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '!history' }],
    }, { headers: auth() });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.deepEqual(seen.map((m) => `${m.role}:${m.content}`), [
      'system:The user is a cardiologist.\n\nBe brief.', 'user:!history',
    ]);
    assert.equal(r.headers.get('x-llmgw-session'), null);
  });

  test('the session metrics are exported', async () => {
    const text = await gw.metrics();
    assert.match(text, /^llmgw_sessions_active \d+/m);
    assert.match(text, /llmgw_session_store_duration_seconds_count\{op="append",store="memory"\} \d+/);
  });
});

describe('fitting to the context window', () => {
  const words = (tag) => `${tag} ${'lorem ipsum dolor sit amet '.repeat(8)}`.trim();

  async function fill(id, model, n) {
    for (let i = 1; i <= n; i++) {
      const r = await say(words(`turn${i}`), { id, model });
      assert.equal(r.status, 200, r.text);
      await waitForTurns(id, 2 * i);
    }
  }

  test('truncate_oldest drops whole old turns, keeps the system prompt and stores everything', async () => {
    const id = 'fit-truncate';
    await fill(id, 'tiny', 4);
    const before = await gw.metrics();
    const r = await say('!history', { id, model: 'tiny' });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    assert.equal(seen[0].role, 'system');
    assert.match(seen[0].content, /^You are a helpful assistant\./);
    assert.equal(seen.at(-1).content, '!history');
    const users = seen.filter((m) => m.role === 'user').map((m) => m.content.split(' ')[0]);
    assert.ok(!users.includes('turn1'), `the oldest turn went: ${users}`);
    assert.ok(users.includes('turn4'), `the newest turns stay: ${users}`);
    // Whole turns: every user turn left is followed by its answer.
    for (let i = 1; i < seen.length - 1; i += 2) {
      assert.equal(seen[i].role, 'user');
      assert.equal(seen[i + 1].role, 'assistant');
    }
    const t = await waitForTurns(id, 10);
    assert.equal(t.messages.length, 10, 'the store keeps every turn; only the request is fitted');
    const after = await gw.metrics();
    const n = (text) => Number(/^llmgw_context_fits_total\{action="truncated"\} (\d+)/m.exec(text)?.[1] ?? 0);
    assert.ok(n(after) > n(before));
  });

  test('summarize replaces the oldest turns with a summary, stored once', async () => {
    const id = 'fit-summarize';
    const long = (tag) => `${tag} ${'lorem ipsum dolor sit amet '.repeat(30)}`.trim();
    for (let i = 1; i <= 4; i++) {
      const r = await say(long(`turn${i}`), { id, model: 'tiny-sum' });
      assert.equal(r.status, 200, r.text);
      // (Once turns are summarised the count shrinks: wait for this turn's answer instead.)
      const deadline = Date.now() + 5000;
      while (!((await transcript(id)).json.messages ?? []).some((m) => m.content === `[oai] ${long(`turn${i}`)}`)) {
        assert.ok(Date.now() < deadline, `turn ${i} was never stored`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    const r = await say('!history', { id, model: 'tiny-sum' });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(r.json.choices[0].message.content);
    const summary = seen.find((m) => m.role === 'system' && /Summary of the earlier conversation: \[gem\]/.test(m.content));
    assert.ok(summary, `a summary note from the summarizer: ${JSON.stringify(seen.map((m) => m.role))}`);
    assert.match(summary.content, /user: turn1/);
    const deadline = Date.now() + 5000;
    let t;
    do {
      t = (await transcript(id)).json;
      if (t.summary) break;
      await new Promise((res) => setTimeout(res, 20));
    } while (Date.now() < deadline);
    assert.match(t.summary ?? '', /^\[gem\] /, 'the summary is stored with the session');
    assert.ok(!t.messages.some((m) => m.content?.startsWith?.('turn1')), 'turn 1 left the store');
    assert.equal(t.messages.at(-1).role, 'assistant');
  });

  test('reject answers 400 context_length_exceeded with the counts', async () => {
    const id = 'fit-reject';
    await fill(id, 'tiny-fallback', 4);  // stored through the large target
    const r = await say('one more', { id, model: 'tiny-reject' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'context_length_exceeded');
    assert.equal(r.json.error.param, 'messages');
    assert.match(r.json.error.message, /needs \d+ prompt tokens \(counted with o200k_base\) plus 60 reserved/);
    assert.match(r.json.error.message, /260-token context window of gpt-4o-mini/);
  });

  test('fallback_larger skips the small window for the large one', async () => {
    const id = 'fit-fallback';
    await fill(id, 'tiny-fallback', 4);
    const r = await say('which one?', { id, model: 'tiny-fallback' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'gem');
  });

  test('a failover to a smaller window fits the history again for it', async () => {
    const id = 'fit-refit';
    await fill(id, 'refit', 4);  // all on ant's large window
    await ant.fault({ mode: 'error', status: 503 });
    try {
      const r = await say('!history', { id, model: 'refit' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-llmgw-provider'), 'oai');
      const seen = JSON.parse(r.json.choices[0].message.content);
      assert.ok(seen.length < 10, `fitted for the small window: ${seen.length} messages`);
      assert.equal(seen.at(-1).content, '!history');
    } finally {
      await ant.fault({ mode: 'none' });
    }
  });
});
