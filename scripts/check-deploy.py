#!/usr/bin/env python3
"""Structural checks of the shipped deployment files, for scripts/check-deploy.sh.

    check-deploy.py k8s RENDERED.yaml MANIFEST_DIR DOCKERFILE OUT_DIR
    check-deploy.py compose COMPOSE.yaml OUT_DIR

RENDERED.yaml is `kubectl kustomize MANIFEST_DIR`. Both modes write into OUT_DIR what the shell
script checks further with the real tools:
  configs.tsv      LABEL<TAB>CONFIG_PATH<TAB>ENV_PATH, one per llmgw config found (the daemon's
                   --check-config; ENV_PATH holds NAME=VALUE lines for the ${NAME}s it needs)
  nginx.conf       (compose) nginx's config with the upstream host names pointed at 127.0.0.1
  prometheus.yml   (compose) Prometheus' config with its container paths mapped to the repo
Every problem is printed as one line; the exit status is 1 when there was any.
"""
import glob
import os
import re
import sys

import yaml

problems = []


def fail(where, msg):
    problems.append(f"{where}: {msg}")


# --- llmgw config helpers ------------------------------------------------------------------

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}")
DUMMY = "check-deploy-dummy-value-0123456789"


def required_env(text):
    """Names referenced as ${NAME} (no default): the process must have them."""
    return sorted({m.group(1) for m in ENV_REF.finditer(strip_comments(text)) if m.group(2) is None})


def strip_comments(text):
    # Good enough for the shipped configs: a '#' starting a line or after a space.
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


def substituted(value):
    """A config scalar as the daemon would see it with only the defaults available."""
    if not isinstance(value, str):
        return value
    return ENV_REF.sub(lambda m: m.group(3) if m.group(2) is not None else DUMMY, value)


def seconds(duration):
    """llmgw duration ('30s', '1m30s', '1500ms', 0) in seconds."""
    duration = substituted(duration)
    if duration in (0, "0"):
        return 0.0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", str(duration))
    if not parts or "".join(n + u for n, u in parts) != str(duration):
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * units[u] for n, u in parts)


def port_of(hostport):
    return int(str(substituted(hostport)).rsplit(":", 1)[1])


def get(mapping, *path, default=None):
    for key in path:
        if not isinstance(mapping, dict) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


def load_llmgw_config(where, text):
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        fail(where, f"the llmgw config is not YAML: {e}")
        return None
    if not isinstance(cfg, dict):
        fail(where, "the llmgw config is not a mapping")
        return None
    return cfg


def redis_host(url):
    m = re.match(r"redis://(?:[^@/]*@)?([^:/]+)", str(substituted(url)))
    return m.group(1) if m else None


def check_shared_state(where, cfg, instances, known_hosts):
    """Several instances on one config: sessions and state must be on a Redis they can reach."""
    if instances < 2:
        return
    if get(cfg, "sessions", "store", default="memory") != "redis":
        fail(where, f"{instances} instances but sessions.store is not redis: sessions would not be shared")
    if get(cfg, "state", "backend", default="local") != "redis":
        fail(where, f"{instances} instances but state.backend is not redis")
    for section in ("sessions", "state"):
        url = get(cfg, section, "redis", "url")
        if url is None:
            fail(where, f"{section}.redis.url is not set (the default 127.0.0.1 is not shared)")
            continue
        host = redis_host(url)
        if host not in known_hosts:
            fail(where, f"{section}.redis.url host {host!r} is none of {sorted(known_hosts)}")


def write_config(out_dir, label, index, text, env_names):
    cfg_path = os.path.join(out_dir, f"config-{index}", "llmgw.yaml")
    os.makedirs(os.path.dirname(cfg_path), exist_ok=True)
    with open(cfg_path, "w") as f:
        f.write(text)
    env_path = os.path.join(out_dir, f"config-{index}", "env")
    with open(env_path, "w") as f:
        for name in env_names:
            f.write(f"{name}={DUMMY}\n")
    with open(os.path.join(out_dir, "configs.tsv"), "a") as f:
        f.write(f"{label}\t{cfg_path}\t{env_path}\n")


# --- Kubernetes ----------------------------------------------------------------------------


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container, port):
    """The containerPort a probe or targetPort names (by name or number), or None."""
    for p in container.get("ports", []):
        if port in (p.get("name"), p.get("containerPort")):
            return p["containerPort"]
    return None


