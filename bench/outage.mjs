#!/usr/bin/env node
// Outage bench (issue 4): three simulators behind llmgw (active + passive health checks and a
// circuit breaker on every provider), a bounded closed-loop load (default 20 clients for 20 s)
// and a fixed fault schedule applied through the simulators' control endpoints:
//
//   t=3s  primary: 503 storm        t=8s  primary heals
//   t=10s secondary: hangs          t=14s secondary heals
//   t=16s primary: refuses conns    t=19s primary heals
//
// Prints the client-side success rate and p50/p99 latency, and per fault: the calls wasted on
// the broken target (what its simulator answered with the fault, and the failed attempts the
// gateway counted), time to detect (its first failed call -> /admin/upstreams reports it not
// routable), the last live call (first failed call -> the last request routed to it before
// traffic to it stopped), the probes after that until the heal, and time to recover (heal ->
// first request routed back to it). Times come from polling every 20 ms.
//
// --scenario semantic runs the semantic-health scenario instead (issue 10): every provider has a
// rule-based semantic probe (arithmetic, interval --probe-interval, unhealthy_after 2), the
// clients ask arithmetic questions and check every answer, and the primary starts answering
// wrongly (the simulator's `garbage` mode: 200s, off by one) at t=3s until t=12s (of 20). It
// prints the time to detect (fault applied -> /admin/upstreams says semantically unhealthy) in
// probe intervals, the wrong answers delivered before and after detection (by request start),
// and the time to recover.
//
// --scenario refusals runs the live-signals scenario: every provider watches its answers
// (health.semantic.signals: window --signal-window, min_answers 10, refusal 0.3, action
// degrade; no probes), and the primary starts refusing (the simulator's `refusal` mode) at t=3s
// until t=12s. It prints the time to detect (fault -> /admin/upstreams says degraded) and the
// refusals delivered before and after detection. Without probes a degraded target is judged
// again once its window has forgotten (it serves a few answers again every window).
//
// Node built-ins only. Loopback only. Bounded: every process is killed at the end and a hard
// watchdog ends the run at duration + 60 s whatever happens.
//
//   node bench/outage.mjs [--clients 20] [--duration 20] [--stream-share 0.25] [--think-ms 2]
//                         [--json] [--trace] [--scenario availability|semantic|refusals]
//                         [--probe-interval 1000] [--signal-window 4000]
// --trace prints, per fault, every poll that saw a call to the broken target or a change in
// whether it is routable.
// Binaries: LLMGW_BIN / LLMGW_SIM_BIN, default build/src/llmgw and build/src/sim/llmgw-sim.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const { values: opt } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    duration: { type: 'string', default: '20' },
    'stream-share': { type: 'string', default: '0.25' },
    'think-ms': { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    scenario: { type: 'string', default: 'availability' },
    'probe-interval': { type: 'string', default: '1000' },
    'signal-window': { type: 'string', default: '4000' },
  },
});
const REFUSALS = opt.scenario === 'refusals';
const SEMANTIC = opt.scenario === 'semantic' || REFUSALS;  // content, not availability
if (!SEMANTIC && opt.scenario !== 'availability') throw new Error(`unknown --scenario ${opt.scenario}`);
const SIGNAL_WINDOW_MS = Math.max(1000, Math.min(60_000, Number(opt['signal-window'])));
const PROBE_INTERVAL_MS = Math.max(100, Math.min(60_000, Number(opt['probe-interval'])));
const CLIENTS = Math.max(1, Math.min(200, Number(opt.clients)));
const DURATION_MS = Math.max(5, Math.min(120, Number(opt.duration))) * 1000;
const STREAM_SHARE = Math.max(0, Math.min(1, Number(opt['stream-share'])));
const THINK_MS = Math.max(0, Math.min(1000, Number(opt['think-ms'])));
const LLMGW_BIN = process.env.LLMGW_BIN || path.join(REPO, 'build/src/llmgw');
const SIM_BIN = process.env.LLMGW_SIM_BIN || path.join(REPO, 'build/src/sim/llmgw-sim');
const POLL_MS = 20;   // cadence of the stats poller (time resolution of detect/recover)
const QUIET_MS = 300; // traffic to a target has "stopped" after this long without a call
// Faults are set with this `count`: the sim decrements it for every call that meets the fault,
// so (FAULT_COUNT - what is left) is exactly the number of calls the fault answered.
const FAULT_COUNT = 1_000_000_000;

