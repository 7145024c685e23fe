"""wrk (Debian package) driving JSON-RPC POSTs: the saturation-throughput load generator."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import orjson

_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.body = {body}
"""
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    non_2xx: int
    socket_errors: int
    latency_avg_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def lua_script(path: Path, message: dict[str, object]) -> Path:
    body = orjson.dumps(message).decode()
    path.write_text(_LUA.format(body="[[" + body + "]]"))
    return path


def run_wrk(
    url: str, script: Path, *, connections: int, duration_s: float, threads: int = 1, cpu: int | None = None
) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkError("wrk not found: run `make system` (apt-get install wrk)")
    seconds = max(1, round(duration_s))  # wrk takes whole seconds
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if proc.returncode != 0:
        raise WrkError(f"wrk failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return parse(proc.stdout)


def parse(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if done is None:
        raise WrkError(f"unexpected wrk output: {output[:500]}")
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(done.group(1)),
        duration_s=float(done.group(2)) * _UNITS[done.group(3)],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_avg_s=float(latency.group(1)) * _UNITS[latency.group(2)] if latency else 0.0,
    )
