#!/usr/bin/env python3
"""Packs one PyPI wheel per platform around the binary that
.packaging/build-release made for it; nothing is compiled again.

    python3 .packaging/python/build-wheels.py OUTDIR [TRIPLE...]

Run from anywhere with the Python tools of .ci/lib.sh (wheel, pyproject-metadata,
pinned there). Reads target/<triple>/release/mcp-sigv4[.exe] for every triple in
PLATFORMS (or only the ones named), and writes to OUTDIR, for each,
mcp_sigv4-<version>-py3-none-<platform tags>.whl holding:

- mcp_sigv4-<version>.data/scripts/mcp-sigv4[.exe]: the binary, byte for byte,
  mode 0755. pip and uv install a wheel's scripts into the environment's
  bin/ (Scripts\\ on Windows) as they are, which is how `uvx mcp-sigv4` and
  `pipx run mcp-sigv4` find the command (the layout ruff and uv ship);
- mcp_sigv4-<version>.dist-info/: METADATA made by pyproject-metadata from
  pyproject.toml and README.md beside this file (core metadata 2.4), WHEEL with
  the platform's tags, licenses/LICENSE, and RECORD (wheel's WheelFile).

The wheel format: https://packaging.python.org/en/latest/specifications/binary-distribution-format/
Platform tags: https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/
The version is Cargo.toml's. Timestamps are SOURCE_DATE_EPOCH's (the last
commit's time when unset), so the same binaries give the same wheels.
Exits 1 naming the build-release command when a binary is missing.
"""

import calendar
import os
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import packaging.version
from pyproject_metadata import StandardMetadata
from wheel.wheelfile import WheelFile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# Rust target triple -> (binary file name, wheel platform tags). The Linux
# binaries are static (musl, no libc needed), so one wheel serves glibc
# (manylinux) and musl (musllinux) systems. macOS 11.0 is the first release on
# arm64; 10.12 is Rust's minimum for x86_64-apple-darwin.
PLATFORMS = {
    "x86_64-unknown-linux-musl": (
        "mcp-sigv4",
        ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "musllinux_1_2_x86_64"],
    ),
    "aarch64-unknown-linux-musl": (
        "mcp-sigv4",
        ["manylinux_2_17_aarch64", "manylinux2014_aarch64", "musllinux_1_2_aarch64"],
    ),
    "aarch64-apple-darwin": ("mcp-sigv4", ["macosx_11_0_arm64"]),
    "x86_64-apple-darwin": ("mcp-sigv4", ["macosx_10_12_x86_64"]),
    "x86_64-pc-windows-gnu": ("mcp-sigv4.exe", ["win_amd64"]),
    "aarch64-pc-windows-gnullvm": ("mcp-sigv4.exe", ["win_arm64"]),
}


def cargo_version():
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]["version"]


def metadata(version):
    """METADATA bytes from pyproject.toml's [project], with Cargo.toml's version."""
    with open(HERE / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    meta = StandardMetadata.from_pyproject(pyproject, project_dir=HERE, metadata_version="2.4")
    meta.version = packaging.version.Version(version)
    meta.dynamic = [d for d in meta.dynamic if d != "version"]
    # The repository's LICENSE, carried as dist-info/licenses/LICENSE.
    meta.license_files = [Path("LICENSE")]
    return bytes(meta.as_rfc822())


def date_time():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        epoch = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    return time.gmtime(max(int(epoch), 315532800))[:6]  # zip dates start in 1980


def entry(name, mode, when):
    info = zipfile.ZipInfo(name, date_time=when)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build(triple, version, meta, license_text, out, when):
    exe, tags = PLATFORMS[triple]
    binary = ROOT / "target" / triple / "release" / exe
    if not binary.is_file():
        sys.exit(f"build-wheels: no {binary}: build it first (.packaging/build-release {triple})")
    dist = f"mcp_sigv4-{version}"
    path = out / f"{dist}-py3-none-{'.'.join(tags)}.whl"
    wheel_file = (
        "Wheel-Version: 1.0\n"
        f"Generator: mcp-sigv4 .packaging/python/build-wheels.py\n"
        "Root-Is-Purelib: false\n" + "".join(f"Tag: py3-none-{t}\n" for t in tags)
    )
    # WheelFile takes SOURCE_DATE_EPOCH for RECORD's own entry.
    os.environ["SOURCE_DATE_EPOCH"] = str(calendar.timegm(when + (0, 0, 0)))
    with WheelFile(path, "w") as whl:
        whl.writestr(entry(f"{dist}.data/scripts/{exe}", 0o755, when), binary.read_bytes())
        whl.writestr(entry(f"{dist}.dist-info/METADATA", 0o644, when), meta)
        whl.writestr(entry(f"{dist}.dist-info/WHEEL", 0o644, when), wheel_file)
        whl.writestr(entry(f"{dist}.dist-info/licenses/LICENSE", 0o644, when), license_text)
    return path


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    triples = sys.argv[2:] or list(PLATFORMS)
    unknown = [t for t in triples if t not in PLATFORMS]
    if unknown:
        sys.exit(f"build-wheels: no wheel platform for {unknown} (known: {', '.join(PLATFORMS)})")
    out.mkdir(parents=True, exist_ok=True)
    version = cargo_version()
    meta = metadata(version)
    license_text = (ROOT / "LICENSE").read_bytes()
    when = date_time()
    for triple in triples:
        print(build(triple, version, meta, license_text, out, when))


if __name__ == "__main__":
    main()
