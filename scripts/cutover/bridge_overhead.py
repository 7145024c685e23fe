"""What the MCP metrics bridge costs the native server: echo throughput with and without the bridge scraping
`/metrics` at its production interval, side by side, interleaved (A B A B), CPU per request from /proc.

`python -m scripts.cutover.bridge_overhead` (127.0.0.1 only, bounded: `--pairs` × 2 windows of `--window-s`).
The server is the benchmark's pinned one-worker native server (CPU 0), wrk drives echo 1 KiB on CPU 1. In a B window
`infra/bootstrap/metrics_bridge.py` runs as on the instance (its own process, `--interval-s 60`) and sends its EMF
documents to a local TCP sink standing in for the CloudWatch agent. The bridge's own CPU is counted as well, since on
an instance it shares the box. A second, sharper number: the server's CPU per `/metrics` scrape (many scrapes back to
back), divided by the CPU the server spends in one interval at saturation.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.bootstrap.metrics_bridge import AGENT_EMF_ADDRESS
from scripts.bench.proc import cpu_seconds
from scripts.bench.targets import LOAD_CPU, TARGETS, running
from scripts.bench.workloads import ECHO_1K
from scripts.bench.wrk import run_wrk
from scripts.state import REPO_ROOT

app = typer.Typer(add_completion=False)
PRODUCTION_INTERVAL_S = 60.0


@contextlib.contextmanager
def agent_sink() -> Iterator[list[int]]:
    """A TCP listener on the agent's EMF address that reads and drops what the bridge sends (bytes received)."""
    received = [0]
    server = socket.create_server(AGENT_EMF_ADDRESS, reuse_port=False)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                while chunk := conn.recv(65536):
                    received[0] += len(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


@contextlib.contextmanager
def bridge(port: int) -> Iterator[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "infra.bootstrap.metrics_bridge", "--stage", "bench", "--slot", "green"]
    cmd += ["--port", str(port), "--log-group", "/mcpstack/bench/green/mcp-metrics"]
    cmd += ["--interval-s", str(PRODUCTION_INTERVAL_S)]
    proc = subprocess.Popen(["taskset", "-c", str(LOAD_CPU), *cmd], cwd=REPO_ROOT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(server_pid: int, url: str, script: Path, *, seconds: float, connections: int) -> dict[str, Any]:
    before = cpu_seconds(server_pid)
    result = run_wrk(url, script, connections=connections, duration_s=seconds, cpu=LOAD_CPU)
    cpu = cpu_seconds(server_pid) - before
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(f"wrk saw {result.non_2xx} non-2xx and {result.socket_errors} socket errors")
    return {"requests": result.requests, "rps": result.rps, "server_cpu_s": cpu}


def bridge_period_cost(port: int, periods: int) -> float:
    """CPU seconds of one bridge period (scrape, parse, diff, EMF documents, send), in this process, back to back:
    `infra/bootstrap/metrics_bridge.run` with the sleep taken out. Includes the sink's receiving (an upper bound)."""
    from infra.bootstrap.metrics_bridge import run

    before = time.process_time()
    run(
        stage="bench",
        slot="green",
        port=port,
        log_group="/mcpstack/bench/green/mcp-metrics",
        interval_s=0.0,
        sleep=lambda _s: None,
        periods=periods,
    )
    return (time.process_time() - before) / periods


def scrape_cost(server_pid: int, port: int, scrapes: int) -> float:
    """Server CPU seconds per `/metrics` scrape, from `scrapes` back to back (the server otherwise idle)."""
    url = f"http://127.0.0.1:{port}/metrics"
    before = cpu_seconds(server_pid)
    for _ in range(scrapes):
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
    return (cpu_seconds(server_pid) - before) / scrapes


@app.command()
def main(
    pairs: Annotated[int, typer.Option(min=1, max=10, help="A B pairs (each window runs --window-s).")] = 3,
    window_s: Annotated[float, typer.Option(min=5, max=180, help="Seconds per window.")] = 62.0,
    connections: Annotated[int, typer.Option(min=1, max=256)] = 32,
    out: Annotated[Path | None, typer.Option(help="Write the results as JSON here.")] = None,
) -> None:
    # Stopped with SIGTERM, still stop the server, wrk's window and the bridge (the context managers' finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    target = TARGETS["native-1"]
    with running(target, None) as server, tempfile.TemporaryDirectory() as tmp, agent_sink() as sink:
        script = ECHO_1K.lua(Path(tmp) / "echo.lua")
        # Warm-up: the first seconds of a fresh server are not steady state.
        run_wrk(server.url, script, connections=connections, duration_s=5, cpu=LOAD_CPU)
        rows: list[dict[str, Any]] = []
        row: dict[str, Any]
        for pair in range(pairs):
            for arm in ("without", "with"):
                if arm == "with":
                    with bridge(server.port) as proc:
                        # Past the bridge's start-up (a long-lived unit on an instance) and its first scrape, which
                        # only sets the baseline: the window holds one scrape, diff and send, as each minute does.
                        time.sleep(2.0)
                        bridge_before = _proc_cpu(proc.pid)
                        row = window(server.proc.pid, server.url, script, seconds=window_s, connections=connections)
                        row["bridge_cpu_s"] = _proc_cpu(proc.pid) - bridge_before
                else:
                    row = window(server.proc.pid, server.url, script, seconds=window_s, connections=connections)
                    row["bridge_cpu_s"] = 0.0
                row["pair"] = pair
                row["arm"] = arm
                row["cpu_us_per_request"] = row["server_cpu_s"] / row["requests"] * 1e6
                row["box_cpu_us_per_request"] = (row["server_cpu_s"] + row["bridge_cpu_s"]) / row["requests"] * 1e6
                rows.append(row)
                typer.echo(json.dumps(row))
        per_scrape_s = scrape_cost(server.proc.pid, server.port, 300)
        per_period_s = bridge_period_cost(server.port, 300)
        sink_bytes = sink[0]

    def med(arm: str, key: str) -> float:
        return float(statistics.median(float(r[key]) for r in rows if r["arm"] == arm))

    without, with_ = med("without", "cpu_us_per_request"), med("with", "cpu_us_per_request")
    box_with = med("with", "box_cpu_us_per_request")
    rps_without, rps_with = med("without", "rps"), med("with", "rps")
    # One scrape per interval against the CPU the server spends in that interval when saturated (one core), and the
    # same with the bridge's own period added (it runs on the same instance).
    per_interval_fraction = per_scrape_s / PRODUCTION_INTERVAL_S
    with_bridge_fraction = (per_scrape_s + per_period_s) / PRODUCTION_INTERVAL_S
    summary = {
        "pairs": pairs,
        "window_s": window_s,
        "connections": connections,
        "bridge_interval_s": PRODUCTION_INTERVAL_S,
        "median_rps_without": rps_without,
        "median_rps_with": rps_with,
        "rps_change_pct": (rps_with / rps_without - 1) * 100,
        "median_server_cpu_us_per_request_without": without,
        "median_server_cpu_us_per_request_with": with_,
        "server_cpu_change_pct": (with_ / without - 1) * 100,
        "median_box_cpu_us_per_request_with": box_with,
        "box_cpu_change_pct": (box_with / without - 1) * 100,
        "server_cpu_ms_per_scrape": per_scrape_s * 1000,
        "scrape_share_of_saturated_core_pct": per_interval_fraction * 100,
        "bridge_cpu_ms_per_period": per_period_s * 1000,
        "scrape_and_bridge_share_of_one_core_pct": with_bridge_fraction * 100,
        "emf_bytes_sent": sink_bytes,
        "rows": rows,
    }
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))
    if out is not None:
        out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    app()