def check_k8s(rendered, manifest_dir, dockerfile, out_dir):
    docs = load_all(rendered)
    by_kind = {}
    for d in docs:
        for key in ("apiVersion", "kind"):
            if not d.get(key):
                fail(rendered, f"a document without {key}")
        if not get(d, "metadata", "name"):
            fail(rendered, f"a {d.get('kind')} without metadata.name")
        by_kind.setdefault(d.get("kind"), {})[get(d, "metadata", "name")] = d

    # kustomization.yaml lists every manifest, and only those.
    kust = load_all(os.path.join(manifest_dir, "kustomization.yaml"))[0]
    listed = set(kust.get("resources", []))
    present = {f for f in os.listdir(manifest_dir)
               if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml"}
    for f in sorted(present - listed):
        fail("kustomization.yaml", f"{f} is not in resources")
    for f in sorted(listed - present):
        fail("kustomization.yaml", f"resources names {f}, which does not exist")

    image_uid = None
    with open(dockerfile) as f:
        m = re.search(r"^USER\s+(\d+)", f.read(), re.M)
        image_uid = int(m.group(1)) if m else None

    deployments = by_kind.get("Deployment", {})
    configmaps = by_kind.get("ConfigMap", {})
    services = by_kind.get("Service", {})
    for name, dep in deployments.items():
        where = f"Deployment/{name}"
        spec = dep.get("spec", {})
        pod = get(spec, "template", "spec", default={})
        labels = get(spec, "template", "metadata", "labels", default={})
        if not labels_match(get(spec, "selector", "matchLabels"), labels):
            fail(where, "spec.selector.matchLabels does not match the pod template's labels")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for v in volumes.values():
            cm = get(v, "configMap", "name")
            if cm is not None and cm not in configmaps:
                fail(where, f"volume {v['name']} names ConfigMap {cm}, which is not in the manifests")
        for c in pod.get("containers", []):
            cw = f"{where} container {c.get('name')}"
            for kind in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if get(c, "resources", kind, res) is None:
                        fail(cw, f"no resources.{kind}.{res}")
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(cw, "securityContext.readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(cw, "securityContext.allowPrivilegeEscalation is not false")
            if not (sc.get("runAsNonRoot") or get(pod, "securityContext", "runAsNonRoot")):
                fail(cw, "runAsNonRoot is not set")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                for action in ("httpGet", "tcpSocket"):
                    port = get(c, probe, action, "port")
                    if port is not None and container_port(c, port) is None:
                        fail(cw, f"{probe}.{action}.port {port!r} is not a port of the container")
            for vm in c.get("volumeMounts", []):
                if vm["name"] not in volumes:
                    fail(cw, f"volumeMount {vm['name']} has no volume")
        if "--config" in str(pod.get("containers", [])):
            check_gateway(where, dep, pod, configmaps, services, image_uid, out_dir)

    for name, svc in services.items():
        where = f"Service/{name}"
        selector = get(svc, "spec", "selector", default={})
        targets = [d for d in deployments.values()
                   if labels_match(selector, get(d, "spec", "template", "metadata", "labels", default={}))]
        if not targets:
            fail(where, f"selector {selector} matches no Deployment's pods")
            continue
        containers = get(targets[0], "spec", "template", "spec", "containers", default=[])
        for p in get(svc, "spec", "ports", default=[]):
            target = p.get("targetPort", p.get("port"))
            if not any(container_port(c, target) for c in containers):
                fail(where, f"targetPort {target!r} is no container port of the selected pods")

    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        where = f"PodDisruptionBudget/{name}"
        selector = get(pdb, "spec", "selector", "matchLabels")
        targets = [d for d in deployments.values()
                   if labels_match(selector, get(d, "spec", "template", "metadata", "labels", default={}))]
        if not targets:
            fail(where, "its selector matches no Deployment's pods")
        for d in targets:
            replicas = get(d, "spec", "replicas", default=1)
            min_available = get(pdb, "spec", "minAvailable")
            max_unavailable = get(pdb, "spec", "maxUnavailable")
            if isinstance(min_available, int) and min_available >= replicas:
                fail(where, f"minAvailable {min_available} >= replicas {replicas}: no node could ever drain")
            if isinstance(max_unavailable, int) and not 0 < max_unavailable < replicas:
                fail(where, f"maxUnavailable {max_unavailable} with {replicas} replicas")


def check_gateway(where, dep, pod, configmaps, services, image_uid, out_dir):
    containers = pod.get("containers", [])
    gw = next(c for c in containers if "--config" in c.get("args", []) + c.get("command", []))
    argv = gw.get("command", []) + gw.get("args", [])
    cfg_path = argv[argv.index("--config") + 1]
    mount = next((m for m in gw.get("volumeMounts", [])
                  if os.path.dirname(cfg_path) == m["mountPath"].rstrip("/")), None)
    if mount is None:
        fail(where, f"no volume is mounted at {os.path.dirname(cfg_path)} (the --config file's directory)")
        return
    if mount.get("subPath"):
        fail(where, f"the config volume is mounted with subPath: ConfigMap updates would never reach it")
    volume = next((v for v in pod.get("volumes", []) if v["name"] == mount["name"]), {})
    cm_name = get(volume, "configMap", "name")
    if cm_name not in configmaps:
        fail(where, f"the config volume {mount['name']} is not a ConfigMap of the manifests")
        return
    key = os.path.basename(cfg_path)
    text = get(configmaps[cm_name], "data", key)
    if text is None:
        fail(where, f"ConfigMap {cm_name} has no key {key} (the --config file)")
        return
    cw = f"ConfigMap/{cm_name} {key}"
    cfg = load_llmgw_config(cw, text)
    if cfg is None:
        return

    listen = port_of(get(cfg, "server", "listen", default="0.0.0.0:8080"))
    admin = port_of(get(cfg, "server", "admin_listen", default="127.0.0.1:9901"))
    ports = {p["containerPort"] for p in gw.get("ports", [])}
    for port, key_name in ((listen, "server.listen"), (admin, "server.admin_listen")):
        if port not in ports:
            fail(where, f"{key_name} port {port} is not a containerPort")
    ready = get(gw, "readinessProbe", "httpGet", default={})
    if ready.get("path") != "/readyz" or container_port(gw, ready.get("port")) != listen:
        fail(where, f"readinessProbe must GET /readyz on the client port {listen} (only the client listener serves it)")
    live = get(gw, "livenessProbe", "httpGet", default={})
    if live.get("path") != "/healthz" or container_port(gw, live.get("port")) not in (listen, admin):
        fail(where, "livenessProbe must GET /healthz on the client or the admin port")

    grace = get(pod, "terminationGracePeriodSeconds", default=30)
    drain = seconds(get(cfg, "server", "drain_timeout", default="30s"))
    pre_stop = get(gw, "lifecycle", "preStop", "exec", "command", default=[])
    sleep = float(pre_stop[1]) if len(pre_stop) == 2 and pre_stop[0] == "sleep" else 0.0
    if not grace > sleep + drain:
        fail(where, f"terminationGracePeriodSeconds {grace} is not above preStop sleep {sleep:g}s + "
                    f"server.drain_timeout {drain:g}s: the drain would be killed")

    if image_uid is not None and get(pod, "securityContext", "runAsUser") not in (None, image_uid):
        fail(where, f"runAsUser is not the image's user {image_uid} (docker/Dockerfile)")

    env = {e["name"] for e in gw.get("env", [])}
    missing = [n for n in required_env(text) if n not in env]
    if missing:
        fail(where, "the config needs " + ", ".join("${%s}" % n for n in missing) +
             " but the container's env does not set it")
    # Every container that calls the admin API with the token gets it too.
    for c in containers:
        if "LLMGW_ADMIN_TOKEN" in str(c.get("command", [])) and \
                "LLMGW_ADMIN_TOKEN" not in {e["name"] for e in c.get("env", [])}:
            fail(where, f"container {c['name']} uses $LLMGW_ADMIN_TOKEN without having it in env")

    svc_hosts = set(services)
    check_shared_state(cw, cfg, get(dep, "spec", "replicas", default=1), svc_hosts)
    exposed = set()
    for svc in services.values():
        if labels_match(get(svc, "spec", "selector"), get(dep, "spec", "template", "metadata", "labels", default={})):
            for p in get(svc, "spec", "ports", default=[]):
                exposed.add(container_port(gw, p.get("targetPort", p.get("port"))))
    for port, key_name in ((listen, "server.listen"), (admin, "server.admin_listen")):
        if port not in exposed:
            fail(where, f"no Service exposes {key_name} port {port}")

    write_config(out_dir, f"deploy/kubernetes ConfigMap/{cm_name} {key}", "k8s", text, required_env(text))


# --- docker compose ------------------------------------------------------------------------


def check_dockerfile(dockerfile, ctx, _seen={}):
    """Every COPY source from the build context exists; returns the paths the final stage
    copies files to (from the context or another stage). Checked once per Dockerfile."""
    if (dockerfile, ctx) in _seen:
        return _seen[dockerfile, ctx]
    with open(dockerfile) as f:
        text = re.sub(r"\\\n", " ", f.read())
    installed = set()
    for line in text.splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            installed = set()  # a new stage: only the last one is the image
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        from_stage = any(w.startswith("--from=") for w in words[1:])
        if len(args) < 2 or args[0].startswith("["):
            continue
        *srcs, dst = args
        for src in srcs:
            if not from_stage and not glob.glob(os.path.join(ctx, src)):
                fail(os.path.relpath(dockerfile), f"COPY {src}: no such file in the build context "
                                                  f"{os.path.relpath(ctx)}")
            installed.add(os.path.join(dst, os.path.basename(src.rstrip("/"))) if dst.endswith("/")
                          else dst)
    _seen[dockerfile, ctx] = installed
    return installed


def check_compose(compose_path, out_dir):
    base = os.path.dirname(os.path.abspath(compose_path))
    with open(compose_path) as f:
        doc = yaml.safe_load(f)
    services = doc.get("services", {})
    named_volumes = set((doc.get("volumes") or {}).keys())
    if not services:
        fail(compose_path, "no services")
        return

    def host_path(rel):
        return os.path.normpath(os.path.join(base, rel))

    binds = {}  # service -> [(container path, host path)]
    for name, svc in services.items():
        where = f"{compose_path} services.{name}"
        build = svc.get("build")
        if build:
            ctx = host_path(build if isinstance(build, str) else build.get("context", "."))
            if not os.path.isdir(ctx):
                fail(where, f"build.context {ctx} is not a directory")
            dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile")) if isinstance(build, dict) \
                else os.path.join(ctx, "Dockerfile")
            if not os.path.isfile(dockerfile):
                fail(where, f"build.dockerfile {dockerfile} does not exist")
            else:
                installed = check_dockerfile(dockerfile, ctx)
                entry = svc.get("entrypoint")
                entry = entry.split()[0] if isinstance(entry, str) else (entry or [None])[0]
                if entry and entry.startswith("/") and entry not in installed:
                    fail(where, f"entrypoint {entry} is not a file {os.path.relpath(dockerfile)} "
                                f"copies into the image ({', '.join(sorted(installed))})")
        elif not svc.get("image"):
            fail(where, "neither image nor build")
        for vol in svc.get("volumes", []):
            if isinstance(vol, dict):
                src, dst, kind = vol.get("source"), vol.get("target"), vol.get("type")
            else:
                parts = vol.split(":")
                src, dst = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
                kind = "bind" if src and (src.startswith((".", "/", "~"))) else "volume"
            if kind == "bind":
                if not os.path.exists(host_path(src)):
                    fail(where, f"volume source {src} does not exist ({host_path(src)})")
                binds.setdefault(name, []).append((dst.rstrip("/") or "/", host_path(src)))
            elif src and src not in named_volumes:
                fail(where, f"named volume {src} is not declared under volumes:")
        for port in svc.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port)
            if not str(host_ip).startswith("127.0.0.1"):
                fail(where, f"port {port!r} is not published on 127.0.0.1")
        deps = svc.get("depends_on", [])
        for dep in (deps.keys() if isinstance(deps, dict) else deps):
            if dep not in services:
                fail(where, f"depends_on names {dep}, which is no service")

    # An image that is not built here is pulled: it must name a tag (never latest), so the stack
    # is the one that was tested. An image another service builds (llmgw:local) is that build.
    built = {svc.get("image") for svc in services.values() if svc.get("build")}
    for name, svc in services.items():
        image = svc.get("image")
        if not image or svc.get("build") or image in built:
            continue
        last = image.split("/")[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if "@sha256:" not in image and tag in ("", "latest"):
            fail(f"{compose_path} services.{name}", f"image {image} is not pinned to a tag")

    def to_host(service, container_path):
        for dst, src in sorted(binds.get(service, []), key=lambda b: -len(b[0])):
            if container_path == dst:
                return src
            if container_path.startswith(dst + "/"):
                return os.path.join(src, container_path[len(dst) + 1:])
        return None

    # llmgw configs (services started with --config), and what they need.
    configs = {}  # host path -> [services]
    for name, svc in services.items():
        cmd = svc.get("command") or []
        if isinstance(cmd, str):
            cmd = cmd.split()
        if "--config" in cmd:
            path = cmd[cmd.index("--config") + 1]
            host = to_host(name, path)
            if host is None or not os.path.isfile(host):
                fail(f"{compose_path} services.{name}", f"--config {path} is not a file mounted from the repo")
                continue
            configs.setdefault(host, []).append(name)
    gateway_ports = {}  # service -> (listen, admin, admin_token)
    for i, (host, users) in enumerate(sorted(configs.items())):
        with open(host) as f:
            text = f.read()
        rel = os.path.relpath(host)
        cfg = load_llmgw_config(rel, text)
        if cfg is None:
            continue
        for name in users:
            env = services[name].get("environment") or {}
            env_names = set(env.keys()) if isinstance(env, dict) else {e.split("=")[0] for e in env}
            missing = [n for n in required_env(text) if n not in env_names]
            if missing:
                fail(f"{compose_path} services.{name}", f"{rel} needs {missing} in environment")
            gateway_ports[name] = (port_of(get(cfg, "server", "listen", default="0.0.0.0:8080")),
                                   port_of(get(cfg, "server", "admin_listen", default="127.0.0.1:9901")),
                                   substituted(get(cfg, "server", "admin_token")))
        check_shared_state(rel, cfg, len(users), set(services))
        write_config(out_dir, rel, f"compose-{i}", text, required_env(text))
    if len(gateway_ports) < 2:
        fail(compose_path, f"expected two or more gateways, found {sorted(gateway_ports)}")

    # nginx in front of the gateways: its upstream servers are gateway services on their client port.
    nginx_confs = [to_host(name, "/etc/nginx/nginx.conf") for name in services]
    if not any(nginx_confs):
        fail(compose_path, "no service mounts an nginx.conf at /etc/nginx/nginx.conf (the load balancer)")
    for conf in nginx_confs:
        if not conf or not os.path.isfile(conf):
            continue  # a missing file is reported with the service's volumes
        with open(conf) as f:
            text = f.read()
        upstreams = re.findall(r"^\s*server\s+([A-Za-z0-9_.-]+):(\d+)", text, re.M)
        if {h for h, _ in upstreams} != set(gateway_ports):
            fail(os.path.relpath(conf), f"upstream servers {sorted(h for h, _ in upstreams)} are not "
                                        f"the gateways {sorted(gateway_ports)}")
        for host, port in upstreams:
            if host in gateway_ports and int(port) != gateway_ports[host][0]:
                fail(os.path.relpath(conf), f"{host}:{port} is not {host}'s server.listen port")
        for directive in ("proxy_buffering off", "proxy_http_version 1.1", 'proxy_set_header Connection ""',
                          "keepalive ", "proxy_read_timeout"):
            if directive not in text:
                fail(os.path.relpath(conf), f"no `{directive}` (streaming and upstream keep-alive need it)")
        with open(os.path.join(out_dir, "nginx.conf"), "w") as f:
            f.write(re.sub(r"^(\s*server\s+)[A-Za-z0-9_.-]+:", r"\g<1>127.0.0.1:", text, flags=re.M))

    # Prometheus scrapes every gateway's admin port, with the admin token when there is one.
    for name in services:
        conf = to_host(name, "/etc/prometheus/prometheus.yml")
        if not conf or not os.path.isfile(conf):
            continue
        with open(conf) as f:
            prom = yaml.safe_load(f)
        scraped = {}
        for job in prom.get("scrape_configs", []):
            for sc in job.get("static_configs", []):
                for t in sc.get("targets", []):
                    host, port = t.rsplit(":", 1)
                    scraped[host] = (int(port), get(job, "authorization", "credentials"))
        for gw, (_, admin, token) in gateway_ports.items():
            if gw not in scraped:
                fail(os.path.relpath(conf), f"gateway {gw} is not scraped")
            elif scraped[gw][0] != admin:
                fail(os.path.relpath(conf), f"{gw} is scraped on {scraped[gw][0]}, its admin port is {admin}")
            elif token and scraped[gw][1] != token:
                fail(os.path.relpath(conf), f"{gw} is scraped without its server.admin_token")
        rules = []
        for r in prom.get("rule_files", []):
            host = to_host(name, r)
            if host is None or not os.path.isfile(host):
                fail(os.path.relpath(conf), f"rule file {r} is not mounted from the repo")
            else:
                rules.append(host)
        prom["rule_files"] = rules
        with open(os.path.join(out_dir, "prometheus.yml"), "w") as f:
            yaml.safe_dump(prom, f)


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "k8s" and len(argv) == 6:
        check_k8s(*argv[2:])
    elif mode == "compose" and len(argv) == 4:
        check_compose(*argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print(f"check-deploy: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
