// Many open SSE streams through one gateway (issue 9, target 4): N streaming chat requests held
// open against llmgw-sim in slow-drip mode (one event every DRIP ms), all at once, for HOLD
// seconds; then the gateway's RSS and CPU per relayed event, and the errors. Loopback only;
// bounded in count (N) and time (HOLD + 60 s).
//   node bench/streams.mjs [N=10000] [HOLD=20] [DRIP=1000]   (the gateway needs 2 fds per
//   stream: ulimit -n above 2 N + 100)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const [N = 10000, HOLD = 20, DRIP = 1000] = process.argv.slice(2).map(Number);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = process.env.LLMGW_BIN || path.join(root, 'build/src/llmgw');
const simBin = process.env.LLMGW_SIM_BIN || path.join(root, 'build/src/sim/llmgw-sim');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmgw-streams-'));
const gwPort = 18611;
const simPort = 18612;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const procs = [];
const start = (cmd, args) => {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(p);
  return p;
};
const stopAll = () => procs.forEach((p) => p.kill('SIGKILL'));
process.on('exit', stopAll);
setTimeout(() => { console.error('bounded: giving up'); process.exit(2); }, (HOLD + 60) * 1000).unref();

const stat = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const rss = Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
  return { cpuTicks: Number(f[11]) + Number(f[12]), rssKb: rss };
};

start(simBin, ['--listen', `127.0.0.1:${simPort}`, '--name', 'drip', '--models', 'm', '--threads', '1']);
fs.writeFileSync(path.join(dir, 'gw.yaml'), `server:
  listen: 127.0.0.1:${gwPort}
  admin_listen: 127.0.0.1:0
  threads: 1
auth: { required: false }
logging: { access_log: off }
providers:
  - name: drip
    kind: openai_compatible
    base_url: http://127.0.0.1:${simPort}/v1
    api_key: sk-sim
    max_connections: ${N + 100}
    timeouts: { idle_between_chunks: 60s, total: 600s }
models:
  - name: m
    targets: [{ provider: drip, model: m }]
`);
const gw = start(bin, ['--config', path.join(dir, 'gw.yaml')]);
for (let i = 0; i < 100; i++) {
  const ok = await fetch(`http://127.0.0.1:${gwPort}/healthz`).then((r) => r.ok, () => false);
  if (ok) break;
  await sleep(50);
}
await fetch(`http://127.0.0.1:${simPort}/_sim/fault`, {
  method: 'POST', body: JSON.stringify({ mode: 'slow_chunks', chunk_delay_ms: DRIP }),
});

const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: words }] });
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
let open = 0; let errors = 0; let events = 0; const reqs = [];
const idle = stat(gw.pid);
for (let i = 0; i < N; i++) {
  const req = http.request({ host: '127.0.0.1', port: gwPort, path: '/v1/chat/completions', method: 'POST',
    agent, headers: { 'content-type': 'application/json' } }, (res) => {
    if (res.statusCode !== 200) errors++;
    open++;
    res.on('data', (d) => { events += d.toString().split('data: ').length - 1; });
    res.on('error', () => {});
  });
  req.on('error', () => { errors++; });
  req.end(body);
  reqs.push(req);
  if (i % 500 === 499) await sleep(50);  // let the listener keep up with the accepts
}
const deadline = Date.now() + 30_000;
while (open + errors < N && Date.now() < deadline) await sleep(100);
const t0 = stat(gw.pid); const e0 = events;
await sleep(HOLD * 1000);
const t1 = stat(gw.pid); const e1 = events;
const hz = 100;
const cpuUs = ((t1.cpuTicks - t0.cpuTicks) / hz) * 1e6;
console.log(JSON.stringify({
  streams: N, open, errors, hold_s: HOLD, drip_ms: DRIP,
  rss_idle_mb: +(idle.rssKb / 1024).toFixed(1), rss_open_mb: +(t1.rssKb / 1024).toFixed(1),
  events_relayed: e1 - e0, cpu_us_per_event: +(cpuUs / Math.max(1, e1 - e0)).toFixed(2),
  gateway_cpu_pct: +((cpuUs / (HOLD * 1e6)) * 100).toFixed(1),
}));
reqs.forEach((r) => r.destroy());
stopAll();
process.exit(0);
