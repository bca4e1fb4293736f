// Hot reload: POST /admin/reload, SIGHUP and the inotify watch; rejected reloads keep the old
// config; in-flight streams finish on the config they started with; /admin/config redacts.
import assert from 'node:assert/strict';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import {
  baseConfig, deltaText, metricValue, postJson, sha256, simProvider, startGateway, startSim,
  streamChat, toYaml, waitFor,
} from './lib/harness.mjs';

const PROVIDER_KEY = 'sk-reload-provider-secret-5c1e0a';
const GW_KEY = 'gw-reload-key-31337';

let sim;

const config = (models, extra = {}) => ({
  providers: [simProvider(sim, { api_key: PROVIDER_KEY, headers: { 'x-team-token': 'tok-header-secret-77' } })],
  models: models.map((name) => ({ name, targets: [{ provider: sim.name, model: `up-${name}` }] })),
  keys: [{ name: 'reloader', sha256: sha256(GW_KEY) }],
  auth: { required: true },
  ...extra,
});
const auth = { authorization: `Bearer ${GW_KEY}` };

async function modelIds(gw) {
  const res = await gw.fetch('/v1/models', { headers: auth });
  assert.equal(res.status, 200);
  return (await res.json()).data.map((m) => m.id).sort();
}

const chat = (gw, model, content = 'hi') =>
  postJson(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }] }, { headers: auth });

const reloads = async (gw, result) => metricValue(await gw.metrics(), 'llmgw_config_reloads_total', { result });

before(async () => {
  sim = await startSim({ name: 'reload-sim' });
});

