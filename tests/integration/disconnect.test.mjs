// A client that goes away mid-stream must not keep the upstream busy: the gateway closes its
// upstream connection promptly, frees the in-flight slot, and keeps serving.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  deltaText, establishedTo, metricValue, postJson, simProvider, startGateway, startSim, streamChat, waitFor,
} from './lib/harness.mjs';

let sim;
let gw;

before(async () => {
  sim = await startSim({ name: 'slow-sim' });
  gw = await startGateway({
    providers: [simProvider(sim, { timeouts: { connect: '1s', first_byte: '5s', idle_between_chunks: '5s', total: '60s' } })],
    models: [{ name: 'chat', targets: [{ provider: 'slow-sim', model: 'm' }] }],
    auth: { required: false },
  });
});

// ~40 words at 300 ms per chunk: the upstream stream would last about 12 s.
const longPrompt = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

test('client abort mid-stream closes the upstream connection and frees the request', async () => {
  await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 300 });
  let sawUpstreamOpen = 0;
  const t0 = Date.now();
  const s = await streamChat(`${gw.url}/v1/chat/completions`, {
    model: 'chat', stream: true, messages: [{ role: 'user', content: longPrompt }],
  }, {
    onEvent: (data, i) => {
      if (i === 1) {
        // First content chunk: the gateway holds exactly one connection to the sim now.
        sawUpstreamOpen = establishedTo(gw.pid, sim.port);
        return 'abort';
      }
      return undefined;
    },
  });
  assert.ok(s.aborted, 'the client aborted');
  assert.equal(s.status, 200);
  assert.equal(sawUpstreamOpen, 1, 'one upstream connection while streaming');
  // (No check that it is still in flight here: the gateway watches the client socket and may
  // already have cancelled the request by the time we look.)

  // Promptly: well before the upstream stream would have ended (~12 s).
  await waitFor(() => establishedTo(gw.pid, sim.port) === 0, {
    timeout: 3000, interval: 50, what: 'gateway to close its upstream connection',
  });
  const closedAfter = Date.now() - t0;
  assert.ok(closedAfter < 4000, `upstream closed ${closedAfter}ms after start`);

  await waitFor(async () => metricValue(await gw.metrics(), 'llmgw_inflight_requests') === 0, {
    timeout: 3000, what: 'llmgw_inflight_requests back to 0',
  });

  // The gateway keeps serving, on the same upstream.
  await sim.fault({ mode: 'none' });
  const r = await postJson(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: 'still alive?' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, '[slow-sim] still alive?');
  const again = await streamChat(`${gw.url}/v1/chat/completions`, { model: 'chat', stream: true, messages: [{ role: 'user', content: 'and streaming' }] });
  assert.equal(again.events.at(-1), '[DONE]');
  assert.equal(deltaText(again.events), '[slow-sim] and streaming');

  // The aborted request is logged as the client's doing, not as a success or an upstream fault.
  // (Lines are written in batches, within 50 ms.)
  const id = s.headers.get('x-request-id');
  const aborted = await waitFor(() => gw.accessLog().find((l) => l.request_id === id),
    { timeout: 3000, what: 'access log line for the aborted stream' });
  assert.equal(aborted.status, 499);
});

// The gateway watches the client socket while a request waits on a provider: a client that
// hangs up before the first byte cancels the upstream request (no paying for an unread answer).
test('client abort while waiting for the first byte releases the upstream promptly', async () => {
  await sim.fault({ mode: 'slow_first_byte', delay_ms: 4000 });
  let arrivedBefore = (await sim.stats()).requests;
  try {
    for (const stream of [true, false]) {
      const ac = new AbortController();
      const pending = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', stream, messages: [{ role: 'user', content: 'never mind' }] }),
        signal: ac.signal,
      }).catch((e) => e);
      // Wait until the request is at the sim (which then sits on it for 4 s). Idle pooled
      // connections may exist too, so count relative to what is open while it waits.
      await waitFor(async () => (await sim.stats()).requests >= arrivedBefore + 1, { timeout: 3000, what: 'request at the sim' });
      const during = establishedTo(gw.pid, sim.port);
      assert.ok(during >= 1);
      ac.abort();
      await pending;
      // The sim would answer after 4 s; a gateway that cancels on disconnect is done long before.
      await waitFor(async () => metricValue(await gw.metrics(), 'llmgw_inflight_requests') === 0 &&
        establishedTo(gw.pid, sim.port) === during - 1, { timeout: 1500, what: `upstream released (stream: ${stream})` });
      arrivedBefore += 1;
    }
  } finally {
    await sim.fault({ mode: 'none' });
    // Leave no request behind for whatever runs next.
    await waitFor(async () => metricValue(await gw.metrics(), 'llmgw_inflight_requests') === 0, { timeout: 6000, what: 'idle gateway' });
  }
});
