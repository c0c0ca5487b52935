"""Interop scenarios: credentials that change during a whole MCP session.

The official MCP Python SDK client drives mcp-sigv4 for tens of seconds with a
call every second or so, while its credentials rotate underneath it; the
upstream (credentials/keyring_upstream.py) checks every request's signature
with botocore against the key pairs that were really handed out, and refuses
keys that were never issued, are retired or past their expiry.

  cred-process-61s         credential_process keys that expire 61 s after issue:
                           inside the proxy's 5-minute window from the start, so
                           (nearly) every request renews them
  cred-process-background  keys that expire 306 s after issue: fresh for ~6 s,
                           then renewed in the background while requests go on
  cred-file-rewrite        static keys in the shared credentials file, rewritten
                           mid-session with a new pair (the old one retired 2 s
                           later)
  cred-expired-token       the verifier answers one request 403 ExpiredTokenException:
                           the proxy must resolve again, resend once, and the
                           client see only the result
  cred-sts-chain           role_arn -> role_arn -> static keys against an STS stub
                           (AWS_ENDPOINT_URL_STS) that verifies every AssumeRole
                           signature with botocore (service sts); short-lived
                           role credentials renewed in the background

Each scenario: no request refused, no call lost (every call's own answer came
back), several keys used where rotation is expected, a signed DELETE at the
end, exit 0 without SIGTERM, and no secret in the proxy's debug log.

Hooked into run_interop.py after its SCENARIOS list; the helpers (Scenario,
Ctx, Upstream, ProxySession, Checks, ...) are run_interop's own.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import textwrap
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Awaitable, Callable

# run_interop is usually the __main__ module that imports us: use that module
# object (importing it by name would run it a second time, and circularly).
_main = sys.modules.get("__main__")
if _main is not None and Path(getattr(_main, "__file__", "") or "").name == "run_interop.py":
    ri = _main
else:
    import run_interop as ri  # noqa: E402

import anyio  # noqa: E402

HERE = Path(__file__).resolve().parent
CRED_DIR = HERE / "credentials"
SCENARIO_BOUND_S = 85  # each scenario's session stays under 90 s
FINAL_ROLE = "arn:aws:iam::123456789012:role/interop-outer"
INNER_ROLE = "arn:aws:iam::123456789012:role/interop-inner"

Checks = ri.Checks
Ctx = ri.Ctx
Scenario = ri.Scenario
log = ri.log
step = ri.step
short = ri.short


# --------------------------------------------------------------------------
# the upstream with a key ring


class KeyringUpstream(ri.Upstream):
    """keyring_upstream.py: the interop MCP server behind a verifier that
    accepts whatever keys the key ring holds, and an STS stub on a second port."""

    def __init__(self, workdir: Path, mode: str, verbose: bool, sts_lifetime_s: int = 3600,
                 bind_sessions: bool = False):
        self.workdir = workdir
        self.stats_path = workdir / "verifier-stats.json"
        self.sts_stats_path = workdir / "sts-stats.json"
        self.stderr_path = workdir / "upstream.stderr"
        self.keyring = workdir / "keyring.jsonl"
        self.keyring.touch()
        cfg = {
            "region": ri.REGION,
            "service": ri.SERVICE,
            "mode": mode,
            "stats_file": str(self.stats_path),
            "sts_stats_file": str(self.sts_stats_path),
            "keyring_file": str(self.keyring),
            "sts_lifetime_s": sts_lifetime_s,
            "sts_final_role": FINAL_ROLE,
            "verbose": verbose,
            "max_lifetime_s": 300,
            "bind_sessions": bind_sessions,
        }
        self.cfg_path = workdir / "keyring-upstream.json"
        self.cfg_path.write_text(json.dumps(cfg))
        self.proc = None
        self.port = None
        self.sts_port = None

    def start(self, timeout: float = 30.0) -> None:
        import subprocess
        import threading

        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(CRED_DIR / "keyring_upstream.py"), str(self.cfg_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("READY "):
            self.stop()
            raise ri.ScenarioFailed(
                f"keyring upstream did not report READY within {timeout:.0f} s; its stderr:\n{self.stderr_tail()}"
            )
        _, port, sts_port = line[0].split()
        self.port, self.sts_port = int(port), int(sts_port)

    @property
    def sts_url(self) -> str:
        return f"http://127.0.0.1:{self.sts_port}"

    def sts_stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.sts_stats_path.read_text())
        except (OSError, ValueError):
            return {"accepted": 0, "rejected": 0, "calls": []}

    # -- the key ring, as the driver writes it
    def _append(self, record: dict) -> None:
        data = (json.dumps(record) + "\n").encode()
        fd = os.open(self.keyring, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def add_key(self, creds: ri.Creds, scope: list[str], issued_by: str, expires: float | None = None) -> None:
        self._append({"add": {"access_key": creds.access_key, "secret_key": creds.secret_key, "token": creds.token,
                              "expires": expires, "scope": scope, "issued_by": issued_by}})

    def retire(self, akid: str, at: float) -> None:
        self._append({"retire": akid, "at": at})

    def expire(self, akid: str) -> None:
        self._append({"expire": akid})

    def issued(self) -> list[dict]:
        keys = []
        for line in self.keyring.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "add" in event:
                keys.append(event["add"])
        return keys


def process_profile(ctx: Ctx, up: KeyringUpstream, lifetime_s: int, profile: str = "rotating") -> Path:
    """A config file whose `profile` runs rotating_process.py; returns its path."""
    state = ctx.workdir / "process-state"
    state.mkdir(exist_ok=True)
    command = " ".join(shlex.quote(str(p)) for p in
                       (sys.executable, CRED_DIR / "rotating_process.py", state, lifetime_s, up.keyring))
    config = ctx.workdir / "config"
    config.write_text(f"[profile {profile}]\ncredential_process = {command}\n")
    return config


def process_runs(ctx: Ctx) -> list[tuple[int, str, float]]:
    try:
        lines = (ctx.workdir / "process-state" / "runs").read_text().splitlines()
    except OSError:
        return []
    return [(int(n), akid, float(t)) for n, akid, t in (line.split() for line in lines)]


# --------------------------------------------------------------------------
# one long session with a call every `interval_s`


Tick = Callable[[int, float], Awaitable[None]]


async def rotating_session(ctx: Ctx, up: KeyringUpstream, env: dict[str, str], extra_args: list[str],
                           duration_s: float, interval_s: float, on_tick: Tick | None = None,
                           burst_every: int = 5) -> dict[str, Any]:
    """Initialize, then call `add(i, 1000)` every `interval_s` for `duration_s`
    (every `burst_every`-th tick three calls at once), checking each answer is
    its own; `on_tick(i, elapsed)` runs before tick i. Closes the session and
    returns what happened."""
    c = ctx.checks
    proxy = ri.ProxySession(ctx, up.url, env, extra_args)
    log(f"  upstream {up.url}, sts {up.sts_url}; proxy: {proxy.command_line}")
    made = 0
    answered = 0
    wrong: list[str] = []
    slowest = 0.0
    started = time.monotonic()
    try:
        with anyio.fail_after(SCENARIO_BOUND_S):
            async with AsyncExitStack() as stack:
                session = await proxy.open(stack)
                step("initialize")
                init = await session.initialize()
                c.equal(init.protocolVersion, ri.PROTOCOL_VERSION, "initialize: negotiated protocol version")
                step(f"a call every {interval_s} s for {duration_s:.0f} s")
                tick = 0
                t0 = time.monotonic()
                while time.monotonic() - t0 < duration_s:
                    if on_tick is not None:
                        await on_tick(tick, time.monotonic() - t0)
                    n = 3 if burst_every and tick % burst_every == burst_every - 1 else 1
                    args = [{"a": tick * 10 + k, "b": 1000} for k in range(n)]
                    made += n
                    before = time.monotonic()
                    results = []

                    async def one(a: dict) -> None:
                        results.append((a, await session.call_tool("add", a)))

                    async with anyio.create_task_group() as tg:
                        for a in args:
                            tg.start_soon(one, a)
                    slowest = max(slowest, time.monotonic() - before)
                    for a, res in results:
                        text = ri.text_of(res)
                        if not res.isError and text == str(a["a"] + a["b"]):
                            answered += 1
                        else:
                            wrong.append(f"add({a['a']}, 1000) -> {short(text)}")
                    tick += 1
                    await anyio.sleep(max(0.0, t0 + tick * interval_s - time.monotonic()))
    except Exception as e:
        ri.describe_failure(c, e, SCENARIO_BOUND_S)
    c.expect(not wrong, "every call got its own correct answer", short(wrong[:5]))
    c.equal(answered, made, "no call lost: answers received for every call made")
    c.expect(not proxy.bad_lines, "stdout carried only valid JSON-RPC lines", short(proxy.bad_lines))
    c.note(f"{made} calls in {time.monotonic() - started:.1f} s, slowest tick {slowest:.2f} s")
    stats = await ri.wait_for_delete(up)
    ri.check_exit(c, proxy)
    return {"proxy": proxy, "stats": stats, "made": made}


def check_all_accepted(c: Checks, stats: dict[str, Any], allowed_rejections: int = 0) -> list[dict]:
    requests = stats["requests"]
    rejected = [r for r in requests if not r["accepted"]]
    c.expect(len(rejected) <= allowed_rejections,
             "verifier: rejected no request" if not allowed_rejections
             else f"verifier: rejected at most {allowed_rejections} request(s)",
             short([(r["method"], r["akid"], r["error_type"]) for r in rejected[:5]]))
    for r in stats["rejections"][:3]:
        log(f"    rejected {r['method']}: {r['error_type']}: {r['message'][:300]}")
    deletes = [r for r in requests if r["method"] == "DELETE" and r["accepted"]]
    c.expect(bool(deletes), "verifier: a signed DELETE at the end was accepted")
    sids = stats["issued_session_ids"]
    c.equal(len(sids), 1, "one MCP session for the whole run")
    later = [r for r in requests if r["accepted"] and r["jsonrpc_method"] != "initialize"]
    c.expect(all(r["session_id"] == (sids[0] if sids else None) for r in later),
             "every later request carries the session id")
    return requests


def key_changes(requests: list[dict]) -> list[str]:
    """The sequence of access keys of accepted requests, repeats collapsed."""
    seq: list[str] = []
    for r in sorted((r for r in requests if r["accepted"]), key=lambda r: r["t"]):
        if not seq or seq[-1] != r["akid"]:
            seq.append(r["akid"])
    return seq


def went_back(requests: list[dict], order: dict[str, int], slack_s: float = 1.0) -> list[tuple]:
    """Requests signed with a key issued before the key of a request that
    arrived more than `slack_s` earlier (concurrent requests may arrive a few
    milliseconds out of signing order; a real step back is seconds)."""
    out = []
    accepted = sorted((r for r in requests if r["accepted"]), key=lambda r: r["t"])
    for i, r in enumerate(accepted):
        newest_before = max((order.get(q["akid"], -1) for q in accepted[:i] if q["t"] < r["t"] - slack_s), default=-1)
        if order.get(r["akid"], -1) < newest_before:
            out.append((r["method"], r["akid"], order.get(r["akid"]), newest_before))
    return out


def check_no_secrets(c: Checks, proxy: ri.ProxySession, up: KeyringUpstream, stats: dict[str, Any]) -> None:
    secrets_: dict[str, str | None] = {}
    for i, key in enumerate(up.issued()):
        secrets_[f"secret of key {i} ({key['issued_by']})"] = key["secret_key"]
        secrets_[f"token of key {i} ({key['issued_by']})"] = key.get("token")
    sids = stats["issued_session_ids"]
    secrets_["mcp-session-id"] = sids[0] if sids else None
    ri.check_no_secrets_logged(c, proxy, secrets_)


def show_logs_on_failure(c: Checks, proxy: ri.ProxySession | None, up: KeyringUpstream) -> None:
    if c.failed:
        if proxy is not None:
            log("  --- proxy stderr (tail) ---\n" + textwrap.indent(proxy.stderr_tail(), "  | "))
        log("  --- upstream stderr (tail) ---\n" + textwrap.indent(up.stderr_tail(), "  | "))


# --------------------------------------------------------------------------
# the scenarios


def sc_process_rotation(lifetime_s: int, duration_s: float, min_keys: int):
    async def run(ctx: Ctx) -> None:
        c = ctx.checks
        up = KeyringUpstream(ctx.workdir, "sse", ctx.verbose)
        up.start()
        proxy = None
        try:
            env = ri.base_child_env(ctx.workdir)
            env["AWS_CONFIG_FILE"] = str(process_profile(ctx, up, lifetime_s))
            out = await rotating_session(ctx, up, env, ["--profile", "rotating"], duration_s, 1.0)
            proxy, stats = out["proxy"], out["stats"]
            requests = check_all_accepted(c, stats)
            issued = {k["access_key"] for k in up.issued()}
            used = key_changes(requests)
            c.expect(len(set(used)) >= min_keys, f"at least {min_keys} distinct access keys signed requests",
                     f"found {len(set(used))}: {used}")
            c.expect(set(used) <= issued, "every accepted key was one the process handed out")
            order = {k["access_key"]: i for i, k in enumerate(up.issued())}
            back = went_back(requests, order)
            c.expect(not back, "no request used an older key than one used 1 s before it", short(back[:3]))
            runs = process_runs(ctx)
            c.note(f"credential_process ran {len(runs)} times; {len(set(used))} keys signed requests "
                   f"over {len(requests)} requests")
            # Keys expire `lifetime_s` after issue and the proxy renews inside
            # the last 5 minutes, so no accepted request may be within 60 s
            # (the mandatory window) of its key's expiry.
            expiry = {k["access_key"]: k["expires"] for k in up.issued()}
            late = [(r["akid"], round(expiry[r["akid"]] - r["t"], 1)) for r in requests
                    if r["accepted"] and expiry.get(r["akid"]) and expiry[r["akid"]] - r["t"] < 59]
            c.expect(not late, "no request signed with a key inside its last minute", short(late[:5]))
            check_no_secrets(c, proxy, up, stats)
        finally:
            up.stop()
            show_logs_on_failure(c, proxy, up)

    return run


async def sc_file_rewrite(ctx: Ctx) -> None:
    c = ctx.checks
    up = KeyringUpstream(ctx.workdir, "json", ctx.verbose)
    up.start()
    proxy = None
    old, new = ri.random_creds(token=True), ri.random_creds(token=True)
    cred_file = ctx.workdir / "credentials"

    def write_profile(creds: ri.Creds) -> None:
        tmp = ctx.workdir / "credentials.tmp"
        tmp.write_text(f"[default]\nregion = us-east-1\n\n[rotating]\naws_access_key_id = {creds.access_key}\n"
                       f"aws_secret_access_key = {creds.secret_key}\naws_session_token = {creds.token}\n")
        os.replace(tmp, cred_file)  # as a rotation tool would: never a half-written file

    write_profile(old)
    up.add_key(old, ["mcp"], "first credentials file")
    rewrite_at: list[float] = []

    async def on_tick(i: int, elapsed: float) -> None:
        if not rewrite_at and elapsed >= 7.0:
            step("rewrite the credentials file with a new key pair; retire the old pair 2 s later")
            up.add_key(new, ["mcp"], "rewritten credentials file")
            write_profile(new)
            now = time.time()
            rewrite_at.append(now)
            up.retire(old.access_key, now + 2.0)

    try:
        env = ri.base_child_env(ctx.workdir)
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(cred_file), AWS_PROFILE="rotating")
        out = await rotating_session(ctx, up, env, [], 16.0, 0.5, on_tick, burst_every=0)
        proxy, stats = out["proxy"], out["stats"]
        requests = check_all_accepted(c, stats)
        c.require(bool(rewrite_at), "the file was rewritten during the session")
        t = rewrite_at[0]
        before = [r for r in requests if r["t"] < t]
        after = [r for r in requests if r["t"] >= t + 0.5]
        c.expect(bool(before) and all(r["akid"] == old.access_key for r in before),
                 "before the rewrite every request used the old key",
                 short({r["akid"] for r in before}))
        c.expect(len(after) >= 5 and all(r["akid"] == new.access_key for r in after),
                 "from 0.5 s after the rewrite every request used the new key",
                 short([(r["akid"], round(r["t"] - t, 2)) for r in after if r["akid"] != new.access_key][:5]))
        c.equal(key_changes(requests), [old.access_key, new.access_key], "one switch, old key to new key")
        check_no_secrets(c, proxy, up, stats)
    finally:
        up.stop()
        show_logs_on_failure(c, proxy, up)


async def sc_expired_token(ctx: Ctx) -> None:
    c = ctx.checks
    up = KeyringUpstream(ctx.workdir, "sse", ctx.verbose)
    up.start()
    proxy = None
    expired_key: list[str] = []

    async def on_tick(i: int, elapsed: float) -> None:
        if i == 4:
            runs = process_runs(ctx)
            c.require(len(runs) == 1, "one credential_process run before the expiry", short(runs))
            step(f"the verifier now answers ExpiredTokenException to key {runs[-1][1]}")
            expired_key.append(runs[-1][1])
            up.expire(runs[-1][1])

    try:
        env = ri.base_child_env(ctx.workdir)
        # Lifetime 0: no Expiration, so only the service's answer can make the
        # proxy let go of the key.
        env.update(AWS_CONFIG_FILE=str(process_profile(ctx, up, 0)), AWS_PROFILE="rotating")
        out = await rotating_session(ctx, up, env, [], 9.0, 1.0, on_tick, burst_every=0)
        proxy, stats = out["proxy"], out["stats"]
        requests = stats["requests"]
        refused = [i for i, r in enumerate(requests) if r["error_type"] == "ExpiredTokenException"]
        c.equal(len(refused), 1, "exactly one request was answered ExpiredTokenException")
        others = [r for r in requests if not r["accepted"] and r["error_type"] != "ExpiredTokenException"]
        c.expect(not others, "no other request was refused", short([(r["akid"], r["error_type"]) for r in others]))
        runs = process_runs(ctx)
        c.equal(len(runs), 2, "credential_process ran again exactly once, after the ExpiredTokenException")
        if refused and len(runs) == 2:
            bad = requests[refused[0]]
            c.expect(bad["signature_ok"] and bad["akid"] == expired_key[0],
                     "the refused request was validly signed with the expired key")
            resent = [r for r in requests[refused[0] + 1:] if r["body_sha256"] == bad["body_sha256"]]
            c.equal(len(resent), 1, "the refused request was sent again exactly once")
            if resent:
                c.expect(resent[0]["accepted"] and resent[0]["akid"] == runs[1][1],
                         "the resent request was signed with the new key and accepted",
                         short((resent[0]["akid"], resent[0]["error_type"])))
            later = [r for r in requests[refused[0] + 1:]]
            c.expect(all(r["akid"] == runs[1][1] for r in later), "every later request used the new key",
                     short({r["akid"] for r in later}))
        c.equal(key_changes(requests), [r[1] for r in runs], "keys used: the first, then the second")
        check_no_secrets(c, proxy, up, stats)
    finally:
        up.stop()
        show_logs_on_failure(c, proxy, up)


async def sc_sts_chain(ctx: Ctx) -> None:
    c = ctx.checks
    # Role credentials last 306 s: fresh for ~6 s, then inside the 5-minute
    # window, so the chain (two AssumeRole calls) runs again every ~6 s.
    up = KeyringUpstream(ctx.workdir, "sse", ctx.verbose, sts_lifetime_s=306)
    up.start()
    proxy = None
    base = ri.random_creds(token=False)
    up.add_key(base, ["sts"], "base static keys")
    cred_file = ctx.workdir / "credentials"
    cred_file.write_text(f"[base]\naws_access_key_id = {base.access_key}\naws_secret_access_key = {base.secret_key}\n")
    config = ctx.workdir / "config"
    config.write_text(
        f"[profile outer]\nrole_arn = {FINAL_ROLE}\nsource_profile = middle\nrole_session_name = interop-outer\n\n"
        f"[profile middle]\nrole_arn = {INNER_ROLE}\nsource_profile = base\n"
    )
    try:
        env = ri.base_child_env(ctx.workdir)
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(cred_file), AWS_CONFIG_FILE=str(config), AWS_PROFILE="outer",
                   AWS_ENDPOINT_URL_STS=up.sts_url)
        out = await rotating_session(ctx, up, env, [], 20.0, 1.0)
        proxy, stats = out["proxy"], out["stats"]
        requests = check_all_accepted(c, stats)
        sts = up.sts_stats()
        calls = sts["calls"]
        c.equal(sts["rejected"], 0, "STS stub: botocore accepted every AssumeRole signature (service sts)")
        for call in [x for x in calls if not x["accepted"]][:3]:
            log(f"    STS rejected: {call['error_type']}: {call['message'][:300]}")
        c.expect(len(calls) >= 4, "STS stub: the chain ran at least twice (two AssumeRole calls each)",
                 f"{len(calls)} calls")
        c.expect(all(x["action"] == "AssumeRole" and x["version"] == "2011-06-15" for x in calls),
                 "STS stub: every call was Action=AssumeRole&Version=2011-06-15")
        # Pairs: inner (signed with the base keys), then outer (signed with the
        # inner answer's keys and token), the outer with its role_session_name.
        # The proxy may exit while a background renewal is between its two
        # calls: a last unpaired inner call is fine.
        paired = calls[: len(calls) - len(calls) % 2]
        bad_pairs = []
        if len(calls) % 2 and not (calls[-1]["role_arn"] == INNER_ROLE and calls[-1]["signed_by"] == base.access_key):
            bad_pairs.append(("last", calls[-1]["role_arn"], calls[-1]["signed_by"]))
        for i in range(0, len(paired), 2):
            inner, outer = calls[i], calls[i + 1]
            if not (inner["role_arn"] == INNER_ROLE and inner["signed_by"] == base.access_key
                    and not inner["token_present"] and outer["role_arn"] == FINAL_ROLE
                    and outer["signed_by"] == inner["issued"] and outer["token_present"]
                    and outer["session_name"] == "interop-outer"):
                bad_pairs.append((i, inner["role_arn"], inner["signed_by"], outer["role_arn"], outer["signed_by"]))
        c.expect(not bad_pairs,
                 "STS stub: each resolution is inner role (base keys) then outer role (inner role's keys)",
                 short(bad_pairs[:3]))
        finals = {x["issued"] for x in calls if x["role_arn"] == FINAL_ROLE}
        used = key_changes(requests)
        c.expect(set(used) <= finals, "every MCP request was signed with outer-role credentials from STS",
                 short(set(used) - finals))
        c.expect(len(set(used)) >= 2, "the role credentials were renewed during the session",
                 f"{len(set(used))} keys: {used}")
        c.note(f"{len(calls)} STS calls, {len(set(used))} role credentials used over {len(requests)} requests")
        check_no_secrets(c, proxy, up, stats)
    finally:
        up.stop()
        show_logs_on_failure(c, proxy, up)


SCENARIOS = [
    Scenario("cred-process-61s", "credential_process keys expiring 61 s after issue, renewed all session; "
             "every request accepted, none lost", sc_process_rotation(61, 25.0, 5)),
    Scenario("cred-process-background", "credential_process keys expiring 306 s after issue: background "
             "renewal every ~6 s while requests go on", sc_process_rotation(306, 25.0, 3)),
    Scenario("cred-file-rewrite", "shared credentials file rewritten mid-session with new keys (old retired "
             "2 s later): all later requests use the new key", sc_file_rewrite),
    Scenario("cred-expired-token", "403 ExpiredTokenException: the proxy resolves again and resends once; "
             "the client sees only the result", sc_expired_token),
    Scenario("cred-sts-chain", "role_arn chain of depth 2 against an STS stub that checks every AssumeRole "
             "signature with botocore; renewed in the background", sc_sts_chain),
]
