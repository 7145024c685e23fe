"""Prometheus metrics the way FastAPI services add them: prometheus_client metrics and `/metrics` served by the app.

The metric set is the native server's (`services/mcp_server/metrics.py`), under the same names: JSON-RPC requests
by method, tool and outcome, a latency histogram per method, and two gauges sampled about once a second, open
connections and in-flight requests. Neither server records HTTP-level request metrics; the load balancer already
counts requests and status codes per target.

Under gunicorn each worker is a separate process: `gunicorn_conf.py` sets `PROMETHEUS_MULTIPROC_DIR` before the
workers start, prometheus_client then keeps the values in per-process files, and a scrape reaching any worker
aggregates all of them (`MultiProcessCollector`); dead workers' files are marked in the `child_exit` hook.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    mmap_dict,
    multiprocess,
)
from prometheus_client import values as prometheus_values

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MCP_REQUESTS = Counter("mcp_requests", "JSON-RPC requests by method, tool and outcome", ["method", "tool", "outcome"])
MCP_DURATION = Histogram(
    "mcp_request_duration_seconds", "Time to answer a JSON-RPC request", ["method"], buckets=BUCKETS_S
)
IN_FLIGHT = Gauge("mcp_in_flight_requests", "HTTP requests being handled", multiprocess_mode="livesum")
OPEN_CONNECTIONS = Gauge("mcp_open_connections", "Open client connections", multiprocess_mode="livesum")


class _ReservedMmapedDict(mmap_dict.MmapedDict):
    """prometheus_client's per-process metrics file, with its disk blocks reserved before they are mapped. The
    library grows the file with `truncate` (a sparse file) and writes through the mapping: on a full disk the first
    write kills the worker with SIGBUS. Reserved first (`posix_fallocate`), a full disk is an OSError when a value
    is created, and the request is answered uncounted (`record`)."""

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        if not read_mode:
            with open(filename, "a+b") as f:
                existing = os.fstat(f.fileno()).st_size
                try:
                    os.posix_fallocate(f.fileno(), 0, max(existing, mmap_dict._INITIAL_MMAP_SIZE))
                except OSError:
                    if existing == 0:  # an empty file would break the scrape that reads every worker's file
                        os.unlink(filename)
                    raise
        super().__init__(filename, read_mode)  # type: ignore[no-untyped-call]

    def _init_value(self, key: str) -> None:
        if self._used + len(key.encode()) + 64 > self._capacity:  # this value makes the library double the file
            os.posix_fallocate(self._f.fileno(), 0, self._capacity * 2)
        super()._init_value(key)  # type: ignore[no-untyped-call]


prometheus_values.MmapedDict = _ReservedMmapedDict  # type: ignore[attr-defined]  # the name values.py creates files by

# `labels()` validates and formats its arguments on every call; the children are looked up once per label set
# (method and tool names are the server's own, so the caches are bounded by the catalogue).
_counters: dict[tuple[str, str, str], Any] = {}
_histograms: dict[str, Any] = {}


def record(method: str, tool: str, outcome: str, seconds: float) -> None:
    """One JSON-RPC request; client-chosen names never become labels (callers pass known names only).

    A label set's first use opens its worker's metrics file: with no file descriptor or disk space left, the
    request is answered uncounted rather than failed with a 500."""
    key = (method, tool, outcome)
    try:
        counter = _counters.get(key)
        if counter is None:
            counter = _counters[key] = MCP_REQUESTS.labels(method, tool, outcome)
        counter.inc()
        histogram = _histograms.get(method)
        if histogram is None:
            histogram = _histograms[method] = MCP_DURATION.labels(method)
        histogram.observe(seconds)
    except OSError:
        return


def sample_gauges(*, open_connections: int, in_flight: int) -> None:
    """The worker's connection and request counts (the gunicorn worker calls this about once a second)."""
    try:
        OPEN_CONNECTIONS.set(open_connections)
        IN_FLIGHT.set(in_flight)
    except OSError:  # no disk space for the metrics file: the sample is skipped, the worker's tick goes on
        return


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
