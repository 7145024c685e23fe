"""Request metrics: cheap counters on the hot path, Prometheus text at scrape time.

Each worker counts in plain dicts (a dict update and a bisect per request) and publishes a snapshot file about once a
second; whichever worker a scrape reaches sums its live counts with the other workers' snapshots, so `/metrics` shows
the whole server whatever worker answers. The exposition format comes from prometheus_client.
"""

from __future__ import annotations

import contextlib
import os
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[str, list[float]] = {}  # method -> bucket counts + [sum, count]
        self.gauges: dict[str, float] = {}

    def record(self, method: str, tool: str, outcome: str, seconds: float) -> None:
        key = (method, tool, outcome)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        hist = self.latency.get(method)
        if hist is None:
            hist = self.latency[method] = [0.0] * (len(BUCKETS_S) + 3)
        hist[bisect_left(BUCKETS_S, seconds)] += 1
        hist[-2] += seconds
        hist[-1] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": [[*key, n] for key, n in self.requests.items()],
            "latency": {m: list(h) for m, h in self.latency.items()},
            "gauges": dict(self.gauges),
        }


def merge(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    requests: dict[tuple[str, str, str], float] = {}
    latency: dict[str, list[float]] = {}
    gauges: dict[str, float] = {}
    for snap in snapshots:
        for method, tool, outcome, n in snap.get("requests", []):
            requests[(method, tool, outcome)] = requests.get((method, tool, outcome), 0) + n
        for method, hist in snap.get("latency", {}).items():
            total = latency.setdefault(method, [0.0] * len(hist))
            for i, value in enumerate(hist):
                total[i] += value
        for name, value in snap.get("gauges", {}).items():
            gauges[name] = gauges.get(name, 0) + value
    return {"requests": requests, "latency": latency, "gauges": gauges}


class SnapshotShare:
    """Snapshot files of the workers of one server, in a directory the supervisor owns (plain `os`: no pathlib
    import on the server's start path)."""

    def __init__(self, directory: str | None, worker_id: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, f"{worker_id}.json") if directory else None

    def publish(self, snapshot: dict[str, Any]) -> None:
        if self.path is None:
            return
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "wb") as out:
                out.write(orjson.dumps(snapshot))
            os.replace(tmp, self.path)
        except OSError:
            # No disk space (or descriptor) left: the last snapshot stays. The sweep that publishes also enforces the
            # request and keep-alive timeouts; an exception here would end it.
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def others(self) -> Iterator[dict[str, Any]]:
        if self.directory is None:
            return
        with os.scandir(self.directory) as entries:
            paths = [e.path for e in entries if e.name.endswith(".json") and e.path != self.path]
        for path in paths:
            with contextlib.suppress(OSError, orjson.JSONDecodeError), open(path, "rb") as snapshot:
                yield orjson.loads(snapshot.read())

    def withdraw(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def exposition(merged: dict[str, Any], *, prefix: str = "mcp") -> bytes:
    """Prometheus text format for merged snapshots (prometheus_client is imported on first scrape only)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.registry import Collector

    class _Collector(Collector):
        def collect(self) -> Iterator[Any]:
            requests = CounterMetricFamily(
                f"{prefix}_requests",
                "JSON-RPC requests by method, tool and outcome",
                labels=["method", "tool", "outcome"],
            )
            for (method, tool, outcome), n in sorted(merged["requests"].items()):
                requests.add_metric([method, tool, outcome], n)
            yield requests
            latency = HistogramMetricFamily(
                f"{prefix}_request_duration_seconds", "Time to answer a JSON-RPC request", labels=["method"]
            )
            for method, hist in sorted(merged["latency"].items()):
                cumulative, buckets = 0.0, []
                for bound, count in zip(BUCKETS_S, hist, strict=False):
                    cumulative += count
                    buckets.append((repr(bound), cumulative))
                buckets.append(("+Inf", hist[-1]))
                latency.add_metric([method], buckets, sum_value=hist[-2])
            yield latency
            for name, value in sorted(merged["gauges"].items()):
                gauge = GaugeMetricFamily(f"{prefix}_{name}", name.replace("_", " "))
                gauge.add_metric([], value)
                yield gauge

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)
