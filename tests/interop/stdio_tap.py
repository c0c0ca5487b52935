"""Transparent launcher that also keeps a transcript: runs a command, copies this
process's stdin to it and its stdout back line by line (stderr goes straight
through), writes every line with its direction to a JSON Lines file, and at the
end records how the command ended, like exit_recorder.py.

    python stdio_tap.py RECORD.json TRANSCRIPT.jsonl COMMAND [ARGS...]

TRANSCRIPT.jsonl gets one object a line: {"t": seconds since start, "dir":
"in" (client to command) or "out" (command to client), "line": the line as
text}. RECORD.json gets {"exit_code", "sigterm", "seconds", "aws_env_names"}.
Only the names of AWS_* variables are recorded, never their values.

Uses only the standard library, so either interop environment can run it.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time


def main() -> int:
    record_path, transcript_path, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    started = time.monotonic()
    state = {"sigterm": False}
    lock = threading.Lock()
    transcript = open(transcript_path, "w", encoding="utf-8")

    def note(direction: str, raw: bytes) -> None:
        entry = {
            "t": round(time.monotonic() - started, 4),
            "dir": direction,
            "line": raw.rstrip(b"\r\n").decode("utf-8", errors="replace"),
        }
        with lock:
            transcript.write(json.dumps(entry, ensure_ascii=False) + "\n")
            transcript.flush()

    def on_term(signum, frame):
        # The SDK signals the whole process group, so the child got it too.
        state["sigterm"] = True

    signal.signal(signal.SIGTERM, on_term)
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def pump_in() -> None:
        try:
            for raw in iter(sys.stdin.buffer.readline, b""):
                note("in", raw)
                child.stdin.write(raw)
                child.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
        finally:
            try:
                child.stdin.close()
            except OSError:
                pass

    def pump_out() -> None:
        out = sys.stdout.buffer
        try:
            for raw in iter(child.stdout.readline, b""):
                note("out", raw)
                out.write(raw)
                out.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
        finally:
            try:
                out.close()
            except OSError:
                pass

    threading.Thread(target=pump_in, daemon=True).start()
    reader = threading.Thread(target=pump_out, daemon=True)
    reader.start()
    code = child.wait()
    reader.join(timeout=5)
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
    with lock:
        transcript.close()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