describe('admin reload and SIGHUP (config behind a symlink: no inotify events)', () => {
  let gw;
  before(async () => {
    gw = await startGateway(config(['m1']), { configVia: 'symlink' });
  });

  test('POST /admin/reload applies a new model', async () => {
    assert.deepEqual(await modelIds(gw), ['m1']);
    assert.equal((await chat(gw, 'm2')).status, 404);
    gw.writeConfig(config(['m1', 'm2']));
    const res = await gw.admin('/admin/reload', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { result: 'applied' });
    assert.deepEqual(await modelIds(gw), ['m1', 'm2']);
    const r = await chat(gw, 'm2', 'new model');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-llmgw-model'), 'up-m2');
    assert.equal(await reloads(gw, 'applied'), 1);
    assert.equal(await reloads(gw, 'rejected'), 0);
  });

  test('an unknown key is rejected with FILE:LINE:COL errors and the old config keeps serving', async () => {
    const good = toYaml(baseConfig(config(['m1', 'm2', 'm3'])));
    // Misspell one key and break one duration.
    const broken = good
      .replace('targets:', 'targetz:')
      .replace('first_byte: "5s"', 'first_byte: "5 parsecs"');
    const lines = broken.split('\n');
    const badKeyLine = lines.findIndex((l) => l.includes('targetz:')) + 1;
    const badKeyCol = lines[badKeyLine - 1].indexOf('targetz') + 1;
    const badDurLine = lines.findIndex((l) => l.includes('parsecs')) + 1;
    gw.writeConfig(broken);
    const res = await gw.admin('/admin/reload', { method: 'POST' });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.result, 'rejected');
    assert.ok(Array.isArray(body.errors) && body.errors.length >= 2, JSON.stringify(body));
    const file = gw.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.ok(
      body.errors.some((e) => new RegExp(`^${file}:${badKeyLine}:${badKeyCol}: models\\[0\\]\\.targetz: .*unknown key`).test(e)),
      `no unknown-key error at line ${badKeyLine}:${badKeyCol}: ${JSON.stringify(body.errors)}`,
    );
    assert.ok(
      body.errors.some((e) => new RegExp(`^${file}:${badDurLine}:\\d+: providers\\[0\\]\\.timeouts\\.first_byte: `).test(e)),
      `no duration error at line ${badDurLine}: ${JSON.stringify(body.errors)}`,
    );
    // Old config (m1, m2) keeps serving; m3 never appeared.
    assert.deepEqual(await modelIds(gw), ['m1', 'm2']);
    assert.equal((await chat(gw, 'm2')).status, 200);
    assert.equal((await chat(gw, 'm3')).status, 404);
    assert.equal(await reloads(gw, 'rejected'), 1);
    assert.equal(await reloads(gw, 'applied'), 1);
  });

  test('bad YAML is rejected too', async () => {
    gw.writeConfig('providers:\n  - name: "x"\n    kind: [unclosed\nmodels: {\n');
    const res = await gw.admin('/admin/reload', { method: 'POST' });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.result, 'rejected');
    assert.match(body.errors.join('\n'), /:\d+:\d+: .*invalid YAML/);
    assert.equal((await chat(gw, 'm1')).status, 200);
    assert.equal(await reloads(gw, 'rejected'), 2);
  });

  test('SIGHUP reloads', async () => {
    gw.writeConfig(config(['m1', 'hup']));
    gw.reloadViaSignal();
    await waitFor(async () => (await modelIds(gw)).includes('hup'), { timeout: 5000, what: 'model "hup" after SIGHUP' });
    assert.deepEqual(await modelIds(gw), ['hup', 'm1']);
    assert.equal((await chat(gw, 'hup')).status, 200);
    assert.equal((await chat(gw, 'm2')).status, 404, 'a model removed by the reload is gone');
    assert.equal(await reloads(gw, 'applied'), 2);
    assert.equal(gw.proc.exitCode, null, 'SIGHUP does not stop the daemon');
  });

  test('an in-flight stream finishes on the config it started with', async () => {
    await sim.fault({ mode: 'slow_chunks', chunk_delay_ms: 100 });
    try {
      const words = 'alpha beta gamma delta epsilon zeta eta theta iota kappa';
      const streaming = streamChat(`${gw.url}/v1/chat/completions`, { model: 'hup', stream: true, messages: [{ role: 'user', content: words }] }, { headers: auth });
      // Wait until it is really in flight, then reload a config without its model.
      await waitFor(async () => metricValue(await gw.metrics(), 'llmgw_inflight_requests') === 1, { timeout: 3000, what: 'stream in flight' });
      gw.writeConfig(config(['m1']));
      const res = await gw.admin('/admin/reload', { method: 'POST' });
      assert.equal(res.status, 200);
      const s = await streaming;
      assert.equal(s.status, 200);
      assert.equal(s.events.at(-1), '[DONE]');
      assert.equal(deltaText(s.events), `[reload-sim] ${words}`);
      assert.equal((await chat(gw, 'hup')).status, 404);
    } finally {
      await sim.fault({ mode: 'none' });
    }
  });

  test('a reload that points a provider at another upstream takes effect at once', async () => {
    const other = await startSim({ name: 'reload-sim-2' });
    // Warm a pooled connection to the current upstream first.
    assert.equal((await chat(gw, 'm1', 'before')).json.choices[0].message.content, '[reload-sim] before');
    const cfg = config(['m1']);
    cfg.providers[0].base_url = other.baseUrl;
    gw.writeConfig(cfg);
    assert.equal((await gw.admin('/admin/reload', { method: 'POST' })).status, 200);
    const r = await chat(gw, 'm1', 'after');
    assert.equal(r.json.choices[0].message.content, '[reload-sim-2] after');
    // And back.
    gw.writeConfig(config(['m1']));
    assert.equal((await gw.admin('/admin/reload', { method: 'POST' })).status, 200);
    assert.equal((await chat(gw, 'm1', 'back')).json.choices[0].message.content, '[reload-sim] back');
    await other.kill();
  });

  test('server limits change on reload (max_body_bytes)', async () => {
    const big = 'b'.repeat(3000);
    assert.equal((await chat(gw, 'm1', big)).status, 200);
    gw.writeConfig(config(['m1'], { server: { max_body_bytes: '2KiB' } }));
    assert.equal((await gw.admin('/admin/reload', { method: 'POST' })).status, 200);
    const r = await chat(gw, 'm1', big);
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.error.code, 'request_too_large');
    gw.writeConfig(config(['m1']));
    assert.equal((await gw.admin('/admin/reload', { method: 'POST' })).status, 200);
    assert.equal((await chat(gw, 'm1', big)).status, 200);
  });

  test('GET /admin/config shows the running config with secrets redacted', async () => {
    const res = await gw.admin('/admin/config');
    assert.equal(res.status, 200);
    const text = await res.text();
    const cfg = JSON.parse(text);
    assert.ok(!text.includes(PROVIDER_KEY), 'provider api_key leaked by /admin/config');
    assert.ok(!text.includes('tok-header-secret-77'), 'secret-looking provider header leaked');
    assert.ok(!text.includes(sha256(GW_KEY)), 'gateway key hash leaked');
    assert.ok(text.includes('<redacted>'));
    // It is the running config (after the last reload), not the file's first version.
    assert.ok(text.includes('"m1"'));
    assert.ok(!text.includes('"hup"'));
    assert.equal(typeof cfg, 'object');
  });
});

