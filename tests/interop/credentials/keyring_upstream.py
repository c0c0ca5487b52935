"""Upstream for the credential-rotation scenarios: the interop FastMCP server
(upstream.py's `build_server`) behind a SigV4 verifier that accepts a changing
set of key pairs, plus a small STS whose AssumeRole signatures are checked the
same way.

    python keyring_upstream.py CONFIG.json

CONFIG.json: {"region", "service", "mode", "stats_file", "keyring_file",
"sts_stats_file", "sts_lifetime_s", "sts_final_role", "verbose", "max_lifetime_s",
"bind_sessions"}

What it owns:
  - The key ring: KEYRING_FILE, JSON lines appended by the credential_process
    helper, by the STS stub and by the driver, read again for every request:
        {"add": {"access_key", "secret_key", "token", "expires": unix|null,
                 "scope": ["mcp"] | ["sts"] | both, "issued_by": str}}
        {"retire": AKID, "at": unix}   requests signed with AKID from `at` on are refused
        {"expire": AKID}               requests signed with AKID are answered 403
                                       ExpiredTokenException from now on
  - The MCP verifier: every request is checked by verifier.verify (botocore
    recomputes the signature) against the key its Authorization names, if that
    key is in the ring with scope "mcp"; then refused when the key is retired or
    past its `expires` (UnrecognizedClientException, which the proxy cannot
    mistake for expiry), or answered ExpiredTokenException when the driver
    expired it. Each request is recorded like verifier.py's middleware does,
    plus the access key, arrival time, JSON-RPC id and a hash of the body.
  - The STS stub (its own port): POST AssumeRole, verified by verifier.verify
    with service "sts" against a ring key with scope "sts"; it answers new
    random credentials expiring in sts_lifetime_s and adds them to the ring,
    with scope "mcp" when the role is sts_final_role, else "sts". Every call is
    recorded in sts_stats_file.
  - Sessions and their principals: the key that signed the initialize whose
    answer issued each Mcp-Session-Id is recorded ("session_owners"); with
    bind_sessions, a request in a session another key opened is refused 403
    AccessDeniedException, as the AWS MCP Server binds a session to the
    principal. Each tools/call's argument names are recorded too.
What it refuses: accepting a key that was never issued, or a key outside its
scope (base keys and intermediate role keys never pass the MCP verifier); with
bind_sessions, a session used by another key than the one that opened it.

Prints `READY <mcp port> <sts port>`; stops like upstream.py (SIGTERM, stdin
end of file, max_lifetime_s).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import signal
import socket
import string
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from upstream import build_server  # noqa: E402
from verifier import Expectation, Recorder, Verdict, error_body, parse_authorization, verify  # noqa: E402

MAX_STS_BODY = 64 * 1024
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def append_line(path: str, record: dict) -> None:
    data = (json.dumps(record) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class KeyRing:
    """The key ring file, read again on every lookup (it is small)."""

    def __init__(self, path: str):
        self.path = path

    def load(self) -> tuple[dict[str, dict], dict[str, float], set[str]]:
        keys: dict[str, dict] = {}
        retired: dict[str, float] = {}
        expired: set[str] = set()
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "add" in event:
                keys[event["add"]["access_key"]] = event["add"]
            elif "retire" in event:
                retired[event["retire"]] = float(event["at"])
            elif "expire" in event:
                expired.add(event["expire"])
        return keys, retired, expired


def signing_key_id(headers: list[tuple[str, str]]) -> str | None:
    auth = [v for (n, v) in headers if n.lower() == "authorization"]
    if len(auth) != 1:
        return None
    try:
        return parse_authorization(auth[0])["Credential"].split("/")[0]
    except (ValueError, KeyError):
        return None


def expectation_for(ring_keys: dict[str, dict], akid: str | None, scope: str, region: str,
                    service: str) -> Expectation:
    key = ring_keys.get(akid or "")
    if key is None or scope not in key.get("scope", []):
        # No such key for this endpoint: verify() answers UnrecognizedClientException.
        return Expectation("AKIA-NOT-ISSUED-FOR-" + scope.upper(), "x", None, region, service)
    return Expectation(key["access_key"], key["secret_key"], key.get("token"), region, service)


class KeyringVerifierMiddleware:
    """verifier.py's middleware, with the expectation chosen per request from
    the key ring, and the retire/expiry/ExpiredToken rules above."""

    def __init__(self, app, ring: KeyRing, region: str, service: str, recorder: Recorder, verbose: bool,
                 bind_sessions: bool = False):
        self.app = app
        self.ring = ring
        self.region = region
        self.service = service
        self.recorder = recorder
        self.bind_sessions = bind_sessions
        self.recorder.data["session_owners"] = {}
        self.log = log if verbose else (lambda msg: None)

    async def _refuse(self, send, entry: dict, verdict: Verdict, status: int = 403) -> None:
        payload = error_body(verdict.error_type, verdict.message)
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/x-amz-json-1.1"),
                (b"x-amzn-errortype", verdict.error_type.encode()),
                (b"x-amzn-requestid", os.urandom(16).hex().encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": payload})
        entry["status"] = status
        self.recorder.flush()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)

        method = scope["method"]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for (k, v) in scope["headers"]]
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        arrived = time.time()
        now = dt.datetime.now(dt.timezone.utc)
        keys, retired, expired = self.ring.load()
        akid = signing_key_id(headers)
        exp = expectation_for(keys, akid, "mcp", self.region, self.service)
        verdict = verify(exp, method, raw_path, query, headers, body, now)
        signature_ok = verdict.ok
        if verdict.ok and akid in expired:
            verdict = Verdict(error_type="ExpiredTokenException",
                              message="The security token included in the request is expired",
                              signed_headers=verdict.signed_headers, unsigned_headers=verdict.unsigned_headers,
                              token_present=verdict.token_present)
        elif verdict.ok and akid in retired and arrived >= retired[akid]:
            verdict = Verdict(error_type="UnrecognizedClientException",
                              message=f"The security token included in the request is invalid (key {akid} was retired)",
                              signed_headers=verdict.signed_headers, unsigned_headers=verdict.unsigned_headers,
                              token_present=verdict.token_present)
        elif verdict.ok and keys[akid].get("expires") is not None and arrived > float(keys[akid]["expires"]):
            verdict = Verdict(error_type="UnrecognizedClientException",
                              message=f"The security token included in the request is invalid (key {akid} is past "
                                      f"its Expiration by {arrived - float(keys[akid]['expires']):.1f} s)",
                              signed_headers=verdict.signed_headers, unsigned_headers=verdict.unsigned_headers,
                              token_present=verdict.token_present)

        lower = {k.lower(): v for (k, v) in headers}
        owner = self.recorder.data["session_owners"].get(lower.get("mcp-session-id", ""))
        if verdict.ok and self.bind_sessions and owner is not None and owner != akid:
            verdict = Verdict(error_type="AccessDeniedException",
                              message=f"the MCP session was opened by {owner}, not by {akid}",
                              signed_headers=verdict.signed_headers, unsigned_headers=verdict.unsigned_headers,
                              token_present=verdict.token_present)
        entry = {
            "method": method,
            "path": raw_path,
            "query": query,
            "accepted": verdict.ok,
            "error_type": verdict.error_type,
            "signature_ok": signature_ok,
            "akid": akid,
            "t": arrived,
            "signed_headers": verdict.signed_headers,
            "unsigned_headers": verdict.unsigned_headers,
            "header_names": sorted(lower),
            "token_present": verdict.token_present,
            "session_id": lower.get("mcp-session-id"),
            "protocol_version": lower.get("mcp-protocol-version"),
            "accept": lower.get("accept"),
            "content_type": lower.get("content-type"),
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "jsonrpc_method": None,
            "rpc_id": None,
            "status": None,
            "issued_session": None,
            "tool_argument_names": None,
        }
        if method == "POST":
            try:
                parsed = json.loads(body)
                if isinstance(parsed, dict):
                    entry["jsonrpc_method"] = parsed.get("method") or ("<response>" if "id" in parsed else None)
                    entry["rpc_id"] = parsed.get("id")
                    arguments = (parsed.get("params") or {}).get("arguments") if parsed.get("method") == "tools/call" else None
                    if isinstance(arguments, dict):
                        entry["tool_argument_names"] = sorted(arguments)
            except ValueError:
                entry["jsonrpc_method"] = "<not json>"
        self.recorder.request(method, entry, verdict)

        if not verdict.ok:
            self.log(f"keyring verifier: REJECT {method} {akid}: {verdict.error_type}: {verdict.message[:200]}")
            await self._refuse(send, entry, verdict)
            return
        self.log(f"keyring verifier: accept {method} {akid} ({entry['jsonrpc_method']})")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                for k, val in message.get("headers", []):
                    if k.lower() == b"mcp-session-id":
                        sid = val.decode("latin-1")
                        if sid not in self.recorder.data["issued_session_ids"]:
                            self.recorder.data["issued_session_ids"].append(sid)
                            self.recorder.data["session_owners"][sid] = akid
                            entry["issued_session"] = sid
                self.recorder.flush()
            await send(message)

        await self.app(scope, replay, send_wrapper)


class StsStats:
    """Every STS call, written atomically as JSON after each one."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.data = {"accepted": 0, "rejected": 0, "calls": []}
        self.flush()

    def record(self, call: dict) -> None:
        with self.lock:
            self.data["accepted" if call["accepted"] else "rejected"] += 1
            self.data["calls"].append(call)
            self.flush()

    def flush(self) -> None:
        tmp = f"{self.path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)


