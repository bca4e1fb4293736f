// /metrics after real traffic: every SPEC §5 family this release exports, with sensible values,
// and the exposition passes `promtool check metrics`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { before, test } from 'node:test';
import {
  metricValue, openFdCount, postJson, simProvider, startGateway, startSim, streamChat,
} from './lib/harness.mjs';

let a;
let b;
let gw;
let text;

before(async () => {
  [a, b] = await Promise.all([startSim({ name: 'm-sim-a' }), startSim({ name: 'm-sim-b' })]);
  gw = await startGateway({
    providers: [simProvider(a), simProvider(b)],
    models: [
      {
        name: 'chat',
        targets: [{ provider: 'm-sim-a', model: 'ma', price: { input_per_mtok: 2, output_per_mtok: 8 } }, { provider: 'm-sim-b', model: 'mb' }],
        retry: { attempts: 2, backoff: { base: '10ms', max: '20ms' } },
      },
      { name: 'embed', targets: [{ provider: 'm-sim-a', model: 'e' }] },
    ],
    auth: { required: false },
  }, { configVia: 'symlink' });

  // Traffic: 3 plain chats, 2 streams, 1 embedding, 1 failover, 1 client error, 1 404, 1 reload
  // that is rejected.
  const chat = (content) => postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content }] });
  for (let i = 0; i < 3; i++) assert.equal((await chat(`plain ${i}`)).status, 200);
  for (let i = 0; i < 2; i++) {
    const s = await streamChat(`${gw.url}/v1/chat/completions`, { model: 'chat', stream: true, messages: [{ role: 'user', content: `stream ${i} some words` }] });
    assert.equal(s.events.at(-1), '[DONE]');
  }
  assert.equal((await postJson(`${gw.url}/v1/embeddings`, { model: 'embed', input: 'vector please' })).status, 200);
  await a.fault({ mode: 'error', status: 503, count: 1 });
  const fo = await chat('failover');
  assert.equal(fo.headers.get('x-llmgw-provider'), 'm-sim-b');
  assert.equal((await postJson(`${gw.url}/v1/chat/completions`, { model: 'nope', messages: [{ role: 'user', content: 'x' }] })).status, 404);
  gw.writeConfig('models: [\n');
  assert.equal((await gw.admin('/admin/reload', { method: 'POST' })).status, 422);
  text = await gw.metrics();
});

test('content type is the Prometheus text format', async () => {
  const res = await gw.admin('/metrics');
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  await res.text();
});

test('requests, durations and TTFT are counted per route/model/provider/code', () => {
  const chat = { route: '/v1/chat/completions', model: 'chat' };
  assert.equal(metricValue(text, 'llmgw_requests_total', { ...chat, provider: 'm-sim-a', code: '200' }), 5);
  assert.equal(metricValue(text, 'llmgw_requests_total', { ...chat, provider: 'm-sim-b', code: '200' }), 1);
  assert.equal(metricValue(text, 'llmgw_requests_total', { route: '/v1/embeddings', model: 'embed', code: '200' }), 1);
  assert.equal(metricValue(text, 'llmgw_requests_total', { route: '/v1/chat/completions', code: '404' }), 1);
  assert.equal(metricValue(text, 'llmgw_request_duration_seconds_count', chat), 6);
  assert.equal(metricValue(text, 'llmgw_request_duration_seconds_bucket', { ...chat, le: '+Inf' }), 6);
  assert.ok(metricValue(text, 'llmgw_request_duration_seconds_sum', chat) > 0);
  assert.equal(metricValue(text, 'llmgw_time_to_first_token_seconds_count', { model: 'chat', provider: 'm-sim-a' }), 5);
  assert.ok(metricValue(text, 'llmgw_time_to_first_token_seconds_bucket', { model: 'chat', le: '+Inf' }) >= 6);
});

test('upstream attempts by outcome, retries, tokens', () => {
  // 5 chats + 1 embedding succeeded on a; the failover's first attempt failed on a.
  assert.equal(metricValue(text, 'llmgw_upstream_requests_total', { provider: 'm-sim-a', outcome: 'success' }), 6);
  assert.equal(metricValue(text, 'llmgw_upstream_requests_total', { provider: 'm-sim-a', outcome: 'server_error' }), 1);
  assert.equal(metricValue(text, 'llmgw_upstream_requests_total', { provider: 'm-sim-b', outcome: 'success' }), 1);
  assert.ok(metricValue(text, 'llmgw_upstream_duration_seconds_count', { provider: 'm-sim-a' }) >= 7);
  assert.equal(metricValue(text, 'llmgw_retries_total', { model: 'chat' }), 1);
  const tin = metricValue(text, 'llmgw_tokens_total', { provider: 'm-sim-a', model: 'ma', direction: 'input' });
  const tout = metricValue(text, 'llmgw_tokens_total', { provider: 'm-sim-a', model: 'ma', direction: 'output' });
  assert.ok(tin > 0, 'input tokens counted');
  assert.ok(tout > 0, 'output tokens counted, streams included');
});

test('inflight, reloads and build info', () => {
  assert.equal(metricValue(text, 'llmgw_inflight_requests'), 0);
  assert.equal(metricValue(text, 'llmgw_config_reloads_total', { result: 'rejected' }), 1);
  assert.equal(metricValue(text, 'llmgw_config_reloads_total', { result: 'applied' }), 0);
  const m = /^llmgw_build_info\{version="([^"]+)"\} 1$/m.exec(text);
  assert.ok(m, 'llmgw_build_info{version="..."} 1');
  assert.match(m[1], /^\d+\.\d+\.\d+/);
});

test('the process metrics describe the daemon itself, read at scrape time', async () => {
  const scraped = await gw.metrics();
  const fds = metricValue(scraped, 'process_open_fds');
  const now = openFdCount(gw.pid);
  assert.ok(Math.abs(fds - now) <= 2, `process_open_fds ${fds}, /proc/${gw.pid}/fd has ${now}`);
  assert.ok(metricValue(scraped, 'process_max_fds') >= fds);
  const rss = metricValue(scraped, 'process_resident_memory_bytes');
  assert.ok(rss > 1e6 && rss <= metricValue(scraped, 'process_virtual_memory_bytes'), `rss ${rss}`);
  assert.ok(metricValue(scraped, 'process_cpu_seconds_total') > 0);
  const started = metricValue(scraped, 'process_start_time_seconds');
  const nowSeconds = Date.now() / 1000;
  assert.ok(started <= nowSeconds && started > nowSeconds - 120, `started ${started}`);
  for (const [name, type] of [
    ['process_cpu_seconds_total', 'counter'], ['process_open_fds', 'gauge'],
  ]) {
    assert.match(scraped, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
  }
});

test('every family has HELP and TYPE lines', () => {
  for (const [name, type] of [
    ['llmgw_requests_total', 'counter'],
    ['llmgw_request_duration_seconds', 'histogram'],
    ['llmgw_time_to_first_token_seconds', 'histogram'],
    ['llmgw_upstream_requests_total', 'counter'],
    ['llmgw_tokens_total', 'counter'],
    ['llmgw_inflight_requests', 'gauge'],
    ['llmgw_config_reloads_total', 'counter'],
    ['llmgw_build_info', 'gauge'],
  ]) {
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `HELP for ${name}`);
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `TYPE ${type} for ${name}`);
  }
});

test('promtool check metrics accepts the exposition', () => {
  const promtool = process.env.PROMTOOL || '/usr/bin/promtool';
  assert.ok(existsSync(promtool), `${promtool} missing: apt-get install prometheus (or set PROMTOOL)`);
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, `promtool exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
});