// The schedule, in ms from the start of the load. Each fault is applied at `at` and healed at
// `heal` on simulator `sim`.
const SCHEDULE = (REFUSALS ? [
  { name: 'primary refuses to answer', sim: 'primary', at: 3000, heal: 12000, fault: { mode: 'refusal' } },
] : SEMANTIC ? [
  { name: 'primary answers wrongly', sim: 'primary', at: 3000, heal: 12000, fault: { mode: 'garbage' } },
] : [
  { name: 'primary 503 storm', sim: 'primary', at: 3000, heal: 8000, fault: { mode: 'error', status: 503, message: 'bench storm' } },
  { name: 'secondary hangs', sim: 'secondary', at: 10000, heal: 14000, fault: { mode: 'hang' } },
  { name: 'primary refuses connections', sim: 'primary', at: 16000, heal: 19000, fault: { mode: 'refuse' } },
]).map((f) => ({ ...f, at: (f.at * DURATION_MS) / 20000, heal: (f.heal * DURATION_MS) / 20000 }));

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

const children = [];
const workDir = mkdtempSync(path.join(os.tmpdir(), 'llmgw-outage-'));
function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  rmSync(workDir, { recursive: true, force: true });
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { killAll(); process.exit(130); });
const watchdog = setTimeout(() => {
  console.error('outage bench: watchdog fired, aborting');
  process.exit(2);
}, DURATION_MS + 60_000);
watchdog.unref();

function startProcess(bin, args, patterns, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`${label}: not up within 10 s\n${out}${err}`)), 10_000);
    const found = new Array(patterns.length).fill(null);
    function fail(e) {
      clearTimeout(timer);
      reject(e);
    }
    child.on('error', fail);
    child.on('exit', (code, sig) => fail(new Error(`${label} exited (${code ?? sig})\n${out}${err}`)));
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      if (found.every(Boolean)) return; // later output (logs) is not kept
      out += d;
      patterns.forEach((re, i) => { found[i] ??= out.match(re); });
      if (found.every(Boolean)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, matches: found });
      }
    });
  });
}

