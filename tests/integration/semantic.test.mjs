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

// Model-graded probes (probes[].expect.judge and similar_to): after an answer keeps every rule,
// a judge model grades it / an embeddings model measures how close it is to a reference. Both
// are routed over the config's models, never to the provider being probed; a grader that cannot
// answer leaves the verdict unknown (no health change).
const probeCount = async (gw, provider, probe, verdict) =>
  metricValue(await gw.metrics(), 'llmgw_semantic_probe_total', { provider, probe, verdict }) ?? 0;

const JUDGE_PREAMBLE = 'You grade an answer against a rubric.';
const SUM_PROMPT = 'What is {{a}} + {{b}}? Reply with the number only.';

// A provider probed by one probe, graded by `grader` / `embedder` (which the caller defines).
const judgedProvider = (sim, probe) => simProvider(sim, {
  health: {
    semantic: {
      interval: '200ms', model: 'probe-model', probes: [probe], unhealthy_after: 2, healthy_after: 1,
    },
  },
});

describe('judge: a simulator grades the probed answers', () => {
  const ctx = {};
  before(async () => {
    ctx.a = await startSim({ name: 'sem-judged' });
    ctx.j = await startSim({ name: 'sem-judge' });
    ctx.gw = await startGateway({
      providers: [judgedProvider(ctx.a, 'sum_judged'), simProvider(ctx.j)],
      probes: [{
        // No rule of its own: only the judge can fail it.
        name: 'sum_judged', prompt: SUM_PROMPT,
        expect: { judge: { model: 'grader', rubric: 'Is the sum right?', min_score: 7 } },
      }],
      models: [
        { name: 'chat', targets: [{ provider: 'sem-judged', model: 'm' }] },
        { name: 'grader', targets: [{ provider: 'sem-judge', model: 'judge-model' }] },
      ],
      auth: { required: false },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await Promise.all([ctx.a?.kill(), ctx.j?.kill()].map((p) => p?.catch(() => {})));
  });

  test('right sums are graded 10 by the judge: the probe passes', async () => {
    const { gw, a, j } = ctx;
    await waitFor(async () => (await probeCount(gw, 'sem-judged', 'sum_judged', 'pass')) >= 2,
      { timeout: 5000, what: 'two judged passes' });
    const u = await upstream(gw, 'sem-judged');
    assert.equal(u.checks.semantic, 'healthy');
    assert.equal(u.routable, true);
    assert.equal(await probeCount(gw, 'sem-judged', 'sum_judged', 'fail'), 0);
    // The judge got the instantiated question and the probed answer.
    const asked = (await j.stats()).last_request;
    assert.equal(asked.path, '/v1/chat/completions');
    assert.equal(asked.body.model, 'judge-model');
    const [system, user] = asked.body.messages;
    assert.equal(system.role, 'system');
    assert.ok(system.content.startsWith(JUDGE_PREAMBLE), system.content);
    assert.match(system.content, /Is the sum right\?/);
    const m = user.content.match(/^Question:\nWhat is (\d+) \+ (\d+)\? Reply with the number only\.\n\nAnswer:\n(-?\d+)$/);
    assert.ok(m, `judge's user message: ${JSON.stringify(user.content)}`);
    assert.equal(Number(m[3]), Number(m[1]) + Number(m[2]));
    // The probed provider only ever answers probes, never grades.
    const probed = (await a.stats()).last_request;
    assert.equal(probed.body.model, 'probe-model');
    assert.ok(!probed.body.messages.some((x) => x.role === 'system'), 'no judge request to the probed provider');
  });

  test('garbage on the probed provider: graded 0, semantically unhealthy; back once right', async () => {
    const { gw, a } = ctx;
    await a.fault({ mode: 'garbage' });
    await waitFor(async () => (await upstream(gw, 'sem-judged')).checks.semantic === 'unhealthy',
      { timeout: 5000, interval: 10, what: 'semantic unhealthy under garbage' });
    const u = await upstream(gw, 'sem-judged');
    assert.equal(u.routable, false);
    assert.match(u.semantic_last_failure,
      /^probe sum_judged: judge: graded 0\.0\/10 by grader, below 7\.0: /);
    assert.ok(await probeCount(gw, 'sem-judged', 'sum_judged', 'fail') >= 2);
    assert.ok(gw.stdout.lines.some((l) => /semantic probe failed: provider=sem-judged probe=sum_judged rule=judge /.test(l)),
      'the failing probe is in the daemon log');

    await a.fault({ mode: 'none' });
    await waitFor(async () => (await upstream(gw, 'sem-judged')).checks.semantic === 'healthy',
      { timeout: 5000, interval: 10, what: 'semantic healthy again' });
    assert.equal((await upstream(gw, 'sem-judged')).routable, true);
  });
});

describe('judge: never the provider being judged', () => {
  const ctx = {};
  before(async () => {
    ctx.a = await startSim({ name: 'sem-self' });
    ctx.gw = await startGateway({
      providers: [judgedProvider(ctx.a, 'sum_self')],
      probes: [{
        name: 'sum_self', prompt: SUM_PROMPT,
        expect: { judge: { model: 'grader', rubric: 'Is the sum right?' } },
      }],
      // The grader's only target is the probed provider itself.
      models: [{ name: 'grader', targets: [{ provider: 'sem-self', model: 'judge-model' }] }],
      auth: { required: false },
      logging: { level: 'debug' },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await ctx.a?.kill().catch(() => {});
  });

  test('a grader whose only target is the probed provider: unknown, no judge request, health kept', async () => {
    const { gw, a } = ctx;
    await waitFor(async () => (await probeCount(gw, 'sem-self', 'sum_self', 'unknown')) >= 3,
      { timeout: 5000, what: 'three unknown verdicts' });
    // Sim requests first, then the probes counted: with no judge call the sim has seen at most
    // one probe more (in flight) than the gateway counted; a judge call per probe would double it.
    const seen = (await a.stats()).by_path['/v1/chat/completions'] ?? 0;
    const m = await gw.metrics();
    const counted = ['pass', 'fail', 'unknown'].reduce((n, verdict) => n + (metricValue(m,
      'llmgw_semantic_probe_total', { provider: 'sem-self', probe: 'sum_self', verdict }) ?? 0), 0);
    assert.ok(seen >= 3 && seen <= counted + 1, `the probed sim saw ${seen} chat requests for ${counted} probes`);
    assert.equal(metricValue(m, 'llmgw_semantic_probe_total', { provider: 'sem-self', probe: 'sum_self', verdict: 'pass' }) ?? 0, 0,
      'never graded (the probed sim, as judge, would have passed it)');
    assert.equal(metricValue(m, 'llmgw_semantic_probe_total', { provider: 'sem-self', probe: 'sum_self', verdict: 'fail' }) ?? 0, 0);
    const probed = (await a.stats()).last_request;
    assert.equal(probed.body.model, 'probe-model');
    const u = await upstream(gw, 'sem-self');
    assert.equal(u.checks.semantic, 'healthy');
    assert.equal(u.routable, true);
    assert.ok(gw.stdout.lines.some((l) =>
      /semantic probe got no answer: provider=sem-self probe=sum_self \(judge: grader did not answer: .*no routable target other than 'sem-self'/.test(l)),
    'the reason is in the daemon log');
  });
});

describe('judge: a grader that cannot answer decides nothing', () => {
  const ctx = {};
  before(async () => {
    ctx.a = await startSim({ name: 'sem-graded' });
    ctx.j = await startSim({ name: 'sem-judge-down' });
    ctx.gw = await startGateway({
      providers: [judgedProvider(ctx.a, 'sum_graded'), simProvider(ctx.j)],
      probes: [{
        name: 'sum_graded', prompt: SUM_PROMPT,
        expect: { judge: { model: 'grader', rubric: 'Is the sum right?', min_score: 7 } },
      }],
      models: [{ name: 'grader', targets: [{ provider: 'sem-judge-down', model: 'judge-model' }] }],
      auth: { required: false },
      logging: { level: 'debug' },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await Promise.all([ctx.a?.kill(), ctx.j?.kill()].map((p) => p?.catch(() => {})));
  });

  test('judge answering 500: unknown, the probed provider stays healthy even while answering wrong', async () => {
    const { gw, a, j } = ctx;
    await waitFor(async () => (await probeCount(gw, 'sem-graded', 'sum_graded', 'pass')) >= 1,
      { timeout: 5000, what: 'a judged pass' });
    // The judge breaks first (seen as an unknown verdict), then the probed provider answers wrong:
    // no probe can be graded from then on.
    await j.fault({ mode: 'error', status: 500 });
    const u0 = await probeCount(gw, 'sem-graded', 'sum_graded', 'unknown');
    await waitFor(async () => (await probeCount(gw, 'sem-graded', 'sum_graded', 'unknown')) > u0,
      { timeout: 5000, what: 'an unknown verdict with the judge down' });
    await a.fault({ mode: 'garbage' });
    const u1 = await probeCount(gw, 'sem-graded', 'sum_graded', 'unknown');
    await waitFor(async () => (await probeCount(gw, 'sem-graded', 'sum_graded', 'unknown')) >= u1 + 3,
      { timeout: 5000, what: 'three more unknown verdicts under garbage' });
    assert.equal(await probeCount(gw, 'sem-graded', 'sum_graded', 'fail'), 0);
    const u = await upstream(gw, 'sem-graded');
    assert.equal(u.checks.semantic, 'healthy');
    assert.equal(u.routable, true);
    assert.ok(((await j.stats()).by_path['/v1/chat/completions'] ?? 0) >= 4, 'the judge was asked');
    assert.ok(gw.stdout.lines.some((l) =>
      /semantic probe got no answer: provider=sem-graded probe=sum_graded \(judge: grader did not answer: /.test(l)),
    'the reason is in the daemon log');

    // The judge back: the wrong answers it now grades take the provider out.
    await j.fault({ mode: 'none' });
    await waitFor(async () => (await upstream(gw, 'sem-graded')).checks.semantic === 'unhealthy',
      { timeout: 5000, interval: 10, what: 'unhealthy once the judge answers again' });
    assert.match((await upstream(gw, 'sem-graded')).semantic_last_failure, /judge: graded 0\.0\/10 by grader/);
    await a.fault({ mode: 'none' });
    await waitFor(async () => (await upstream(gw, 'sem-graded')).checks.semantic === 'healthy',
      { timeout: 5000, interval: 10, what: 'healthy again' });
  });
});

describe('similar_to: an embeddings model measures the answer against a reference', () => {
  const ctx = {};
  const REFERENCE = 'The capital of France is Paris.';
  before(async () => {
    ctx.a = await startSim({ name: 'sem-geo' });
    ctx.e = await startSim({ name: 'sem-embedder' });
    ctx.gw = await startGateway({
      providers: [judgedProvider(ctx.a, 'capital'), simProvider(ctx.e)],
      probes: [{
        // The sim echoes the question ("[sem-geo] What is the capital of France?"): it shares
        // most of its words with the reference (cosine about 0.7).
        name: 'capital', prompt: 'What is the capital of France?',
        expect: { similar_to: { text: REFERENCE, min_cosine: 0.5, model: 'embedder' } },
      }],
      models: [{ name: 'embedder', targets: [{ provider: 'sem-embedder', model: 'embed-model' }] }],
      auth: { required: false },
    });
  });
  after(async () => {
    await ctx.gw?.stop('SIGKILL').catch(() => {});
    await Promise.all([ctx.a?.kill(), ctx.e?.kill()].map((p) => p?.catch(() => {})));
  });

  test('a close answer passes; lorem ipsum (garbage) fails on similar_to; back once right', async () => {
    const { gw, a, e } = ctx;
    await waitFor(async () => (await probeCount(gw, 'sem-geo', 'capital', 'pass')) >= 2,
      { timeout: 5000, what: 'two passes' });
    assert.equal((await upstream(gw, 'sem-geo')).checks.semantic, 'healthy');
    const asked = (await e.stats()).last_request;
    assert.equal(asked.path, '/v1/embeddings');
    assert.equal(asked.body.model, 'embed-model');
    assert.deepEqual(asked.body.input, ['[sem-geo] What is the capital of France?', REFERENCE]);
    assert.equal((await a.stats()).by_path['/v1/embeddings'], undefined, 'nothing embedded by the probed provider');

    await a.fault({ mode: 'garbage' });
    await waitFor(async () => (await upstream(gw, 'sem-geo')).checks.semantic === 'unhealthy',
      { timeout: 5000, interval: 10, what: 'semantic unhealthy under garbage' });
    const u = await upstream(gw, 'sem-geo');
    assert.equal(u.routable, false);
    assert.match(u.semantic_last_failure,
      /^probe capital: similar_to: cosine -?\d\.\d{3} to the reference, below 0\.500: "lorem ipsum dolor"/);
    assert.ok(await probeCount(gw, 'sem-geo', 'capital', 'fail') >= 2);

    await a.fault({ mode: 'none' });
    await waitFor(async () => (await upstream(gw, 'sem-geo')).checks.semantic === 'healthy',
      { timeout: 5000, interval: 10, what: 'semantic healthy again' });
  });
});
