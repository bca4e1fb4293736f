// A model's canary rolls itself back (issue 10): a canary target that starts refusing is judged
// on the traffic it serves, its share goes to 0 on the breach of rollback_on, and it stays
// there — metric, log line and admin API say why — until an operator resumes it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricValue, postJson, simProvider, startGateway, startSim } from './lib/harness.mjs';

const ask = (gw, content) =>
  postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content }] });

async function canary(gw) {
  const res = await gw.admin('/admin/canaries');
  assert.equal(res.status, 200);
  return (await res.json()).canaries.find((c) => c.model === 'chat');
}

describe('a canary that starts refusing', () => {
  const ctx = {};
  before(async () => {
    ctx.stable = await startSim({ name: 'can-stable' });
    ctx.canary = await startSim({ name: 'can-new' });
    ctx.gw = await startGateway({
      providers: [simProvider(ctx.stable), simProvider(ctx.canary)],
      models: [{
        name: 'chat', strategy: 'priority',
        targets: [{ provider: 'can-stable', model: 'm' }, { provider: 'can-new', model: 'm' }],
        canary: { target: 'can-new', percent: 50, rollback_on: { semantic_failures: 3 } },
      }],
      auth: { required: false },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await Promise.all([ctx.stable?.kill(), ctx.canary?.kill()].map((p) => p?.catch(() => {})));
  });

  test('takes its share while it answers well', async () => {
    const { gw } = ctx;
    const served = { 'can-stable': 0, 'can-new': 0 };
    for (let i = 0; i < 40; i++) {
      const r = await ask(gw, `What is ${i} + 2?`);
      assert.equal(r.status, 200);
      served[r.headers.get('x-llmgw-provider')]++;
    }
    assert.ok(served['can-new'] >= 8 && served['can-new'] <= 32, JSON.stringify(served));
    const c = await canary(gw);
    assert.equal(c.state, 'active');
    assert.equal(metricValue(await gw.metrics(), 'llmgw_canary_state', { model: 'chat' }), 1);
  });

  test('rolls back within three bad answers and stays rolled back', async () => {
    const { gw } = ctx;
    await ctx.canary.fault({ mode: 'refusal' });
    let refusals = 0;
    for (let i = 0; i < 60 && (await canary(gw)).state === 'active'; i++) {
      const r = await ask(gw, 'Tell me a joke.');
      if (r.headers.get('x-llmgw-provider') === 'can-new') refusals++;
    }
    const c = await canary(gw);
    assert.equal(c.state, 'rolled_back');
    assert.equal(refusals, 3, 'the third bad answer rolls it back');
    assert.match(c.reason, /3 answers with a bad-answer signal/);
    const m = await gw.metrics();
    assert.equal(metricValue(m, 'llmgw_canary_state', { model: 'chat' }), 0);
    assert.equal(metricValue(m, 'llmgw_canary_rollbacks_total', { model: 'chat' }), 1);
    assert.ok(gw.stdout.lines.some((l) => /canary rolled back: model=chat target=can-new/.test(l)));
    await ctx.canary.fault({ mode: 'none' });
    for (let i = 0; i < 20; i++) {
      const r = await ask(gw, `What is ${i} + 5?`);
      assert.equal(r.headers.get('x-llmgw-provider'), 'can-stable', 'its share is 0');
    }
  });

  test('an operator resumes it', async () => {
    const { gw } = ctx;
    const res = await gw.admin('/admin/canary/chat/resume', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).state, 'active');
    let canaryServed = 0;
    for (let i = 0; i < 30; i++) {
      const r = await ask(gw, `What is ${i} + 7?`);
      if (r.headers.get('x-llmgw-provider') === 'can-new') canaryServed++;
    }
    assert.ok(canaryServed > 0, 'back to its share');
    assert.equal((await gw.admin('/admin/canary/nope/resume', { method: 'POST' })).status, 404);
  });
});
