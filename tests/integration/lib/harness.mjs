// Integration harness: starts the real llmgw and llmgw-sim binaries on loopback ephemeral ports
// and talks HTTP to them. Every wait has a deadline; every spawned process is killed when the
// test file ends (after() hook), when the process exits, or on SIGINT/SIGTERM of the runner.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const LLMGW_BIN = process.env.LLMGW_BIN || path.join(REPO, 'build', 'src', 'llmgw');
export const LLMGW_SIM_BIN =
  process.env.LLMGW_SIM_BIN || path.join(REPO, 'build', 'src', 'sim', 'llmgw-sim');

const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 10_000;
const DEFAULT_HTTP_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Process bookkeeping
// ---------------------------------------------------------------------------------------------

const live = new Set();      // ChildProcess objects still running
const tmpDirs = new Set();   // removed at the end

function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  // A spawn failure is reported by the startup wait (the process never prints its line).
  child.on('error', (e) => {
    child.spawnError = e;
    live.delete(child);
  });
  return child;
}

function requireBinary(bin, what) {
  if (!existsSync(bin)) {
    throw new Error(`${what} not found at ${bin}: build it (scripts/build.sh build llmgw llmgw-sim) ` +
      `or point ${what === 'llmgw' ? 'LLMGW_BIN' : 'LLMGW_SIM_BIN'} at it`);
  }
}

function killAllSync() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Kills every process this file started and waits (bounded) for them to go away. */
export async function cleanup() {
  const children = [...live];
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(children.map((c) => waitForExit(c, 5000).catch(() => {})));
  for (const dir of tmpDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
  tmpDirs.clear();
}

process.once('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAllSync();
    process.exit(130);
  });
}
// Top-level hook of the importing test file's root test: runs after all its tests, even failed.
after(cleanup);

export function makeTmpDir(prefix = 'llmgw-it-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns a truthy value (returned) or the deadline passes (throws with the
 * last value/error in the message). Never a fixed sleep: the interval is only the poll cadence.
 */
export async function waitFor(fn, { timeout = 5000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) {
        return last;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout}ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(interval);
  }
}

export function waitForExit(child, timeout = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`process ${child.pid} did not exit within ${timeout}ms`));
    }, timeout);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('exit', onExit);
  });
}

/** Collects a stream's output as lines and lets callers wait for a line matching a regex. */
class LineCollector {
  constructor(stream) {
    this.lines = [];
    this.partial = '';
    this.waiters = [];
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      this.partial += chunk;
      let nl;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => {
          const m = line.match(w.re);
          if (m) {
            w.resolve(m);
            return false;
          }
          return true;
        });
      }
    });
  }

  text() {
    return this.lines.join('\n') + (this.partial ? '\n' + this.partial : '');
  }

  waitFor(re, timeout, child, label) {
    for (const line of this.lines) {
      const m = line.match(re);
      if (m) {
        return Promise.resolve(m);
      }
    }
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      return Promise.reject(new Error(`${label} exited (code ${child.exitCode}, signal ${child.signalCode}) before printing ${re}`));
    }
    return new Promise((resolve, reject) => {
      const w = { re, resolve: null };
      const cleanupAll = () => {
        clearTimeout(timer);
        child?.off('exit', onExit);
      };
      w.resolve = (m) => {
        cleanupAll();
        resolve(m);
      };
      const onExit = (code, signal) => {
        cleanupAll();
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${label} exited (code ${code}, signal ${signal}) before printing ${re}`));
      };
      const timer = setTimeout(() => {
        cleanupAll();
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${label}: no line matching ${re} within ${timeout}ms`));
      }, timeout);
      child?.once('exit', onExit);
      this.waiters.push(w);
    });
  }
}

/** fetch() with a default timeout so no test can hang on a request. */
export function http(url, init = {}) {
  const { timeout = DEFAULT_HTTP_TIMEOUT_MS, ...rest } = init;
  const signal = rest.signal ?? AbortSignal.timeout(timeout);
  return fetch(url, { ...rest, signal });
}

// ---------------------------------------------------------------------------------------------
// llmgw-sim
// ---------------------------------------------------------------------------------------------

let simCounter = 0;

/**
 * Starts a simulator. opts: { name, port (default 0: ephemeral), apiKey, models: [..],
 * tls: {cert, key}, fault: {...}, threads }.
 * The control API is always on its own plain listener so it keeps answering while the main
 * listener refuses connections or is TLS.
 */
