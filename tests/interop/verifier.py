"""Independent SigV4 and SigV4A verifier for the interop suite.

What it owns: deciding whether one HTTP request carries a valid AWS SigV4
(`AWS4-HMAC-SHA256`) or SigV4A (`AWS4-ECDSA-P256-SHA256`) header signature for
one expected set of credentials, region (or region set) and service, the way an
AWS front end would; an ASGI middleware that puts that decision in front of an
MCP server; and a recorder of what it saw.

What it refuses: computing any part of the signature with mcp-sigv4's Rust
code. The canonical request is always botocore's
(`botocore.awsrequest.AWSRequest` + `botocore.auth.SigV4Auth`); for SigV4 the
string to sign and the HMAC signature are botocore's too. botocore has no
SigV4A of its own (its `CrtSigV4AsymAuth` is awscrt's signer, not used here),
so for SigV4A the string to sign is assembled from botocore's canonical request
as AWS specifies it, the ECDSA P-256 public key is derived from the secret key
below (NIST SP 800-108 counter-mode HMAC-SHA256 KDF; checked at import against
the spec's vector and, by the `selftest-sigv4a` scenario, against every
`public-key.json` of AWS's SigV4A suite), and the DER signature is checked with
`cryptography`. The surrounding checks (scope, clock, token, region set, which
headers are signed) are plain comparisons written out below.

`Expectation.accept` chooses what is accepted: `"v4"` (the default: SigV4
only), `"v4a"` (SigV4A only: a SigV4 request is answered 403
`InvalidSignatureException`, as a multi-region endpoint would, though its
signature is still checked and the result recorded) or `"any"`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "AWS4-HMAC-SHA256"  # SigV4
ALGORITHM_V4A = "AWS4-ECDSA-P256-SHA256"  # SigV4A
ALGORITHMS = (ALGORITHM, ALGORITHM_V4A)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = _dt.timedelta(minutes=5)
RESPONSE_KEEP_LIMIT = 64 * 1024  # the largest application/json answer kept in the stats

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
V4_NOT_ACCEPTED = (
    "This endpoint accepts only Signature Version 4A (AWS4-ECDSA-P256-SHA256) with an X-Amz-Region-Set; "
    "the request is signed with AWS4-HMAC-SHA256."
)


# --------------------------------------------------------------------------
# SigV4A key derivation (NIST SP 800-108 counter-mode KDF with HMAC-SHA256, as
# AWS's SigV4A signers derive the P-256 key; crates.io aws-sigv4 src/sign/v4a.rs)

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def v4a_fixed_input(access_key: str, counter: int) -> bytes:
    """NIST SP 800-108 counter-mode fixed input for one 256-bit block:
    i = 1 (32-bit big-endian) || label || 0x00 || context || L = 256 (32-bit
    big-endian), with label `AWS4-ECDSA-P256-SHA256` and context = the access
    key id followed by the one-byte counter."""
    return (
        (1).to_bytes(4, "big")
        + ALGORITHM_V4A.encode()
        + b"\x00"
        + access_key.encode()
        + bytes([counter])
        + (256).to_bytes(4, "big")
    )


def v4a_private_scalar(access_key: str, secret_key: str) -> int:
    """The P-256 private scalar d AWS derives from a key pair: the first
    counter 1..254 whose HMAC-SHA256("AWS4A" + secret, fixed input) read as a
    big-endian integer c is <= n - 2 gives d = c + 1."""
    key = b"AWS4A" + secret_key.encode()
    for counter in range(1, 255):
        c = int.from_bytes(hmac.new(key, v4a_fixed_input(access_key, counter), hashlib.sha256).digest(), "big")
        if c <= P256_ORDER - 2:
            return c + 1
    raise ValueError("expected a SigV4A key within 254 counters, found none")


@functools.lru_cache(maxsize=64)
def v4a_public_key(access_key: str, secret_key: str) -> ec.EllipticCurvePublicKey:
    """d·G for the derived scalar (cached: the upstream sees one key pair)."""
    return ec.derive_private_key(v4a_private_scalar(access_key, secret_key), ec.SECP256R1()).public_key()


def v4a_public_xy(access_key: str, secret_key: str) -> tuple[str, str]:
    """The public point as two 64-digit lower-case hex strings, as in the
    suite's `public-key.json`."""
    numbers = v4a_public_key(access_key, secret_key).public_numbers()
    return f"{numbers.x:064x}", f"{numbers.y:064x}"


