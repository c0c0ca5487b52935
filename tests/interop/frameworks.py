"""Runs each agent framework's program from `mcp-sigv4 config <framework>`
against the interop upstream (FastMCP behind the botocore SigV4 verifier).

Run: python frameworks.py MCP_SIGV4_BINARY NAME=PYTHON [NAME=PYTHON ...]

NAME is strands, langchain, openai-agents or llamaindex; PYTHON is the
interpreter of a virtual environment where that framework is installed from
PyPI (strands-agents, langchain-mcp-adapters, openai-agents,
llama-index-tools-mcp). The upstream runs with this interpreter (it needs
`mcp`, `uvicorn`, `botocore` and `cryptography`). For each framework: the
program is printed by the binary, run with the test credentials in its
environment only (the program must pass them on through `env`), and must list
the upstream's tools within 180 s; the verifier must have accepted every
signed request and refused none. Prints one line per framework and exits 1
when any failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCESS_KEY = "AKIAFRAMEWORKTEST01"
SECRET_KEY = "frameworkTestSecret/K7MDENG+bPxRfiCYzz9Q"
TOKEN = "FrameworkTestSessionToken/IQoJb3JpZ2luX2VjEJr+secret=="


def start_upstream(workdir: Path) -> tuple[subprocess.Popen, int]:
    cfg = {
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "token": TOKEN,
        "region": "us-east-1",
        "service": "svc",
        "mode": "sse",
        "stats_file": str(workdir / "stats.json"),
        "max_lifetime_s": 600,
    }
    (workdir / "upstream.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "upstream.py"), str(workdir / "upstream.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(workdir / "upstream.stderr", "w"),
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    if not line or not line[0].startswith("READY "):
        proc.kill()
        raise SystemExit("upstream did not start: " + (workdir / "upstream.stderr").read_text()[-2000:])
    return proc, int(line[0].split()[1])


def run_one(binary: str, name: str, python: str, url: str, workdir: Path) -> tuple[bool, str]:
    printed = subprocess.run(
        [binary, "config", name, url, "--service", "svc", "--region", "us-east-1", "--name", "interop"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"HOME": str(workdir), "PATH": os.environ.get("PATH", "")},
    )
    if printed.returncode != 0:
        return False, f"config {name} failed: {printed.stderr.strip()}"
    program = workdir / f"{name.replace('-', '_')}_program.py"
    program.write_text(printed.stdout)
    env = {
        "HOME": str(workdir),
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_EC2_METADATA_DISABLED": "true",
        # Frameworks that phone home or need an API key to import.
        "OPENAI_API_KEY": "unused-by-this-program",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
    }
    started = time.monotonic()
    try:
        ran = subprocess.run([python, str(program)], capture_output=True, text=True, timeout=180, env=env)
    except subprocess.TimeoutExpired:
        return False, "did not finish within 180 s"
    took = time.monotonic() - started
    out = ran.stdout.strip()
    if ran.returncode != 0 or "echo" not in out or "add" not in out:
        return False, f"exit {ran.returncode}; stdout {out[-500:]!r}; stderr {ran.stderr.strip()[-1500:]}"
    return True, f"{out[:200]} ({took:.1f} s)"


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary = sys.argv[1]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mcp-sigv4-frameworks-") as tmp:
        workdir = Path(tmp)
        proc, port = start_upstream(workdir)
        url = f"http://127.0.0.1:{port}/mcp"
        try:
            for pair in sys.argv[2:]:
                name, python = pair.split("=", 1)
                ok, what = run_one(binary, name, python, url, workdir)
                failed += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name}: {what}", flush=True)
            time.sleep(0.5)
            stats = json.loads((workdir / "stats.json").read_text()) if (workdir / "stats.json").exists() else {}
            rejected = stats.get("rejected")
            print(f"verifier: accepted {stats.get('accepted')}, rejected {rejected}")
            if rejected:
                print("FAIL the verifier refused requests")
                failed += 1
        finally:
            proc.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