export async function startSim(opts = {}) {
  const name = opts.name ?? `sim-${++simCounter}`;
  const args = ['--listen', `${HOST}:${opts.port ?? 0}`, '--name', name, '--control-listen', `${HOST}:0`];
  if (opts.apiKey) args.push('--api-key', opts.apiKey);
  if (opts.models) args.push('--models', opts.models.join(','));
  if (opts.tls) args.push('--tls-cert', opts.tls.cert, '--tls-key', opts.tls.key);
  if (opts.fault) args.push('--fault', JSON.stringify(opts.fault));
  if (opts.threads) args.push('--threads', String(opts.threads));
  requireBinary(LLMGW_SIM_BIN, 'llmgw-sim');
  const proc = track(spawn(LLMGW_SIM_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const stdout = new LineCollector(proc.stdout);
  const stderr = new LineCollector(proc.stderr);
  const label = `llmgw-sim ${name}`;
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [main, control] = await Promise.all([
    stdout.waitFor(new RegExp(`^llmgw-sim ${esc} listening on 127\\.0\\.0\\.1:(\\d+)( \\(tls\\))?$`), STARTUP_TIMEOUT_MS, proc, label),
    stdout.waitFor(new RegExp(`^llmgw-sim ${esc} control on 127\\.0\\.0\\.1:(\\d+)$`), STARTUP_TIMEOUT_MS, proc, label),
  ]).catch((e) => {
    throw new Error(`${e.message}\nstderr:\n${stderr.text()}`);
  });
  const port = Number(main[1]);
  const controlPort = Number(control[1]);
  const scheme = opts.tls ? 'https' : 'http';
  const controlUrl = `http://${HOST}:${controlPort}`;

  const controlJson = async (method, p, body) => {
    const res = await http(`${controlUrl}${p}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      timeout: 5000,
    });
    const text = await res.text();
    if (res.status !== 200) {
      throw new Error(`${label} ${method} ${p} -> ${res.status}: ${text}`);
    }
    return JSON.parse(text);
  };

  return {
    name,
    port,
    controlPort,
    proc,
    stdout,
    stderr,
    baseUrl: `${scheme}://${HOST}:${port}/v1`,
    /** Sets the fault (see src/sim/faults.hpp): { mode, status, delay_ms, ... }. */
    fault: (spec) => controlJson('POST', '/_sim/fault', spec),
    /** { requests, by_path, last_request: { method, path, headers, body } } */
    stats: () => controlJson('GET', '/_sim/stats'),
    /** Clears stats and the fault. */
    reset: () => controlJson('POST', '/_sim/reset', {}),
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await waitForExit(proc, 5000);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// llmgw
// ---------------------------------------------------------------------------------------------

/** A small YAML emitter (block style; strings JSON-quoted, which YAML accepts). */
export function toYaml(value, indent = 0) {
  const pad = ' '.repeat(indent);
  const scalar = (v) => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return JSON.stringify(v);
    return String(v);
  };
  const isBlock = (v) => v !== null && typeof v === 'object' && Object.keys(v).length > 0;
  const empty = (v) => (Array.isArray(v) ? '[]' : '{}');
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (isBlock(item) && !Array.isArray(item)) {
          const body = toYaml(item, indent + 2);
          return `${pad}- ${body.slice(indent + 2)}`;
        }
        if (isBlock(item)) return `${pad}-\n${toYaml(item, indent + 2)}`;
        return `${pad}- ${typeof item === 'object' && item !== null ? empty(item) : scalar(item)}\n`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => {
        if (isBlock(v)) return `${pad}${k}:\n${toYaml(v, indent + 2)}`;
        if (v !== null && typeof v === 'object') return `${pad}${k}: ${empty(v)}\n`;
        return `${pad}${k}: ${scalar(v)}\n`;
      })
      .join('');
  }
  return `${pad}${scalar(value)}\n`;
}

/** Provider entry for a sim: { name, kind, base_url, api_key?, timeouts, ...extra }. */
export function simProvider(sim, extra = {}) {
  return {
    name: sim.name,
    kind: 'openai_compatible',
    base_url: sim.baseUrl,
    timeouts: { connect: '1s', first_byte: '5s', idle_between_chunks: '5s', total: '30s' },
    ...extra,
  };
}

/** Fills in the server section every test gateway needs (loopback, ephemeral ports, 1 thread). */
export function baseConfig(cfg) {
  return {
    ...cfg,
    server: {
      listen: `${HOST}:0`,
      admin_listen: `${HOST}:0`,
      threads: 1,
      drain_timeout: '5s',
      ...(cfg.server ?? {}),
    },
    logging: { level: 'info', format: 'text', access_log: 'stdout', ...(cfg.logging ?? {}) },
  };
}

/**
 * Starts llmgw with a config (YAML text, or an object turned into YAML after baseConfig()).
 * opts.env: extra environment; opts.nofile: a descriptor limit (RLIMIT_NOFILE) for the daemon.
 * opts.configVia: 'file' (default) or 'symlink' — with 'symlink' the watched path is a symlink
 * to a file in another directory, so rewriting the config through writeConfig() raises no
 * inotify event and only SIGHUP / POST /admin/reload pick it up; with 'configmap' the directory
 * is laid out as kubelet mounts a ConfigMap (llmgw.yaml -> ..data/llmgw.yaml, ..data -> a
 * timestamped directory) and updateConfigMap() updates it as kubelet does.
 */
export async function startGateway(config, opts = {}) {
  const dir = makeTmpDir('llmgw-gw-');
  const render = (c) => (typeof c === 'string' ? c : toYaml(baseConfig(c)));
  const configPath = path.join(dir, 'llmgw.yaml');
  let realPath = configPath;
  if (opts.configVia === 'symlink') {
    mkdirSync(path.join(dir, 'real'));
    realPath = path.join(dir, 'real', 'llmgw.yaml');
    writeFileSync(realPath, render(config));
    symlinkSync(realPath, configPath);
  } else if (opts.configVia === 'configmap') {
    mkdirSync(path.join(dir, '..v1'));
    writeFileSync(path.join(dir, '..v1', 'llmgw.yaml'), render(config));
    symlinkSync('..v1', path.join(dir, '..data'));
    symlinkSync('..data/llmgw.yaml', configPath);
  } else {
    writeFileSync(configPath, render(config));
  }
  requireBinary(LLMGW_BIN, 'llmgw');
  // opts.nofile: start under `ulimit -n N` (the shell execs llmgw, so proc.pid is the daemon's).
  const [cmd, argv] = opts.nofile
    ? ['/bin/sh', ['-c', `ulimit -n ${Number(opts.nofile)} && exec "$0" "$@"`, LLMGW_BIN, '--config', configPath]]
    : [LLMGW_BIN, ['--config', configPath]];
  const proc = track(
    spawn(cmd, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env ?? {}) },
    }),
  );
  const stdout = new LineCollector(proc.stdout);
  const stderr = new LineCollector(proc.stderr);
  // The text line, or with logging.format json the daemon log's "listening" object.
  const m = await stdout
    .waitFor(/^(?:llmgw listening on port (\d+) admin port (\d+)|\{.*"event":"listening","port":(\d+),"admin_port":(\d+).*\})$/,
      STARTUP_TIMEOUT_MS, proc, 'llmgw')
    .catch((e) => {
      throw new Error(`${e.message}\nstdout:\n${stdout.text()}\nstderr:\n${stderr.text()}`);
    });
  const port = Number(m[1] ?? m[3]);
  const adminPort = Number(m[2] ?? m[4]);
  const url = `http://${HOST}:${port}`;
  const adminUrl = `http://${HOST}:${adminPort}`;

  const gw = {
    dir,
    configPath,
    realConfigPath: realPath,
    proc,
    pid: proc.pid,
    port,
    adminPort,
    url,
    adminUrl,
    stdout,
    stderr,
    /** fetch() on the main listener. */
    fetch: (p, init) => http(`${url}${p}`, init),
    /** fetch() on the admin listener. */
    admin: (p, init) => http(`${adminUrl}${p}`, init),
    async metrics() {
      const res = await http(`${adminUrl}/metrics`);
      if (res.status !== 200) throw new Error(`/metrics -> ${res.status}`);
      return res.text();
    },
    /** Rewrites the config in place (the real file when configVia is 'symlink'). */
    writeConfig(c) {
      writeFileSync(realPath, render(c));
    },
    /** Saves like an editor: a temp file in the same directory renamed over the config. */
    writeConfigAtomically(c) {
      const tmp = path.join(path.dirname(realPath), `.llmgw.yaml.${process.pid}.tmp`);
      writeFileSync(tmp, render(c));
      renameSync(tmp, realPath);
    },
    /** Kubelet's atomic update of a mounted ConfigMap (configVia 'configmap'): the new files in
     * a new directory, a new "..data" symlink renamed over the old one. */
    updateConfigMap(c) {
      const version = `..v${Date.now()}`;
      mkdirSync(path.join(dir, version));
      writeFileSync(path.join(dir, version, 'llmgw.yaml'), render(c));
      symlinkSync(version, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    },
    reloadViaSignal() {
      proc.kill('SIGHUP');
    },
    /** Sends `signal` and resolves with the exit code (throws if not exited within timeout). */
    async stop(signal = 'SIGTERM', timeout = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const { code } = await waitForExit(proc, timeout);
      return code;
    },
    /** Access-log JSON lines seen on stdout so far. */
    accessLog() {
      return stdout.lines
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return null;
          }
        })
        .filter((x) => x && 'request_id' in x);
    },
  };
  return gw;
}

