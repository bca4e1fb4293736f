// The CLI: --check-config (exit 0/1, FILE:LINE:COL: path: message per error), --version, and a
// daemon that refuses to start on a bad file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { LLMGW_BIN, REPO, makeTmpDir, startGateway } from './lib/harness.mjs';

const run = (...args) => spawnSync(LLMGW_BIN, args, { encoding: 'utf8', timeout: 10_000 });
const dir = makeTmpDir('llmgw-check-');

const GOOD = `server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
providers:
  - name: local
    kind: openai_compatible
    base_url: http://127.0.0.1:9/v1
    timeouts: { connect: 1s, first_byte: 30s }
models:
  - name: chat
    targets: [ { provider: local, model: m } ]
auth: { required: false }
`;

// Line 7: a misspelt key; line 9: a duration without a unit; line 12: an unknown provider.
const BAD = `server:
  listen: 127.0.0.1:0
providers:
  - name: local
    kind: openai_compatible
    base_url: http://127.0.0.1:9/v1
    api_kee: sk-oops
    timeouts:
      connect: 30
models:
  - name: chat
    targets: [ { provider: lcoal, model: m } ]
`;

test('--check-config on a good file exits 0', () => {
  const file = path.join(dir, 'good.yaml');
  writeFileSync(file, GOOD);
  const r = run('--check-config', file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /OK/);
  assert.equal(r.stderr, '');
});

test('the shipped example and demo configs pass --check-config', () => {
  for (const name of ['llmgw.example.yaml', 'demo.yaml']) {
    const file = path.join(REPO, 'config', name);
    const r = spawnSync(LLMGW_BIN, ['--check-config', file], {
      encoding: 'utf8', timeout: 10_000, env: { ...process.env, OPENAI_API_KEY: 'x', ANTHROPIC_API_KEY: 'x' },
    });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  }
});

test('--check-config on a bad file exits 1 with FILE:LINE:COL: path: message lines', () => {
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, BAD);
  const r = run('--check-config', file);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 3, r.stderr);
  for (const line of lines) {
    assert.ok(line.startsWith(`${file}:`), `every error names the file: ${line}`);
    assert.match(line, /^.+:\d+:\d+: (\S+: )?.+$/);
  }
  const esc = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(r.stderr, new RegExp(`^${esc}:7:5: providers\\[0\\]\\.api_kee: unknown key 'api_kee' \\(did you mean 'api_key'\\?\\)$`, 'm'));
  assert.match(r.stderr, new RegExp(`^${esc}:9:16: providers\\[0\\]\\.timeouts\\.connect: .*duration needs a unit`, 'm'));
  assert.match(r.stderr, new RegExp(`^${esc}:12:28: models\\[0\\]\\.targets\\[0\\]\\.provider: unknown provider 'lcoal'`, 'm'));
  // Reported in file order.
  const order = lines.map((l) => Number(l.slice(file.length + 1).split(':')[0]));
  assert.deepEqual(order, [...order].sort((x, y) => x - y));
});

test('--check-config on bad YAML and on a missing file exits 1', () => {
  const file = path.join(dir, 'broken.yaml');
  writeFileSync(file, 'server:\n  listen: [127.0.0.1:0\n');
  const r = run('--check-config', file);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /:\d+:\d+: invalid YAML/);
  const missing = run('--check-config', path.join(dir, 'nope.yaml'));
  assert.equal(missing.status, 1);
  // No made-up position for a file that cannot be read.
  assert.match(missing.stderr, /nope\.yaml: cannot read config file: No such file or directory/);
  assert.doesNotMatch(missing.stderr, /:0:0:/);
});

test('--check-config warns about a config that serves nothing (exit 0)', () => {
  const empty = path.join(dir, 'empty.yaml');
  writeFileSync(empty, '');
  const r = run('--check-config', empty);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /OK \(0 providers, 0 models, 0 keys\)/);
  assert.match(r.stderr, /empty\.yaml: warning: the config defines no providers and no models: every API request will get 404 model_not_found/);
  const noModels = path.join(dir, 'no-models.yaml');
  writeFileSync(noModels, GOOD.replace(/models:\n.*\n.*\n/, ''));
  const m = run('--check-config', noModels);
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stderr, /warning: the config defines no models/);
});

test('a host name as listen address is resolved at start', async () => {
  const gw = await startGateway(GOOD.replace('listen: 127.0.0.1:0', 'listen: localhost:0'));
  try {
    const res = await fetch(`http://localhost:${gw.port}/healthz`);
    assert.equal(res.status, 200);
  } finally {
    await gw.stop();
  }
});

test('the daemon refuses to start on a bad config (exit 1, same errors)', () => {
  const file = path.join(dir, 'bad-daemon.yaml');
  writeFileSync(file, BAD);
  const r = run('--config', file);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /api_kee/);
  assert.doesNotMatch(r.stdout, /listening/);
});

// With threads > 1 every worker listens on its own SO_REUSEPORT socket; that must never let a
// second daemon join the port and take part of the connections.
test('a second daemon on a port already in use refuses to start, threads: 2 on both', async () => {
  const gw = await startGateway({
    server: { threads: 2 },
    providers: [{ name: 'local', kind: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1' }],
    models: [{ name: 'chat', targets: [{ provider: 'local', model: 'm' }] }],
    auth: { required: false },
  });
  try {
    const file = path.join(dir, 'second.yaml');
    writeFileSync(file, GOOD.replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${gw.port}`)
      .replace('admin_listen: 127.0.0.1:0', 'admin_listen: 127.0.0.1:0\n  threads: 2'));
    const r = run('--config', file);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    // The daemon's log (stdout), not a CLI usage error.
    assert.match(r.stdout, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${gw.port}: .*in use`, 'i'));
    assert.doesNotMatch(r.stdout, /listening on port/);
    for (let i = 0; i < 8; i++) {
      const res = await gw.fetch('/healthz');
      assert.equal(res.status, 200);
    }
  } finally {
    await gw.stop();
  }
});

test('--version prints the version', () => {
  const r = run('--version');
  assert.equal(r.status, 0);
  assert.match(r.stdout.trim(), /^llmgw \d+\.\d+\.\d+\S*$/);
});

test('bad usage exits non-zero with the usage text', () => {
  const r = run('--frobnicate');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /usage: llmgw/);
});
