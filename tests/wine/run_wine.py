#!/usr/bin/env python3
"""Black-box checks of the Windows mcp-sigv4.exe under Wine.

Each check starts the real .exe under `wine64` as an MCP client would (stdin
and stdout pipes, nothing else) against an upstream on 127.0.0.1 that checks
the SigV4 or SigV4A signature of every request it receives with the interop
suite's independent verifier (tests/interop/verifier.py: botocore's canonical
request, `cryptography` for the ECDSA signature). What is checked is listed in
tests/wine/README.md; each check prints PASS or FAIL with its reasons, and the
exit status is 1 when any check failed.

usage: run_wine.py --exe EXE --wine WINE64 --prefix WINEPREFIX --work DIR --version X.Y.Z --commit C
  EXE is the .exe with the test-only bcryptprimitives.dll beside it; DIR holds
  this run's scratch files. Needs x86_64-w64-mingw32-gcc (the credential_process
  test program) and the venv of tests/wine/requirements.txt.
"""

import argparse
import datetime as dt
import json
import os
import queue
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))
import verifier  # noqa: E402  (botocore + cryptography: the venv)

# How long one wait may take. Wine starts a process in about a second on an
# idle machine; the margins are for a loaded shared CI machine.
ANSWER_WAIT_S = 60
EXIT_WAIT_S = 30

# The Windows user profile the checks give the process (a space in it, as in
# "C:\Users\Jane Doe"); Wine's own is C:\users\<unix user>.
PROFILE_WIN = "C:\\users\\Jane Doe"

ENV_AKID = "AKIDWINEENV000000001"
ENV_SECRET = "wineEnvSecret/K7MDENG+bPxRfiCYzz9Q0000"
FILE_AKID = "AKIDWINEFILE00000001"
FILE_SECRET = "wineFileSecret/K7MDENG+bPxRfiCYzz9Q000"
FILE_TOKEN = "wineFileToken/IQoJb3JpZ2luX2VjEJr+xx=="
FILE_REGION = "eu-west-3"
SERVICE = "wine"


def proc_secret(tag):
    return f"wineProcessSecret/{tag}/0000000000"


def proc_token(tag):
    return f"wineProcessToken/{tag}"


SECRETS = [ENV_SECRET, FILE_SECRET, FILE_TOKEN] + [
    s for tag in ("CMD", "EXE") for s in (proc_secret(tag), proc_token(tag))
]


class Failures(Exception):
    """A check failed; args[0] is the list of reasons."""


# ---------------------------------------------------------------- upstream


class UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, exp, tls=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.exp = exp
        self.tls = tls
        self.seen = []  # dicts: http, rpc, tool, ok, why, algorithm, region_set
        self.tls_errors = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends a held slow_thing call
        self.slow_started = threading.Event()

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with self.lock:
                    self.tls_errors.append(str(e))
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-answer (the TerminateProcess check)

    def url(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}/mcp"

    def record(self, **entry):
        with self.lock:
            self.seen.append(entry)

    def rpc(self, name):
        with self.lock:
            return [s for s in self.seen if s["rpc"] == name]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _verify(self, body):
        path, _, query = self.path.partition("?")
        return verifier.verify(self.server.exp, self.command, path, query,
                               list(self.headers.items()), body,
                               dt.datetime.now(dt.timezone.utc))

    def do_GET(self):
        self._reply(405, headers=[("Allow", "POST, DELETE")])

    def do_DELETE(self):
        v = self._verify(b"")
        self.server.record(http="DELETE", rpc=None, tool=None, ok=v.ok, why=v.message,
                           algorithm=v.algorithm, region_set=v.region_set)
        self._reply(200 if v.ok else 403)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        v = self._verify(body)
        try:
            msg = json.loads(body)
        except ValueError:
            msg = {}
        rpc = msg.get("method") if isinstance(msg, dict) else None
        tool = (msg.get("params") or {}).get("name") if rpc == "tools/call" else None
        self.server.record(http="POST", rpc=rpc, tool=tool, ok=v.ok, why=v.message,
                           algorithm=v.algorithm, region_set=v.region_set)
        if not v.ok:
            return self._reply(403, verifier.error_body(v.error_type, v.message),
                               [("Content-Type", "application/json")])
        if "id" not in msg or rpc is None:
            return self._reply(202)
        extra = []
        if rpc == "initialize":
            result = {
                "protocolVersion": msg.get("params", {}).get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "wine-upstream", "version": "1"},
            }
            extra = [("Mcp-Session-Id", "wine-session-1")]
        elif rpc == "tools/list":
            schema = {"type": "object"}
            result = {"tools": [
                {"name": "read_thing", "inputSchema": schema, "annotations": {"readOnlyHint": True}},
                {"name": "write_thing", "inputSchema": schema, "annotations": {"readOnlyHint": False}},
                {"name": "slow_thing", "inputSchema": schema, "annotations": {"readOnlyHint": True}},
            ]}
        elif rpc == "tools/call":
            if tool == "slow_thing":
                self.server.slow_started.set()
                self.server.release.wait(EXIT_WAIT_S)
            result = {"content": [{"type": "text", "text": f"called {tool}"}]}
        else:
            answer = {"jsonrpc": "2.0", "id": msg["id"],
                      "error": {"code": -32601, "message": "method not found"}}
            return self._reply(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])
        answer = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode()
        self._reply(200, answer, [("Content-Type", "application/json")] + extra)


class Upstream:
    """An upstream on 127.0.0.1 for one check; stopped on leaving the block."""

    def __init__(self, exp, tls=None):
        self.server = UpstreamServer(exp, tls)

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server

    def __exit__(self, *_):
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the exe


class Wine:
    def __init__(self, wine, prefix, exe):
        self.wine = wine
        self.exe = exe
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "WINEPREFIX": prefix,
            "WINEDEBUG": "-all",
            # No Mono or Gecko install dialogs: nothing here needs them.
            "WINEDLLOVERRIDES": "mscoree,mshtml=",
        }

    def run(self, args, timeout=ANSWER_WAIT_S):
        """Runs a Windows program (or wine's builtin) to the end."""
        return subprocess.run([self.wine] + args, env=self.env, capture_output=True,
                              timeout=timeout, text=True, errors="replace")


class Proxy:
    """mcp-sigv4.exe under Wine, with stdin and stdout as pipes."""

    def __init__(self, wine, args, env=None):
        full_env = dict(wine.env)
        full_env.update(env or {})
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([wine.wine, wine.exe] + args, env=full_env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True).start()

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, obj):
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def answer(self, want_id, timeout=ANSWER_WAIT_S):
        """The next stdout line, which must be the answer to `want_id`."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Failures([f"no answer to id {want_id} within {timeout} s"]) from None
        if line is None:
            raise Failures([f"stdout closed before the answer to id {want_id}; stderr: {self.stderr()[-600:]!r}"])
        try:
            msg = json.loads(line)
        except ValueError:
            raise Failures([f"stdout line is not JSON: {line[:200]!r}"]) from None
        if msg.get("id") != want_id:
            raise Failures([f"expected the answer to id {want_id}, found {line[:300]!r}"])
        return msg

    def close_and_wait(self, timeout=EXIT_WAIT_S):
        """Closes stdin; returns the exit status (or raises when it does not come)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        return self.wait(timeout)

    def wait(self, timeout=EXIT_WAIT_S):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failures([f"the process did not end within {timeout} s"]) from None

    def stdout_rest(self):
        rest = []
        while True:
            try:
                line = self.lines.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            rest.append(line)
        return rest

    def stderr(self):
        return b"".join(self.err).decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


ALL_TOOLS = ["read_thing", "write_thing", "slow_thing"]