/** Number of open descriptors of process `pid` (entries of /proc/PID/fd). */
export function openFdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

let clockTicks;
/** CPU time (user + system, all threads) process `pid` has used so far, in seconds. */
export function cpuSeconds(pid) {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime (14), stime (15)
}

/** Value of a Prometheus sample: name plus a subset of labels ({} = any), summed. */
export function metricValue(text, name, labels = {}) {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m || m[1] !== name) continue;
    const have = {};
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      have[lm[1]] = lm[2];
    }
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[4]);
      found = true;
    }
  }
  return found ? total : undefined;
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers for the OpenAI API
// ---------------------------------------------------------------------------------------------

export function chatBody(content, extra = {}) {
  return { model: 'chat', messages: [{ role: 'user', content }], ...extra };
}

// { status, headers, json, text } of a response whose body may or may not be JSON.
async function readJson(res) {
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** POST JSON; returns { status, headers, json, text }. */
export async function postJson(url, body, { headers = {}, timeout } = {}) {
  const res = await http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    timeout,
  });
  return readJson(res);
}

/** GET (or another bodiless method); returns { status, headers, json, text }. */
export async function getJson(url, { method = 'GET', headers = {}, timeout } = {}) {
  return readJson(await http(url, { method, headers, timeout }));
}