async function startSim(name) {
  const { child, matches } = await startProcess(
    SIM_BIN,
    ['--listen', `${HOST}:0`, '--control-listen', `${HOST}:0`, '--name', name, '--threads', '1'],
    [/listening on 127\.0\.0\.1:(\d+)/, /control on 127\.0\.0\.1:(\d+)/],
    `llmgw-sim ${name}`,
  );
  const control = `http://${HOST}:${matches[1][1]}`;
  const ctl = async (method, p, body) => {
    const res = await fetch(`${control}${p}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${name} ${p}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  return {
    name,
    child,
    baseUrl: `http://${HOST}:${matches[0][1]}/v1`,
    fault: (spec) => ctl('POST', '/_sim/fault', spec),
    currentFault: () => ctl('GET', '/_sim/fault'),
    chatCalls: async () => (await ctl('GET', '/_sim/stats')).by_path['/v1/chat/completions'] ?? 0,
    checkCalls: async () => (await ctl('GET', '/_sim/stats')).by_path['/v1/models'] ?? 0,
  };
}

function gatewayConfig(sims) {
  const provider = (s) => `  - name: ${s.name}
    kind: openai_compatible
    base_url: ${s.baseUrl}
    timeouts: { connect: 300ms, first_byte: 500ms, idle_between_chunks: 1s, total: 10s }
    health:
      active: { kind: http, path: /models, interval: 1s, unhealthy_interval: 250ms, timeout: 300ms, healthy_after: 2, unhealthy_after: 2 }
      passive: { consecutive_failures: 3, failure_rate: 0.5, min_requests: 20, window: 10s, eject_for: 1s, max_eject_for: 4s }
${REFUSALS ? `      semantic: { signals: { window: ${SIGNAL_WINDOW_MS}ms, min_answers: 10, refusal: 0.3, action: degrade } }
` : SEMANTIC ? `      semantic: { interval: ${PROBE_INTERVAL_MS}ms, model: m-probe, probes: [ arithmetic ], unhealthy_after: 2 }
` : ''}    circuit_breaker: { open_after_failure_rate: 0.5, min_requests: 10, window: 2s, open_for: 1s, half_open_probes: 1 }
`;
  const probes = SEMANTIC && !REFUSALS ? `probes:
  - name: arithmetic
    prompt: "What is 17 + 25? Reply with the number only."
    expect: { regex: '^\\s*42\\s*$', max_latency: 1s }
` : '';
  return `server: { listen: "${HOST}:0", admin_listen: "${HOST}:0", threads: 2, drain_timeout: 2s }
logging: { level: warn, format: text, access_log: "off" }
auth: { required: false }
providers:
${sims.map(provider).join('')}${probes}models:
  - name: chat
    strategy: weighted
    targets:
      - { provider: primary, model: m-primary, weight: 6 }
      - { provider: secondary, model: m-secondary, weight: 3 }
      - { provider: tertiary, model: m-tertiary, weight: 1 }
    retry: { attempts: 3, backoff: { base: 10ms, max: 100ms, jitter: full }, budget: 0.2 }
`;
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The answer's text: a completion's content, or a stream's content deltas joined.
function answerText(text, streaming) {
  try {
    if (!streaming) return JSON.parse(text).choices?.[0]?.message?.content ?? '';
    let out = '';
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: {')) continue;
      out += JSON.parse(line.slice(6)).choices?.[0]?.delta?.content ?? '';
    }
    return out;
  } catch {
    return '';
  }
}

async function oneRequest(url, i, streaming) {
  const t0 = performance.now();
  // The semantic scenario asks what it can check: the simulator answers arithmetic right, and
  // off by one in `garbage` mode.
  const a = i < 0 ? 1 : i % 97;
  const b = i < 0 ? 1 : 7 + (i % 13);
  const content = SEMANTIC ? `What is ${a} + ${b}?` : `request ${i} needs an answer in a few words`;
  const body = JSON.stringify({ model: 'chat', stream: streaming, messages: [{ role: 'user', content }] });
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let ok = res.status === 200;
    if (ok && streaming) ok = text.includes('data: [DONE]') && !/^data: \{"error"/m.test(text);
    if (ok && res.headers.get('x-llmgw-degraded')) ok = false;
    const said = ok ? answerText(text, streaming).trim() : '';
    const wrong = REFUSALS ? ok && /^I'm sorry/.test(said) : SEMANTIC && ok && said !== String(a + b);
    return {
      t0, ms: performance.now() - t0, ok, wrong, status: res.status,
      provider: res.headers.get('x-llmgw-provider'), error: ok ? null : text.slice(0, 200),
    };
  } catch (e) {
    return { t0, ms: performance.now() - t0, ok: false, wrong: false, status: 0, error: String(e.message ?? e) };
  }
}

async function runLoad(url, until) {
  const results = [];
  let n = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < until) {
      const i = n++;
      results.push(await oneRequest(url, i, Math.random() < STREAM_SHARE));
      if (THINK_MS) await sleep(THINK_MS);
    }
  }));
  return results;
}

// ---------------------------------------------------------------------------------------------
// Observation: calls per target over time
// ---------------------------------------------------------------------------------------------

// llmgw_upstream_requests_total{provider,outcome}: the gateway's count of finished attempts.
function attemptCounts(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^llmgw_upstream_requests_total\{([^}]*)\}\s+(\S+)/);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    out[labels.provider] ??= {};
    out[labels.provider][labels.outcome] = Number(m[2]);
  }
  return out;
}

