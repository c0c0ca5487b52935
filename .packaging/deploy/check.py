#!/usr/bin/env python3
"""Offline checks of the deployment files in this folder (no cluster, no AWS account).

usage: check.py [--kubernetes-version V]... FILE...

A `.yaml` file is a Kubernetes manifest: every document is validated with
kubernetes-validate (the Kubernetes OpenAPI schemas as JSON Schema,
https://github.com/willthames/kubernetes-validate) in strict mode (unknown
fields are errors) against each --kubernetes-version (default 1.29.0, the first
release with native sidecar containers on by default, and 1.37.0).
A `.json` file is an ECS task definition in the shape of the RegisterTaskDefinition
request (`aws ecs register-task-definition --cli-input-json file://FILE`): it is
validated with botocore's ParamValidator against that operation's input shape
in botocore's own ECS service model (required members, unknown members, types,
lengths and ranges), and its enums against the model's enum lists.

Both then get the checks of how mcp-sigv4 is deployed: the container running
the mcp-sigv4 image starts `serve <https URL> --listen ADDR`; a listener off
loopback comes with `--token-file`; no health check needs a shell (the image is
FROM scratch: only `/mcp-sigv4` can run), and one that runs the image's own
`/mcp-sigv4 healthcheck URL` asks the --listen port, the probe's path
(/healthz for liveness, /readyz for readiness and for ECS), and is given longer
by the orchestrator than its own --timeout (default 3 s); the Kubernetes
sidecar has a startup, liveness and readiness probe, runs as non-root with a
read-only root file system, no privilege escalation and memory limits; the ECS
sidecar has a healthCheck, and the containers it depends on exist.

Exit status 0 when every file passes, 1 otherwise (every failure printed).
"""

import argparse
import ipaddress
import json
import sys
import urllib.parse

IMAGE_NAME = "mcp-sigv4"
# The image's one file and entrypoint (.packaging/Containerfile).
BINARY = "/mcp-sigv4"
# `mcp-sigv4 healthcheck`'s defaults (src/healthcheck.rs).
HEALTHCHECK_URL = "http://127.0.0.1:8080/readyz"
HEALTHCHECK_TIMEOUT_S = 3.0


def image_is_ours(image):
    name = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return name == IMAGE_NAME


def serve_args(where, args, problems):
    """Checks a `serve` command line; returns the listen port or None."""
    if not args or args[0] != "serve":
        problems.append(f"{where}: the command must start with 'serve', found {args[:1]}")
        return None
    if len(args) < 2 or not args[1].startswith("https://"):
        problems.append(f"{where}: 'serve' must be followed by the https:// endpoint URL, found {args[1:2]}")
    listen = None
    if "--listen" in args:
        i = args.index("--listen")
        listen = args[i + 1] if i + 1 < len(args) else None
    if listen is None:
        problems.append(f"{where}: no '--listen ADDR' (the sidecar must name its port)")
        return None
    host, _, port = listen.rpartition(":")
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        problems.append(f"{where}: --listen {listen}: expected IP:PORT")
        return None
    if not loopback and "--token-file" not in args:
        problems.append(f"{where}: --listen {listen} is not loopback, so it needs --token-file (serve refuses to start without)")
    if not port.isdigit():
        problems.append(f"{where}: --listen {listen}: the port is not a number")
        return None
    return int(port)


def seconds(text):
    """A healthcheck --timeout value in seconds (`3`, `2.5`, `3s`, `500ms`), or None."""
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("", 1.0)):
        if text.endswith(unit):
            try:
                return float(text[: len(text) - len(unit)] if unit else text) * scale
            except ValueError:
                return None
    return None