/** Parses an SSE body into the `data:` payloads, in order. */
export function sseData(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''));
    if (data.length) out.push(data.join('\n'));
  }
  return out;
}

/** Concatenated choices[0].delta.content of parsed chunks. */
export function deltaText(events) {
  return events
    .filter((e) => e !== '[DONE]')
    .map((e) => JSON.parse(e))
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');
}

/**
 * POST a streaming request and read the body incrementally. Returns
 * { status, headers, events (data payloads), raw, ended, error }. `onEvent(data, i)` may return
 * 'abort' to abort the request from the client side.
 */
export async function streamChat(url, body, { headers = {}, timeout = 20_000, onEvent } = {}) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('stream timeout')), timeout);
  const result = { status: 0, headers: null, events: [], raw: '', ended: false, aborted: false, error: null };
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    result.status = res.status;
    result.headers = res.headers;
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      const s = decoder.decode(chunk, { stream: true });
      result.raw += s;
      buf += s;
      let idx;
      while ((idx = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, idx);
        buf = buf.slice(idx).replace(/^\r?\n\r?\n/, '');
        const data = sseData(block + '\n\n');
        for (const d of data) {
          result.events.push(d);
          if (onEvent && (await onEvent(d, result.events.length - 1)) === 'abort') {
            result.aborted = true;
            ac.abort();
            return result;
          }
        }
      }
    }
    result.ended = true;
  } catch (e) {
    if (!result.aborted) result.error = e;
  } finally {
    clearTimeout(timer);
  }
  return result;
}

