"""A `credential_process` for the credential-rotation scenarios: every run hands
out a new random key pair and session token, and tells the verifier first.

    python rotating_process.py STATE_DIR LIFETIME_S KEYRING_FILE

Each run (serialised by a lock file in STATE_DIR):
  - counts itself in STATE_DIR/runs (one line per run: `<n> <access key id> <unix time>`);
  - appends the new key to KEYRING_FILE as `{"add": {...}}` (one O_APPEND write,
    before anything is printed, so the verifier knows the key before the proxy
    can use it), valid for the MCP endpoint, expiring LIFETIME_S from now;
  - prints the credential_process JSON: `Version` 1, the keys, `SessionToken`,
    and `Expiration` = now + LIFETIME_S (RFC 3339, UTC) unless LIFETIME_S is 0
    (then no `Expiration`: the credentials never expire);
  - fails (exit 1, a message on stderr) while STATE_DIR/fail exists.

It reads nothing from stdin (the proxy gives it /dev/null) and imports only the
standard library, so a run takes a few tens of milliseconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
import secrets
import string
import sys
import time


def append_line(path: str, record: dict) -> None:
    data = (json.dumps(record) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def main() -> int:
    state_dir, lifetime, keyring = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(os.path.join(state_dir, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs_path = os.path.join(state_dir, "runs")
        try:
            with open(runs_path) as f:
                n = sum(1 for _ in f) + 1
        except FileNotFoundError:
            n = 1
        alphabet = string.ascii_uppercase + "234567"
        akid = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        now = time.time()
        with open(runs_path, "a") as f:
            f.write(f"{n} {akid} {now:.3f}\n")
        if os.path.exists(os.path.join(state_dir, "fail")):
            print(f"rotating_process: run {n} refused (fail flag set)", file=sys.stderr)
            return 1
        secret = base64.b64encode(secrets.token_bytes(27)).decode()[:36] + "/+Zz"
        token = base64.b64encode(b"\xfb\xff" + secrets.token_bytes(300)).decode()
        expires = now + lifetime if lifetime > 0 else None
        append_line(keyring, {"add": {"access_key": akid, "secret_key": secret, "token": token,
                                      "expires": expires, "scope": ["mcp"], "issued_by": f"process run {n}"}})
        out = {"Version": 1, "AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": token}
        if expires is not None:
            out["Expiration"] = dt.datetime.fromtimestamp(expires, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        sys.stdout.write(json.dumps(out))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
