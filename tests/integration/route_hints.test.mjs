// What a request says about where it should go: x-llmgw-route-hint (cheapest, fastest)
// reorders the model's targets whatever its strategy; models[].select sends a request to
// another model by its prompt size, its tools or images, or an x-llmgw-* header.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricValue, postJson, simProvider, startGateway, startSim } from './lib/harness.mjs';

let dear;
let cheap;
let gw;

const ask = (model, { headers = {}, extra = {}, content = 'hello' } = {}) => postJson(
  `${gw.url}/v1/chat/completions`,
  { model, messages: [{ role: 'user', content }], ...extra },
  { headers },
);

before(async () => {
  dear = await startSim({ name: 'dear' });
  cheap = await startSim({ name: 'cheap' });
  gw = await startGateway({
    providers: [simProvider(dear), simProvider(cheap)],
    models: [
      {
        name: 'chat',
        strategy: 'priority',
        targets: [
          { provider: 'dear', model: 'gpt-4o', price: { input_per_mtok: 5, output_per_mtok: 15 } },
          { provider: 'cheap', model: 'gpt-4o-mini', price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } },
        ],
      },
      { name: 'small', targets: [{ provider: 'cheap', model: 'gpt-4o-mini' }] },
      { name: 'vision', targets: [{ provider: 'dear', model: 'gpt-4o' }] },
      {
        name: 'auto',
        targets: [{ provider: 'dear', model: 'gpt-4o' }],
        select: [
          { when: { headers: { 'x-llmgw-tier': 'free' } }, use: 'small' },
          { when: { images: true }, use: 'vision' },
          { when: { max_prompt_tokens: 50, tools: false }, use: 'small' },
        ],
      },
    ],
    auth: { required: false },
  });
});

after(async () => {
  await dear?.fault({ mode: 'none' }).catch(() => {});
});

describe('x-llmgw-route-hint', () => {
  test('cheapest serves from the cheapest target although the strategy is priority', async () => {
    const plain = await ask('chat');
    assert.equal(plain.status, 200, plain.text);
    assert.equal(plain.headers.get('x-llmgw-provider'), 'dear');
    const hinted = await ask('chat', { headers: { 'x-llmgw-route-hint': 'cheapest' } });
    assert.equal(hinted.status, 200, hinted.text);
    assert.equal(hinted.headers.get('x-llmgw-provider'), 'cheap');
  });

  test('fastest serves from the target with the lower time to first token', async () => {
    // Teach the gateway both targets' latency: dear answers its first byte 150 ms late.
    await dear.fault({ mode: 'slow_first_byte', delay_ms: 150 });
    for (let i = 0; i < 3; i++) {
      assert.equal((await ask('chat')).status, 200);
      assert.equal((await ask('chat', { headers: { 'x-llmgw-route-hint': 'cheapest' } })).status, 200);
    }
    const r = await ask('chat', { headers: { 'x-llmgw-route-hint': 'fastest' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'cheap');
    await dear.fault({ mode: 'none' });
  });

  test('an unknown hint is a 400 naming the header', async () => {
    const r = await ask('chat', { headers: { 'x-llmgw-route-hint': 'free' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'invalid_request');
    assert.match(r.json.error.message, /x-llmgw-route-hint must be 'cheapest' or 'fastest'/);
  });
});

describe('models[].select', () => {
  test('a short prompt without tools goes to the small model', async () => {
    const r = await ask('auto');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-model'), 'gpt-4o-mini');
    const m = await gw.metrics();
    assert.ok(metricValue(m, 'llmgw_model_selections_total', { model: 'auto', selected: 'small' }) >= 1);
  });

  test('a long prompt, or one with tools, stays on the model\'s own target', async () => {
    const long = await ask('auto', { content: 'word '.repeat(200) });
    assert.equal(long.status, 200, long.text);
    assert.equal(long.headers.get('x-llmgw-model'), 'gpt-4o');
    const tools = await ask('auto', {
      extra: { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] },
    });
    assert.equal(tools.status, 200, tools.text);
    assert.equal(tools.headers.get('x-llmgw-model'), 'gpt-4o');
  });

  test('an image goes to the vision model; a header rule wins first', async () => {
    const image = {
      model: 'auto',
      messages: [{
        role: 'user',
        content: [{ type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: 'https://example.invalid/cat.png' } }],
      }],
    };
    const r = await postJson(`${gw.url}/v1/chat/completions`, image);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-model'), 'gpt-4o');
    assert.equal(metricValue(await gw.metrics(), 'llmgw_model_selections_total', { model: 'auto', selected: 'vision' }), 1);
    const free = await postJson(`${gw.url}/v1/chat/completions`, image, { headers: { 'X-LLMGW-Tier': 'free' } });
    assert.equal(free.status, 200, free.text);
    assert.equal(free.headers.get('x-llmgw-model'), 'gpt-4o-mini');
  });
});

describe('models[].select with a response cache', () => {
  test('the same body with another select header is another cache entry', async () => {
    const cgw = await startGateway({
      providers: [simProvider(dear), simProvider(cheap)],
      models: [
        { name: 'small', targets: [{ provider: 'cheap', model: 'gpt-4o-mini' }] },
        {
          name: 'tiered',
          targets: [{ provider: 'dear', model: 'gpt-4o' }],
          cache: { ttl: '10m' },
          select: [{ when: { headers: { 'x-llmgw-tier': 'free' } }, use: 'small' }],
        },
      ],
      auth: { required: false },
    });
    try {
      const body = { model: 'tiered', temperature: 0, messages: [{ role: 'user', content: 'cache me' }] };
      const url = `${cgw.url}/v1/chat/completions`;
      const free = await postJson(url, body, { headers: { 'x-llmgw-tier': 'free' } });
      assert.equal(free.status, 200, free.text);
      assert.equal(free.headers.get('x-llmgw-cache'), 'miss');
      assert.equal(free.headers.get('x-llmgw-model'), 'gpt-4o-mini');
      const plain = await postJson(url, body);
      assert.equal(plain.status, 200, plain.text);
      assert.equal(plain.headers.get('x-llmgw-cache'), 'miss', 'not the free tier\'s answer');
      assert.equal(plain.headers.get('x-llmgw-model'), 'gpt-4o');
    } finally {
      await cgw.stop();
    }
  });
});
