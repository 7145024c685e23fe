"""Prometheus metrics the way FastAPI services add them: prometheus_client metrics, a pure ASGI middleware for the
HTTP layer, and `/metrics` served by the app.

Under gunicorn each worker is a separate process: `gunicorn_conf.py` sets `PROMETHEUS_MULTIPROC_DIR` before the
workers start, prometheus_client then keeps the values in per-process files, and a scrape reaching any worker
aggregates all of them (`MultiProcessCollector`); dead workers' files are marked in the `child_exit` hook.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MCP_REQUESTS = Counter("mcp_requests", "JSON-RPC requests by method, tool and outcome", ["method", "tool", "outcome"])
MCP_DURATION = Histogram(
    "mcp_request_duration_seconds", "Time to answer a JSON-RPC request", ["method"], buckets=BUCKETS_S
)
HTTP_REQUESTS = Counter("http_requests", "HTTP requests by path and status", ["handler", "status"])
HTTP_DURATION = Histogram("http_request_duration_seconds", "HTTP request latency", ["handler"], buckets=BUCKETS_S)
IN_FLIGHT = Gauge("mcp_in_flight_requests", "HTTP requests being handled", multiprocess_mode="livesum")

_KNOWN_PATHS = frozenset({"/mcp", "/health", "/ready", "/metrics"})


def record(method: str, tool: str, outcome: str, seconds: float) -> None:
    """One JSON-RPC request; client-chosen names never become labels (callers pass known names only)."""
    MCP_REQUESTS.labels(method, tool, outcome).inc()
    MCP_DURATION.labels(method).observe(seconds)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class HttpMetricsMiddleware:
    """Counts, times and gauges every HTTP request (pure ASGI: no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        handler = path if path in _KNOWN_PATHS else "other"
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            IN_FLIGHT.dec()
            HTTP_REQUESTS.labels(handler, str(status)).inc()
            HTTP_DURATION.labels(handler).observe(time.perf_counter() - started)
