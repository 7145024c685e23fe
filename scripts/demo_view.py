"""The demo's live view: per slot what the AWS operations dashboard shows (requests, HTTP and MCP-level errors,
p50/p95/p99, the weight), the load's own counts, and the cutover's step and gates.

The per-slot numbers come from the same counters the local cutover judges on (`LocalMetrics.snapshot`: HAProxy's
stats and each server's `/metrics`), sampled once a second by a thread; percentiles over the last few seconds, from
the servers' latency histograms, as CloudWatch computes them from its own. Reads only; 127.0.0.1 only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table

from scripts.cutover.cli import render as render_cutover
from scripts.cutover.gates import histogram_quantile
from scripts.cutover.haproxy import HaproxyError, HaproxyRouter
from scripts.cutover.load import LoadStats
from scripts.cutover.local import HaproxyCounters, LocalMetrics, ServerCounters
from scripts.cutover.model import SLOTS, GateResult, Slot, State
from scripts.cutover.ports import CutoverError

Snapshot = dict[Slot, tuple[HaproxyCounters, ServerCounters | None]]
WINDOW_S = 5.0


@dataclass(frozen=True)
class SlotView:
    requests: int  # since the demo began (HAProxy)
    rate_per_s: float
    http_errors: int  # 5xx and failed connections/responses (HAProxy)
    mcp_errors: int | None  # isError results, JSON-RPC errors, timeouts (the server's own counters)
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    up: bool


def _quantiles(before: ServerCounters | None, after: ServerCounters | None) -> tuple[float | None, ...]:
    if before is None or after is None or after.requests < before.requests or not after.bounds:
        return (None, None, None)
    base = dict(zip(before.bounds, before.buckets, strict=True))
    delta = tuple(c - base.get(b, 0.0) for b, c in zip(after.bounds, after.buckets, strict=True))
    out = []
    for q in (0.5, 0.95, 0.99):
        value = histogram_quantile(q, after.bounds, delta)
        out.append(None if value is None else value * 1000.0)
    return tuple(out)


def slot_views(
    first: Snapshot, window_start: tuple[float, Snapshot], now: tuple[float, Snapshot]
) -> dict[Slot, SlotView]:
    """Totals since `first`; rate and percentiles over the window from `window_start` to `now`."""
    (t0, w0), (t1, w1) = window_start, now
    views = {}
    for slot in SLOTS:
        (h_first, s_first), (h0, s0), (h1, s1) = first[slot], w0[slot], w1[slot]
        p50, p95, p99 = _quantiles(s0, s1)
        mcp = None if s_first is None or s1 is None else int(s1.errors - s_first.errors)
        views[slot] = SlotView(
            requests=h1.requests - h_first.requests,
            rate_per_s=(h1.requests - h0.requests) / max(t1 - t0, 1e-9),
            http_errors=h1.http_5xx - h_first.http_5xx,
            mcp_errors=mcp,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            up=h1.up,
        )
    return views


class LiveView:
    """Holds the latest of everything the screen shows; `render` is called by rich's refresh thread."""

    def __init__(self, metrics: LocalMetrics, router: HaproxyRouter, load: LoadStats, kinds: Mapping[Slot, str]):
        self.metrics, self.router, self.load, self.kinds = metrics, router, load, dict(kinds)
        self.phase = "starting"
        self.samples: deque[tuple[float, Snapshot]] = deque()
        self.first: Snapshot | None = None
        self.weights: dict[Slot, int] = {}
        self.cutover: tuple[State, Mapping[Slot, int] | None, tuple[GateResult, ...], str] | None = None
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="demo-metrics", daemon=True)
        self._lock = threading.Lock()

    # -- the cutover's progress adapter (called by the runner) ----------------------------------------------------

    def update(
        self, state: State, *, live: Mapping[Slot, int] | None, gates: tuple[GateResult, ...], note: str
    ) -> None:
        with self._lock:
            self.cutover = (state, live, gates, note)

    # -- sampling ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()  # the last frame shows the final weights and counts

    def _sample(self) -> None:
        try:
            snap = self.metrics.snapshot()
            weights = self.router.read_weights()
        except (CutoverError, HaproxyError, OSError) as ex:
            self.error = f"metrics unreadable: {ex}"
            return
        now = time.monotonic()
        with self._lock:
            self.error = ""
            self.weights = dict(weights)
            if self.first is None:
                self.first = snap
            self.samples.append((now, snap))
            while len(self.samples) > 2 and now - self.samples[0][0] > WINDOW_S:
                self.samples.popleft()

    def _poll(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def views(self) -> dict[Slot, SlotView] | None:
        with self._lock:
            if self.first is None or len(self.samples) < 2:
                return None
            return slot_views(self.first, self.samples[0], self.samples[-1])

    # -- drawing -------------------------------------------------------------------------------------------------

    def render(self) -> RenderableType:
        views = self.views()
        table = Table(title=f"[bold]{self.phase}[/]", title_justify="left", header_style="bold")
        for column in (
            "slot",
            "server",
            "weight",
            "req/s",
            "requests",
            "HTTP errors",
            "MCP errors",
            "p50",
            "p95",
            "p99",
        ):
            table.add_column(column, justify="left" if column in ("slot", "server") else "right")
        for slot in SLOTS:
            v = views[slot] if views else None
            table.add_row(
                f"[{slot}]{slot}[/]",
                self.kinds[slot],
                f"{self.weights.get(slot, '?')} %",
                "…" if v is None else f"{v.rate_per_s:.0f}",
                "…" if v is None else f"{v.requests:,}",
                "…" if v is None else str(v.http_errors),
                "…" if v is None or v.mcp_errors is None else str(v.mcp_errors),
                *(_ms(None if v is None else x) for x in ((v.p50_ms, v.p95_ms, v.p99_ms) if v else (None,) * 3)),
            )
        load = self.load
        lines: list[RenderableType] = [
            table,
            f"load: {load.sent:,} sent, {load.ok:,} answered ok, {load.failures.get('lost', 0)} lost, "
            f"{load.failed - load.failures.get('lost', 0)} failed answers "
            f"({', '.join(f'{k} {n}' for k, n in sorted(load.failures.items())) or 'none'})",
        ]
        if self.error:
            lines.append(f"[yellow]{self.error}[/]")
        with self._lock:
            cutover = self.cutover
        if cutover is not None:
            state, live, gates, note = cutover
            lines.append(render_cutover(state, live, gates, note))
        return Group(*lines)


def _ms(value: float | None) -> str:
    return "…" if value is None else f"{value:.1f} ms"
