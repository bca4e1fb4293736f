// TLS to providers: a private CA via ca_file, a wrong CA (must fail, with a TLS diagnosis),
// tls_verify: false, and no connection reuse across providers with different trust settings.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { before, describe, test } from 'node:test';
import {
  deltaText, makeTestPki, postJson, simProvider, startGateway, startSim, streamChat,
} from './lib/harness.mjs';

let pki;
let sim;
let gw;

before(async () => {
  pki = makeTestPki();
  sim = await startSim({ name: 'tls-sim', tls: { cert: pki.serverCert, key: pki.serverKey } });
  assert.match(sim.baseUrl, /^https:\/\/127\.0\.0\.1:\d+\/v1$/);
  const base = { base_url: sim.baseUrl };
  gw = await startGateway({
    providers: [
      simProvider(sim, { ...base, name: 'tls-good', ca_file: pki.caCert }),
      simProvider(sim, { ...base, name: 'tls-wrong-ca', ca_file: pki.otherCaCert }),
      simProvider(sim, { ...base, name: 'tls-noverify', ca_file: pki.otherCaCert, tls_verify: false }),
      simProvider(sim, { ...base, name: 'tls-system-store' }),
    ],
    models: [
      { name: 'good', targets: [{ provider: 'tls-good', model: 'm' }] },
      { name: 'wrong', targets: [{ provider: 'tls-wrong-ca', model: 'm' }] },
      { name: 'noverify', targets: [{ provider: 'tls-noverify', model: 'm' }] },
      { name: 'system', targets: [{ provider: 'tls-system-store', model: 'm' }] },
      // Failover from an untrusted endpoint to a trusted one.
      { name: 'wrong-then-good', targets: [{ provider: 'tls-wrong-ca', model: 'm' }, { provider: 'tls-good', model: 'm2' }] },
    ],
    auth: { required: false },
  });
});

const chat = (model, content) =>
  postJson(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }] });

describe('TLS upstream', () => {
  test('https provider with ca_file: non-stream', async () => {
    const r = await chat('good', 'over tls');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[tls-sim] over tls');
    assert.equal(r.headers.get('x-llmgw-provider'), 'tls-good');
  });

  test('https provider with ca_file: stream', async () => {
    const s = await streamChat(`${gw.url}/v1/chat/completions`, { model: 'good', stream: true, messages: [{ role: 'user', content: 'stream over tls' }] });
    assert.equal(s.status, 200);
    assert.equal(s.events.at(-1), '[DONE]');
    assert.equal(deltaText(s.events), '[tls-sim] stream over tls');
  });

  test('wrong CA -> 503 whose message names the TLS/certificate failure', async () => {
    // The good provider has a pooled, verified connection to the very same host:port by now; the
    // untrusted provider must not borrow it.
    const r = await chat('wrong', 'should not pass');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'no_healthy_upstream');
    assert.match(r.json.error.message, /tls-wrong-ca/);
    assert.match(r.json.error.message, /TLS|certificate/i);
    assert.match(r.json.error.message, /certificate verify failed/i);
  });

  test('no ca_file: the system store does not trust the test CA', async () => {
    const r = await chat('system', 'system store');
    assert.equal(r.status, 503, r.text);
    assert.match(r.json.error.message, /certificate/i);
  });

  test('tls_verify: false works with the wrong CA', async () => {
    const r = await chat('noverify', 'trust me');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '[tls-sim] trust me');
    const s = await streamChat(`${gw.url}/v1/chat/completions`, { model: 'noverify', stream: true, messages: [{ role: 'user', content: 'unverified stream' }] });
    assert.equal(s.events.at(-1), '[DONE]');
    assert.equal(deltaText(s.events), '[tls-sim] unverified stream');
  });

  test('a TLS failure fails over to the next target', async () => {
    const r = await chat('wrong-then-good', 'fail over tls');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-provider'), 'tls-good');
    assert.equal(r.headers.get('x-llmgw-attempts'), '2');
  });

  test('wrong CA still rejected after the good provider served again', async () => {
    assert.equal((await chat('good', 'again')).status, 200);
    const r = await chat('wrong', 'still not');
    assert.equal(r.status, 503, r.text);
  });
});

/** A request over https to the gateway, trusting `ca`; resolves { status, headers, body }. */
function httpsRequest(port, { ca, method = 'GET', path = '/', body, rejectUnauthorized = true }) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, method, path, ca, rejectUnauthorized, timeout: 5000,
      headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error('https request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS termination on the gateway (server.tls)', () => {
  let tgw;
  let plain;
  before(async () => {
    plain = await startSim({ name: 'plain-sim' });
    tgw = await startGateway({
      server: { tls: { cert: pki.serverCert, key: pki.serverKey } },
      providers: [simProvider(plain)],
      models: [{ name: 'chat', targets: [{ provider: 'plain-sim', model: 'm' }] }],
      auth: { required: false },
    });
  });

  test('clients that trust the CA talk https to the gateway, stream included', async () => {
    const ca = readFileSync(pki.caCert);
    const r = await httpsRequest(tgw.port, {
      ca, method: 'POST', path: '/v1/chat/completions',
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'terminated here' }] }),
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).choices[0].message.content, '[plain-sim] terminated here');
    const s = await httpsRequest(tgw.port, {
      ca, method: 'POST', path: '/v1/chat/completions',
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'tls stream' }] }),
    });
    assert.equal(s.status, 200);
    assert.match(s.headers['content-type'], /text\/event-stream/);
    assert.match(s.body, /data: \[DONE\]\n\n$/);
  });

  test('a client that does not trust the CA is refused by its own TLS check', async () => {
    await assert.rejects(
      httpsRequest(tgw.port, { ca: readFileSync(pki.otherCaCert), path: '/healthz' }),
      (e) => /certificate|self[- ]signed|verify/i.test(e.message),
    );
  });

  test('plain HTTP on the TLS port gets no answer and the daemon keeps serving', async () => {
    const res = await fetch(`http://127.0.0.1:${tgw.port}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => `status ${r.status}`, (e) => `error ${e.message}`,
    );
    assert.match(res, /^error/);
    const ok = await httpsRequest(tgw.port, { ca: readFileSync(pki.caCert), path: '/healthz' });
    assert.equal(ok.status, 200);
  });
});
