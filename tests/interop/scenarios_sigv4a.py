"""Interop scenarios: SigV4A (`AWS4-ECDSA-P256-SHA256`), checked in Python.

The upstream is upstream.py behind verifier.py in its SigV4A-only mode
(`sig_accept: "v4a"`): every SigV4 request is answered HTTP 403,
`x-amzn-ErrorType: InvalidSignatureException`, `{"__type", "message"}`, as a
multi-region endpoint would; every SigV4A request is checked with botocore's
canonical request, the string to sign AWS specifies, a P-256 public key derived
in Python from the expected credentials, and `cryptography`'s ECDSA; its
`X-Amz-Region-Set` must be exactly the scenario's.

  selftest-sigv4a            no binary: the Python key derivation against every
                             public-key.json of AWS's SigV4A suite
                             (vectors/sigv4a), the suite's 152 published
                             signatures verified under the derived keys, the
                             suite's header-signed requests through verify(),
                             the spec's worked example, tamperings, and the
                             SigV4A-only middleware over real HTTP
  sigv4a-auto                --sig-version auto: the first request (initialize)
                             goes out SigV4 and is refused, the proxy resends it
                             SigV4A, logs the switch once at info, and signs
                             everything after with SigV4A; full battery
  sigv4a-v4a                 --sig-version v4a: no SigV4 request at all; full
                             battery; default region set = --region
  sigv4a-region-set-star     --region-set '*' (header value checked)
  sigv4a-region-set-profile  AWS_SIG_VERSION=v4a and the profile's
                             sigv4a_signing_region_set (spaces trimmed)
  sigv4a-wrong-secret        wrong secret under v4a, then under auto: refused
                             403, the client gets a JSON-RPC error, no hang

Hooked into run_interop.py after its SCENARIOS list; the helpers (Scenario,
Ctx, Upstream, ProxySession, Checks, exercise, ...) are run_interop's own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import sys
import textwrap
from contextlib import AsyncExitStack
from pathlib import Path

# run_interop is usually the __main__ module that imports us: use that module
# object (importing it by name would run it a second time, and circularly).
_main = sys.modules.get("__main__")
if _main is not None and Path(getattr(_main, "__file__", "") or "").name == "run_interop.py":
    ri = _main
else:
    import run_interop as ri  # noqa: E402

import anyio  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402

import verifier as vf  # noqa: E402

HERE = Path(__file__).resolve().parent
VECTORS = ri.REPO / "vectors" / "sigv4a"
V4A_REGION = "us-west-2"  # the scenarios' --region (the default region set on 127.0.0.1)
UPGRADE_LOG = "refused SigV4 and accepted SigV4A: signing every further request with SigV4A (region set {})"

Checks = ri.Checks
Ctx = ri.Ctx
Creds = ri.Creds
Scenario = ri.Scenario
log = ri.log
step = ri.step
short = ri.short


# --------------------------------------------------------------------------
# upstream and proxy with a region other than run_interop's


class V4aUpstream(ri.Upstream):
    """upstream.py with the verifier in SigV4A-only mode: `region` is the
    SigV4 scope region it checks on the (refused) SigV4 requests, `region_set`
    the X-Amz-Region-Set it requires on SigV4A requests."""

    def __init__(self, workdir: Path, creds: Creds, mode: str, verbose: bool, region: str, region_set: str,
                 accept: str = "v4a"):
        super().__init__(workdir, creds, mode, verbose)
        cfg = json.loads(self.cfg_path.read_text())
        cfg.update(region=region, sig_accept=accept, region_set=region_set)
        self.cfg_path.write_text(json.dumps(cfg))


def proxy_session(ctx: Ctx, url: str, env: dict[str, str], extra_args: list[str], region: str) -> ri.ProxySession:
    """run_interop's ProxySession (SDK stdio client + exit_recorder.py), with
    `--region region` instead of the suite's default."""
    proxy = ri.ProxySession(ctx, url, env, extra_args)
    args = list(proxy.params.args)
    args[args.index("--region") + 1] = region
    proxy.params = proxy.params.model_copy(update={"args": args})
    proxy.command_line = proxy.command_line.replace(f"--region {ri.REGION}", f"--region {region}", 1)
    return proxy


def env_with(ctx: Ctx, creds: Creds) -> dict[str, str]:
    env = ri.base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key)
    if creds.token:
        env["AWS_SESSION_TOKEN"] = creds.token
    return env


def upgrade_lines(proxy: ri.ProxySession) -> list[str]:
    try:
        text = proxy.stderr_path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if "accepted SigV4A" in line]