def session(p, expect_server="wine-upstream", tools_listed=ALL_TOOLS):
    """initialize, notifications/initialized, tools/list through the relay."""
    p.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "wine-check", "version": "1"}}})
    init = p.answer(1)
    if init.get("result", {}).get("serverInfo", {}).get("name") != expect_server:
        raise Failures([f"initialize was not answered by the upstream: {json.dumps(init)[:400]}; "
                        f"stderr: {p.stderr()[-600:]!r}"])
    p.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    p.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    tools = p.answer(2)
    names = [t.get("name") for t in tools.get("result", {}).get("tools", [])]
    if names != tools_listed:
        raise Failures([f"tools/list result is not the upstream's: {json.dumps(tools)[:400]}"])
    return time.monotonic() - p.t0


def finish(p, up, want_algorithm=verifier.ALGORITHM, rpcs=("initialize", "notifications/initialized", "tools/list")):
    """Closes stdin; checks exit 0, a clean stdout and stderr, and that every
    request the upstream received was signed as expected. Returns a summary."""
    problems = []
    code = p.close_and_wait()
    if code != 0:
        problems.append(f"exit status after stdin closed: expected 0, found {code}")
    rest = p.stdout_rest()
    if rest:
        problems.append(f"unexpected stdout lines: {rest[:3]!r}")
    err = p.stderr()
    for s in SECRETS:
        if s in err:
            problems.append("a secret (key or token) appeared on stderr")
    if "panicked" in err:
        problems.append(f"a panic on stderr: {err[-400:]!r}")
    for want in rpcs:
        if not up.rpc(want):
            problems.append(f"the upstream never received {want}")
    bad = [s for s in up.seen if not s["ok"]]
    if bad:
        problems.append(f"{len(bad)} request(s) failed verification, first: {bad[0]['http']} "
                        f"{bad[0]['rpc']}: {bad[0]['why'][:300]}")
    algos = sorted({s["algorithm"] for s in up.seen})
    if algos != [want_algorithm]:
        problems.append(f"expected every request signed {want_algorithm}, found {algos}")
    if problems:
        raise Failures(problems + [f"stderr ends: {err[-600:]!r}"])
    return (f"{len(up.seen)} requests, each {want_algorithm} with a signature that verifies "
            f"({', '.join(sorted({(s['rpc'] or s['http']) for s in up.seen}))}); exit 0 after stdin closed")


# ---------------------------------------------------------------- the checks