def sts_error_xml(code: str, message: str) -> bytes:
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    return (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{esc(message)}</Message></Error><RequestId>{secrets.token_hex(8)}</RequestId>"
            f"</ErrorResponse>").encode()


def make_sts_handler(ring: KeyRing, stats: StsStats, region: str, lifetime_s: int, final_role: str | None,
                     verbose: bool):
    ring_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_STS_BODY:
                self._answer(413, sts_error_xml("RequestTooLarge", "too large"))
                return
            body = self.rfile.read(length)
            headers = [(k, v) for k, v in self.headers.items()]
            raw_path, _, query = self.path.partition("?")
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            akid = signing_key_id(headers)
            with ring_lock:
                keys, retired, expired = ring.load()
            exp = expectation_for(keys, akid, "sts", region, "sts")
            now = dt.datetime.now(dt.timezone.utc)
            verdict = verify(exp, "POST", raw_path, query, headers, body, now)
            call = {
                "t": time.time(),
                "action": form.get("Action"),
                "version": form.get("Version"),
                "role_arn": form.get("RoleArn"),
                "session_name": form.get("RoleSessionName"),
                "signed_by": akid,
                "token_present": verdict.token_present,
                "signed_headers": verdict.signed_headers,
                "unsigned_headers": verdict.unsigned_headers,
                "accepted": verdict.ok,
                "error_type": verdict.error_type,
                "message": (verdict.message or "")[:2000],
                "issued": None,
            }
            if verdict.ok and form.get("Action") != "AssumeRole":
                verdict = Verdict(error_type="InvalidAction", message=f"unexpected Action {form.get('Action')!r}")
                call.update(accepted=False, error_type=verdict.error_type, message=verdict.message)
            if not verdict.ok:
                if verbose:
                    log(f"sts stub: REJECT {akid}: {verdict.error_type}: {verdict.message[:200]}")
                stats.record(call)
                code = {"UnrecognizedClientException": "InvalidClientTokenId",
                        "InvalidSignatureException": "SignatureDoesNotMatch"}.get(verdict.error_type,
                                                                                  verdict.error_type)
                self._answer(403, sts_error_xml(code, verdict.message[:500]))
                return
            role = form["RoleArn"]
            session = form.get("RoleSessionName", "")
            alphabet = string.ascii_uppercase + "234567"
            new_akid = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
            secret = base64.b64encode(secrets.token_bytes(27)).decode()[:36] + "/+Zz"
            token = base64.b64encode(b"\xfb\xff" + secrets.token_bytes(360)).decode()
            expires = time.time() + lifetime_s
            scope = ["mcp"] if role == final_role else ["sts"]
            append_line(ring.path, {"add": {"access_key": new_akid, "secret_key": secret, "token": token,
                                            "expires": expires, "scope": scope,
                                            "issued_by": f"sts AssumeRole {role}"}})
            call["issued"] = new_akid
            stats.record(call)
            if verbose:
                log(f"sts stub: AssumeRole {role} signed by {akid} -> {new_akid} ({scope})")
            expiration = dt.datetime.fromtimestamp(expires, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            role_name = role.rsplit("/", 1)[-1]
            xml = (f'<AssumeRoleResponse xmlns="{STS_NS}"><AssumeRoleResult><Credentials>'
                   f"<AccessKeyId>{new_akid}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
                   f"<SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
                   f"<AssumedRoleUser><AssumedRoleId>AROAINTEROP:{session}</AssumedRoleId>"
                   f"<Arn>arn:aws:sts::123456789012:assumed-role/{role_name}/{session}</Arn></AssumedRoleUser>"
                   f"<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>"
                   f"<ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId></ResponseMetadata>"
                   f"</AssumeRoleResponse>")
            self._answer(200, xml.encode())

    return Handler


async def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    verbose = bool(cfg.get("verbose"))
    ring = KeyRing(cfg["keyring_file"])
    recorder = Recorder(cfg["stats_file"])
    mcp = build_server(cfg.get("mode", "sse"), recorder)
    app = KeyringVerifierMiddleware(mcp.streamable_http_app(), ring, cfg["region"], cfg["service"], recorder,
                                    verbose, bool(cfg.get("bind_sessions")))

    sts_stats = StsStats(cfg["sts_stats_file"])
    sts_server = ThreadingHTTPServer(("127.0.0.1", 0), make_sts_handler(
        ring, sts_stats, cfg["region"], int(cfg.get("sts_lifetime_s", 3600)), cfg.get("sts_final_role"), verbose))
    sts_server.daemon_threads = True
    threading.Thread(target=sts_server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2,
                                           access_log=False))
    loop = asyncio.get_running_loop()

    def stop(*_):
        server.should_exit = True

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:
            pass
        loop.call_soon_threadsafe(stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.call_later(float(cfg.get("max_lifetime_s", 600)), stop)

    async def announce():
        for _ in range(500):
            if server.started:
                print(f"READY {port} {sts_server.server_address[1]}", flush=True)
                return
            await asyncio.sleep(0.01)
        log("keyring upstream: server did not start within 5 s")
        stop()

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()
        sts_server.shutdown()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: keyring_upstream.py CONFIG.json", file=sys.stderr)
        sys.exit(2)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(asyncio.run(main(sys.argv[1])))
