// SIGTERM drain: stop accepting, let in-flight streams finish, exit 0 — and never wait longer
// than server.drain_timeout.
import assert from 'node:assert/strict';
import net from 'node:net';
import { before, test } from 'node:test';
import {
  connectRefused, deltaText, simProvider, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

let sim;

before(async () => {
  sim = await startSim({ name: 'drain-sim' });
});

const gatewayFor = (drainTimeout) =>
  startGateway({
    server: { drain_timeout: drainTimeout },
    providers: [simProvider(sim)],
    models: [{ name: 'chat', targets: [{ provider: 'drain-sim', model: 'm' }] }],
    auth: { required: false },
  });

/** An idle keep-alive connection opened before the drain; sends one request when asked. */
function idleConnection(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('error', reject);
    sock.once('connect', () => {
      resolve({
        request(raw, timeout = 3000) {
          return new Promise((res) => {
            let got = '';
            const timer = setTimeout(() => { sock.destroy(); res(got); }, timeout);
            sock.on('data', (d) => {
              got += d.toString();
              if (/\r\n\r\n/.test(got)) {
                const m = /content-length: (\d+)/i.exec(got);
                const bodyStart = got.indexOf('\r\n\r\n') + 4;
                if (m && got.length - bodyStart >= Number(m[1])) {
                  clearTimeout(timer);
                  res(got);
                }
              }
            });
            sock.on('close', () => { clearTimeout(timer); res(got); });
            sock.write(raw);
          });
        },
        destroy: () => sock.destroy(),
      });
    });
  });
}

test('SIGTERM mid-stream: the stream completes, new connections are refused, exit 0', async () => {
  const gw = await gatewayFor('10s');
  await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 150 });
  try {
    const idle = await idleConnection(gw.port);
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(' ');
    let signalledAt = 0;
    const streaming = streamChat(`${gw.url}/v1/chat/completions`, {
      model: 'chat', stream: true, messages: [{ role: 'user', content: words }],
    }, {
      onEvent: (d, i) => {
        if (i === 1) {
          signalledAt = Date.now();
          gw.proc.kill('SIGTERM');
        }
      },
    });
    const exited = new Promise((resolve) => gw.proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));

    // New connections are refused soon after the signal (the stream is still running).
    await waitFor(() => signalledAt > 0, { timeout: 5000, what: 'first chunk' });
    await waitFor(() => connectRefused(gw.port), { timeout: 2000, what: 'main port to refuse connections' });
    const refusedAfter = Date.now() - signalledAt;

    // A request on a connection accepted before the drain is answered: not ready, closing.
    const readyz = await idle.request('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(readyz, /^HTTP\/1\.1 503/);
    assert.match(readyz, /draining/);
    assert.match(readyz, /connection: close/i);
    idle.destroy();

    const s = await streaming;
    const streamDoneAt = Date.now();
    assert.ifError(s.error);
    assert.equal(s.status, 200);
    assert.equal(s.events.at(-1), '[DONE]', 'the in-flight stream ran to completion');
    assert.equal(deltaText(s.events), `[drain-sim] ${words}`);

    const { code, signal, at } = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(at >= streamDoneAt - 50, 'exited only after the stream was done');
    assert.ok(at - signalledAt < 10_000, 'within drain_timeout');
    assert.ok(refusedAfter < at - signalledAt, 'stopped accepting before the stream finished');
    assert.ok(gw.stdout.text().includes('draining'), 'logs the drain');
  } finally {
    await sim.fault({ mode: 'none' });
  }
});

test('drain_timeout bounds the drain: a longer stream is cut and the process still exits 0', async () => {
  const gw = await gatewayFor('1s');
  await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 250 });
  try {
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' '); // ~7.5 s of stream
    let signalledAt = 0;
    const streaming = streamChat(`${gw.url}/v1/chat/completions`, {
      model: 'chat', stream: true, messages: [{ role: 'user', content: words }],
    }, {
      timeout: 15_000,
      onEvent: (d, i) => {
        if (i === 1) {
          signalledAt = Date.now();
          gw.proc.kill('SIGTERM');
        }
      },
    });
    const exited = new Promise((resolve) => gw.proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
    const { code, signal, at } = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    const took = at - signalledAt;
    assert.ok(took >= 900 && took < 4000, `exit ${took}ms after SIGTERM with drain_timeout 1s`);
    const s = await streaming;
    assert.notEqual(s.events.at(-1), '[DONE]', 'the stream could not have finished');
  } finally {
    await sim.fault({ mode: 'none' });
  }
});

test('SIGTERM with nothing in flight exits 0 at once', async () => {
  const gw = await gatewayFor('10s');
  const t0 = Date.now();
  const code = await gw.stop('SIGTERM', 5000);
  assert.equal(code, 0);
  assert.ok(Date.now() - t0 < 2000);
});

test('SIGINT drains like SIGTERM', async () => {
  const gw = await gatewayFor('10s');
  await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 100 });
  try {
    const streaming = streamChat(`${gw.url}/v1/chat/completions`, {
      model: 'chat', stream: true, messages: [{ role: 'user', content: 'a b c d e f' }],
    }, { onEvent: (d, i) => { if (i === 1) gw.proc.kill('SIGINT'); } });
    const s = await streaming;
    assert.equal(s.events.at(-1), '[DONE]');
    const code = await gw.stop('SIGINT', 5000).catch(() => null);
    assert.equal(code, 0);
  } finally {
    await sim.fault({ mode: 'none' });
  }
});
