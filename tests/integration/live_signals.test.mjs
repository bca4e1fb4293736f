// Live-traffic semantic signals (issue 10): the answers a target actually serves are watched
// for signs of a bad answer. A refusal storm marks the target degraded (tried after every clean
// target) until its window forgets; with on_bad_answer: retry_elsewhere an empty answer is
// held back while another target tries, and served only when nothing does better.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricValue, postJson, simProvider, startGateway, startSim, waitFor } from './lib/harness.mjs';

async function upstream(gw, name) {
  const res = await gw.admin('/admin/upstreams');
  assert.equal(res.status, 200);
  return (await res.json()).upstreams.find((x) => x.name === name);
}

const ask = (gw, content, extra = {}) =>
  postJson(`${gw.url}/v1/chat/completions`,
    { model: 'chat', messages: [{ role: 'user', content }], ...extra });

async function pair(ctx, semantic) {
  ctx.primary = await startSim({ name: 'sig-primary' });
  ctx.backup = await startSim({ name: 'sig-backup' });
  ctx.gw = await startGateway({
    providers: [simProvider(ctx.primary, { health: { semantic } }), simProvider(ctx.backup)],
    models: [{
      name: 'chat', strategy: 'priority',
      targets: [{ provider: 'sig-primary', model: 'm' }, { provider: 'sig-backup', model: 'm' }],
    }],
    auth: { required: false },
  });
}

async function stop(ctx) {
  await ctx.gw?.stop('SIGKILL').catch(() => {});
  await Promise.all([ctx.primary?.kill(), ctx.backup?.kill()].map((p) => p?.catch(() => {})));
}

describe('a refusal storm on the primary', () => {
  const ctx = {};
  before(() => pair(ctx, { signals: { window: '3s', min_answers: 5, refusal: 0.5 } }));
  after(() => stop(ctx));

  test('marks it degraded: still routable, tried after the clean target', async () => {
    const { gw, primary } = ctx;
    await primary.fault({ mode: 'refusal' });
    for (let i = 0; i < 5; i++) {
      const r = await ask(gw, `question ${i}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-llmgw-provider'), 'sig-primary', 'served as it came');
    }
    const u = await upstream(gw, 'sig-primary');
    assert.equal(u.checks.signals, 'degraded');
    assert.equal(u.routable, true);
    assert.match(u.reason, /degraded: live answers: 100% of recent answers refusal \(threshold 50%\)/);
    assert.equal(u.signals.answers, 5);
    assert.equal(u.signals.rates.refusal, 1);
    const r = await ask(gw, 'What is 2 + 2?');
    assert.equal(r.headers.get('x-llmgw-provider'), 'sig-backup');
    assert.equal(r.json.choices[0].message.content, '4');
    const m = await gw.metrics();
    assert.equal(metricValue(m, 'llmgw_semantic_signal_total',
      { provider: 'sig-primary', signal: 'refusal' }), 5);
    assert.ok(gw.stdout.lines.some((l) => /event=signals_degraded/.test(l)), 'logged');
    const page = await (await gw.admin('/')).text();
    assert.match(page, /degraded: 100% of recent answers refusal/);
  });

  test('comes back when its window has forgotten the storm', async () => {
    const { gw, primary } = ctx;
    await primary.fault({ mode: 'none' });
    await waitFor(async () => (await upstream(gw, 'sig-primary')).checks.signals === 'healthy',
      { timeout: 6000, what: 'signals healthy again' });
    const r = await ask(gw, 'What is 3 + 3?');
    assert.equal(r.headers.get('x-llmgw-provider'), 'sig-primary');
  });
});

describe('on_bad_answer: retry_elsewhere', () => {
  const ctx = {};
  before(() => pair(ctx, { signals: { min_answers: 100 }, on_bad_answer: 'retry_elsewhere' }));
  after(() => stop(ctx));

  test('an empty answer is held back while another target answers', async () => {
    const { gw, primary } = ctx;
    await primary.fault({ mode: 'empty_answer' });
    const r = await ask(gw, 'What is 4 + 4?');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sig-backup');
    assert.equal(r.json.choices[0].message.content, '8');
    assert.equal(metricValue(await gw.metrics(), 'llmgw_bad_answer_retries_total',
      { provider: 'sig-primary', signal: 'empty' }), 1);
  });

  test('and served after all when nothing does better, marked', async () => {
    const { gw, backup } = ctx;
    await backup.fault({ mode: 'error', status: 500 });
    const r = await ask(gw, 'What is 4 + 4?');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sig-primary');
    assert.equal(r.headers.get('x-llmgw-bad-answer'), 'empty');
    assert.equal(r.json.choices[0].message.content, '');
    await backup.fault({ mode: 'none' });
  });

  test('invalid JSON under response_format json_object is a signal too', async () => {
    const { gw, primary } = ctx;
    await primary.fault({ mode: 'bad_json' });
    const r = await ask(gw, 'Give me JSON.', { response_format: { type: 'json_object' } });
    assert.equal(r.headers.get('x-llmgw-provider'), 'sig-backup');
    assert.doesNotThrow(() => JSON.parse(r.json.choices[0].message.content));
    assert.equal(metricValue(await gw.metrics(), 'llmgw_semantic_signal_total',
      { provider: 'sig-primary', signal: 'invalid_json' }), 1);
  });
});

describe('user feedback', () => {
  const ctx = {};
  before(() => pair(ctx, { signals: { window: '1m', feedback_below: -0.2, min_feedback: 3 } }));
  after(() => stop(ctx));

  const rate = (gw, body) => postJson(`${gw.url}/v1/feedback`, body);

  test('bad ratings of the primary\'s answers mark it degraded', async () => {
    const { gw } = ctx;
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await ask(gw, `What is ${i} + 1?`);
      assert.equal(r.headers.get('x-llmgw-provider'), 'sig-primary');
      ids.push(r.headers.get('x-request-id'));
    }
    for (const id of ids) {
      const r = await rate(gw, { request_id: id, score: -1, comment: 'wrong' });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.provider, 'sig-primary');
      assert.equal(r.json.model, 'chat');
    }
    const u = await upstream(gw, 'sig-primary');
    assert.equal(u.checks.signals, 'degraded');
    assert.match(u.reason, /mean feedback -1\.00 over 3 ratings \(below -0\.20\)/);
    assert.equal(u.signals.ratings, 3);
    assert.equal(metricValue(await gw.metrics(), 'llmgw_feedback_total',
      { provider: 'sig-primary', rating: 'negative' }), 3);
    const next = await ask(gw, 'What is 9 + 1?');
    assert.equal(next.headers.get('x-llmgw-provider'), 'sig-backup');
  });

  test('a bad body or an unknown request gets a clear error', async () => {
    const { gw } = ctx;
    let r = await rate(gw, { request_id: 'x', score: 2 });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'score');
    r = await rate(gw, { score: 1 });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'request_id');
    r = await rate(gw, { request_id: 'never-seen', score: 1 });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'request_not_found');
    r = await rate(gw, { request_id: 'x', score: 1, comment: 'y'.repeat(5000) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'comment');
  });
});

describe('feedback without live signals', () => {
  const ctx = {};
  before(() => pair(ctx, undefined));
  after(() => stop(ctx));

  test('says it is not enabled', async () => {
    const r = await postJson(`${ctx.gw.url}/v1/feedback`, { request_id: 'x', score: 1 });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'feedback_not_enabled');
  });
});