def show_logs(c: Checks, proxy: ri.ProxySession, up: ri.Upstream) -> None:
    if c.failed:
        log("  --- proxy stderr (tail) ---\n" + textwrap.indent(proxy.stderr_tail(), "  | "))
        log("  --- upstream stderr (tail) ---\n" + textwrap.indent(up.stderr_tail(), "  | "))


# --------------------------------------------------------------------------
# a whole session through a SigV4A-only upstream


async def v4a_session(ctx: Ctx, creds: Creds, env: dict[str, str], extra_args: list[str], *, region_set: str,
                      expect_upgrade: bool, mode: str = "sse", full: bool = True) -> None:
    """The official SDK client runs run_interop's battery through the proxy;
    then the verifier's record is checked: with `expect_upgrade`, exactly one
    SigV4 request (the first, `initialize`, otherwise correctly signed) was
    refused; without, none was sent. Every other request is SigV4A, verified,
    with `X-Amz-Region-Set: region_set` signed; the session checks of the SigV4
    scenarios hold for them; the switch is logged exactly once (or never)."""
    c = ctx.checks
    up = V4aUpstream(ctx.workdir, creds, mode, ctx.verbose, V4A_REGION, region_set)
    up.start()
    proxy = proxy_session(ctx, up.url, env, extra_args, V4A_REGION)
    log(f"  upstream {up.url} mode={mode}, SigV4A only, region set {region_set!r}; proxy: {proxy.command_line}"
        f" --log-level {ctx.proxy_log_level}")
    try:
        try:
            with anyio.fail_after(ri.SCENARIO_TIMEOUT_S):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    await ri.exercise(c, session, proxy, up, mode, full)
        except Exception as e:
            ri.describe_failure(c, e, ri.SCENARIO_TIMEOUT_S)
        c.expect(not proxy.bad_lines, "stdout carried only valid JSON-RPC lines", short(proxy.bad_lines))
        stats = await ri.wait_for_delete(up)
        requests = stats["requests"]
        sig = stats["sig"]
        v4 = [r for r in requests if r["algorithm"] == vf.ALGORITHM]
        if expect_upgrade:
            first = requests[0] if requests else {}
            c.equal((first.get("algorithm"), first.get("jsonrpc_method"), first.get("status"), first.get("error_type")),
                    (vf.ALGORITHM, "initialize", 403, "InvalidSignatureException"),
                    "the first request is the SigV4 initialize, refused 403 InvalidSignatureException")
            c.expect(first.get("v4_signature_valid") is True,
                     "that SigV4 signature was itself valid (refused only for its algorithm)",
                     short(first.get("v4_problem")))
            second = requests[1] if len(requests) > 1 else {}
            c.equal((second.get("algorithm"), second.get("jsonrpc_method"), second.get("jsonrpc_id"),
                     second.get("body_len"), second.get("status")),
                    (vf.ALGORITHM_V4A, "initialize", first.get("jsonrpc_id"), first.get("body_len"), 200),
                    "the same initialize (id, body length) was sent again signed SigV4A and answered 200")
            c.equal(len(v4), 1, "exactly one SigV4 request was sent (the first)")
            c.equal((sig["v4_refused"], sig["v4_accepted"]), (1, 0), "stats: SigV4 refused 1, accepted 0")
            rest = requests[1:]
        else:
            c.equal(len(v4), 0, "no SigV4 request was sent")
            c.equal((sig["v4_refused"], sig["v4_accepted"]), (0, 0), "stats: SigV4 refused 0, accepted 0")
            rest = [r for r in requests if r["algorithm"] != vf.ALGORITHM]
        not_v4a = [(r["method"], r["jsonrpc_method"], r["algorithm"]) for r in rest if r["algorithm"] != vf.ALGORITHM_V4A]
        c.expect(not not_v4a, "every other request is signed SigV4A", short(not_v4a))
        refused = [(r["method"], r["jsonrpc_method"], r["error_type"]) for r in rest if not r["accepted"]]
        c.expect(not refused, "every SigV4A request verified (botocore canonical request, ECDSA P-256)",
                 short(refused))
        for r in stats["rejections"][:4]:
            log(f"    rejected {r['method']} ({r.get('algorithm')}): {r['error_type']}: {r['message'][:300]}")
        c.equal((sig["v4a_accepted"], sig["v4a_refused"], sig["other_refused"]), (len(rest), 0, 0),
                "stats: SigV4A accepted = every other request, refused 0")
        c.expect(len(rest) >= 6, "several SigV4A requests in the session", str(len(rest)))
        sets = sorted({r["region_set"] for r in rest}, key=str)
        c.equal(sets, [region_set], f"X-Amz-Region-Set is {region_set!r} on every SigV4A request")
        unsigned_set = [r["jsonrpc_method"] for r in rest if "x-amz-region-set" not in r["signed_headers"]]
        c.expect(not unsigned_set, "x-amz-region-set is a signed header on every SigV4A request", short(unsigned_set))
        # The SigV4 scenarios' session checks, on what reached the MCP server.
        kept = dict(stats)
        kept["requests"] = rest
        kept["rejected"] = {}
        for r in rest:
            if not r["accepted"]:
                kept["rejected"][r["method"]] = kept["rejected"].get(r["method"], 0) + 1
        kept["rejections"] = [r for r in stats["rejections"] if r.get("algorithm") != vf.ALGORITHM]
        kept["token_seen"] = sum(1 for r in rest if r["token_present"])
        if expect_upgrade and requests:
            c.equal(requests[0]["token_present"], bool(creds.token), "the refused SigV4 request carried the token")
        ri.check_session_traffic(c, kept, creds)
        lines = upgrade_lines(proxy)
        if expect_upgrade:
            c.equal(len(lines), 1, "the proxy logged the switch to SigV4A exactly once")
            want = "127.0.0.1 " + UPGRADE_LOG.format(region_set)
            c.expect(bool(lines) and want in lines[0], "the switch is logged at info with host and region set",
                     f"expected {want!r}, found {short(lines)}")
            c.expect(bool(lines) and " INFO " in f" {lines[0]} ".upper().replace("[", " ").replace("]", " "),
                     "the switch is logged at level info", short(lines))
        else:
            c.equal(lines, [], "no switch logged (SigV4A from the first request)")
        ri.check_exit(c, proxy)
        sids = stats["issued_session_ids"]
        ri.check_no_secrets_logged(c, proxy, {"secret access key": creds.secret_key, "session token": creds.token,
                                              "mcp-session-id": sids[0] if sids else None})
    finally:
        up.stop()
        show_logs(c, proxy, up)


