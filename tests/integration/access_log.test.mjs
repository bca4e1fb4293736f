// The access log as operators of nginx / Envoy read it, and the daemon log in JSON mode: every
// stdout line is one JSON object (the harness learns the ports from the "listening" object).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  getJson, http, metricValue, postJson, simProvider, startGateway, startSim, waitFor,
} from './lib/harness.mjs';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let a;
let b;
let gw;

before(async () => {
  [a, b] = await Promise.all([startSim({ name: 'log-a' }), startSim({ name: 'log-b' })]);
  gw = await startGateway({
    logging: { format: 'json' },
    providers: [simProvider(a), simProvider(b)],
    models: [{
      name: 'chat',
      targets: [{ provider: 'log-a', model: 'model-a' }, { provider: 'log-b', model: 'model-b' }],
      retry: { attempts: 1 },
    }],
    auth: { required: false },
  });
});

after(async () => {
  await gw?.stop();
});

beforeEach(async () => {
  await Promise.all([a.reset(), b.reset()]);
  await Promise.all(['log-a', 'log-b'].map((n) => gw.admin(`/admin/upstreams/${n}/restore`, { method: 'POST' })));
});

const lineFor = (id) => waitFor(() => gw.accessLog().find((l) => l.request_id === id),
  { timeout: 3000, what: `the access log line of ${id}` });

describe('access log', () => {
  test('a failed-over request: ts, method, bytes, user agent, one entry per attempt', async () => {
    await a.fault({ mode: 'error', status: 503 });
    const id = `failover-${Date.now()}`;
    const started = Date.now();
    const r = await postJson(`${gw.url}/v1/chat/completions`,
      { model: 'chat', messages: [{ role: 'user', content: 'who answers?' }] },
      { headers: { 'x-request-id': id, 'user-agent': 'it-agent/1.0' } });
    assert.equal(r.status, 200, r.text);
    const line = await lineFor(id);
    assert.match(line.ts, RFC3339_MS);
    assert.ok(Math.abs(Date.parse(line.ts) - started) < 60_000, line.ts);
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/v1/chat/completions');
    assert.equal(line.status, 200);
    assert.equal(line.user_agent, 'it-agent/1.0');
    assert.match(line.remote, /^127\.0\.0\.1:\d+$/);
    assert.equal(line.key, null);
    assert.equal(line.model, 'chat');
    assert.equal(line.provider, 'log-b');
    assert.equal(line.served_model, 'model-b');
    assert.equal(line.upstream, `127.0.0.1:${b.port}`);
    assert.equal(line.bytes_in, Buffer.byteLength(JSON.stringify(
      { model: 'chat', messages: [{ role: 'user', content: 'who answers?' }] })));
    assert.ok(line.bytes_out > Buffer.byteLength(r.text), `bytes_out ${line.bytes_out}`);
    assert.deepEqual(line.attempts.map((x) => [x.target, x.upstream, x.class, x.status]), [
      ['log-a', `127.0.0.1:${a.port}`, 'server_error', 503],
      ['log-b', `127.0.0.1:${b.port}`, 'success', 200],
    ]);
    assert.ok(line.attempts.every((x) => typeof x.ms === 'number' && x.ms >= 0));
    assert.ok(line.total_ms >= line.attempts[0].ms + line.attempts[1].ms);
    assert.equal(typeof line.ttft_ms, 'number');
    assert.ok(line.tokens_in > 0 && line.tokens_out > 0);
    assert.equal(line.cache, 'none');
    assert.equal(line.error, null);
  });

  test('a 400 logs the model the body named; a body without one logs null', async () => {
    const named = `bad-named-${Date.now()}`;
    const r1 = await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: 'nope' },
      { headers: { 'x-request-id': named } });
    assert.equal(r1.status, 400);
    const unnamed = `bad-unnamed-${Date.now()}`;
    const r2 = await postJson(`${gw.url}/v1/chat/completions`, { messages: [] },
      { headers: { 'x-request-id': unnamed } });
    assert.equal(r2.status, 400);
    const [l1, l2] = [await lineFor(named), await lineFor(unnamed)];
    assert.equal(l1.model, 'chat');
    assert.equal(l1.error, 'invalid_request');
    assert.deepEqual(l1.attempts, []);
    assert.equal(l2.model, null);
    assert.equal(l2.status, 400);
  });

  test('an unknown path is logged and counted as route="unmatched"', async () => {
    const id = `unmatched-${Date.now()}`;
    const before = metricValue(await (await gw.admin('/metrics')).text(), 'llmgw_requests_total',
      { route: 'unmatched', code: '404' }) ?? 0;
    const r = await getJson(`${gw.url}/v1/nothing/here?x=1`, { headers: { 'x-request-id': id } });
    assert.equal(r.status, 404);
    const line = await lineFor(id);
    assert.equal(line.route, 'unmatched');
    assert.equal(line.path, '/v1/nothing/here');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 404);
    assert.ok(line.bytes_out > 0);
    const now = metricValue(await (await gw.admin('/metrics')).text(), 'llmgw_requests_total',
      { route: 'unmatched', code: '404' });
    assert.equal(now, before + 1);
  });
});

describe('daemon log in JSON mode', () => {
  test('every stdout line is a JSON object; the listening object carries the ports', async () => {
    // A reload writes daemon log lines after start.
    const reloaded = await http(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(reloaded.status, 200);
    await waitFor(() => gw.stdout.lines.some((l) => l.includes('config reloaded')),
      { what: 'the reload line' });
    const parsed = gw.stdout.lines.filter((l) => l.length > 0).map((l) => JSON.parse(l));
    const daemon = parsed.filter((x) => !('request_id' in x));
    assert.ok(daemon.length >= 2, JSON.stringify(daemon));
    for (const x of daemon) {
      assert.match(x.ts, RFC3339_MS);
      assert.equal(typeof x.level, 'string');
      assert.equal(typeof x.msg, 'string');
      assert.equal('ts_ms' in x, false);
    }
    const listening = daemon.find((x) => x.event === 'listening');
    assert.equal(listening.port, gw.port);
    assert.equal(listening.admin_port, gw.adminPort);
    assert.match(listening.msg, /listening on port/);
  });
});
