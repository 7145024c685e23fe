"""The constant-rate (open-loop) latency generator: `openloop.c`, compiled on first use into the state directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

from scripts.state import state_dir

SOURCE = Path(__file__).with_name("openloop.c")


def binary() -> Path:
    target = state_dir() / "bin" / "openloop"
    if target.exists() and target.stat().st_mtime >= SOURCE.stat().st_mtime:
        return target
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("a C compiler (gcc) is needed for the open-loop generator: apt-get install gcc")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([cc, "-O2", "-Wall", "-o", str(target), str(SOURCE)], check=True, capture_output=True)
    return target


def run_openloop(
    port: int,
    requests: bytes,
    *,
    rate: float,
    duration_s: float,
    connections: int,
    warmup_s: float,
    cpu: int | None,
    workdir: Path,
) -> dict[str, Any]:
    request_file = workdir / f"openloop-{port}.bin"
    request_file.write_bytes(requests)
    cmd = [
        str(binary()),
        str(port),
        str(request_file),
        f"{rate:.1f}",
        f"{duration_s:g}",
        str(connections),
        f"{warmup_s:g}",
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openloop failed: {proc.stderr.strip()}")
    result: dict[str, Any] = orjson.loads(proc.stdout)
    return result