async def sc_auto(ctx: Ctx) -> None:
    creds = ri.random_creds(token=True)
    info_ctx = dataclasses.replace(ctx, proxy_log_level="info")
    await v4a_session(info_ctx, creds, env_with(ctx, creds), ["--sig-version", "auto"], region_set=V4A_REGION,
                      expect_upgrade=True)


async def sc_v4a(ctx: Ctx) -> None:
    creds = ri.random_creds(token=True)
    await v4a_session(ctx, creds, env_with(ctx, creds), ["--sig-version", "v4a"], region_set=V4A_REGION,
                      expect_upgrade=False, mode="json")


async def sc_region_set_star(ctx: Ctx) -> None:
    creds = ri.random_creds(token=False)
    await v4a_session(ctx, creds, env_with(ctx, creds), ["--sig-version", "v4a", "--region-set", "*"],
                      region_set="*", expect_upgrade=False, full=False)


async def sc_region_set_profile(ctx: Ctx) -> None:
    creds = ri.random_creds(token=True)
    env = ri.base_child_env(ctx.workdir)
    config = ctx.workdir / "config"
    config.write_text(
        "[profile interop-v4a]\n"
        f"aws_access_key_id = {creds.access_key}\n"
        f"aws_secret_access_key = {creds.secret_key}\n"
        f"aws_session_token = {creds.token}\n"
        "sigv4a_signing_region_set = us-east-1 , us-west-2\n"
    )
    env.update(AWS_CONFIG_FILE=str(config), AWS_PROFILE="interop-v4a", AWS_SIG_VERSION="v4a")
    await v4a_session(ctx, creds, env, [], region_set="us-east-1,us-west-2", expect_upgrade=False, full=False)


