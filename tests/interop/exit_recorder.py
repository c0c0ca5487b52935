"""Transparent launcher used by the interop driver: runs a command with this
process's stdin, stdout and stderr (so the MCP stdio pipes go straight to it),
waits for it, and writes what happened as JSON to a file.

    python exit_recorder.py RECORD.json COMMAND [ARGS...]

RECORD.json gets {"exit_code": int, "sigterm": bool, "seconds": float,
"aws_env_names": [...]}. `sigterm` tells whether the MCP client had to send
SIGTERM (the SDK does so 2 s after closing stdin if the server is still up),
i.e. whether the command failed to exit by itself on stdin EOF. Only the names
of AWS_* variables are recorded, never their values.
"""

import json
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    record_path, command = sys.argv[1], sys.argv[2:]
    started = time.monotonic()
    state = {"sigterm": False}

    def on_term(signum, frame):
        # The SDK signals the whole process group, so the child got it too;
        # note it and keep waiting for the child's exit status.
        state["sigterm"] = True

    signal.signal(signal.SIGTERM, on_term)
    child = subprocess.Popen(command)
    code = child.wait()
    record = {
        "exit_code": code,
        "sigterm": state["sigterm"],
        "seconds": round(time.monotonic() - started, 3),
        "aws_env_names": sorted(k for k in os.environ if k.startswith("AWS_")),
    }
    tmp = record_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(tmp, record_path)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
