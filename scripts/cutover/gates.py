"""Judging one analysis: each gate's value against its limit, from a `Reading` of both slots. Pure.

Missing data is Inconclusive, never a pass; too few requests on the receiving slot makes every gate Inconclusive
(a canary that gets no traffic must not pass on no data).
"""

from __future__ import annotations

from scripts.cutover.model import Analysis, AnalysisRun, GateResult, Gates, Outcome, Reading, SlotWindow

GATE_REQUESTS = "requests"
GATE_5XX = "http-5xx-rate"
GATE_P95 = "p95-latency-ms"
GATE_MCP = "mcp-error-rate"
GATE_UNHEALTHY = "unhealthy-targets"
GATE_ALARMS = "alarms"


def _rate(part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole


def _rate_gate(name: str, value: float | None, source: float | None, limit: float, over_source: float) -> GateResult:
    bound = max(limit, source + over_source) if source is not None else limit
    if value is None:
        return GateResult(name, Outcome.INCONCLUSIVE, None, bound, "no data")
    return GateResult(name, Outcome.SUCCESSFUL if value <= bound else Outcome.FAILED, value, bound)


def _p95_gate(gates: Gates, target: SlotWindow, source: SlotWindow) -> GateResult:
    bound = gates.max_p95_ms
    if source.p95_ms is not None:
        bound = min(bound, gates.max_p95_ratio * max(source.p95_ms, 1.0))  # 1 ms floor: ratios of near-zero lie
    if target.p95_ms is None:
        return GateResult(GATE_P95, Outcome.INCONCLUSIVE, None, bound, "no data")
    return GateResult(GATE_P95, Outcome.SUCCESSFUL if target.p95_ms <= bound else Outcome.FAILED, target.p95_ms, bound)


def evaluate(
    gates: Gates, analysis: Analysis, reading: Reading, *, step_index: int, weight_pct: int, at_s: float
) -> AnalysisRun:
    target, source = reading.target, reading.source
    results: list[GateResult] = []
    enough = target.requests is not None and target.requests >= analysis.min_requests
    results.append(
        GateResult(
            GATE_REQUESTS,
            Outcome.SUCCESSFUL if enough else Outcome.INCONCLUSIVE,
            None if target.requests is None else float(target.requests),
            float(analysis.min_requests),
            "" if enough else "too few requests to judge",
        )
    )
    results.append(
        _rate_gate(
            GATE_5XX,
            _rate(target.http_5xx, target.requests),
            _rate(source.http_5xx, source.requests),
            gates.max_5xx_rate,
            gates.max_5xx_rate_over_source,
        )
    )
    results.append(_p95_gate(gates, target, source))
    results.append(
        _rate_gate(
            GATE_MCP,
            _rate(target.mcp_errors, target.mcp_requests),
            _rate(source.mcp_errors, source.mcp_requests),
            gates.max_mcp_error_rate,
            gates.max_mcp_error_rate_over_source,
        )
    )
    if target.unhealthy_targets is None:
        results.append(GateResult(GATE_UNHEALTHY, Outcome.INCONCLUSIVE, None, gates.max_unhealthy_targets, "no data"))
    else:
        bad = target.unhealthy_targets > gates.max_unhealthy_targets or not target.healthy_targets
        results.append(
            GateResult(
                GATE_UNHEALTHY,
                Outcome.FAILED if bad else Outcome.SUCCESSFUL,
                float(target.unhealthy_targets),
                float(gates.max_unhealthy_targets),
                "no healthy target" if not target.healthy_targets else "",
            )
        )
    firing = (
        sorted(set(reading.firing_alarms) & set(gates.alarm_names))
        if gates.alarm_names
        else list(reading.firing_alarms)
    )
    results.append(
        GateResult(
            GATE_ALARMS, Outcome.FAILED if firing else Outcome.SUCCESSFUL, float(len(firing)), 0.0, ", ".join(firing)
        )
    )
    # Rates and percentiles of a handful of requests prove nothing either way: below the minimum only the gates
    # that do not depend on traffic (target health, alarms) can fail the analysis.
    counted = (GATE_UNHEALTHY, GATE_ALARMS)
    failed = [r for r in results if r.outcome is Outcome.FAILED and (enough or r.name in counted)]
    if failed:
        outcome, message = Outcome.FAILED, "; ".join(f"{r.name} {_show(r.value)} > {_show(r.limit)}" for r in failed)
    elif not enough:
        # Too little traffic: nothing else can be trusted, whatever the other numbers say.
        outcome, message = Outcome.INCONCLUSIVE, f"{_show(results[0].value)} requests < {analysis.min_requests}"
    elif any(r.outcome is Outcome.INCONCLUSIVE for r in results):
        outcome = Outcome.INCONCLUSIVE
        message = "no data: " + ", ".join(r.name for r in results if r.outcome is Outcome.INCONCLUSIVE)
    else:
        outcome, message = Outcome.SUCCESSFUL, "all gates within limits"
    return AnalysisRun(outcome, tuple(results), step_index, weight_pct, at_s, message)


def error_run(message: str, *, step_index: int, weight_pct: int, at_s: float) -> AnalysisRun:
    """A metrics read that failed: an Error result, which never counts as a pass."""
    return AnalysisRun(Outcome.ERROR, (), step_index, weight_pct, at_s, message)


def _show(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}"


def histogram_quantile(q: float, bounds: tuple[float, ...], cumulative: tuple[float, ...]) -> float | None:
    """The q-quantile from cumulative bucket counts (upper bounds `bounds`, the last being +Inf), interpolated
    linearly inside the bucket like Prometheus' histogram_quantile. None when the histogram is empty."""
    if not cumulative or cumulative[-1] <= 0:
        return None
    rank = q * cumulative[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return bounds[-2] if len(bounds) > 1 else None