class Checks:
    def __init__(self, a):
        self.a = a
        self.wine = Wine(a.wine, a.prefix, a.exe)
        self.work = Path(a.work)
        self.results = []
        drive_c = Path(a.prefix) / "drive_c"
        self.profile_dir = drive_c / "users" / "Jane Doe"
        self.tools_dir = self.profile_dir / "cred tools"
        self.ca_dir = self.profile_dir / "ca dir"

    def env_creds(self):
        return {"AWS_ACCESS_KEY_ID": ENV_AKID, "AWS_SECRET_ACCESS_KEY": ENV_SECRET}

    def env_exp(self, **kw):
        return verifier.Expectation(access_key=ENV_AKID, secret_key=ENV_SECRET, token=None,
                                    region="us-east-1", service=SERVICE, **kw)

    def check(self, name, fn):
        t = time.monotonic()
        try:
            detail = fn()
            self.results.append((name, True))
            print(f"PASS  {name} ({time.monotonic() - t:.1f} s): {detail}", flush=True)
        except Failures as e:
            self.results.append((name, False))
            print(f"FAIL  {name} ({time.monotonic() - t:.1f} s):", flush=True)
            for r in e.args[0]:
                print(f"        {r}", flush=True)
        except Exception as e:  # a bug in the check itself still fails the run
            self.results.append((name, False))
            print(f"FAIL  {name} ({time.monotonic() - t:.1f} s): {type(e).__name__}: {e}", flush=True)

    # -- setup: the user profile and files a Windows user would have

    def setup(self):
        # The first Wine program a wineserver runs starts Wine's own background
        # programs (services.exe, explorer.exe…), which inherit its stdout and
        # stderr and live as long as the server: give them /dev/null, or a pipe
        # of a later check never reaches its end.
        subprocess.run([self.wine.wine, "cmd", "/c", "ver"], env=self.wine.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=ANSWER_WAIT_S)
        # Wine sets USERPROFILE from the registry's volatile environment, which
        # lives as long as the wineserver: the step keeps one running (-p).
        r = self.wine.run(["reg", "add", "HKCU\\Volatile Environment", "/v", "USERPROFILE",
                           "/d", PROFILE_WIN, "/f"])
        if r.returncode != 0:
            raise SystemExit(f"cannot set USERPROFILE in the Wine prefix: {r.stdout} {r.stderr}")
        r = self.wine.run(["cmd", "/c", "set"])
        env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        got = {k.upper(): v for k, v in env.items()}
        print(f"Windows environment of a process here: USERPROFILE={got.get('USERPROFILE')!r}, "
              f"HOME={got.get('HOME')!r}, HOMEDRIVE+HOMEPATH={got.get('HOMEDRIVE', '') + got.get('HOMEPATH', '')!r}")
        if got.get("USERPROFILE") != PROFILE_WIN or "HOME" in got:
            raise SystemExit(f"expected USERPROFILE={PROFILE_WIN!r} and no HOME, found {got}")
        if self.profile_dir.exists():
            shutil.rmtree(self.profile_dir)
        aws = self.profile_dir / ".aws"
        aws.mkdir(parents=True)
        self.tools_dir.mkdir()
        self.ca_dir.mkdir()
        crlf = lambda lines: ("\r\n".join(lines) + "\r\n").encode()  # noqa: E731
        (aws / "credentials").write_bytes(crlf([
            "[wine-user]",
            f"aws_access_key_id = {FILE_AKID}",
            f"aws_secret_access_key = {FILE_SECRET}",
            f"aws_session_token = {FILE_TOKEN}",
        ]))
        tools_win = PROFILE_WIN + "\\cred tools"
        (aws / "config").write_bytes(crlf([
            "[profile wine-user]",
            f"region = {FILE_REGION}",
            "",
            "[profile proc-cmd]",
            f'credential_process = "{tools_win}\\get creds.cmd" CMD',
            f"region = {FILE_REGION}",
            "",
            "[profile proc-fail]",
            f'credential_process = "{tools_win}\\fail creds.cmd" --password hunter2',
            f"region = {FILE_REGION}",
            "",
            "[profile proc-exe]",
            f'credential_process = "{tools_win}\\get creds.exe" EXE "two words"',
            f"region = {FILE_REGION}",
        ]))
        # A batch file prints the credential JSON; %1 becomes part of the key.
        (self.tools_dir / "get creds.cmd").write_bytes(crlf([
            "@echo off",
            'echo {"Version": 1, "AccessKeyId": "AKIDWINEPROC%1", '
            '"SecretAccessKey": "wineProcessSecret/%1/0000000000", "SessionToken": "wineProcessToken/%1"}',
        ]))
        # A helper that fails: exit 3, a line on stderr.
        (self.tools_dir / "fail creds.cmd").write_bytes(crlf([
            "@echo off",
            "echo fail creds: no session for this user 1>&2",
            "exit /b 3",
        ]))
        gcc = subprocess.run(["x86_64-w64-mingw32-gcc", "-O2", "-s", "-o",
                              str(self.tools_dir / "get creds.exe"), str(HERE / "get_creds.c")],
                             capture_output=True, text=True)
        if gcc.returncode != 0:
            raise SystemExit(f"cannot build get_creds.c: {gcc.stderr}")
        print(f"user profile {PROFILE_WIN} ({self.profile_dir}): .aws\\config and .aws\\credentials "
              "with CRLF line ends, cred tools\\get creds.cmd and get creds.exe")

    # -- the checks

    def version(self):
        r = self.wine.run([self.a.exe, "--version"])
        first = (r.stdout.strip().splitlines() or [""])[0]
        want = re.compile(rf"^mcp-sigv4 {re.escape(self.a.version)} \(commit {re.escape(self.a.commit)}, "
                          r"x86_64-windows-gnu, (static|dynamically linked)\)$")
        if r.returncode != 0 or not want.match(first):
            raise Failures([f"expected 'mcp-sigv4 {self.a.version} (commit {self.a.commit}, x86_64-windows-gnu, …)' "
                            f"and exit 0, found {first!r} (exit {r.returncode}, stderr {r.stderr[-300:]!r})"])
        return first

    def relay_smoke(self):
        cmd = [sys.executable, str(REPO / ".packaging" / "smoke" / "smoke.py"), "--",
               "env"] + [f"{k}={v}" for k, v in self.wine.env.items() if k != "PATH"] + [
               self.wine.wine, self.a.exe]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=4 * ANSWER_WAIT_S)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0:
            raise Failures(out.splitlines())
        return "; ".join(line.removeprefix("smoke: ") for line in out.splitlines())

    def profile_files(self):
        exp = verifier.Expectation(access_key=FILE_AKID, secret_key=FILE_SECRET, token=FILE_TOKEN,
                                   region=FILE_REGION, service=SERVICE)
        with Upstream(exp) as up:
            # No AWS_* variable and no HOME: the files are found through USERPROFILE.
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--profile", "wine-user"])
            try:
                session(p)
                summary = finish(p, up)
            finally:
                p.kill()
        return (f"key, secret and session token from {PROFILE_WIN}\\.aws\\credentials, region "
                f"{FILE_REGION} from .aws\\config (CRLF); {summary}")

    def credential_process(self, profile, tag):
        def run():
            exp = verifier.Expectation(access_key=f"AKIDWINEPROC{tag}", secret_key=proc_secret(tag),
                                       token=proc_token(tag), region=FILE_REGION, service=SERVICE)
            with Upstream(exp) as up:
                p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--profile", profile])
                try:
                    session(p)
                    summary = finish(p, up)
                finally:
                    p.kill()
            return f"credentials from the program's output (key AKIDWINEPROC{tag}); {summary}"
        return run

    def credential_process_fails(self):
        with Upstream(self.env_exp()) as up:
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--profile", "proc-fail"])
            try:
                p.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "wine-check", "version": "1"}}})
                answer = p.answer(1)
                code = p.close_and_wait()
            finally:
                p.kill()
            seen = len(up.seen)
        message = answer.get("error", {}).get("message", "")
        program = f'`"{PROFILE_WIN}\\cred tools\\fail creds.cmd"` (arguments not shown)'
        problems = []
        if answer.get("error", {}).get("code") != -32002:
            problems.append(f"expected error -32002, found {json.dumps(answer)[:400]}")
        if program not in message or "exit code: 3" not in message:
            problems.append(f"expected the message to name {program} and exit code: 3, found {message!r}")
        if "hunter2" in message or "no session" in message:
            problems.append(f"the message holds the command's arguments or its stderr: {message!r}")
        err = p.stderr()
        if "fail creds: no session for this user" not in err or "hunter2" in err:
            problems.append(f"expected the helper's stderr line in the log and no argument, found {err[-600:]!r}")
        if seen or code != 0:
            problems.append(f"expected no request and exit 0, found {seen} requests, exit {code}")
        if problems:
            raise Failures(problems)
        return f"answered -32002 naming {program} and exit code 3; its stderr in the log only; exit 0"

    def make_ca(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        import ipaddress
        now = dt.datetime.now(dt.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcp-sigv4 Wine test CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False,
                                           encipher_only=False, decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                    critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = ca.public_bytes(serialization.Encoding.PEM)
        # As a Windows editor saves it: CRLF line ends.
        (self.ca_dir / "test ca.pem").write_bytes(pem.replace(b"\n", b"\r\n"))
        server_pem = self.work / "server.pem"
        server_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(server_pem)
        return ctx

    def ca_bundle(self):
        ctx = self.make_ca()
        bundle = PROFILE_WIN + "\\ca dir\\test ca.pem"
        problems = []
        with Upstream(self.env_exp(), tls=ctx) as up:
            # Without the bundle the server's certificate is not trusted: an
            # error answer, and nothing reaches the server.
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--region", "us-east-1"],
                      self.env_creds())
            try:
                p.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "wine-check", "version": "1"}}})
                refused = p.answer(1)
                code = p.close_and_wait()
            finally:
                p.kill()
            if "error" not in refused or up.seen:
                problems.append(f"without --ca-bundle: expected an error answer and no request at the "
                                f"server, found {json.dumps(refused)[:300]} and {len(up.seen)} requests")
            if code != 0:
                problems.append(f"without --ca-bundle: exit status {code} after stdin closed, expected 0")
            untrusted = refused.get("error", {}).get("message", "")[:160]
            p = Proxy(self.wine, [up.url(), "--ca-bundle", bundle, "--service", SERVICE,
                                  "--region", "us-east-1"], self.env_creds())
            try:
                session(p)
                summary = finish(p, up)
            except Failures as e:
                problems.extend(e.args[0])
            finally:
                p.kill()
        if problems:
            raise Failures(problems)
        return (f"HTTPS to 127.0.0.1 with a certificate from a CA made here: without --ca-bundle "
                f"refused ({untrusted!r}), nothing reached the server; with "
                f"--ca-bundle {bundle!r} (CRLF PEM): {summary}")

    def read_only(self):
        with Upstream(self.env_exp()) as up:
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--region", "us-east-1",
                                  "--read-only"], self.env_creds())
            try:
                # tools/list leaves out what may write; a call names it anyway.
                session(p, tools_listed=["read_thing", "slow_thing"])
                p.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                        "params": {"name": "write_thing", "arguments": {}}})
                refused = p.answer(3)
                p.send({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                        "params": {"name": "read_thing", "arguments": {}}})
                allowed = p.answer(4)
                summary = finish(p, up, rpcs=("initialize", "tools/list", "tools/call"))
            finally:
                p.kill()
            problems = []
            if refused.get("error", {}).get("code") != -32003:
                problems.append(f"write_thing: expected error -32003, found {json.dumps(refused)[:300]}")
            if allowed.get("result", {}).get("content", [{}])[0].get("text") != "called read_thing":
                problems.append(f"read_thing: expected the upstream's result, found {json.dumps(allowed)[:300]}")
            tools = [s["tool"] for s in up.rpc("tools/call")]
            if tools != ["read_thing"]:
                problems.append(f"expected only read_thing to reach the upstream, found {tools}")
        if problems:
            raise Failures(problems)
        return ("tools/list without write_thing (readOnlyHint false); a call to it refused with "
                f"-32003 without reaching the upstream, read_thing called; {summary}")

    def sigv4a(self):
        with Upstream(self.env_exp(accept="v4a")) as up:
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--region", "us-east-1",
                                  "--sig-version", "v4a"], self.env_creds())
            try:
                session(p)
                summary = finish(p, up, want_algorithm=verifier.ALGORITHM_V4A)
            finally:
                p.kill()
            sets = sorted({s["region_set"] for s in up.seen})
        return f"X-Amz-Region-Set {sets}; {summary}"

    def stdin_closed_at_once(self):
        with Upstream(self.env_exp()) as up:
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--region", "us-east-1"],
                      self.env_creds())
            try:
                t = time.monotonic()
                code = p.close_and_wait()
                took = time.monotonic() - t
                rest = p.stdout_rest()
            finally:
                p.kill()
        if code != 0 or rest or up.seen:
            raise Failures([f"expected exit 0, no output and no request, found exit {code}, "
                            f"stdout {rest[:2]!r}, {len(up.seen)} requests; stderr {p.stderr()[-400:]!r}"])
        return f"stdin closed before any message: exit 0 after {took:.1f} s (Wine start included), no request"

    def terminate_process(self):
        problems = []
        with Upstream(self.env_exp()) as up:
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--region", "us-east-1"],
                      self.env_creds())
            try:
                session(p)
                p.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                        "params": {"name": "slow_thing", "arguments": {}}})
                if not up.slow_started.wait(ANSWER_WAIT_S):
                    raise Failures(["the slow tools/call never reached the upstream"])
                # What a Windows client does to end a child: TerminateProcess
                # (Node's child.kill(), taskkill /F), stdin left open.
                r = self.wine.run(["taskkill", "/F", "/IM", "mcp-sigv4.exe"])
                t = time.monotonic()
                if r.returncode != 0:
                    problems.append(f"taskkill /F failed: {r.stdout.strip()} {r.stderr.strip()}")
                code = p.wait()
                took = time.monotonic() - t
                rest = p.stdout_rest()
            finally:
                p.kill()
            # Terminated, not shut down: no answer to the call, no session DELETE.
            if rest:
                problems.append(f"stdout after TerminateProcess: {rest[:2]!r}")
            if any(s["http"] == "DELETE" for s in up.seen):
                problems.append("the upstream received a DELETE: the process shut down instead of being terminated")
        if problems:
            raise Failures(problems)
        # The next start works: a whole session on a fresh upstream.
        with Upstream(self.env_exp()) as up:
            p = Proxy(self.wine, [up.url(), "--service", SERVICE, "--region", "us-east-1"],
                      self.env_creds())
            try:
                session(p)
                summary = finish(p, up)
            finally:
                p.kill()
        return (f"terminated mid tools/call with stdin open: gone after {took:.1f} s (exit {code}); "
                f"the next start: {summary}")

    def run_all(self):
        try:
            self.setup()
        except (SystemExit, subprocess.TimeoutExpired, OSError) as e:
            print(f"FAIL  setup: {e}", flush=True)
            return 1
        self.check("version: --version names the Windows target", self.version)
        self.check("relay smoke (.packaging/smoke/smoke.py): initialize, tools/list, exit 0", self.relay_smoke)
        self.check("profile files under %USERPROFILE%\\.aws (no HOME, a space, CRLF)", self.profile_files)
        self.check("credential_process: a .cmd at a path with spaces", self.credential_process("proc-cmd", "CMD"))
        self.check("credential_process: an .exe at a path with spaces, a quoted argument",
                   self.credential_process("proc-exe", "EXE"))
        self.check("credential_process that fails: the quoted program and status named, no arguments",
                   self.credential_process_fails)
        self.check("--ca-bundle at a path with spaces and backslashes (HTTPS, private CA)", self.ca_bundle)
        self.check("--read-only refuses a tool that may write", self.read_only)
        self.check("SigV4A (--sig-version v4a)", self.sigv4a)
        self.check("the end of stdin ends the process with exit 0", self.stdin_closed_at_once)
        self.check("TerminateProcess without closing stdin; the next start works", self.terminate_process)
        failed = [n for n, ok in self.results if not ok]
        print(f"\n{len(self.results) - len(failed)} of {len(self.results)} Wine checks passed")
        for n in failed:
            print(f"  FAILED: {n}")
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--wine", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--commit", required=True, help="the commit --version must name")
    ap.add_argument("--only", action="append", default=[], help="run the checks whose name contains this")
    a = ap.parse_args()
    Path(a.work).mkdir(parents=True, exist_ok=True)
    checks = Checks(a)
    if a.only:
        real = checks.check
        checks.check = lambda name, fn: real(name, fn) if any(o in name for o in a.only) else None
    return checks.run_all()


if __name__ == "__main__":
    sys.exit(main())