// Every POLL_MS: each sim's received chat calls, and the gateway's failed connects per provider
// (a refused connection never reaches the sim). "Calls routed to X" = the sum of both.
async function poller(gwAdmin, sims, t0, stopAt, samples) {
  while (performance.now() < stopAt) {
    const t = performance.now() - t0;
    try {
      const [counts, metricsText, upstreams] = await Promise.all([
        Promise.all(sims.map((s) => s.chatCalls())),
        fetch(`${gwAdmin}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()),
        fetch(`${gwAdmin}/admin/upstreams`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json()),
      ]);
      const attempts = attemptCounts(metricsText);
      const sample = { t, calls: {}, connectFails: {}, failed: {}, routable: {}, semantic: {} };
      sims.forEach((s, i) => {
        const a = attempts[s.name] ?? {};
        const u = upstreams.upstreams.find((x) => x.name === s.name);
        sample.routable[s.name] = u?.routable ?? true;
        sample.semantic[s.name] = REFUSALS ? u?.checks?.signals : u?.checks?.semantic;
        sample.calls[s.name] = counts[i];
        sample.connectFails[s.name] = a.connect ?? 0;
        sample.failed[s.name] = Object.entries(a).filter(([k]) => k !== 'success').reduce((x, [, v]) => x + v, 0);
      });
      samples.push(sample);
    } catch {
      // a missed sample only lowers the resolution
    }
    await sleep(POLL_MS);
  }
}

const routed = (s, name) => s.calls[name] + s.connectFails[name];

// `marks`: the broken sim's chat-call count read just before the fault was applied and just
// before it was healed, and `met`: how many calls the fault answered (from its count).
function analyseFault(f, samples, marks) {
  const at = samples.findLast((s) => s.t <= f.at) ?? samples[0];
  const healS = samples.findLast((s) => s.t <= f.heal) ?? samples.at(-1);
  // Attempts sent before the heal may fail up to a first_byte timeout later.
  const settled = samples.findLast((s) => s.t <= f.heal + 600) ?? samples.at(-1);
  const inFault = samples.filter((s) => s.t > f.at && s.t <= f.heal);
  // First failed call: the first sample after the fault began that shows a new call to it.
  const first = inFault.find((s) => s.calls[f.sim] > marks.beforeFault ||
    s.connectFails[f.sim] > at.connectFails[f.sim]);
  // Detected: the gateway reports it not routable (/admin/upstreams).
  const unroutable = inFault.find((s) => !s.routable[f.sim]);
  // Live traffic stopped at the first QUIET_MS gap without a call; calls after that are probes
  // (half-open circuit, an ejection running out) until the heal.
  let lastLive = null;
  let probes = 0;
  if (first) {
    let lastChange = first;
    for (const s of inFault.slice(inFault.indexOf(first) + 1)) {
      if (routed(s, f.sim) > routed(lastChange, f.sim)) {
        if (lastLive) probes += routed(s, f.sim) - routed(lastChange, f.sim);
        lastChange = s;
      } else if (!lastLive && s.t - lastChange.t >= QUIET_MS) {
        lastLive = lastChange;
      }
    }
  }
  const back = samples.find((s) => s.t > f.heal && s.calls[f.sim] > healS.calls[f.sim]);
  const ms = (x) => (x === null || x === undefined ? null : Math.round(x));
  return {
    fault: f.name,
    target: f.sim,
    window_ms: Math.round(f.heal - f.at),
    // Calls that met the fault: exact from the fault's count, except for refuse (which has no
    // count; the sim only sees requests sent on connections opened before the fault).
    wasted_sim_calls: marks.met ?? marks.beforeHeal - marks.beforeFault,
    failed_attempts_gw: settled.failed[f.sim] - at.failed[f.sim],
    failed_connects_gw: settled.connectFails[f.sim] - at.connectFails[f.sim],
    probes_after_detect: probes,
    detect_ms: first && unroutable ? ms(unroutable.t - first.t) : null,
    last_live_call_ms: first && lastLive ? ms(lastLive.t - first.t) : null,
    recover_ms: back ? ms(back.t - f.heal) : null,
  };
}

// The semantic scenario: when the gateway saw the primary's wrong answers (its probes), and how
// many wrong answers clients got before and after that (by when the request started).
function analyseSemantic(f, samples, results, t0) {
  const bad = REFUSALS ? 'degraded' : 'unhealthy';
  const detected = samples.find((s) => s.t > f.at && s.semantic[f.sim] === bad);
  const back = samples.find((s) => s.t > f.heal && s.semantic[f.sim] === 'healthy');
  const wrong = results.filter((r) => r.wrong);
  const detectT = detected ? detected.t : Infinity;
  return {
    probe_interval_ms: PROBE_INTERVAL_MS,
    detect_ms: detected ? Math.round(detected.t - f.at) : null,
    detect_intervals: detected ? Number(((detected.t - f.at) / PROBE_INTERVAL_MS).toFixed(2)) : null,
    wrong_answers: wrong.length,
    wrong_before_detect: wrong.filter((r) => r.t0 - t0 < detectT).length,
    wrong_after_detect: wrong.filter((r) => r.t0 - t0 >= detectT).length,
    recover_ms: back ? Math.round(back.t - f.heal) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main() {
  for (const [bin, what] of [[LLMGW_BIN, 'LLMGW_BIN'], [SIM_BIN, 'LLMGW_SIM_BIN']]) {
    if (!existsSync(bin)) throw new Error(`${bin} missing: scripts/build.sh build llmgw llmgw-sim (or set ${what})`);
  }
  const sims = await Promise.all(['primary', 'secondary', 'tertiary'].map(startSim));
  const cfgPath = path.join(workDir, 'llmgw.yaml');
  writeFileSync(cfgPath, gatewayConfig(sims));
  const { matches } = await startProcess(LLMGW_BIN, ['--config', cfgPath],
    [/^llmgw listening on port (\d+) admin port (\d+)$/m], 'llmgw');
  const url = `http://${HOST}:${matches[0][1]}/v1/chat/completions`;
  const admin = `http://${HOST}:${matches[0][2]}`;
  // Healthy before the clock starts (the active checks have run at least once).
  const warm = await oneRequest(url, -1, false);
  if (!warm.ok) throw new Error(`warm-up request failed: ${warm.status} ${warm.error}`);

  const t0 = performance.now();
  const until = t0 + DURATION_MS;
  const samples = [];
  const applied = [];
  const marks = new Map(SCHEDULE.map((f) => [f, {}]));
  const schedule = (async () => {
    const events = SCHEDULE.flatMap((f) => [
      { t: f.at, sim: f.sim, spec: f.fault, what: `${f.name}`, f, mark: 'beforeFault' },
      { t: f.heal, sim: f.sim, spec: { mode: 'none' }, what: `${f.sim} heals`, f, mark: 'beforeHeal' },
    ]).sort((a, b) => a.t - b.t);
    for (const e of events) {
      const wait = t0 + e.t - performance.now();
      if (wait > 0) await sleep(wait);
      const sim = sims.find((s) => s.name === e.sim);
      const mark = marks.get(e.f);
      if (e.mark === 'beforeHeal' && e.f.fault.mode !== 'refuse') {
        // Every call that met the fault consumed one unit of its (huge) count: exact. The
        // gateway's active health checks (GET /v1/models) meet it too; they are not traffic.
        const [current, checks] = await Promise.all([sim.currentFault(), sim.checkCalls()]);
        mark.met = FAULT_COUNT - (current.count ?? FAULT_COUNT) - (checks - mark.checksBeforeFault);
      }
      if (e.mark === 'beforeFault') mark.checksBeforeFault = await sim.checkCalls();
      mark[e.mark] = await sim.chatCalls();
      await sim.fault(e.mark === 'beforeFault' && e.spec.mode !== 'refuse' ? { ...e.spec, count: FAULT_COUNT } : e.spec);
      applied.push({ at_ms: Math.round(performance.now() - t0), what: e.what });
    }
  })();
  const [results] = await Promise.all([runLoad(url, until), poller(admin, sims, t0, until + 300, samples), schedule]);

  const ok = results.filter((r) => r.ok).length;
  const lat = results.map((r) => r.ms).sort((a, b) => a - b);
  const faults = SCHEDULE.map((f) => analyseFault(f, samples, marks.get(f)));
  const semantic = SEMANTIC ? analyseSemantic(SCHEDULE[0], samples, results, t0) : undefined;
  const failures = results.filter((r) => !r.ok);
  const summary = {
    clients: CLIENTS,
    duration_s: DURATION_MS / 1000,
    stream_share: STREAM_SHARE,
    requests: results.length,
    succeeded: ok,
    success_rate: results.length ? ok / results.length : 0,
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
    max_ms: lat.at(-1),
    faults,
    semantic,
    failures_sample: failures.slice(0, 5).map((r) => ({ at_ms: Math.round(r.t0 - t0), status: r.status, error: r.error })),
    schedule_applied: applied,
    poll_ms: POLL_MS,
  };
  if (opt.trace) {
    for (const f of SCHEDULE) {
      console.log(`trace ${f.name} (${f.sim}), fault at ${Math.round(f.at)} ms, heal at ${Math.round(f.heal)} ms:`);
      let prev = samples.findLast((s) => s.t <= f.at) ?? samples[0];
      for (const s of samples.filter((x) => x.t > f.at && x.t <= f.heal + 1000)) {
        const calls = routed(s, f.sim) - routed(prev, f.sim);
        if (calls || s.routable[f.sim] !== prev.routable[f.sim]) {
          console.log(`  t=${Math.round(s.t)} ms  +${calls} calls  failed total ${s.failed[f.sim]}  ${s.routable[f.sim] ? 'routable' : 'NOT routable'}`);
        }
        prev = s;
      }
    }
  }
  if (opt.json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
  console.log(`llmgw outage bench: ${CLIENTS} clients, ${DURATION_MS / 1000} s, ${Math.round(STREAM_SHARE * 100)}% streaming, ` +
    `3 sims (weighted 6/3/1), active+passive+breaker${REFUSALS ? `+live signals (window ${SIGNAL_WINDOW_MS} ms)`
      : SEMANTIC ? `+semantic probes (every ${PROBE_INTERVAL_MS} ms)` : ''} on every provider`);
  console.log(`schedule: ${applied.map((a) => `t=${(a.at_ms / 1000).toFixed(1)}s ${a.what}`).join('; ')}`);
  console.log('');
  console.log(`requests      ${results.length} (${(results.length / (DURATION_MS / 1000)).toFixed(0)}/s)`);
  console.log(`success rate  ${(100 * summary.success_rate).toFixed(3)}% (${results.length - ok} failed)`);
  console.log(`latency       p50 ${f1(summary.p50_ms)} ms   p99 ${f1(summary.p99_ms)} ms   max ${f1(summary.max_ms)} ms`);
  console.log('');
  const header = ['fault', 'window', 'calls wasted (sim)', 'failed attempts (gw)', 'time to detect', 'last live call',
    'probes until heal', 'time to recover'];
  const rows = faults.map((f) => [
    `${f.fault}`,
    `${f.window_ms} ms`,
    String(f.wasted_sim_calls),
    `${f.failed_attempts_gw}${f.failed_connects_gw ? ` (${f.failed_connects_gw} connect)` : ''}`,
    // 0 = within one poll interval
    f.detect_ms === null ? 'n/a' : f.detect_ms === 0 ? `<${POLL_MS} ms` : `${f.detect_ms} ms`,
    f.last_live_call_ms === null ? 'n/a' : f.last_live_call_ms === 0 ? `<${POLL_MS} ms` : `+${f.last_live_call_ms} ms`,
    String(f.probes_after_detect),
    f.recover_ms === null ? 'not within run' : `${f.recover_ms} ms`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log('');
  console.log('time to detect: first call that met the fault -> /admin/upstreams says not routable;');
  console.log(`last live call: first failed call -> last call routed to it before ${QUIET_MS} ms without any;`);
  console.log('probes until heal: calls after that (half-open probes, ejections running out);');
  console.log(`time to recover: heal -> first call routed back. Resolution ~${POLL_MS} ms (polling).`);
  console.log('calls wasted (sim): calls the broken sim answered with the fault. A refused connection never reaches');
  console.log('the sim: it only sees requests sent on connections opened before; failed connects are counted by the gateway.');
  if (semantic && REFUSALS) {
    const m = semantic;
    console.log('');
    console.log(`live signals: the primary's refusals marked it degraded after ${m.detect_ms ?? 'n/a'} ms; ` +
      `clean again ${m.recover_ms ?? 'n/a'} ms after the heal`);
    console.log(`refusals delivered: ${m.wrong_answers} (${m.wrong_before_detect} from requests started before ` +
      `detection, ${m.wrong_after_detect} after: a degraded target is judged again once its window forgets)`);
  } else if (semantic) {
    const m = semantic;
    console.log('');
    console.log(`semantic: wrong answers from the primary detected after ${m.detect_ms ?? 'n/a'} ms ` +
      `(${m.detect_intervals ?? '-'} probe intervals, unhealthy_after 2); recovered ${m.recover_ms ?? 'n/a'} ms after the heal`);
    console.log(`wrong answers delivered: ${m.wrong_answers} (${m.wrong_before_detect} from requests started before ` +
      `detection, ${m.wrong_after_detect} after)`);
  }
  if (failures.length) {
    console.log('\nfailed requests (first 5):');
    for (const f of summary.failures_sample) console.log(`  t=${f.at_ms} ms status ${f.status}: ${f.error}`);
  }
}

main().then(
  () => { killAll(); process.exit(0); },
  (e) => { console.error(`outage bench failed: ${e.stack ?? e}`); killAll(); process.exit(1); },
);