async def wrong_secret_run(ctx: Ctx, label: str, sig_version: str) -> None:
    c = ctx.checks
    creds = ri.random_creds(token=True)
    up = V4aUpstream(ctx.workdir, creds, "sse", ctx.verbose, V4A_REGION, V4A_REGION)
    up.start()
    wrong = creds.secret_key[:-4] + "WRNG"
    env = env_with(ctx, ri.Creds(creds.access_key, wrong, creds.token))
    proxy = proxy_session(ctx, up.url, env, ["--sig-version", sig_version], V4A_REGION)
    log(f"  [{label}] upstream {up.url} (SigV4A only); proxy: {proxy.command_line} (with a wrong secret)")
    text = ""
    try:
        try:
            with anyio.fail_after(60):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    try:
                        with anyio.fail_after(30):
                            await session.initialize()
                        c.expect(False, f"{label}: initialize fails with a wrong secret", "initialize succeeded")
                    except McpError as e:
                        text = f"{e.error.message} {json.dumps(e.error.data) if e.error.data is not None else ''}"
                        c.note(f"{label}: initialize -> McpError({e.error.code}, {short(text, 500)})")
                        c.expect(True, f"{label}: initialize answered with a JSON-RPC error (no hang)")
                        c.expect("403" in text, f"{label}: the error mentions HTTP 403", short(text, 400))
        except Exception as e:
            if any(isinstance(leaf, TimeoutError) for leaf in ri.leaf_errors(e)):
                c.expect(False, f"{label}: initialize answered within 30 s", "timed out: the proxy hung")
            else:
                ri.describe_failure(c, e, 60)
        c.expect(not proxy.bad_lines, f"{label}: stdout carried only valid JSON-RPC lines", short(proxy.bad_lines))
        await anyio.sleep(0.5)
        stats = up.stats()
        requests = stats["requests"]
        sig = stats["sig"]
        c.equal(stats["accepted"], {}, f"{label}: verifier accepted nothing")
        v4a = [r for r in requests if r["algorithm"] == vf.ALGORITHM_V4A]
        c.expect(bool(v4a) and all(r["error_type"] == "InvalidSignatureException" for r in v4a),
                 f"{label}: the SigV4A requests were refused InvalidSignatureException", short(v4a))
        mismatch = [r for r in stats["rejections"] if r["algorithm"] == vf.ALGORITHM_V4A
                    and not r["message"].startswith(vf.SIGNATURE_MISMATCH)]
        c.expect(not mismatch, f"{label}: refused for the signature itself (ECDSA check failed)",
                 short([r["message"][:200] for r in mismatch]))
        if sig_version == "v4a":
            c.equal(sig["v4_refused"] + sig["v4_accepted"], 0, f"{label}: no SigV4 request")
        else:
            c.equal((requests[0]["algorithm"], requests[0]["jsonrpc_method"]) if requests else None,
                    (vf.ALGORITHM, "initialize"), f"{label}: SigV4 first")
            c.expect(bool(requests) and requests[0]["v4_signature_valid"] is False,
                     f"{label}: the verifier found that SigV4 signature wrong too", short(requests[:1]))
            c.equal((sig["v4_refused"], sig["v4a_refused"]), (1, 1),
                    f"{label}: one SigV4 and one SigV4A attempt for the initialize, both refused")
            c.expect("SigV4A" in text, f"{label}: the error says SigV4A was tried too", short(text, 400))
            c.equal(upgrade_lines(proxy), [], f"{label}: no switch to SigV4A logged")
        c.note(f"{label}: sig counts {sig}")
        ri.check_exit(c, proxy, must_be_zero=False)
        ri.check_no_secrets_logged(c, proxy, {"wrong secret access key": wrong, "secret access key": creds.secret_key,
                                              "session token": creds.token})
    finally:
        up.stop()
        show_logs(c, proxy, up)


async def sc_wrong_secret(ctx: Ctx) -> None:
    for label, version in (("v4a", "v4a"), ("auto", "auto")):
        sub = ctx.workdir / label
        sub.mkdir()
        await wrong_secret_run(dataclasses.replace(ctx, workdir=sub), label, version)


# --------------------------------------------------------------------------
# self-test: the Python SigV4A verifier against AWS's suite, no binary