describe('signals right after start', () => {
  test('a SIGHUP sent as soon as the readiness line appears reloads, never kills', async () => {
    // The readiness line is what scripts and supervisors wait for; a reload right after it must
    // find the signal handler installed (the default action of SIGHUP is to terminate).
    for (let i = 0; i < 5; i++) {
      const g = await startGateway(config(['s1']), { configVia: 'symlink' });
      g.writeConfig(config(['s1', 's2']));
      g.reloadViaSignal();
      await waitFor(async () => g.proc.exitCode !== null || g.proc.signalCode !== null || (await modelIds(g)).includes('s2'), {
        timeout: 3000, what: 'reload after an early SIGHUP',
      });
      assert.equal(g.proc.signalCode, null, `run ${i}: killed by ${g.proc.signalCode}`);
      assert.deepEqual(await modelIds(g), ['s1', 's2']);
      assert.equal(await g.stop('SIGTERM', 5000), 0);
    }
  });
});

describe('inotify file watch', () => {
  let gw;
  before(async () => {
    gw = await startGateway(config(['w1']));
  });

  test('rewriting the file in place reloads it', async () => {
    assert.deepEqual(await modelIds(gw), ['w1']);
    gw.writeConfig(config(['w1', 'w2']));
    await waitFor(async () => (await modelIds(gw)).includes('w2'), { timeout: 5000, what: 'model "w2" via inotify' });
    assert.equal((await chat(gw, 'w2')).status, 200);
  });

  test('an editor-style save (temp file + rename) reloads it', async () => {
    gw.writeConfigAtomically(config(['w1', 'w3']));
    await waitFor(async () => (await modelIds(gw)).includes('w3'), { timeout: 5000, what: 'model "w3" via rename' });
    assert.deepEqual(await modelIds(gw), ['w1', 'w3']);
  });

  test('a save that arrives as several events (create, write, close) reloads once', async () => {
    const applied = await reloads(gw, 'applied');
    // As an editor that deletes and recreates the file: IN_CREATE, then IN_CLOSE_WRITE a
    // moment later, both naming the config. The file is JSON (which is YAML) written in two
    // halves, so a reload that came too early would read invalid YAML and be rejected, never
    // applied: the count of applied reloads says how many reloads the save caused.
    const text = JSON.stringify(baseConfig(config(['w1', 'w3', 'w4'])));
    unlinkSync(gw.configPath);
    const fd = openSync(gw.configPath, 'w');
    writeSync(fd, text.slice(0, text.length / 2));
    await new Promise((r) => setTimeout(r, 30));  // the gap between the two events
    writeSync(fd, text.slice(text.length / 2));
    closeSync(fd);
    await waitFor(async () => (await modelIds(gw)).includes('w4'), { timeout: 5000, what: 'model "w4"' });
    // Watch a bounded window in which a second reload of the same save would have come.
    const until = Date.now() + 600;
    while (Date.now() < until) {
      assert.equal(await reloads(gw, 'applied'), applied + 1, 'one save, one reload');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  test('a broken save is rejected by the watcher and the running config stays', async () => {
    const rejectedBefore = await reloads(gw, 'rejected');
    gw.writeConfig('server: {\n');
    await waitFor(async () => (await reloads(gw, 'rejected')) > rejectedBefore, { timeout: 5000, what: 'rejected reload' });
    assert.deepEqual(await modelIds(gw), ['w1', 'w3', 'w4']);
    assert.equal((await chat(gw, 'w3')).status, 200);
  });
});

describe('a mounted Kubernetes ConfigMap', () => {
  test('kubelet\'s atomic update (a new ..data symlink renamed over the old) reloads it', async () => {
    const gw = await startGateway(config(['k1']), { configVia: 'configmap' });
    try {
      assert.deepEqual(await modelIds(gw), ['k1']);
      gw.updateConfigMap(config(['k1', 'k2']));
      await waitFor(async () => (await modelIds(gw)).includes('k2'), { timeout: 5000, what: 'model "k2" via ..data' });
      assert.equal(await reloads(gw, 'applied'), 1);
    } finally {
      await gw.stop();
    }
  });
});
