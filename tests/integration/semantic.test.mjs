// Semantic health (issue 10): probes judge what an upstream says, not only whether it answers.
// A primary that answers 200 with wrong content (the simulator's `garbage` mode: arithmetic off
// by one) is taken out of routing by its probes within two probe intervals, no wrong answer is
// served after that, and it comes back through probes alone once it answers right again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricValue, postJson, simProvider, startGateway, startSim, waitFor } from './lib/harness.mjs';

const INTERVAL_MS = 300;

async function upstream(gw, name) {
  const res = await gw.admin('/admin/upstreams');
  assert.equal(res.status, 200);
  const u = (await res.json()).upstreams.find((x) => x.name === name);
  assert.ok(u, `no upstream ${name}`);
  return u;
}

const ask = (gw, content) =>
  postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content }] });

describe('semantic probes on a primary that starts answering wrong', () => {
  const ctx = {};
  before(async () => {
    ctx.primary = await startSim({ name: 'sem-primary' });
    ctx.backup = await startSim({ name: 'sem-backup' });
    ctx.gw = await startGateway({
      providers: [
        simProvider(ctx.primary, {
          health: {
            semantic: {
              interval: `${INTERVAL_MS}ms`, model: 'probe-model', probes: ['arithmetic', 'rotating'],
              unhealthy_after: 2, healthy_after: 1,
            },
          },
        }),
        simProvider(ctx.backup),
      ],
      probes: [{
        name: 'arithmetic',
        prompt: 'What is 17 + 25? Reply with the number only.',
        expect: { regex: '^\\s*42\\s*$', max_latency: '2s' },
      }, {
        // A new question every run; the expected answer is computed.
        name: 'rotating',
        prompt: 'What is {{a}} + {{b}}?',
        expect: { regex: '^\\s*{{a+b}}\\s*$' },
      }],
      models: [{
        name: 'chat', strategy: 'priority',
        targets: [{ provider: 'sem-primary', model: 'm' }, { provider: 'sem-backup', model: 'm' }],
      }],
      auth: { required: false },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await Promise.all([ctx.primary?.kill(), ctx.backup?.kill()].map((p) => p?.catch(() => {})));
  });

  test('probes pass on a right-answering primary, which serves', async () => {
    const { gw } = ctx;
    await waitFor(async () => (await metricValue(await gw.metrics(), 'llmgw_semantic_probe_total',
      { provider: 'sem-primary', probe: 'arithmetic', verdict: 'pass' })) >= 1,
    { timeout: 5000, what: 'a passing probe' });
    await waitFor(async () => (await metricValue(await gw.metrics(), 'llmgw_semantic_probe_total',
      { provider: 'sem-primary', probe: 'rotating', verdict: 'pass' })) >= 2,
    { timeout: 5000, what: 'two passing rounds of the templated probe' });
    const asked = (await ctx.primary.stats()).last_request;
    assert.doesNotMatch(JSON.stringify(asked?.body ?? ''), /\{\{/, 'placeholders are filled in');
    const u = await upstream(gw, 'sem-primary');
    assert.equal(u.checks.semantic, 'healthy');
    assert.equal(u.routable, true);
    const r = await ask(gw, 'What is 2 + 2?');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sem-primary');
    assert.equal(r.json.choices[0].message.content, '4');
    const probeCalls = (await ctx.primary.stats()).by_path['/v1/chat/completions'];
    assert.ok(probeCalls >= 2, 'the probe went to the primary as a chat completion');
  });

  test('garbage on the primary: unhealthy within two probe intervals, then no wrong answer served', async (t) => {
    const { gw, primary } = ctx;
    await primary.fault({ mode: 'garbage' });
    const began = Date.now();
    await waitFor(async () => (await upstream(gw, 'sem-primary')).checks.semantic === 'unhealthy',
      { timeout: 10 * INTERVAL_MS, interval: 10, what: 'semantic unhealthy' });
    const detectedMs = Date.now() - began;
    t.diagnostic(`detected after ${detectedMs} ms (interval ${INTERVAL_MS} ms, unhealthy_after 2)`);
    // Two failing rounds, each within interval ±10% of the last, plus the probes' own time and
    // this test's polling.
    assert.ok(detectedMs <= 2 * INTERVAL_MS * 1.1 + 250, `took ${detectedMs} ms`);
    const u = await upstream(gw, 'sem-primary');
    assert.equal(u.routable, false);
    assert.match(u.reason, /semantic probes failing/);
    assert.match(u.semantic_last_failure, /probe arithmetic: regex: .*"43"/);

    for (let i = 0; i < 10; i++) {
      const r = await ask(gw, `What is ${i} + 3?`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-llmgw-provider'), 'sem-backup');
      assert.equal(r.json.choices[0].message.content, String(i + 3));
    }
    const m = await gw.metrics();
    assert.ok(metricValue(m, 'llmgw_semantic_probe_total',
      { provider: 'sem-primary', probe: 'arithmetic', verdict: 'fail' }) >= 2);
    assert.ok(metricValue(m, 'llmgw_semantic_probe_total',
      { provider: 'sem-primary', probe: 'rotating', verdict: 'fail' }) >= 1);
    assert.equal(metricValue(m, 'llmgw_upstream_healthy', { provider: 'sem-primary', check: 'semantic' }), 0);
    assert.ok(gw.stdout.lines.some((l) => /health: provider=sem-primary event=semantic_failing/.test(l)),
      'the transition is in the daemon log');
  });

  test('the primary answers right again: back in routing through probes alone', async () => {
    const { gw, primary } = ctx;
    await primary.fault({ mode: 'none' });
    await waitFor(async () => (await upstream(gw, 'sem-primary')).routable,
      { timeout: 10 * INTERVAL_MS, interval: 10, what: 'routable again' });
    const r = await ask(gw, 'What is 5 + 5?');
    assert.equal(r.headers.get('x-llmgw-provider'), 'sem-primary');
    assert.equal(r.json.choices[0].message.content, '10');
    const m = await gw.metrics();
    assert.equal(metricValue(m, 'llmgw_upstream_healthy', { provider: 'sem-primary', check: 'semantic' }), 1);
  });
});

// The simulator's other ways of answering wrongly (each a well-formed 200), each caught by the
// probe rule made for it; the first failing probe of a round is the one reported.
describe('each way of answering wrongly fails the probe rule made for it', () => {
  const ctx = {};
  before(async () => {
    ctx.sim = await startSim({ name: 'sem-wrong' });
    ctx.gw = await startGateway({
      providers: [simProvider(ctx.sim, {
        health: {
          semantic: {
            interval: '200ms', model: 'probe-model', unhealthy_after: 1, healthy_after: 1,
            probes: ['nonempty', 'no_refusal', 'bounded', 'json_mode'],
          },
        },
      })],
      probes: [
        { name: 'nonempty', prompt: 'Say hello.', expect: { min_chars: 1 } },
        { name: 'no_refusal', prompt: 'Say hello.', expect: { not_contains: "I'm sorry" } },
        { name: 'bounded', prompt: 'Say hello.', expect: { max_chars: 300 } },
        {
          name: 'json_mode', prompt: 'Return a JSON object with key ok set to true.',
          response_format: 'json_object', expect: { json: true, required_keys: ['ok'] },
        },
      ],
      models: [{ name: 'chat', targets: [{ provider: 'sem-wrong', model: 'm' }] }],
      auth: { required: false },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await ctx.sim?.kill().catch(() => {});
  });

  for (const [mode, probe, rule] of [
    ['empty_answer', 'nonempty', 'min_chars'],
    ['refusal', 'no_refusal', 'not_contains'],
    ['repetition', 'bounded', 'max_chars'],
    ['bad_json', 'json_mode', 'json'],
  ]) {
    test(`${mode}: probe ${probe} fails on ${rule}, and passes again once the answers are right`, async () => {
      const { gw, sim } = ctx;
      await waitFor(async () => (await upstream(gw, 'sem-wrong')).checks.semantic === 'healthy',
        { timeout: 5000, interval: 10, what: 'healthy before the fault' });
      await sim.fault({ mode });
      await waitFor(async () => (await upstream(gw, 'sem-wrong')).checks.semantic === 'unhealthy',
        { timeout: 5000, interval: 10, what: `unhealthy under ${mode}` });
      const u = await upstream(gw, 'sem-wrong');
      assert.match(u.semantic_last_failure, new RegExp(`^probe ${probe}: ${rule}: `));
      await sim.fault({ mode: 'none' });
      await waitFor(async () => (await upstream(gw, 'sem-wrong')).checks.semantic === 'healthy',
        { timeout: 5000, interval: 10, what: 'healthy after the fault' });
    });
  }
});
