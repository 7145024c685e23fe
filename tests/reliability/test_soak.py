"""Soak: constant mixed load on both servers at once (each with its own paced clients), RSS and open file
descriptors of each server's process tree sampled every few seconds, latency percentiles per window, and every
request counted. After a warm-up (the first fifth), RSS and descriptors must stay flat (least-squares slope) and no
request may fail. The short form runs for seconds, which proves the harness; the long form's figures are the claim.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.faults import mixed_call
from tests.loadgen import _read_response, request_bytes
from tests.reliability.form import FORM, percentile, record
from tests.support import ServerProcess, server_process

CONNECTIONS = 8
RATE_PER_CONNECTION_HZ = 40  # 320 requests/s per server: well under either server's capacity on this machine
SAMPLE_EVERY_S = 5.0 if FORM.long else 1.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found.extend(_tree(int(child)))
    return found


def _footprint(pid: int) -> tuple[float, int]:
    """RSS (MiB) and open file descriptors of a process tree."""
    rss = 0
    fds = 0
    for member in _tree(pid):
        try:
            rss += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE
            fds += len(os.listdir(f"/proc/{member}/fd"))
        except OSError:
            continue
    return rss / 2**20, fds


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    denominator = sum((t - mean_t) ** 2 for t, _ in points)
    if denominator == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / denominator


@dataclass
class Soak:
    sent: int = 0
    answered: int = 0
    failed: int = 0
    first_failure: str = ""
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (when, seconds)
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (when, RSS MiB, fds)


async def _paced_client(port: int, soak: Soak, until: float, offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    interval = 1 / RATE_PER_CONNECTION_HZ
    next_at = time.monotonic()
    i = offset
    try:
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            i += CONNECTIONS
            writer.write(request_bytes(port, mixed_call(i)))
            soak.sent += 1
            try:
                status, _, body = await asyncio.wait_for(_read_response(reader), 30)
                ok = status == 200 and not orjson.loads(body)["result"].get("isError")
            except Exception as ex:  # every failure counts; the first one is reported
                ok, status = False, 0
                soak.first_failure = soak.first_failure or repr(ex)
            if ok:
                soak.answered += 1
                # Measured from the intended send time: a stall delays every later request, and counts for them.
                soak.latencies.append((next_at, time.monotonic() - next_at))
            else:
                soak.failed += 1
                soak.first_failure = soak.first_failure or f"status {status}"
                if status == 0:
                    return
            next_at += interval
    finally:
        writer.close()


async def _sampler(pid: int, soak: Soak, started: float, until: float) -> None:
    while time.monotonic() < until:
        rss, fds = _footprint(pid)
        soak.samples.append((time.monotonic() - started, rss, fds))
        await asyncio.sleep(SAMPLE_EVERY_S)


async def _soak(servers: dict[str, ServerProcess], seconds: float) -> dict[str, Soak]:
    started = time.monotonic()
    until = started + seconds
    soaks = {kind: Soak() for kind in servers}
    tasks = []
    for kind, server in servers.items():
        tasks += [_paced_client(server.port, soaks[kind], until, c) for c in range(CONNECTIONS)]
        tasks.append(_sampler(server.proc.pid, soaks[kind], started, until))
    await asyncio.gather(*tasks)
    return soaks


def _figures(soak: Soak, seconds: float) -> dict[str, Any]:
    warm = seconds / 5
    steady = [(t, rss, fds) for t, rss, fds in soak.samples if t >= warm]
    windows: list[dict[str, float]] = []
    if soak.latencies:
        begin = soak.latencies[0][0]
        size = max(seconds / 10, 1.0)
        for w in range(10):
            part = [s for when, s in soak.latencies if begin + w * size <= when < begin + (w + 1) * size]
            if part:
                windows.append(
                    {
                        "p50_ms": round(percentile(part, 0.5) * 1000, 2),
                        "p99_ms": round(percentile(part, 0.99) * 1000, 2),
                    }
                )
    return {
        "seconds": round(seconds),
        "sent": soak.sent,
        "answered": soak.answered,
        "failed": soak.failed,
        "first_failure": soak.first_failure,
        "rate_per_s": round(soak.sent / seconds, 1),
        "rss_mib_first_last": [round(steady[0][1], 1), round(steady[-1][1], 1)] if steady else [],
        "rss_mib_per_min": round(slope_per_minute([(t, rss) for t, rss, _ in steady]), 3),
        "fds_first_last": [steady[0][2], steady[-1][2]] if steady else [],
        "fds_per_min": round(slope_per_minute([(t, float(fds)) for t, _, fds in steady]), 3),
        "latency_windows": windows,
    }


def test_both_servers_hold_a_constant_mixed_load_with_flat_memory_and_descriptors(
    database_url: str, tmp_path: Path
) -> None:
    seconds = FORM.soak_minutes * 60
    for name in ("n", "f"):
        (tmp_path / name).mkdir()
    with (
        server_process("native", tmp_path / "n", database_url=database_url) as native,
        server_process("fastapi", tmp_path / "f", database_url=database_url) as fastapi,
    ):
        soaks = asyncio.run(_soak({"native": native, "fastapi": fastapi}, seconds))
        alive = {kind: server.proc.poll() is None for kind, server in (("native", native), ("fastapi", fastapi))}
    figures = {kind: _figures(soak, seconds) for kind, soak in soaks.items()}
    for kind, numbers in figures.items():
        record("soak", kind, "constant mixed load", {**numbers, "form": FORM.name})
    for kind, numbers in figures.items():
        assert alive[kind], kind
        assert numbers["sent"] > 0.8 * CONNECTIONS * RATE_PER_CONNECTION_HZ * seconds, (kind, numbers["sent"])
        assert numbers["failed"] == 0, (kind, numbers["first_failure"])
        if FORM.long:  # minutes of samples: a leak shows as a slope (a few seconds of samples only prove the harness)
            assert abs(numbers["rss_mib_per_min"]) < 1.0, (kind, numbers["rss_mib_per_min"])
            assert abs(numbers["fds_per_min"]) < 1.0, (kind, numbers["fds_per_min"])