def healthcheck_problems(where, what, cmd, port, want_path, given_s):
    """Checks a health check's command `cmd` (without ECS's "CMD"): the image's
    binary running `healthcheck`, asking the --listen `port` for `want_path`,
    with `given_s` seconds from the orchestrator, more than its own --timeout."""
    if not cmd or cmd[0] != BINARY:
        return [f"{where}: {what} runs {cmd[:1]}: the image is FROM scratch and holds only {BINARY} (no shell, no curl); run [{BINARY!r}, 'healthcheck', URL]"]
    if cmd[1:2] != ["healthcheck"]:
        return [f"{where}: {what} runs {BINARY} {cmd[1:2]}, not its health check: expected [{BINARY!r}, 'healthcheck', URL]"]
    rest = cmd[2:]
    timeout = HEALTHCHECK_TIMEOUT_S
    if "--timeout" in rest:
        i = rest.index("--timeout")
        timeout = seconds(rest[i + 1]) if i + 1 < len(rest) else None
        del rest[i : i + 2]
        if timeout is None:
            return [f"{where}: {what}: --timeout needs a number of seconds"]
    if len(rest) > 1 or (rest and rest[0].startswith("-")):
        return [f"{where}: {what}: expected one URL and --timeout, found {rest}"]
    url = urllib.parse.urlsplit(rest[0] if rest else HEALTHCHECK_URL)
    problems = []
    try:
        url_port = url.port or 80
    except ValueError:
        url_port = None
    if url.scheme != "http" or url.hostname not in ("127.0.0.1", "::1", "localhost"):
        problems.append(f"{where}: {what} asks {url.geturl()}: healthcheck asks only http:// on loopback, where serve listens")
    elif port is not None and url_port != port:
        problems.append(f"{where}: {what} checks port {url_port}, not the --listen port {port}")
    if url.path != want_path:
        problems.append(f"{where}: {what} must ask {want_path}, found {url.path or '/'}")
    if given_s <= timeout:
        problems.append(f"{where}: {what} gets {given_s:g} s from the orchestrator, not longer than healthcheck's --timeout {timeout:g} s: a slow answer would be killed, not reported")
    return problems


