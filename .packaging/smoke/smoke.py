#!/usr/bin/env python3
"""Relay smoke test for a built or installed mcp-sigv4 (Python 3 standard library only).

Starts a tiny MCP upstream on 127.0.0.1 (Streamable HTTP, MCP spec 2025-06-18,
https://modelcontextprotocol.io/specification/2025-06-18/basic/transports) that
answers initialize and tools/list and checks the AWS SigV4 signature of every
POST it receives (recomputed here from the bytes received, AWS IAM User Guide,
"Create a signed AWS API request",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
Then it runs the command given after `--` with the upstream's URL and
`--service smoke --region us-east-1` appended, in a cleared environment holding
only static test credentials, writes initialize, notifications/initialized and
tools/list on its stdin, and checks that:

- both answers come back on stdout, with their ids and the upstream's results;
- stdout carries nothing else;
- the upstream received initialize and tools/list, each signed SigV4 with the
  test key and a signature that verifies;
- the command exits 0 after stdin closes.

usage: smoke.py [--expect-version TEXT] [--cwd DIR] -- COMMAND [ARGS...]
  With --expect-version, `COMMAND --version` must print TEXT first.
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""

import argparse
import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS_KEY = "AKIDSMOKETEST"
SECRET_KEY = "smoke/test/secret/not/a/real/key/000000"
REGION = "us-east-1"
SERVICE = "smoke"
TIMEOUT_S = 20


def _uri_encode(s, keep_slash):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def sigv4_verify(method, raw_path, headers, body):
    """Recomputes the SigV4 signature of a received request; returns (ok, why)."""
    auth = headers.get("authorization", "")
    prefix = "AWS4-HMAC-SHA256 "
    if not auth.startswith(prefix):
        return False, f"authorization is not SigV4: {auth[:40]!r}"
    fields = dict(p.strip().split("=", 1) for p in auth[len(prefix):].split(","))
    cred = fields.get("Credential", "").split("/")
    if len(cred) != 5 or cred[0] != ACCESS_KEY or cred[2:] != [REGION, SERVICE, "aws4_request"]:
        return False, f"unexpected credential scope {fields.get('Credential')!r}"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(cred[1]):
        return False, "x-amz-date does not match the scope's date"
    signed = fields.get("SignedHeaders", "").split(";")
    for must in ("host", "x-amz-date", "content-type"):
        if must not in signed:
            return False, f"{must} is not signed"
    path, _, query = raw_path.partition("?")
    # Non-S3 canonical URI: each segment URI-encoded once more (the path came encoded).
    canonical_uri = "/".join(_uri_encode(seg, False) for seg in path.split("/")) or "/"
    pairs = sorted(
        (_uri_encode(urllib.parse.unquote(k), False), _uri_encode(urllib.parse.unquote(v), False))
        for k, _, v in (p.partition("=") for p in query.split("&") if p)
    )
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    canonical_headers = "".join(
        f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed
    )
    canonical_request = "\n".join([
        method, canonical_uri, canonical_query, canonical_headers, ";".join(signed),
        hashlib.sha256(body).hexdigest(),
    ])
    scope = "/".join(cred[1:])
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    key = ("AWS4" + SECRET_KEY).encode()
    for part in cred[1:]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return False, "signature does not verify"
    return True, "ok"


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []  # (method, jsonrpc method or None, signature ok, why)

    def log_message(self, *_):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(405, headers=[("Allow", "POST, DELETE")])

    def do_DELETE(self):
        self._reply(200)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        ok, why = sigv4_verify("POST", self.path, headers, body)
        try:
            msg = json.loads(body)
        except ValueError:
            Upstream.seen.append(("POST", None, ok, why))
            return self._reply(400, b"not JSON")
        method = msg.get("method")
        Upstream.seen.append(("POST", method, ok, why))
        if "id" not in msg or method is None:
            return self._reply(202)
        if method == "initialize":
            result = {
                "protocolVersion": msg.get("params", {}).get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "smoke-upstream", "version": "1"},
            }
            extra = [("Mcp-Session-Id", "smoke-session-1")]
        elif method == "tools/list":
            result = {"tools": [{"name": "smoke_tool", "description": "smoke",
                                 "inputSchema": {"type": "object"}}]}
            extra = []
        else:
            answer = {"jsonrpc": "2.0", "id": msg["id"],
                      "error": {"code": -32601, "message": "method not found"}}
            return self._reply(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])
        answer = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode()
        self._reply(200, answer, [("Content-Type", "application/json")] + extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--expect-version")
    ap.add_argument("--cwd")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("give the command after --")
    failures = []

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent-home",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent-home/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent-home/credentials",
    }
    # Launchers (npx, uvx, pipx, podman) keep their settings: caches, registry, index.
    for k, v in os.environ.items():
        if k.startswith(("npm_config_", "UV_", "PIPX_", "PIP_", "CONTAINERS_")) or k == "NODE":
            env[k] = v

    if a.expect_version:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, env=env,
                             cwd=a.cwd, timeout=TIMEOUT_S)
        first = out.stdout.strip().splitlines()[:1]
        if out.returncode != 0 or first != [a.expect_version]:
            failures.append(f"--version: expected {a.expect_version!r} and exit 0, found "
                            f"{out.stdout.strip()!r} (exit {out.returncode}, stderr {out.stderr.strip()[:300]!r})")
        else:
            print(f"smoke: --version prints {first[0]!r}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/mcp"
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd + [url, "--service", SERVICE, "--region", REGION],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=a.cwd)
    lines = queue.Queue()

    def read_stdout():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read_stdout, daemon=True).start()
    err = []
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()

    def send(obj):
        try:
            proc.stdin.write((json.dumps(obj) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            failures.append(f"the command closed its stdin before {obj.get('method')}")

    def answer(want_id):
        try:
            line = lines.get(timeout=TIMEOUT_S)
        except queue.Empty:
            failures.append(f"no answer to id {want_id} within {TIMEOUT_S} s")
            return None
        if line is None:
            failures.append(f"stdout closed before the answer to id {want_id}")
            return None
        try:
            msg = json.loads(line)
        except ValueError:
            failures.append(f"stdout line is not JSON: {line[:200]!r}")
            return None
        if msg.get("id") != want_id or "result" not in msg:
            failures.append(f"expected the result for id {want_id}, found {line[:300]!r}")
            return None
        return msg["result"]

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "mcp-sigv4-smoke", "version": "1"}}})
    init = answer(1)
    if init is not None:
        if init.get("serverInfo", {}).get("name") != "smoke-upstream":
            failures.append(f"initialize result is not the upstream's: {init!r}")
        else:
            print(f"smoke: initialize answered through the relay in {time.monotonic() - t0:.3f} s "
                  "(spawn included)")
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    tools = answer(2)
    if tools is not None:
        names = [t.get("name") for t in tools.get("tools", [])]
        if names != ["smoke_tool"]:
            failures.append(f"tools/list result is not the upstream's: {tools!r}")
        else:
            print("smoke: tools/list answered with the upstream's tool")
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    try:
        code = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = "killed after timeout"
    rest = []
    while True:
        try:
            line = lines.get(timeout=2)
        except queue.Empty:
            break
        if line is None:
            break
        rest.append(line)
    if rest:
        failures.append(f"unexpected stdout lines: {rest[:3]!r}")
    if code != 0:
        failures.append(f"exit status after stdin closed: expected 0, found {code}")
    server.shutdown()

    posts = [s for s in Upstream.seen if s[0] == "POST"]
    for want in ("initialize", "notifications/initialized", "tools/list"):
        got = [s for s in posts if s[1] == want]
        if not got:
            failures.append(f"the upstream never received {want}")
        elif not all(s[2] for s in got):
            failures.append(f"{want} arrived without a valid SigV4 signature: {got[0][3]}")
    if not failures:
        print(f"smoke: the upstream received {len(posts)} POSTs, every one SigV4-signed "
              f"for {ACCESS_KEY} with a signature that verifies; exit status 0")
        return 0
    for f in failures:
        print(f"smoke: FAILED: {f}", file=sys.stderr)
    tail = b"".join(err[-10:]).decode(errors="replace").strip()
    if tail:
        print(f"smoke: the command's stderr ends:\n{tail}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
