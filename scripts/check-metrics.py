#!/usr/bin/env python3
"""Every metric the shipped dashboard and alerts query is one the gateway really exports.

    check-metrics.py DASHBOARD.json ALERTS.yaml [LLMGW_BIN SIM_BIN]

1. The metric names are taken from every PromQL expression of the dashboard (panels, rows'
   panels, template variables) and of the alert rules: identifiers outside strings, label
   matchers, ranges and by/without/on/ignoring/group_* lists, that are not functions or
   keywords. A histogram's _bucket/_sum/_count names the family it belongs to.
2. Each family must be declared in src/metrics/*.cpp (BuildX().Name("...")), except `up`,
   which Prometheus itself writes for every scrape target.
3. With the binaries: a gateway and three simulators start on loopback with a config that
   exercises every family the queries name (a failing provider whose circuit opens, a retry
   budget that runs out, a fallback, semantic probes, a refused answer, a truncated request, a
   canary, a session store and a shared state that are down), requests drive it, and one
   scrape of /metrics must hold a sample of every queried name. A family prometheus-cpp has
   not observed is absent from the exposition, so "declared" alone would prove nothing about
   what a panel shows.
Prints one line per problem; exits 1 when there was any.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMETHEUS_OWN = {"up": "written by Prometheus for each scrape target"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "offset", "bool", "inf", "nan", "atan2"}
problems = []


def fail(msg):
    problems.append(msg)


# --- names queried -------------------------------------------------------------------------

def metric_names(expr):
    """Metric names in one PromQL expression (Grafana's $variables allowed)."""
    m = re.match(r"\s*label_values\(\s*([A-Za-z_:][\w:]*)", expr)
    if m:
        return {m.group(1)}
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', " ", expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS or re.fullmatch(r"\d", word[0]):
            continue
        names.add(word)
    return names


def dashboard_exprs(path):
    with open(path) as f:
        doc = json.load(f)
    out = []

    def panels(items):
        for p in items:
            for t in p.get("targets", []):
                if t.get("expr"):
                    where = f"{path} panel \"{p.get('title')}\" {t.get('refId', '')}"
                    out.append((where, t["expr"]))
            panels(p.get("panels", []))
    panels(doc.get("panels", []))
    for v in doc.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            out.append((f"{path} variable ${v.get('name')}", q))
    if not out:
        fail(f"{path}: no PromQL expression found")
    return out


def alert_exprs(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    out = []
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            out.append((f"{path} {name}", r["expr"]))
    if not out:
        fail(f"{path}: no rule found")
    return out


def family_of(name, declared):
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in declared:
            return name[: -len(suffix)]
    return name


def declared_families():
    found = set()
    src = os.path.join(REPO, "src", "metrics")
    for f in sorted(os.listdir(src)):
        if f.endswith(".cpp"):
            with open(os.path.join(src, f)) as fh:
                found |= set(re.findall(r'\.Name\("([A-Za-z_:][\w:]*)"\)', fh.read()))
    if not found:
        fail(f"{src}: no metric family declared (BuildX().Name(...)): the check is broken")
    return found


# --- a live gateway --------------------------------------------------------------------------

class Process:
    """A child whose merged stdout/stderr is drained by a thread (a full pipe would block it)."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def wait_line(self, pattern, what, deadline):
        """The first output line matching `pattern` (the processes print their ports)."""
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    if line is None:
                        raise RuntimeError(f"{what} exited: " + "\n".join(self.lines[:-1])[-2000:])
                    m = re.match(pattern, line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{what} did not start in time: " +
                                       "\n".join(self.lines)[-2000:])
                self.cond.wait(left)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def http(url, body=None, headers=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_config(sims, down_port):
    def provider(name, sim, **extra):
        return {"name": name, "kind": "openai_compatible", "base_url": f"{sims[sim]}/v1",
                "timeouts": {"connect": "1s", "first_byte": "5s", "idle_between_chunks": "5s",
                             "total": "10s"}, **extra}
    redis = {"url": f"redis://127.0.0.1:{down_port}/0"}
    price = {"input_per_mtok": 2, "output_per_mtok": 8}
    return {
        "server": {"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0", "threads": 1,
                   "drain_timeout": "1s"},
        "logging": {"level": "warn", "format": "text"},
        "auth": {"required": False},
        "providers": [
            provider("ok", "ok"),
            provider("probed", "ok", health={"semantic": {
                "interval": "100ms", "model": "m", "probes": ["say-hi"], "unhealthy_after": 1}}),
            # Fails every call: its circuit opens after two, it is ejected after two.
            provider("bad", "bad", circuit_breaker={
                "open_after_failure_rate": 0.5, "min_requests": 2, "window": "10s",
                "open_for": "60s", "half_open_probes": 1},
                health={"passive": {"consecutive_failures": 2}}),
            # The same failing simulator without a breaker: retried until the budget says no.
            provider("flaky", "bad"),
            provider("sig", "sig", health={"semantic": {"signals": {
                "window": "10s", "min_answers": 1, "refusal": 0.5}}}),
        ],
        "probes": [{"name": "say-hi", "prompt": "Say hi.", "expect": {"regex": "."}}],
        "models": [
            {"name": "chat", "targets": [{"provider": "ok", "model": "m", "price": price},
                                         {"provider": "probed", "model": "m"},
                                         {"provider": "sig", "model": "m"}],
             "canary": {"target": "sig", "percent": 0}},
            {"name": "primary", "targets": [{"provider": "bad", "model": "m"}],
             "fallbacks": ["chat"], "retry": {"attempts": 2}},
            {"name": "solo", "targets": [{"provider": "flaky", "model": "m"}],
             "retry": {"attempts": 10, "budget": 0,
                       "backoff": {"base": "1ms", "max": "1ms", "jitter": "none"}}},
            {"name": "signals", "targets": [{"provider": "sig", "model": "m"}]},
            {"name": "small", "targets": [{"provider": "ok", "model": "m", "context_window": 60}],
             "context": {"overflow": "truncate_oldest", "reserve_output": 8}},
            {"name": "cached", "targets": [{"provider": "ok", "model": "m"}], "cache": {}},
        ],
        "sessions": {"store": "redis", "redis": redis},
        "state": {"backend": "redis", "redis": redis},
    }


def drive(url, sims_control):
    def chat(model, content="hello", **extra):
        return http(f"{url}/v1/chat/completions",
                    {"model": model, "messages": [{"role": "user", "content": content}]},
                    **extra)
    expect = []

    def check(what, got, want):
        if got[0] != want:
            expect.append(f"{what}: status {got[0]} (wanted {want}): {got[1][:300]}")
    check("chat", chat("chat"), 200)
    check("stream", http(f"{url}/v1/chat/completions", {
        "model": "chat", "stream": True, "messages": [{"role": "user", "content": "a stream"}]}),
        200)
    check("primary (fails over to chat)", chat("primary"), 200)
    check("primary again (opens bad's circuit)", chat("primary"), 200)
    check("solo (retry budget)", chat("solo"), 503)
    http(f"{sims_control['sig']}/_sim/fault", {"mode": "refusal"})
    check("signals (a refusal)", chat("signals"), 200)
    old = " ".join(["an old turn with many words"] * 20)
    check("small (truncated)", http(f"{url}/v1/chat/completions", {"model": "small", "messages": [
        {"role": "user", "content": old}, {"role": "assistant", "content": old},
        {"role": "user", "content": "now?"}]}), 200)
    check("cached (state down: a miss)", chat("cached"), 200)
    check("session (store down)", chat("chat", headers={"x-session-id": "check-metrics"}), 503)
    return expect


def sample_names(text):
    return {m.group(1) for m in re.finditer(r"^([A-Za-z_:][\w:]*)(?:\{| )", text, re.M)}


def live(llmgw, sim, queried):
    procs = []
    tmp = tempfile.mkdtemp(prefix="check-metrics-")
    deadline = time.monotonic() + 20
    try:
        sims, control = {}, {}
        for name in ("ok", "bad", "sig"):
            args = [sim, "--listen", "127.0.0.1:0", "--name", f"cm-{name}",
                    "--control-listen", "127.0.0.1:0"]
            if name == "bad":
                args += ["--fault", json.dumps({"mode": "error", "status": 503})]
            p = Process(args)
            procs.append(p)
            port = p.wait_line(rf"^llmgw-sim cm-{name} listening on 127\.0\.0\.1:(\d+)$",
                             f"llmgw-sim cm-{name}", deadline).group(1)
            cport = p.wait_line(rf"^llmgw-sim cm-{name} control on 127\.0\.0\.1:(\d+)$",
                              f"llmgw-sim cm-{name}", deadline).group(1)
            sims[name] = f"http://127.0.0.1:{port}"
            control[name] = f"http://127.0.0.1:{cport}"
        cfg = os.path.join(tmp, "llmgw.yaml")
        with open(cfg, "w") as f:
            yaml.safe_dump(gateway_config(sims, free_port()), f)
        gw = Process([llmgw, "--config", cfg])
        procs.append(gw)
        m = gw.wait_line(r"^llmgw listening on port (\d+) admin port (\d+)$", "llmgw", deadline)
        url, admin = f"http://127.0.0.1:{m.group(1)}", f"http://127.0.0.1:{m.group(2)}"
        for e in drive(url, control):
            fail(f"live gateway: {e}")
        # The probes run on the control thread every 100 ms: poll until a verdict is counted.
        missing = set(queried)
        while True:
            status, text = http(f"{admin}/metrics")
            if status != 200:
                fail(f"live gateway: /metrics answered {status}")
                return
            missing = set(queried) - sample_names(text)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for name in sorted(missing):
            fail(f"{name} (queried by {', '.join(sorted(queried[name]))}) has no sample in a live "
                 f"/metrics after the scripted traffic")
    except RuntimeError as e:
        fail(str(e))
    finally:
        if problems and procs and len(procs) == 4:
            fail("the gateway's log, last lines:\n  " + "\n  ".join(
                [l for l in procs[-1].lines if l is not None][-15:]))
        for p in procs:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    if len(argv) not in (3, 5):
        print(__doc__, file=sys.stderr)
        return 2
    queried = {}  # name -> where
    for where, expr in dashboard_exprs(argv[1]) + alert_exprs(argv[2]):
        for name in metric_names(expr):
            queried.setdefault(name, set()).add(where)
    declared = declared_families()
    exported = {}
    for name, where in sorted(queried.items()):
        if name in PROMETHEUS_OWN:
            continue
        if family_of(name, declared) not in declared:
            fail(f"{name} (queried by {', '.join(sorted(where))}) is not declared in src/metrics")
        exported[name] = where
    print(f"   {len(exported)} metric names queried by {argv[1]} and {argv[2]}, all declared"
          if not problems else "", end="")
    if len(argv) == 5 and not problems:
        live(argv[3], argv[4], exported)
        if not problems:
            print(", each with a sample in a live /metrics", end="")
    print()
    for p in problems:
        print(f"check-metrics: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