def listen_loopback(args):
    """True when a serve command line's --listen is a loopback address."""
    if "--listen" not in args or args.index("--listen") + 1 >= len(args):
        return False
    host = args[args.index("--listen") + 1].rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_kubernetes(path, versions):
    import kubernetes_validate
    import yaml

    problems = []
    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    if not docs:
        return [f"{path}: no YAML documents"]
    for doc in docs:
        what = f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        for v in versions:
            try:
                kubernetes_validate.validate(doc, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                loc = ".".join(str(p) for p in e.absolute_path)
                problems.append(f"{what}: not valid for Kubernetes {v} (strict): at {loc or '(top)'}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problems.append(f"{what}: no Kubernetes {v} schema for it: {e}")
        if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            problems += check_pod(what, doc["spec"]["template"]["spec"])
    return problems


def check_pod(what, pod):
    problems = []
    psc = pod.get("securityContext", {})
    containers = [("initContainers", c) for c in pod.get("initContainers", [])]
    containers += [("containers", c) for c in pod.get("containers", [])]
    ours = [(kind, c) for kind, c in containers if image_is_ours(c.get("image", ""))]
    if len(ours) != 1:
        return [f"{what}: expected one container running the {IMAGE_NAME} image, found {len(ours)}"]
    kind, c = ours[0]
    where = f"{what}: container {c.get('name')}"
    if kind == "initContainers" and c.get("restartPolicy") != "Always":
        problems.append(f"{where}: an init container is a sidecar only with restartPolicy: Always")
    if c.get("command"):
        problems.append(f"{where}: 'command' replaces the image's entrypoint /mcp-sigv4; use 'args'")
    port = serve_args(where, c.get("args", []), problems)
    named = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    for probe, path in (("startupProbe", "/readyz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        p = c.get(probe)
        if p is None:
            problems.append(f"{where}: no {probe} ({path})")
            continue
        if "exec" in p:
            # Kubernetes gives an exec probe timeoutSeconds, default 1.
            problems += healthcheck_problems(where, probe, p["exec"].get("command", []), port, path, p.get("timeoutSeconds", 1))
            continue
        get = p.get("httpGet")
        if get is None:
            problems.append(f"{where}: {probe} must be exec [{BINARY!r}, 'healthcheck', URL] or httpGet {path}")
            continue
        if get.get("path") != path:
            problems.append(f"{where}: {probe} must GET {path}, found {get.get('path')}")
        if get.get("host"):
            problems.append(f"{where}: {probe} sets host: the kubelet would probe that host, not the pod")
        probe_port = named.get(get.get("port"), get.get("port"))
        if port is not None and probe_port != port:
            problems.append(f"{where}: {probe} port {get.get('port')} is not the --listen port {port}")
        if listen_loopback(c.get("args", [])):
            problems.append(f"{where}: {probe} uses httpGet, which the kubelet sends to the pod IP, but serve listens on loopback; use exec [{BINARY!r}, 'healthcheck', URL]")
    sc = c.get("securityContext", {})
    if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) or (sc.get("runAsUser", psc.get("runAsUser")) or 0) > 0):
        problems.append(f"{where}: not set to run as non-root (runAsNonRoot or runAsUser)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: securityContext.readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
    if sc.get("privileged"):
        problems.append(f"{where}: privileged")
    if "memory" not in c.get("resources", {}).get("limits", {}):
        problems.append(f"{where}: no memory limit")
    return problems


def check_ecs(path):
    import botocore.session
    from botocore.validate import ParamValidator

    problems = []
    try:
        td = json.load(open(path))
    except ValueError as e:
        return [f"{path}: not JSON: {e}"]
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(td, shape)
    if report.has_errors():
        problems += [f"{path}: RegisterTaskDefinition: {line.strip()}" for line in report.generate_report().splitlines() if line.strip()]
    problems += [f"{path}: {p}" for p in enum_problems(td, shape, "")]
    if problems:
        return problems
    if td.get("networkMode") != "awsvpc":
        problems.append(f"{path}: networkMode must be awsvpc (the containers share loopback), found {td.get('networkMode')}")
    if not td.get("taskRoleArn"):
        problems.append(f"{path}: no taskRoleArn (the credentials the sidecar signs with)")
    defs = td["containerDefinitions"]
    names = {c["name"] for c in defs}
    for c in defs:
        for d in c.get("dependsOn", []):
            if d["containerName"] not in names:
                problems.append(f"{path}: container {c['name']} depends on {d['containerName']}, which is not in the task")
    ours = [c for c in defs if image_is_ours(c.get("image", ""))]
    if len(ours) != 1:
        return problems + [f"{path}: expected one container running the {IMAGE_NAME} image, found {len(ours)}"]
    c = ours[0]
    where = f"{path}: container {c['name']}"
    if c.get("entryPoint"):
        problems.append(f"{where}: entryPoint replaces the image's /mcp-sigv4; give 'command' only")
    port = serve_args(where, c.get("command", []), problems)
    hc = c.get("healthCheck")
    if hc is None:
        problems.append(f"{where}: no healthCheck: add [\"CMD\", \"{BINARY}\", \"healthcheck\", \"http://127.0.0.1:PORT/readyz\"]")
        for other in defs:
            for d in other.get("dependsOn", []):
                if d["containerName"] == c["name"] and d["condition"] == "HEALTHY":
                    problems.append(f"{path}: {other['name']} waits for {c['name']} to be HEALTHY, which has no healthCheck")
    elif hc["command"][:1] != ["CMD"]:
        problems.append(f"{where}: healthCheck {hc['command'][:1]}: the image is FROM scratch (no shell), only [\"CMD\", \"{BINARY}\", …] can run")
    else:
        # ECS's default healthCheck timeout is 5 s.
        problems += healthcheck_problems(where, "healthCheck", hc["command"][1:], port, "/readyz", hc.get("timeout", 5))
    if c.get("readonlyRootFilesystem") is not True:
        problems.append(f"{where}: readonlyRootFilesystem must be true")
    if c.get("privileged"):
        problems.append(f"{where}: privileged")
    if c.get("user") in (None, "0", "root") or str(c.get("user")).startswith(("0:", "root:")):
        problems.append(f"{where}: set 'user' to a non-root id (the image's is 65532:65532)")
    return problems


def enum_problems(value, shape, at):
    """Values outside a modelled enum (ParamValidator does not check enums)."""
    out = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                out += enum_problems(v, shape.members[k], f"{at}.{k}" if at else k)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            out += enum_problems(v, shape.member, f"{at}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            out += enum_problems(v, shape.value, f"{at}.{k}")
    elif shape.type_name == "string" and getattr(shape, "enum", None) and value not in shape.enum:
        out.append(f"RegisterTaskDefinition: {at}: {value!r} is not one of {shape.enum}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kubernetes-version", action="append", dest="versions")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    versions = a.versions or ["1.29.0", "1.37.0"]
    failed = 0
    for path in a.files:
        if path.endswith((".yaml", ".yml")):
            problems = check_kubernetes(path, versions)
            passed = f"Kubernetes {', '.join(versions)} (strict) and the sidecar checks"
        elif path.endswith(".json"):
            problems = check_ecs(path)
            passed = "ECS RegisterTaskDefinition (botocore's model) and the sidecar checks"
        else:
            problems = [f"{path}: expected a .yaml Kubernetes manifest or a .json ECS task definition"]
        for p in problems:
            print(f"FAIL {p}")
        if problems:
            failed += 1
        else:
            print(f"ok   {path}: {passed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