/** Opens a raw TCP connection, writes `data`, collects what comes back until close/timeout. */
export function rawRequest(port, data, { timeout = 5000 } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect(port, HOST);
    let received = '';
    let settled = false;
    const done = (how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ received, how, elapsed: Date.now() - started });
    };
    const timer = setTimeout(() => done('timeout'), timeout);
    sock.on('connect', () => {
      if (data) sock.write(data);
    });
    sock.on('data', (d) => {
      received += d.toString('latin1');
    });
    sock.on('end', () => done('closed'));
    sock.on('close', () => done('closed'));
    sock.on('error', (e) => done(`error:${e.code}`));
  });
}

/** Resolves true when a fresh TCP connect to the port is refused, false if it connects. */
export function connectRefused(port, timeout = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, HOST);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeout);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      resolve(e.code === 'ECONNREFUSED');
    });
  });
}

/**
 * Established TCP connections owned by process `pid` whose remote port is `port` — what
 * `ss -tnp state established '( dport = :PORT )'` shows for that pid, read straight from /proc
 * (the socket inodes among the process's fds, matched against /proc/net/tcp{,6}).
 */
export function establishedTo(pid, port) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const wantPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [, , rem, st] = f;
      const inode = f[9];
      if (st === '01' && rem.endsWith(`:${wantPort}`) && inodes.has(inode)) n++;
    }
  }
  return n;
}

/**
 * Splits raw HTTP/1.1 response bytes: { status, headers (lowercase names), body (Buffer, chunked
 * framing removed, never decompressed), chunks (Buffer per HTTP chunk, or null when not
 * chunked), complete (the body's framing ended properly: terminal chunk or full Content-Length) }.
 */
export function parseRawResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: buf, chunks: null, complete: false };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks = [];
    let at = 0;
    let complete = false;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) break;
      const size = parseInt(rest.subarray(at, eol).toString('latin1').split(';')[0], 16);
      if (Number.isNaN(size)) break;
      if (size === 0) {
        complete = rest.indexOf('\r\n\r\n', eol) >= 0; // the (possibly empty) trailer's end
        break;
      }
      if (rest.length < eol + 2 + size + 2) break;
      chunks.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    return { status, headers, body: Buffer.concat(chunks), chunks, complete };
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    return { status, headers, body: rest.subarray(0, length), chunks: null, complete: rest.length >= length };
  }
  return { status, headers, body: rest, chunks: null, complete: true };
}

/**
 * One HTTP/1.1 exchange on a fresh connection (Connection: close) with the bytes exactly as
 * they travel: unlike fetch() nothing is decompressed and chunk boundaries are kept. `body`: a
 * string, Buffer or object (sent as JSON). Resolves with parseRawResponse()'s fields plus
 * `how` the connection ended ('closed', 'timeout', 'error:CODE').
 */
export function rawHttp(port, { method = 'GET', path: target = '/', headers = {}, body } = {}, { timeout = 10_000 } = {}) {
  return new Promise((resolve) => {
    let payload = Buffer.alloc(0);
    if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    }
    const names = Object.keys(headers).map((k) => k.toLowerCase());
    let head = `${method} ${target} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nConnection: close\r\n`;
    if (body !== undefined && !names.includes('content-type')) head += 'Content-Type: application/json\r\n';
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (body !== undefined) head += `Content-Length: ${payload.length}\r\n`;
    head += '\r\n';
    const sock = net.connect(port, HOST);
    const parts = [];
    let settled = false;
    const done = (how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...parseRawResponse(Buffer.concat(parts)), how });
    };
    const timer = setTimeout(() => done('timeout'), timeout);
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from(head, 'latin1'), payload])));
    sock.on('data', (d) => parts.push(d));
    sock.on('end', () => done('closed'));
    sock.on('close', () => done('closed'));
    sock.on('error', (e) => done(`error:${e.code}`));
  });
}

// ---------------------------------------------------------------------------------------------
// Test PKI
// ---------------------------------------------------------------------------------------------

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
}

/**
 * Makes a test CA, a server certificate for IP 127.0.0.1 signed by it, and a second, unrelated
 * CA. Returns paths { dir, caCert, caKey, serverCert, serverKey, otherCaCert }.
 */
export function makeTestPki() {
  const dir = makeTmpDir('llmgw-pki-');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=llmgw integration test CA'], dir);
  openssl(['req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2',
    '-subj', '/CN=llmgw unrelated test CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n' +
      'keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n',
  );
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    otherCaCert: path.join(dir, 'other-ca.pem'),
  };
}
