// config/demo.yaml as scripts/demo.sh runs it: two simulators named sim-a and sim-b, the
// gateway on the demo file itself (its addresses come from the variables the file reads). The
// README's walk-through, checked: breaking one simulator is noticed by its active check within
// one interval, after which requests are served by the other with exactly one attempt (no
// request pays for the broken target), the admin API says why, and healing brings it back.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, getJson, metricValue, postJson, startGateway, startSim, waitFor } from './lib/harness.mjs';

const DEMO = readFileSync(path.join(REPO, 'config', 'demo.yaml'), 'utf8');
const ACTIVE_INTERVAL_MS = 1000;  // providers[].health.active.interval in the demo
const ACTIVE_TIMEOUT_MS = 500;
const SLOW = process.env.LLMGW_SANITIZED ? 3 : 1;

const ctx = {};

before(async () => {
  const models = ['sim-model', 'sim-small', 'sim-embed'];
  const [a, b] = await Promise.all([
    startSim({ name: 'sim-a', models }), startSim({ name: 'sim-b', models })]);
  ctx.a = a;
  ctx.b = b;
  ctx.gw = await startGateway(DEMO, {
    env: {
      SIM_A: `127.0.0.1:${a.port}`,
      SIM_B: `127.0.0.1:${b.port}`,
      LLMGW_LISTEN: '127.0.0.1:0',
      LLMGW_ADMIN_LISTEN: '127.0.0.1:0',
    },
  });
});

after(async () => {
  await ctx.gw?.stop('SIGKILL').catch(() => {});
});

const hello = () => postJson(`${ctx.gw.url}/v1/chat/completions`,
  { model: 'demo', messages: [{ role: 'user', content: 'hello' }] });

async function upstream(name) {
  const { status, json } = await getJson(`${ctx.gw.adminUrl}/admin/upstreams`);
  assert.equal(status, 200);
  return json.upstreams.find((u) => u.name === name);
}

const attemptsOn = async (provider) =>
  metricValue(await ctx.gw.metrics(), 'llmgw_upstream_requests_total', { provider }) ?? 0;

test('demo: a broken simulator is out after one active-check interval; requests take one attempt on the other', async () => {
  const { gw, a } = ctx;
  // Both targets are checked healthy first (the first check runs at start).
  await waitFor(async () => (await upstream('sim-a'))?.checks.active === 'healthy',
    { timeout: 5000 * SLOW, what: 'sim-a checked healthy' });
  const first = await hello();
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('x-llmgw-provider'), 'sim-a');
  assert.equal(first.headers.get('x-llmgw-attempts'), '1');

  // The README's break: every path of sim-a answers 503.
  await a.fault({ mode: 'error', status: 503 });
  const broke = Date.now();
  const out = await waitFor(async () => {
    const u = await upstream('sim-a');
    return u.routable === false ? u : null;
  }, { timeout: (ACTIVE_INTERVAL_MS + ACTIVE_TIMEOUT_MS + 2000) * SLOW, interval: 50,
    what: 'sim-a taken out by its active check' });
  const took = Date.now() - broke;
  assert.ok(took <= (ACTIVE_INTERVAL_MS + ACTIVE_TIMEOUT_MS + 500) * SLOW,
    `noticed after ${took} ms, more than one check interval`);
  assert.equal(out.checks.active, 'unhealthy');
  assert.equal(out.reasons[0].kind, 'active', JSON.stringify(out.reasons));
  assert.match(out.last_error, /active check: .*503/);

  const onA = await attemptsOn('sim-a');
  for (let i = 0; i < 10; i++) {
    const r = await hello();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'sim-b');
    assert.equal(r.headers.get('x-llmgw-model'), 'sim-model');
    assert.equal(r.headers.get('x-llmgw-attempts'), '1', `request ${i} paid for the broken target`);
  }
  assert.equal(await attemptsOn('sim-a'), onA, 'an attempt went to the broken sim-a');

  // The status page and the per-model view say the same.
  const page = await (await gw.admin('/')).text();
  assert.match(page, /<tr class="bad" data-provider="sim-a">/);
  const { json } = await getJson(`${gw.adminUrl}/admin/upstreams`);
  const demo = json.models.find((m) => m.name === 'demo');
  assert.equal(demo.next.provider, 'sim-b');
  assert.deepEqual(demo.fallbacks, ['demo-small']);

  // Healed: two passing checks (every 250 ms while unhealthy) bring sim-a back.
  await a.fault({ mode: 'none' });
  await waitFor(async () => (await hello()).headers.get('x-llmgw-provider') === 'sim-a',
    { timeout: 5000 * SLOW, interval: 100, what: 'traffic back on sim-a' });
});