def v4a_signature_ok(public_key: ec.EllipticCurvePublicKey, string_to_sign: str, signature_hex: str) -> bool:
    """ECDSA P-256 / SHA-256 over the string-to-sign bytes; `signature_hex` is
    the lower-case hex of a DER `SEQUENCE { INTEGER r, INTEGER s }`. High-S
    signatures are valid (AWS's CRT makes them)."""
    if not signature_hex or len(signature_hex) % 2 or any(ch not in "0123456789abcdef" for ch in signature_hex):
        return False
    try:
        public_key.verify(bytes.fromhex(signature_hex), string_to_sign.encode(), ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def v4a_string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    """`AWS4-ECDSA-P256-SHA256\n<X-Amz-Date>\n<date>/<service>/aws4_request\n<hex sha256>`."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return "\n".join([ALGORITHM_V4A, amz_date, scope, digest])


# The derivation for the AWS signing test suite's AKIDEXAMPLE key (its
# public-key.json holds x and y; vectors/): checked once at import, so a verifier with
# a broken derivation never starts.
SPEC_KDF_VECTOR = {
    "access_key": "AKIDEXAMPLE",
    "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "fixed_input": "00000001415753342d45434453412d503235362d53484132353600414b49444558414d504c450100000100",
    "d": "7efc8c0e65a324242818c5a50c891c6060b6a00717b7ba3cbe3c5d765be9259c",
    "x": "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1",
    "y": "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518",
}


def v4a_self_check() -> None:
    vec = SPEC_KDF_VECTOR
    found = (
        v4a_fixed_input(vec["access_key"], 1).hex(),
        f"{v4a_private_scalar(vec['access_key'], vec['secret_key']):064x}",
        *v4a_public_xy(vec["access_key"], vec["secret_key"]),
    )
    expected = (vec["fixed_input"], vec["d"], vec["x"], vec["y"])
    if found != expected:
        raise AssertionError(f"SigV4A key derivation: expected {expected}, found {found}")


v4a_self_check()


@dataclass(frozen=True)
class Expectation:
    """The one identity, region and service this verifier accepts."""

    access_key: str
    secret_key: str
    token: str | None
    region: str
    service: str
    max_skew: _dt.timedelta = MAX_SKEW
    # "v4": SigV4 only; "v4a": SigV4A only (SigV4 is answered 403
    # InvalidSignatureException); "any": both.
    accept: str = "v4"
    # The X-Amz-Region-Set a SigV4A request must carry (exactly); None: `region`.
    region_set: str | None = None

    @property
    def expected_region_set(self) -> str:
        return self.region if self.region_set is None else self.region_set


@dataclass
class Verdict:
    """The outcome for one request. `error_type` is None when it was accepted."""

    error_type: str | None = None
    message: str = ""
    signed_headers: list[str] = field(default_factory=list)
    unsigned_headers: list[str] = field(default_factory=list)
    token_present: bool = False
    canonical_request: str | None = None
    string_to_sign: str | None = None
    algorithm: str | None = None  # from the Authorization header, when it names one we know
    region_set: str | None = None  # the X-Amz-Region-Set value received (SigV4A)
    # A SigV4 request refused because only SigV4A is accepted: whether its
    # SigV4 signature was otherwise valid, and if not why.
    v4_signature_valid: bool | None = None
    v4_problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None


def _reject(verdict: Verdict, error_type: str, message: str) -> Verdict:
    verdict.error_type = error_type
    verdict.message = message
    return verdict


def _values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for (n, v) in headers if n.lower() == name]


def parse_authorization(value: str, algorithm: str = ALGORITHM) -> dict[str, str]:
    """Split `<algorithm> Credential=..., SignedHeaders=..., Signature=...`.

    Raises ValueError with a lower-case "expected X, found Y" message.
    """
    if not value.startswith(algorithm + " "):
        algo = value.split(" ", 1)[0]
        raise ValueError(f"expected algorithm {algorithm}, found {algo!r}")
    parts: dict[str, str] = {}
    for item in value[len(algorithm) + 1 :].split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value in authorization header, found {item!r}")
        if key in parts:
            raise ValueError(f"expected {key} once in authorization header, found it twice")
        parts[key] = val
    for key in ("Credential", "SignedHeaders", "Signature"):
        if key not in parts:
            raise ValueError(f"expected {key}= in authorization header, found {sorted(parts)}")
    extra = set(parts) - {"Credential", "SignedHeaders", "Signature"}
    if extra:
        raise ValueError(f"expected only Credential, SignedHeaders, Signature, found also {sorted(extra)}")
    return parts


def verify(
    exp: Expectation,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: _dt.datetime,
) -> Verdict:
    """Check one request. `headers` are (name, value) pairs exactly as received,
    `raw_path` the path as sent on the wire (still percent-encoded), `query` the
    raw query string without `?`, `now` an aware UTC datetime."""
    v = Verdict()
    names_present = sorted({n.lower() for (n, _) in headers})
    v.token_present = bool(_values(headers, "x-amz-security-token"))

    auth_values = _values(headers, "authorization")
    if not auth_values:
        v.unsigned_headers = names_present
        return _reject(v, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if len(auth_values) > 1:
        return _reject(v, "IncompleteSignatureException", "expected one authorization header, found several")
    algorithm = auth_values[0].split(" ", 1)[0]
    accepted = {"v4": (ALGORITHM,), "v4a": (ALGORITHM_V4A,), "any": ALGORITHMS}[exp.accept]
    if algorithm in ALGORITHMS:
        v.algorithm = algorithm
    if algorithm == ALGORITHM and exp.accept == "v4a":
        # What a SigV4A-only endpoint answers. The SigV4 signature is still
        # checked, so a test can tell "refused for its algorithm" from "wrong".
        inner = _verify_signed(exp, ALGORITHM, method, raw_path, query, headers, body, now, Verdict(
            token_present=v.token_present, algorithm=ALGORITHM))
        inner.v4_signature_valid = inner.ok
        inner.v4_problem = None if inner.ok else f"{inner.error_type}: {inner.message.splitlines()[0]}"
        detail = "its SigV4 signature is valid" if inner.ok else f"its SigV4 signature is not valid either ({inner.v4_problem})"
        inner.error_type = None
        return _reject(inner, "InvalidSignatureException", f"{V4_NOT_ACCEPTED} ({detail})")
    try:
        parts = parse_authorization(auth_values[0], algorithm if algorithm in accepted else accepted[0])
    except ValueError as e:
        if algorithm not in accepted and len(accepted) > 1:
            e = ValueError(f"expected algorithm {' or '.join(accepted)}, found {algorithm!r}")
        return _reject(v, "IncompleteSignatureException", str(e))
    return _verify_signed(exp, algorithm, method, raw_path, query, headers, body, now, v, parts)


def _verify_signed(
    exp: Expectation,
    algorithm: str,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: _dt.datetime,
    v: Verdict,
    parts: dict[str, str] | None = None,
) -> Verdict:
    """Everything after the algorithm is known: SigV4 (`AWS4-HMAC-SHA256`,
    scope `AKID/date/region/service/aws4_request`) or SigV4A
    (`AWS4-ECDSA-P256-SHA256`, scope `AKID/date/service/aws4_request`, region
    set in the signed `x-amz-region-set` header)."""
    v4a = algorithm == ALGORITHM_V4A
    names_present = sorted({n.lower() for (n, _) in headers})
    if parts is None:
        try:
            parts = parse_authorization(_values(headers, "authorization")[0], algorithm)
        except ValueError as e:
            return _reject(v, "IncompleteSignatureException", str(e))

    scope = parts["Credential"].split("/")
    if v4a:
        if len(scope) != 4 or scope[3] != "aws4_request":
            return _reject(
                v,
                "IncompleteSignatureException",
                f"expected Credential=AKID/date/service/aws4_request (SigV4A: no region), found {parts['Credential']!r}",
            )
        akid, scope_date, service, _ = scope
        region = None
    else:
        if len(scope) != 5 or scope[4] != "aws4_request":
            return _reject(
                v,
                "IncompleteSignatureException",
                f"expected Credential=AKID/date/region/service/aws4_request, found {parts['Credential']!r}",
            )
        akid, scope_date, region, service, _ = scope

    signed = parts["SignedHeaders"].split(";")
    v.signed_headers = signed
    v.unsigned_headers = [n for n in names_present if n not in signed and n != "authorization"]

    if not hmac.compare_digest(akid.encode(), exp.access_key.encode()):
        return _reject(v, "UnrecognizedClientException", INVALID_TOKEN + f" (unknown access key id {akid!r})")

    dates = _values(headers, "x-amz-date")
    if len(dates) != 1:
        return _reject(
            v,
            "IncompleteSignatureException",
            f"expected exactly one x-amz-date header, found {len(dates)}",
        )
    amz_date = dates[0].strip()
    try:
        when = _dt.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return _reject(v, "IncompleteSignatureException", f"expected x-amz-date as YYYYMMDDTHHMMSSZ, found {amz_date!r}")
    if scope_date != amz_date[:8]:
        return _reject(
            v,
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    fmt = lambda t: t.strftime(AMZ_DATE_FORMAT)  # noqa: E731
    if when < now - exp.max_skew:
        return _reject(
            v,
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {fmt(now - exp.max_skew)} "
            f"({fmt(now)} - {int(exp.max_skew.total_seconds() // 60)} min.)",
        )
    if when > now + exp.max_skew:
        return _reject(
            v,
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {fmt(now + exp.max_skew)} "
            f"({fmt(now)} + {int(exp.max_skew.total_seconds() // 60)} min.)",
        )
    if not v4a and region != exp.region:
        return _reject(v, "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{region}'.")
    if service != exp.service:
        return _reject(
            v, "InvalidSignatureException", f"Credential should be scoped to correct service: '{exp.service}', not '{service}'."
        )

    # The list of signed headers: well formed, canonical order, present, and
    # covering what must be signed.
    if signed != sorted(set(signed)) or any(n != n.lower() or not n for n in signed):
        return _reject(
            v,
            "InvalidSignatureException",
            f"expected SignedHeaders lower-case, sorted and unique, found {parts['SignedHeaders']!r}",
        )
    missing = [n for n in signed if n not in names_present]
    if missing:
        return _reject(v, "InvalidSignatureException", f"SignedHeaders names headers not in the request: {missing}")
    if v4a:
        region_sets = _values(headers, "x-amz-region-set")
        if len(region_sets) != 1:
            return _reject(
                v,
                "IncompleteSignatureException",
                f"expected exactly one x-amz-region-set header with SigV4A, found {len(region_sets)}",
            )
        v.region_set = region_sets[0].strip()
        if v.region_set != exp.expected_region_set:
            return _reject(
                v,
                "InvalidSignatureException",
                f"expected X-Amz-Region-Set {exp.expected_region_set!r}, found {v.region_set!r}",
            )
    for must in ("host", "x-amz-date") + (("x-amz-region-set",) if v4a else ()):
        if must not in signed:
            return _reject(v, "InvalidSignatureException", f"'{must}' must be a SignedHeader in the AWS Authorization.")
    unsignable = [n for n in signed if n in SIGNED_HEADERS_BLACKLIST or n == "authorization"]
    if unsignable:
        return _reject(
            v,
            "InvalidSignatureException",
            f"SignedHeaders names {unsignable}, which botocore never signs; this verifier cannot check it",
        )

    tokens = _values(headers, "x-amz-security-token")
    if exp.token is not None:
        if len(tokens) != 1:
            return _reject(
                v,
                "UnrecognizedClientException",
                INVALID_TOKEN + f" (expected one x-amz-security-token header, found {len(tokens)})",
            )
        if not hmac.compare_digest(tokens[0].strip().encode(), exp.token.encode()):
            return _reject(v, "UnrecognizedClientException", INVALID_TOKEN + " (x-amz-security-token differs)")
        if "x-amz-security-token" not in signed:
            return _reject(v, "InvalidSignatureException", "'x-amz-security-token' must be a SignedHeader when sent.")
    elif tokens:
        return _reject(
            v, "UnrecognizedClientException", INVALID_TOKEN + " (x-amz-security-token sent, but these credentials have none)"
        )

    payload_hashes = _values(headers, "x-amz-content-sha256")
    if payload_hashes:
        actual = hashlib.sha256(body).hexdigest()
        if len(payload_hashes) != 1 or payload_hashes[0].strip() != actual:
            return _reject(v, "InvalidSignatureException", "x-amz-content-sha256 does not match the body received")
        if "x-amz-content-sha256" not in signed:
            return _reject(v, "InvalidSignatureException", "'x-amz-content-sha256' must be a SignedHeader when sent.")

    # Rebuild the request with exactly the signed headers and the body bytes as
    # received, and let botocore recompute everything.
    host = _values(headers, "host")[0]
    url = f"http://{host}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        if name.lower() in signed:
            request.headers[name.lower()] = value  # HTTPHeaders appends: repeated names stay repeated
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(exp.access_key, exp.secret_key, exp.token), exp.service, exp.region)
    botocore_signed = signer.signed_headers(signer.headers_to_sign(request))
    if botocore_signed != parts["SignedHeaders"]:
        return _reject(
            v,
            "InvalidSignatureException",
            f"botocore signs {botocore_signed!r} for these headers, the request says {parts['SignedHeaders']!r}",
        )
    canonical = signer.canonical_request(request)
    if v4a:
        # botocore's canonical request (the region set is one of its signed
        # headers); the string to sign and the ECDSA check as AWS specifies.
        string_to_sign = v4a_string_to_sign(amz_date, f"{scope_date}/{service}/aws4_request", canonical)
        valid = v4a_signature_ok(v4a_public_key(exp.access_key, exp.secret_key), string_to_sign, parts["Signature"])
    else:
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        valid = hmac.compare_digest(expected.encode(), parts["Signature"].encode())
    v.canonical_request = canonical
    v.string_to_sign = string_to_sign
    if not valid:
        return _reject(
            v,
            "InvalidSignatureException",
            SIGNATURE_MISMATCH
            + f"\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            + f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )
    return v


class Recorder:
    """What the verifier saw, written as JSON to `path` after every event so the
    test driver (another process) can read it at any time. Writes are atomic
    (temp file + rename)."""

    def __init__(self, path: str | None):
        self.path = path
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {
            "accepted": {},
            "rejected": {},
            "rejections": [],
            "requests": [],
            "token_seen": 0,
            "no_token_seen": 0,
            # by algorithm: SigV4 (`v4`), SigV4A (`v4a`), neither/unknown (`other`)
            "sig": {"v4_accepted": 0, "v4_refused": 0, "v4a_accepted": 0, "v4a_refused": 0, "other_refused": 0},
            "issued_session_ids": [],
            "tools": {"sleep_in_flight": 0, "sleep_max_in_flight": 0, "sleep_calls": 0},
        }
        self.flush()

    def flush(self) -> None:
        if not self.path:
            return
        with self._lock:
            tmp = f"{self.path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.data, f, indent=1)
            os.replace(tmp, self.path)

    def request(self, method: str, entry: dict[str, Any], verdict: Verdict) -> None:
        bucket = "accepted" if verdict.ok else "rejected"
        self.data[bucket][method] = self.data[bucket].get(method, 0) + 1
        self.data["token_seen" if verdict.token_present else "no_token_seen"] += 1
        kind = {ALGORITHM: "v4", ALGORITHM_V4A: "v4a"}.get(verdict.algorithm or "", "other")
        outcome = "accepted" if verdict.ok else "refused"
        if not (kind == "other" and verdict.ok):
            self.data["sig"][f"{kind}_{outcome}"] += 1
        entry.setdefault("algorithm", verdict.algorithm)
        if not verdict.ok:
            self.data["rejections"].append(
                {
                    "method": method,
                    "algorithm": verdict.algorithm,
                    "error_type": verdict.error_type,
                    "message": verdict.message,
                    "signed_headers": verdict.signed_headers,
                    "canonical_request_expected": verdict.canonical_request,
                    "string_to_sign_expected": verdict.string_to_sign,
                }
            )
        self.data["requests"].append(entry)
        self.flush()

    def tool(self, key: str, delta: int) -> None:
        tools = self.data["tools"]
        tools[key] = tools.get(key, 0) + delta
        if key == "sleep_in_flight":
            tools["sleep_max_in_flight"] = max(tools["sleep_max_in_flight"], tools["sleep_in_flight"])
        self.flush()


def _body_facts(message: dict[str, Any]) -> dict[str, Any]:
    """The few body fields the pairing checks compare with the stdio transcript:
    the JSON-RPC id, the request id a cancellation names, and the 2026-07-28
    multi-round-trip retry fields (`requestState` verbatim, `inputResponses` keys)."""
    facts: dict[str, Any] = {"jsonrpc_id": message.get("id")}
    params = message.get("params")
    if not isinstance(params, dict):
        return facts
    if message.get("method") == "notifications/cancelled":
        facts["cancel_request_id"] = params.get("requestId")
    if "requestState" in params:
        facts["request_state"] = params["requestState"]
    if isinstance(params.get("inputResponses"), dict):
        facts["input_response_keys"] = sorted(params["inputResponses"])
    return facts


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"__type": error_type, "message": message}).encode()


class SigV4VerifierMiddleware:
    """ASGI middleware: every HTTP request must pass `verify` before it reaches
    `app`; a failure is answered 403 with an AWS-style JSON error
    (`x-amzn-ErrorType` header, `{"__type", "message"}` body) and never
    reaches the MCP server. With `exp.accept == "v4a"` that includes every
    SigV4 request (`InvalidSignatureException`). There is no unsigned side door: stats go to the
    Recorder's file, not to an endpoint."""

    def __init__(self, app, exp: Expectation, recorder: Recorder, log=None):
        self.app = app
        self.exp = exp
        self.recorder = recorder
        self.log = log or (lambda msg: None)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # Read the whole body (MCP POST bodies are single JSON messages).
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
        now = _dt.datetime.now(_dt.timezone.utc)
        verdict = verify(self.exp, method, raw_path, query, headers, body, now)

        lower = {k.lower(): v for (k, v) in headers}
        entry: dict[str, Any] = {
            "method": method,
            "path": raw_path,
            "query": query,
            "accepted": verdict.ok,
            "error_type": verdict.error_type,
            "algorithm": verdict.algorithm,
            "region_set": lower.get("x-amz-region-set"),
            "v4_signature_valid": verdict.v4_signature_valid,
            "v4_problem": verdict.v4_problem,
            "signed_headers": verdict.signed_headers,
            "unsigned_headers": verdict.unsigned_headers,
            "header_names": sorted(lower),
            "token_present": verdict.token_present,
            "session_id": lower.get("mcp-session-id"),
            "protocol_version": lower.get("mcp-protocol-version"),
            "accept": lower.get("accept"),
            "content_type": lower.get("content-type"),
            "body_len": len(body),
            "jsonrpc_method": None,
            "status": None,
            # MCP 2026-07-28 routing headers (values as received; names in signed_headers)
            "mcp_method": lower.get("mcp-method"),
            "mcp_name": lower.get("mcp-name"),
            "mcp_params": {k: v for k, v in lower.items() if k.startswith("mcp-param-")},
        }
        if method == "POST":
            try:
                parsed = json.loads(body)
                if isinstance(parsed, dict):
                    entry["jsonrpc_method"] = parsed.get("method") or ("<response>" if "id" in parsed else None)
                    entry.update(_body_facts(parsed))
            except ValueError:
                entry["jsonrpc_method"] = "<not json>"
        self.recorder.request(method, entry, verdict)

        if not verdict.ok:
            self.log(f"verifier: REJECT {method} {raw_path}: {verdict.error_type}: {verdict.message}")
            payload = error_body(verdict.error_type, verdict.message)
            # Recorded before the answer goes out: a client that reads the
            # stats as soon as it has the 403 must find its status there.
            entry["status"] = 403
            self.recorder.flush()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/x-amz-json-1.1"),
                        (b"x-amzn-errortype", verdict.error_type.encode()),
                        (b"x-amzn-requestid", os.urandom(16).hex().encode()),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return

        self.log(f"verifier: accept {method} {raw_path} ({entry['jsonrpc_method']})")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        # A small application/json answer is kept parsed (`response_json`), so a
        # test can compare what the server sent with what reached the client.
        json_body: list[bytes] | None = None

        async def send_wrapper(message):
            nonlocal json_body
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                for k, val in message.get("headers", []):
                    if k.lower() == b"mcp-session-id":
                        sid = val.decode("latin-1")
                        if sid not in self.recorder.data["issued_session_ids"]:
                            self.recorder.data["issued_session_ids"].append(sid)
                    if k.lower() == b"content-type" and val.split(b";")[0].strip().lower() == b"application/json":
                        json_body = []
                self.recorder.flush()
            elif message["type"] == "http.response.body" and json_body is not None:
                json_body.append(message.get("body", b""))
                if sum(len(b) for b in json_body) > RESPONSE_KEEP_LIMIT:
                    json_body = None
                elif not message.get("more_body", False):
                    try:
                        entry["response_json"] = json.loads(b"".join(json_body))
                    except ValueError:
                        pass
                    json_body = None
                    self.recorder.flush()
            await send(message)

        entry["started"] = time.time()
        try:
            await self.app(scope, replay, send_wrapper)
        finally:
            entry["ended"] = time.time()  # for a stream: when it closed
            self.recorder.flush()