def v4a_sign(creds: Creds, method: str, url: str, headers: dict[str, str], body: bytes, when: dt.datetime,
             region_set: str, service: str = ri.SERVICE, scope: str | None = None,
             sign_region_set: bool = True) -> list[tuple[str, str]]:
    """A SigV4A signer for the self-test only: botocore's canonical request,
    the AWS string to sign, ECDSA with the Python-derived key (the derivation
    is checked against AWS's public keys first). Returns the wire headers."""
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    request.headers["X-Amz-Date"] = amz
    request.headers["X-Amz-Region-Set"] = region_set
    if creds.token:
        request.headers["X-Amz-Security-Token"] = creds.token
    request.context["timestamp"] = amz
    signer = SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), service, "unused")
    if not sign_region_set:
        del request.headers["X-Amz-Region-Set"]
    canonical = signer.canonical_request(request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    scope = scope or f"{amz[:8]}/{service}/aws4_request"
    sts = vf.v4a_string_to_sign(amz, scope, canonical)
    key = ec.derive_private_key(vf.v4a_private_scalar(creds.access_key, creds.secret_key), ec.SECP256R1())
    signature = key.sign(sts.encode(), ec.ECDSA(hashes.SHA256())).hex()
    host = url.split("/")[2]
    wire = [("host", host)] + [(k, v) for k, v in request.headers.items()]
    if not sign_region_set:
        wire.append(("X-Amz-Region-Set", region_set))
    wire.append(("Authorization", f"{vf.ALGORITHM_V4A} Credential={creds.access_key}/{scope}, "
                                  f"SignedHeaders={signed}, Signature={signature}"))
    return wire


def parse_signed_request(text: str) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    """A suite `*-signed-request.txt` as (method, raw path, raw query, headers,
    body). Continuation lines (leading whitespace) belong to the header before.
    Non-ASCII query bytes are percent-encoded, as on the wire: botocore
    canonicalizes the query as received (the path is passed as the suite
    gives it: botocore encodes it)."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line)
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    path, _, query = target.partition("?")
    query = "".join(ch if ord(ch) < 128 else "".join(f"%{b:02X}" for b in ch.encode()) for ch in query)
    return method, path, query, headers, body.encode()


def signature_in(signed_request: str) -> str:
    m = re.search(r"(?:Signature=|X-Amz-Signature=)([0-9a-f]+)", signed_request)
    return m.group(1) if m else ""


async def sc_selftest(ctx: Ctx) -> None:
    c = ctx.checks
    cases = sorted(p for p in VECTORS.iterdir() if p.is_dir())
    c.require(len(cases) == 38, "vectors/sigv4a holds AWS's 38 SigV4A cases", f"found {len(cases)} in {VECTORS}")

    step("key derivation: the spec's vector (the AWS suite's AKIDEXAMPLE key pair)")
    vec = vf.SPEC_KDF_VECTOR
    c.equal(vf.v4a_fixed_input(vec["access_key"], 1).hex(), vec["fixed_input"], "KDF fixed input (counter 1)")
    c.equal(f"{vf.v4a_private_scalar(vec['access_key'], vec['secret_key']):064x}", vec["d"], "KDF private scalar d")

    step("key derivation: every case's public-key.json, from its context.json credentials")
    for case in cases:
        context = json.loads((case / "context.json").read_text())
        creds = context["credentials"]
        published = json.loads((case / "public-key.json").read_text())
        derived = vf.v4a_public_xy(creds["access_key_id"], creds["secret_access_key"])
        c.equal(derived, (published["X"].lower(), published["Y"].lower()), f"{case.name}: derived public key")

    step("the suite's signatures under the derived key, over the suite's strings to sign")
    verified = refused_tampered = refused_other_key = 0
    other_key = vf.v4a_public_key("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ")
    high_s = []
    for case in cases:
        context = json.loads((case / "context.json").read_text())
        creds = context["credentials"]
        key = vf.v4a_public_key(creds["access_key_id"], creds["secret_access_key"])
        for kind in ("header", "query"):
            canonical = (case / f"{kind}-canonical-request.txt").read_text()
            sts = (case / f"{kind}-string-to-sign.txt").read_text()
            sts_lines = sts.split("\n")
            c.equal(vf.v4a_string_to_sign(sts_lines[1], sts_lines[2], canonical), sts,
                    f"{case.name} ({kind}): string to sign = algorithm, date, scope, sha256(canonical request)")
            c.expect("/" + context["region"] + "/" not in sts_lines[2],
                     f"{case.name} ({kind}): the scope names no region", sts_lines[2])
            for source, sig in ((f"{kind}-signature.txt", (case / f"{kind}-signature.txt").read_text().strip()),
                                (f"{kind}-signed-request.txt",
                                 signature_in((case / f"{kind}-signed-request.txt").read_text()))):
                ok = vf.v4a_signature_ok(key, sts, sig)
                c.expect(ok, f"{case.name}: {source} verifies under the derived key", sig)
                verified += ok
                refused_tampered += not vf.v4a_signature_ok(key, sts.replace("AWS4", "AWS5", 1), sig)
                refused_other_key += not vf.v4a_signature_ok(other_key, sts, sig)
                der = bytes.fromhex(sig)
                r_len = der[3]
                s = int.from_bytes(der[6 + r_len:], "big")
                if s > vf.P256_ORDER // 2:
                    high_s.append(f"{case.name}/{source}")
    c.equal(verified, 152, "the suite's 152 published signatures verify (header, query; file and signed request)")
    c.equal(refused_tampered, 152, "each fails over a string to sign changed by one character")
    c.equal(refused_other_key, 152, "each fails under a key derived from another secret")
    c.expect(bool(high_s), "high-S signatures among them are accepted", "none found")
    c.note(f"{len(high_s)} high-S signatures in the suite, all accepted (e.g. {high_s[:2]})")
    for legacy_cr, legacy_sts in (("canonical-request.txt", "string-to-sign.txt"),):
        c.equal((VECTORS / "get-vanilla" / legacy_cr).read_text(),
                (VECTORS / "get-vanilla" / "header-canonical-request.txt").read_text(),
                "get-vanilla: legacy canonical-request.txt = header variant")
        c.equal((VECTORS / "get-vanilla" / legacy_sts).read_text(),
                (VECTORS / "get-vanilla" / "header-string-to-sign.txt").read_text(),
                "get-vanilla: legacy string-to-sign.txt = header variant")

    step("the suite's header-signed requests through verify() (botocore canonical request, SigV4A-only mode)")
    accepted = []
    for case in cases:
        context = json.loads((case / "context.json").read_text())
        creds = context["credentials"]
        method, path, query, headers, body = parse_signed_request((case / "header-signed-request.txt").read_text())
        at = dt.datetime.strptime(context["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        omit = context.get("omit_session_token", False)
        exp = vf.Expectation(creds["access_key_id"], creds["secret_access_key"],
                             None if omit else creds.get("token"), context["region"], context["service"],
                             accept="v4a", region_set=context["region"])
        v = vf.verify(exp, method, path, query, headers, body, at)
        same_canonical = v.canonical_request == (case / "header-canonical-request.txt").read_text()
        if omit:
            # The token is sent but not signed: this verifier insists a sent token is signed.
            c.equal(v.error_type, "UnrecognizedClientException",
                    f"{case.name}: a token sent unsigned (omit_session_token) is refused")
        elif context["normalize"]:
            c.expect(v.ok, f"{case.name}: accepted", f"{v.error_type}: {v.message[:300]}")
            c.expect(same_canonical, f"{case.name}: botocore's canonical request = the suite's")
            c.equal(v.string_to_sign, (case / "header-string-to-sign.txt").read_text(),
                    f"{case.name}: the verifier's string to sign = the suite's")
        else:
            # normalize=false is S3's unnormalized path rule; botocore's SigV4Auth
            # always removes dot segments, as every non-S3 service does.
            c.equal(v.ok, same_canonical, f"{case.name} (unnormalized): accepted exactly when botocore's "
                    "canonical request equals the suite's")
        if v.ok:
            accepted.append(case.name)
    c.note(f"{len(accepted)} of 38 published header-signed requests accepted by verify(); the rest: "
           f"{sorted({p.name for p in cases} - set(accepted))}")

    step("the spec's worked SigV4A example (§4.4) through verify()")
    headers, body = ri.spec_request("unused")
    headers = [(k, v) for k, v in headers if k != "authorization"] + [
        ("x-amz-region-set", "us-east-1,us-west-2"),
        ("authorization", f"{vf.ALGORITHM_V4A} Credential=AKIDEXAMPLE/20260101/bedrock-agentcore/aws4_request, "
         "SignedHeaders=accept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-region-set;"
         "x-amz-security-token, Signature=3046022100f6d981377b59fa0264aa65e2cbe6338852e90380afa1a6505ec931c746b75897"
         "022100cd7c7c8f55c04f9fc3ae01cd2e7aff3a7135cc307f09605769c0933467499e93"),
    ]
    spec_exp = vf.Expectation("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN123", "us-east-1",
                              "bedrock-agentcore", accept="v4a", region_set="us-east-1,us-west-2")
    spec_now = dt.datetime(2026, 1, 1, 0, 1, 0, tzinfo=dt.timezone.utc)
    v = vf.verify(spec_exp, "POST", ri.SPEC_PATH, "qualifier=DEFAULT", headers, body, spec_now)
    c.expect(v.ok, "spec §4.4 SigV4A example accepted", f"{v.error_type}: {v.message[:300]}")
    c.equal(v.string_to_sign, "\n".join([vf.ALGORITHM_V4A, "20260101T000000Z", "20260101/bedrock-agentcore/aws4_request",
                                         "722408bccac5507a4669bec580d32af82dc73c9483861ca7715f30fc8df6e986"]),
            "spec §4.4 string to sign")
    spec_lines = ri.SPEC_CANONICAL.split("\n")
    at = spec_lines.index("x-amz-security-token:TOKEN123")
    want = spec_lines[:at] + ["x-amz-region-set:us-east-1,us-west-2"] + spec_lines[at:]
    want[-2] = "accept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-region-set;x-amz-security-token"
    c.equal(v.canonical_request, "\n".join(want), "spec §4.4 canonical request = §3's plus the region-set line")

    step("Python-signed SigV4A requests, tampered")
    creds = ri.random_creds(token=True)
    other = ri.random_creds(token=True)
    region_set = "us-east-1,us-west-2"
    exp = vf.Expectation(creds.access_key, creds.secret_key, creds.token, V4A_REGION, ri.SERVICE, accept="v4a",
                         region_set=region_set)
    now = dt.datetime.now(dt.timezone.utc)
    url = "http://127.0.0.1:8123/mcp"
    base = {"accept": "application/json, text/event-stream", "content-type": "application/json",
            "mcp-session-id": "0123456789abcdef", "mcp-protocol-version": ri.PROTOCOL_VERSION}
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"text": ri.UNICODE_SAMPLE}}},
                      ensure_ascii=False).encode()

    def run(headers, body=body, method="POST", path="/mcp", query="", e=exp, at=now):
        return vf.verify(e, method, path, query, headers, body, at)

    def replace(headers, name, value):
        return [(k, value if k.lower() == name else v) for (k, v) in headers]

    def sign(cr=creds, when=now, **kw):
        return v4a_sign(cr, "POST", url, base, body, when, kw.pop("rs", region_set), **kw)

    good = sign()
    v = run(good)
    c.expect(v.ok, "Python-signed SigV4A request accepted", f"{v.error_type}: {v.message[:300]}")
    c.equal((v.algorithm, v.region_set, v.unsigned_headers), (vf.ALGORITHM_V4A, region_set, []),
            "verdict: algorithm, region set, nothing unsigned")
    auth = dict((k.lower(), val) for k, val in good)["authorization"]
    sig = auth.rsplit("=", 1)[1]
    flipped = auth[: -len(sig)] + sig[:-2] + ("00" if sig[-2:] != "00" else "01")
    upper = auth[: -len(sig)] + sig.upper()
    v4_good = ri.botocore_sign(creds, "POST", url, base, body, now, region=V4A_REGION)
    v4_wrong = ri.botocore_sign(Creds(creds.access_key, other.secret_key, creds.token), "POST", url, base, body, now,
                                region=V4A_REGION)
    cases_ = [
        ("body tampered", run(good, body=body.replace(b"echo", b"ech0")), "InvalidSignatureException"),
        ("method changed", run(good, method="PUT"), "InvalidSignatureException"),
        ("path tampered", run(good, path="/mcp2"), "InvalidSignatureException"),
        ("query added", run(good, query="x=1"), "InvalidSignatureException"),
        ("signed header value changed", run(replace(good, "mcp-session-id", "fedcba9876543210")),
         "InvalidSignatureException"),
        ("signature's last byte changed", run(replace(good, "authorization", flipped)), "InvalidSignatureException"),
        ("signature in upper-case hex", run(replace(good, "authorization", upper)), "InvalidSignatureException"),
        ("wrong secret", run(sign(cr=Creds(creds.access_key, other.secret_key, creds.token))),
         "InvalidSignatureException"),
        ("unknown access key", run(sign(cr=Creds(other.access_key, creds.secret_key, creds.token))),
         "UnrecognizedClientException"),
        ("region set differs from the expected", run(sign(rs="us-east-1")), "InvalidSignatureException"),
        ("region set '*' where a list is expected", run(sign(rs="*")), "InvalidSignatureException"),
        ("region-set header changed after signing", run(replace(good, "x-amz-region-set", "*"),
                                                        e=dataclasses.replace(exp, region_set="*")),
         "InvalidSignatureException"),
        ("region set sent but not signed", run(sign(sign_region_set=False)), "InvalidSignatureException"),
        ("region-set header dropped", run([(k, val) for k, val in good if k.lower() != "x-amz-region-set"]),
         "InvalidSignatureException"),
        ("SigV4 scope with a region", run(sign(scope=f"{now:%Y%m%d}/{V4A_REGION}/{ri.SERVICE}/aws4_request")),
         "IncompleteSignatureException"),
        ("wrong service", run(sign(service="execute-api")), "InvalidSignatureException"),
        ("token missing", run(sign(cr=Creds(creds.access_key, creds.secret_key, None))), "UnrecognizedClientException"),
        ("token differs", run(sign(cr=Creds(creds.access_key, creds.secret_key, other.token))),
         "UnrecognizedClientException"),
        ("10 minutes old", run(sign(when=now - dt.timedelta(minutes=10))), "InvalidSignatureException"),
        ("10 minutes ahead", run(sign(when=now + dt.timedelta(minutes=10))), "InvalidSignatureException"),
        ("SigV4A to a SigV4-only verifier", run(good, e=dataclasses.replace(exp, accept="v4")),
         "IncompleteSignatureException"),
    ]
    for what, verdict, expected in cases_:
        c.expect(verdict.error_type == expected, f"SigV4A {what} -> {expected}",
                 f"found {verdict.error_type}: {verdict.message[:200]}")
    v = run(v4_good)
    c.expect(v.error_type == "InvalidSignatureException" and v.v4_signature_valid is True
             and v.message.startswith(vf.V4_NOT_ACCEPTED),
             "valid SigV4 to the SigV4A-only verifier -> InvalidSignatureException (signature noted valid)",
             f"{v.error_type}, valid={v.v4_signature_valid}: {v.message[:200]}")
    v = run(v4_wrong)
    c.expect(v.error_type == "InvalidSignatureException" and v.v4_signature_valid is False,
             "wrong-secret SigV4 to the SigV4A-only verifier -> InvalidSignatureException (signature noted invalid)",
             f"{v.error_type}, valid={v.v4_signature_valid}")
    both = dataclasses.replace(exp, accept="any")
    c.expect(run(good, e=both).ok and run(v4_good, e=both).ok, "accept='any' takes SigV4A and SigV4")

    step("the SigV4A-only middleware over real HTTP")
    up = V4aUpstream(ctx.workdir, creds, "json", ctx.verbose, V4A_REGION, "*")
    up.start()
    try:
        init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"protocolVersion": ri.PROTOCOL_VERSION, "capabilities": {},
                                      "clientInfo": {"name": "selftest", "version": "1"}}}).encode()
        hdrs = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        stamp = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
        status, rh, rb = await anyio.to_thread.run_sync(
            ri.http_call, "POST", up.url, ri.botocore_sign(creds, "POST", up.url, hdrs, init, stamp(),
                                                           region=V4A_REGION), init)
        rh = {k.lower(): val for k, val in rh.items()}
        c.equal(status, 403, "SigV4 over HTTP: 403")
        c.equal(rh.get("x-amzn-errortype"), "InvalidSignatureException", "SigV4 over HTTP: x-amzn-ErrorType")
        answer = json.loads(rb)
        c.equal((sorted(answer), answer.get("__type")), (["__type", "message"], "InvalidSignatureException"),
                "SigV4 over HTTP: body {__type: InvalidSignatureException, message}")
        status, rh, rb = await anyio.to_thread.run_sync(
            ri.http_call, "POST", up.url, v4a_sign(creds, "POST", up.url, hdrs, init, stamp(), "*"), init)
        c.equal(status, 200, "SigV4A over HTTP: 200")
        c.equal(json.loads(rb).get("result", {}).get("protocolVersion"), ri.PROTOCOL_VERSION,
                "SigV4A over HTTP: initialize result")
        status, rh, rb = await anyio.to_thread.run_sync(
            ri.http_call, "POST", up.url, v4a_sign(creds, "POST", up.url, hdrs, init, stamp(), "us-west-2"), init)
        c.equal((status, json.loads(rb).get("__type")), (403, "InvalidSignatureException"),
                "SigV4A with another region set over HTTP: 403 InvalidSignatureException")
        stats = up.stats()
        c.equal(stats["sig"], {"v4_accepted": 0, "v4_refused": 1, "v4a_accepted": 1, "v4a_refused": 1,
                               "other_refused": 0}, "stats: SigV4 refused 1, SigV4A accepted 1 and refused 1")
        c.equal([(r["algorithm"], r["region_set"], r["status"]) for r in stats["requests"]],
                [(vf.ALGORITHM, None, 403), (vf.ALGORITHM_V4A, "*", 200), (vf.ALGORITHM_V4A, "us-west-2", 403)],
                "stats: each request's algorithm, region set and status")
    finally:
        up.stop()


SCENARIOS = [
    Scenario("selftest-sigv4a", "Python SigV4A verifier vs AWS's suite: key derivation = all 38 public-key.json, "
             "152 published signatures verified, signed requests through verify(), tamperings, HTTP",
             sc_selftest, needs_binary=False),
    Scenario("sigv4a-auto", "SigV4A-only upstream, --sig-version auto: one SigV4 initialize refused, then every "
             "request SigV4A (verified), switch logged once at info; full battery", sc_auto),
    Scenario("sigv4a-v4a", "SigV4A-only upstream, --sig-version v4a: no SigV4 at all, every request SigV4A with "
             "region set = --region; full battery (JSON answers)", sc_v4a),
    Scenario("sigv4a-region-set-star", "--sig-version v4a --region-set '*': X-Amz-Region-Set: * signed and "
             "verified (no token)", sc_region_set_star),
    Scenario("sigv4a-region-set-profile", "AWS_SIG_VERSION=v4a and the profile's sigv4a_signing_region_set "
             "'us-east-1 , us-west-2' -> X-Amz-Region-Set: us-east-1,us-west-2", sc_region_set_profile),
    Scenario("sigv4a-wrong-secret", "wrong secret under v4a and under auto: SigV4A refused 403, the client gets a "
             "JSON-RPC error naming 403 (no hang)", sc_wrong_secret),
]
