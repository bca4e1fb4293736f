// OpenTelemetry traces end to end: the gateway exports OTLP/HTTP JSON to a loopback collector
// (a node http server here). One server span per request under the client's traceparent, one
// client span per attempt whose id is the parent id the provider received.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  metricValue, postJson, simProvider, startGateway, startSim, waitFor,
} from './lib/harness.mjs';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

let a;
let b;
let gw;
let collector;
const received = [];  // every span the collector got
const requests = [];  // { path, contentType, headers }

before(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      requests.push({ path: req.url, contentType: req.headers['content-type'], headers: req.headers });
      const j = JSON.parse(body);
      for (const rs of j.resourceSpans) {
        const service = rs.resource.attributes.find((x) => x.key === 'service.name')?.value.stringValue;
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) received.push({ ...s, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => collector.listen(0, '127.0.0.1', r));
  [a, b] = await Promise.all([startSim({ name: 'trace-a' }), startSim({ name: 'trace-b' })]);
  gw = await startGateway({
    providers: [simProvider(a), simProvider(b)],
    models: [{
      name: 'chat',
      targets: [{ provider: 'trace-a', model: 'model-a' }, { provider: 'trace-b', model: 'model-b' }],
      retry: { attempts: 1 },
    }],
    auth: { required: false },
    tracing: {
      otlp_endpoint: `http://127.0.0.1:${collector.address().port}`,
      sample_ratio: 1,
      service_name: 'gw-test',
      headers: { 'x-collector-token': 'tok-123' },
      export_interval: '50ms',
    },
  });
});

after(async () => {
  await gw?.stop();
  collector?.close();
});

beforeEach(async () => {
  await Promise.all([a.reset(), b.reset()]);
  await Promise.all(['trace-a', 'trace-b'].map((n) => gw.admin(`/admin/upstreams/${n}/restore`, { method: 'POST' })));
});

const attr = (span, key) => {
  const v = span.attributes.find((x) => x.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? v.boolValue);
};

describe('traces', () => {
  test('a failed-over request: server span under the client, one client span per attempt', async () => {
    await a.fault({ mode: 'error', status: 503 });
    const id = `traced-${Date.now()}`;
    const r = await postJson(`${gw.url}/v1/chat/completions`,
      { model: 'chat', messages: [{ role: 'user', content: 'trace me' }] },
      { headers: { 'x-request-id': id, traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` } });
    assert.equal(r.status, 200, r.text);
    const upstreamParent = (await b.stats()).last_request.headers.traceparent.split('-')[2];

    const server = await waitFor(() => received.find((s) => attr(s, 'llmgw.request_id') === id),
      { timeout: 5000, what: 'the server span' });
    const children = await waitFor(() => {
      const c = received.filter((s) => s.parentSpanId === server.spanId);
      return c.length === 2 ? c : undefined;
    }, { timeout: 5000, what: 'two attempt spans' });

    assert.equal(server.traceId, TRACE);
    assert.equal(server.parentSpanId, CLIENT_SPAN);
    assert.equal(server.kind, 2);
    assert.equal(server.name, 'chat chat');
    assert.equal(server.service, 'gw-test');
    assert.equal(attr(server, 'gen_ai.operation.name'), 'chat');
    assert.equal(attr(server, 'gen_ai.request.model'), 'chat');
    assert.equal(attr(server, 'gen_ai.response.model'), 'model-b');
    assert.equal(attr(server, 'http.response.status_code'), 200);
    assert.ok(attr(server, 'gen_ai.usage.input_tokens') > 0);
    assert.ok(attr(server, 'gen_ai.usage.output_tokens') > 0);

    children.sort((x, y) => Number(BigInt(x.startTimeUnixNano) - BigInt(y.startTimeUnixNano)));
    const [failed, served] = children;
    for (const c of children) {
      assert.equal(c.kind, 3);
      assert.equal(c.traceId, TRACE);
      assert.equal(attr(c, 'gen_ai.provider.name'), 'openai_compatible');
      assert.equal(attr(c, 'server.address'), '127.0.0.1');
      assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(server.startTimeUnixNano));
      assert.ok(BigInt(c.endTimeUnixNano) <= BigInt(server.endTimeUnixNano));
    }
    assert.equal(attr(failed, 'gen_ai.request.model'), 'model-a');
    assert.equal(attr(failed, 'server.port'), a.port);
    assert.equal(attr(failed, 'http.response.status_code'), 503);
    assert.equal(attr(failed, 'error.type'), 'server_error');
    assert.equal(failed.status.code, 2);
    assert.equal(served.name, 'chat model-b');
    assert.equal(served.spanId, upstreamParent, 'the span id is the parent id sent upstream');
    assert.equal(attr(served, 'gen_ai.response.model'), 'model-b');
    assert.equal(attr(served, 'error.type'), undefined);

    const req = requests[0];
    assert.equal(req.path, '/v1/traces');
    assert.match(req.contentType, /^application\/json/);
    assert.equal(req.headers['x-collector-token'], 'tok-123');
    // Counted once the collector's answer is read, a moment after the spans arrived.
    await waitFor(async () => (metricValue(await gw.metrics(), 'llmgw_trace_spans_total',
      { result: 'exported' }) ?? 0) >= 3, { timeout: 5000, what: 'exported spans counted' });
  });

  test('without a traceparent a new trace starts; a 400 is traced with its error', async () => {
    const id = `bad-${Date.now()}`;
    const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: 'nope' },
      { headers: { 'x-request-id': id } });
    assert.equal(r.status, 400);
    const server = await waitFor(() => received.find((s) => attr(s, 'llmgw.request_id') === id),
      { timeout: 5000, what: 'the server span of the 400' });
    assert.match(server.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(server.traceId, TRACE);
    assert.equal(server.parentSpanId ?? '', '');
    assert.equal(attr(server, 'error.type'), 'invalid_request');
    assert.equal(attr(server, 'http.response.status_code'), 400);
    assert.equal(received.filter((s) => s.parentSpanId === server.spanId).length, 0);
  });

  test('a collector that is down costs no request', async () => {
    collector.close();
    collector.closeAllConnections?.();
    const r = await postJson(`${gw.url}/v1/chat/completions`,
      { model: 'chat', messages: [{ role: 'user', content: 'still served' }] });
    assert.equal(r.status, 200, r.text);
    await waitFor(async () => (metricValue(await gw.metrics(), 'llmgw_trace_spans_total',
      { result: 'failed' }) ?? 0) > 0, { timeout: 5000, what: 'failed spans counted' });
  });
});
