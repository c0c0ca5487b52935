#!/usr/bin/env python3
"""`mcp-sigv4 serve` smoke test for a built or installed mcp-sigv4 (Python 3 standard library only).

Starts the upstream of smoke.py (it verifies every POST's SigV4 signature) and
runs the command given after `--` with `serve <upstream URL> --service smoke
--region us-east-1 --listen 127.0.0.1:0` appended, in a cleared environment
holding only static test credentials. It reads the port from the line
`mcp-sigv4 serve: listening on http://127.0.0.1:PORT/mcp` on stderr, then, as
an MCP Streamable HTTP client (MCP spec 2025-06-18, "Transports",
https://modelcontextprotocol.io/specification/2025-06-18/basic/transports),
checks that:

- GET /healthz and GET /readyz answer 200;
- `mcp-sigv4 healthcheck` (run as the --probe words give, inside the running
  container for an image) exits 0 for /readyz and /healthz, saying
  `200 ready` / `200 ok` in one line on stderr and nothing on stdout, and 1
  for a path serve answers 404;
- POST /mcp initialize is answered with the upstream's result and an
  Mcp-Session-Id; notifications/initialized with 202; tools/list with the
  upstream's tool (each answer JSON or an SSE stream);
- a POST with a foreign Origin is refused with 403 (DNS rebinding protection);
- DELETE ends the session, and the upstream session is ended with a DELETE;
- the upstream received initialize and tools/list, each signed SigV4 with the
  test key and a signature that verifies;
- SIGTERM makes the command exit 0.

usage: serve_smoke.py [--probe WORD]... -- COMMAND [ARGS...]
  e.g. serve_smoke.py -- target/release/mcp-sigv4
       serve_smoke.py --probe podman --probe exec --probe NAME --probe /mcp-sigv4 \
         -- podman run --rm --name NAME --network host IMAGE
The --probe words start the binary for `healthcheck` (default: COMMAND as given).
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smoke  # noqa: E402  (the upstream and the signature check)

TIMEOUT_S = smoke.TIMEOUT_S


class Upstream(smoke.Upstream):
    deletes = []

    def do_DELETE(self):
        Upstream.deletes.append(self.headers.get("Mcp-Session-Id"))
        self._reply(200)


def answer(resp, body, want_id):
    """The JSON-RPC message answering want_id in a JSON or SSE response."""
    ctype = resp.getheader("Content-Type", "")
    text = body.decode(errors="replace")
    if ctype.startswith("application/json"):
        return json.loads(text)
    if ctype.startswith("text/event-stream"):
        for event in text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:"))
            if data:
                msg = json.loads(data)
                if msg.get("id") == want_id:
                    return msg
    raise ValueError(f"no answer to id {want_id} in a {ctype!r} response: {text[:300]!r}")


def main():
    cmd = sys.argv[1:]
    probe = []
    while cmd[:1] == ["--probe"] and len(cmd) > 1:
        probe.append(cmd[1])
        cmd = cmd[2:]
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd or cmd[0].startswith("-"):
        sys.exit("usage: serve_smoke.py [--probe WORD]... -- COMMAND [ARGS...]")
    probe = probe or cmd
    failures = []
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent-home",
        "AWS_ACCESS_KEY_ID": smoke.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": smoke.SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent-home/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent-home/credentials",
    }
    for k, v in os.environ.items():
        if k.startswith("CONTAINERS_"):
            env[k] = v

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{upstream.server_address[1]}/mcp"
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd + ["serve", url, "--service", smoke.SERVICE, "--region", smoke.REGION,
                                   "--listen", "127.0.0.1:0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    err = []
    port = []
    found = threading.Event()

    def read_stderr():
        for line in proc.stderr:
            err.append(line)
            m = re.search(rb"mcp-sigv4 serve: listening on http://127\.0\.0\.1:(\d+)/mcp", line)
            if m and not port:
                port.append(int(m.group(1)))
                found.set()
        found.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    out = []
    threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True).start()

    def finish(code):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        upstream.shutdown()
        for f in failures:
            print(f"serve smoke: FAILED: {f}", file=sys.stderr)
        tail = b"".join(err[-10:]).decode(errors="replace").strip()
        if failures and tail:
            print(f"serve smoke: the command's stderr ends:\n{tail}", file=sys.stderr)
        return code

    if not found.wait(TIMEOUT_S) or not port:
        failures.append(f"no 'mcp-sigv4 serve: listening on http://127.0.0.1:PORT/mcp' line on stderr "
                        f"within {TIMEOUT_S} s (exit status {proc.poll()})")
        return finish(1)
    print(f"serve smoke: listening on port {port[0]} after {time.monotonic() - t0:.3f} s")
    conn = http.client.HTTPConnection("127.0.0.1", port[0], timeout=TIMEOUT_S)

    def request(method, path, body=None, headers=None):
        h = {"Accept": "application/json, text/event-stream"}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=h)
        resp = conn.getresponse()
        return resp, resp.read()

    for path in ("/healthz", "/readyz"):
        resp, body = request("GET", path)
        if resp.status != 200:
            failures.append(f"GET {path}: expected 200, found {resp.status} {body[:200]!r}")
        else:
            print(f"serve smoke: GET {path} 200")

    for path, code, says in (("/readyz", 0, "200 ready"), ("/healthz", 0, "200 ok"), ("/nope", 1, "404")):
        url = f"http://127.0.0.1:{port[0]}{path}"
        try:
            hc = subprocess.run(probe + ["healthcheck", url], stdin=subprocess.DEVNULL, capture_output=True,
                                env=env, timeout=TIMEOUT_S)
            got, out_text, err_text = hc.returncode, hc.stdout.decode(errors="replace"), hc.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            got, out_text, err_text = f"still running after {TIMEOUT_S} s", "", ""
        want = f"mcp-sigv4 healthcheck: {url}: {says}"
        if got != code or out_text or want not in err_text:
            failures.append(f"healthcheck {path}: expected exit {code}, '{want}' on stderr and nothing on stdout; "
                            f"found exit {got}, stdout {out_text[:200]!r}, stderr {err_text[:300]!r}")
        else:
            print(f"serve smoke: {' '.join(probe[-2:])} healthcheck {path}: exit {code}, {err_text.strip()!r}")

    resp, body = request("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "mcp-sigv4-serve-smoke", "version": "1"}}})
    session = resp.getheader("Mcp-Session-Id")
    try:
        init = answer(resp, body, 1)["result"]
        if init.get("serverInfo", {}).get("name") != "smoke-upstream":
            failures.append(f"initialize result is not the upstream's: {init!r}")
        elif not session:
            failures.append("initialize was answered without an Mcp-Session-Id")
        else:
            print("serve smoke: initialize answered with the upstream's result and a session id")
    except (ValueError, KeyError) as e:
        failures.append(f"initialize: HTTP {resp.status}: {e}")
    sid = {"Mcp-Session-Id": session or "", "MCP-Protocol-Version": "2025-06-18"}
    resp, body = request("POST", "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    if resp.status != 202:
        failures.append(f"notifications/initialized: expected 202, found {resp.status} {body[:200]!r}")
    resp, body = request("POST", "/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, sid)
    try:
        names = [t.get("name") for t in answer(resp, body, 2)["result"]["tools"]]
        if names != ["smoke_tool"]:
            failures.append(f"tools/list result is not the upstream's: {names!r}")
        else:
            print("serve smoke: tools/list answered with the upstream's tool")
    except (ValueError, KeyError) as e:
        failures.append(f"tools/list: HTTP {resp.status}: {e}")
    resp, body = request("POST", "/mcp", {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
                         {**sid, "Origin": "http://rebinding.example"})
    if resp.status != 403:
        failures.append(f"a foreign Origin: expected 403, found {resp.status} {body[:200]!r}")
    else:
        print("serve smoke: a foreign Origin is refused with 403")
    resp, body = request("DELETE", "/mcp", None, sid)
    if resp.status not in (200, 202, 204):
        failures.append(f"DELETE: expected 200, 202 or 204, found {resp.status} {body[:200]!r}")
    conn.close()
    deadline = time.monotonic() + TIMEOUT_S
    while not Upstream.deletes and time.monotonic() < deadline:
        time.sleep(0.05)
    if not Upstream.deletes:
        failures.append(f"the upstream session was not ended with a DELETE within {TIMEOUT_S} s of the client's")
    else:
        print("serve smoke: the client's DELETE ended the upstream session (DELETE received)")

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        code = "still running after SIGTERM"
    if code != 0:
        failures.append(f"exit status after SIGTERM: expected 0, found {code}")

    posts = [s for s in Upstream.seen if s[0] == "POST"]
    for want in ("initialize", "tools/list"):
        got = [s for s in posts if s[1] == want]
        if not got:
            failures.append(f"the upstream never received {want}")
        elif not all(s[2] for s in got):
            failures.append(f"{want} arrived without a valid SigV4 signature: {got[0][3]}")
    if not failures:
        print(f"serve smoke: the upstream received {len(posts)} POSTs, every one SigV4-signed for "
              f"{smoke.ACCESS_KEY} with a signature that verifies; exit status 0 after SIGTERM")
        return finish(0)
    return finish(1)


if __name__ == "__main__":
    sys.exit(main())
