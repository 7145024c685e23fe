"""The cutover's data: plan, steps, gates, phases, analysis results and the persisted state (frozen, plain data).

Vocabulary from Argo Rollouts and CodeDeploy: phases Progressing/Paused/Healthy/Degraded/Aborted, steps
`shift_traffic`/`pause`/`analysis`, analysis results Successful/Failed/Inconclusive/Error. Weights are percentages of
the receiving slot; adapters map them to what their load balancer takes (ALB 0-999, HAProxy 0-256).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

Slot = Literal["blue", "green"]
SLOTS: tuple[Slot, ...] = ("blue", "green")

# Bounds a plan must keep: beyond them a value is a typo or a hostile file, never a cutover anyone means.
MAX_WAIT_S: Final = 7 * 86_400.0  # a bake or a timed pause
MAX_STEPS: Final = 1_000
MAX_POLL_INTERVAL_S: Final = 3_600.0
MIN_POLL_INTERVAL_S: Final = 0.1
MAX_DEREGISTRATION_DELAY_S: Final = 3_600.0  # the ALB's own limit
MAX_COUNT: Final = 1_000  # failure/inconclusive limits, healthy polls, unhealthy targets tolerated
MAX_SYNTHETIC_REQUESTS: Final = 1_000_000


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not _is_int(value) or not low <= value <= high:  # type: ignore[operator]
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _check_number(name: str, value: object, low: float, high: float, *, above_low: bool = False) -> None:
    if not _is_number(value) or not (low < value if above_low else low <= value) or not value <= high:  # type: ignore[operator]
        bound = f"above {low:g}" if above_low else f"from {low:g}"
        raise ValueError(f"{name} must be a finite number {bound} to {high:g}, got {value!r}")


def other_slot(slot: Slot) -> Slot:
    return "green" if slot == "blue" else "blue"


class Phase(StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    ABORTED = "Aborted"


TERMINAL_PHASES = frozenset({Phase.HEALTHY, Phase.DEGRADED, Phase.ABORTED})


class Outcome(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


@dataclass(frozen=True)
class ShiftTraffic:
    """Set the receiving slot's share of traffic (percent); the source slot gets the rest."""

    weight_pct: int
    kind: Literal["shift_traffic"] = "shift_traffic"


@dataclass(frozen=True)
class Pause:
    """Wait `duration_s`, or until `cutover promote` when it is None."""

    duration_s: float | None = None
    kind: Literal["pause"] = "pause"


@dataclass(frozen=True)
class Analysis:
    """Bake for `bake_s`, then judge the gates on what the receiving slot served meanwhile."""

    bake_s: float
    min_requests: int
    kind: Literal["analysis"] = "analysis"


Step = ShiftTraffic | Pause | Analysis


@dataclass(frozen=True)
class Gates:
    """Limits of one analysis. Rates are fractions (0.01 = 1 %); latency in milliseconds."""

    max_5xx_rate: float = 0.01
    max_5xx_rate_over_source: float = 0.005
    max_p95_ms: float = 1000.0
    max_p95_ratio: float = 2.0
    max_mcp_error_rate: float = 0.01
    max_mcp_error_rate_over_source: float = 0.005
    max_unhealthy_targets: int = 0
    alarm_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "max_5xx_rate",
            "max_5xx_rate_over_source",
            "max_mcp_error_rate",
            "max_mcp_error_rate_over_source",
        ):
            _check_number(f"gates.{name}", getattr(self, name), 0.0, 1.0)
        _check_number("gates.max_p95_ms", self.max_p95_ms, 0.0, 3_600_000.0, above_low=True)
        _check_number("gates.max_p95_ratio", self.max_p95_ratio, 0.0, 1_000.0, above_low=True)
        _check_int("gates.max_unhealthy_targets", self.max_unhealthy_targets, 0, MAX_COUNT)
        if not isinstance(self.alarm_names, tuple) or not all(isinstance(n, str) and n for n in self.alarm_names):
            raise ValueError(f"gates.alarm_names must be a list of alarm names, got {self.alarm_names!r}")


@dataclass(frozen=True)
class Plan:
    source: Slot
    target: Slot
    steps: tuple[Step, ...]
    gates: Gates = field(default_factory=Gates)
    failure_limit: int = 1  # failed analyses tolerated; one more rolls back (Argo's failureLimit)
    inconclusive_limit: int = 2  # Inconclusive/Error results tolerated in a row; one more counts as a failure
    healthy_polls: int = 3  # consecutive healthy readings of every receiving target before the first shift
    poll_interval_s: float = 5.0
    deregistration_delay_s: float = 60.0  # the target groups drain for 30 s (infra/config.py); room for propagation
    start_weight_pct: int = 0
    # Per bake, at most this many synthetic read-only calls when real traffic is too low to judge (0: never).
    synthetic_max_requests: int = 0

    def __post_init__(self) -> None:
        if self.source not in SLOTS or self.target not in SLOTS:
            raise ValueError(f"source and target must be blue or green, got {self.source!r} and {self.target!r}")
        if self.source == self.target:
            raise ValueError("source and target slots must differ")
        if not self.steps:
            raise ValueError("a plan needs at least one step")
        if len(self.steps) > MAX_STEPS:
            raise ValueError(f"a plan has at most {MAX_STEPS} steps, got {len(self.steps)}")
        if not isinstance(self.gates, Gates):
            raise ValueError("gates must be an object")
        for step in self.steps:
            if isinstance(step, ShiftTraffic):
                if not _is_int(step.weight_pct) or not 0 <= step.weight_pct <= 100:
                    raise ValueError(f"shift_traffic weight must be a whole percentage 0-100, got {step.weight_pct!r}")
            elif isinstance(step, Analysis):
                _check_number("analysis bake_s", step.bake_s, 0.0, MAX_WAIT_S, above_low=True)
                _check_int("analysis min_requests", step.min_requests, 0, 10**9)
            elif isinstance(step, Pause):
                if step.duration_s is not None:
                    _check_number("pause duration_s", step.duration_s, 0.0, MAX_WAIT_S)
            else:
                raise ValueError(f"unknown step {step!r}")
        _check_int("synthetic_max_requests", self.synthetic_max_requests, 0, MAX_SYNTHETIC_REQUESTS)
        _check_int("failure_limit", self.failure_limit, 0, MAX_COUNT)
        _check_int("inconclusive_limit", self.inconclusive_limit, 0, MAX_COUNT)
        _check_int("healthy_polls", self.healthy_polls, 1, MAX_COUNT)
        _check_int("start_weight_pct", self.start_weight_pct, 0, 100)
        _check_number("poll_interval_s", self.poll_interval_s, MIN_POLL_INTERVAL_S, MAX_POLL_INTERVAL_S)
        _check_number("deregistration_delay_s", self.deregistration_delay_s, 0.0, MAX_DEREGISTRATION_DELAY_S)
        if self.final_weight_pct() != 100:
            raise ValueError("the last shift_traffic step must send 100 % to the receiving slot")

    def final_weight_pct(self) -> int:
        shifts = [s.weight_pct for s in self.steps if isinstance(s, ShiftTraffic)]
        return shifts[-1] if shifts else self.start_weight_pct


def default_plan(
    *, source: Slot = "blue", target: Slot = "green", metric_period_s: float = 60.0, min_requests: int = 300
) -> Plan:
    """Steps 1, 5, 25, 50, 100 %, each followed by a bake of three metric periods and a minimum request count."""
    steps: list[Step] = []
    for pct in (1, 5, 25, 50, 100):
        steps.append(ShiftTraffic(pct))
        steps.append(Analysis(bake_s=3 * metric_period_s, min_requests=min_requests))
    return Plan(
        source=source,
        target=target,
        steps=tuple(steps),
        poll_interval_s=metric_period_s / 4,
        synthetic_max_requests=20 * min_requests,
    )


@dataclass(frozen=True)
class SlotWindow:
    """What one slot served during an analysis window. None means no data (never zero by default)."""

    requests: int | None
    http_5xx: int | None
    mcp_requests: int | None
    mcp_errors: int | None
    p95_ms: float | None
    healthy_targets: int | None
    unhealthy_targets: int | None


@dataclass(frozen=True)
class Reading:
    target: SlotWindow
    source: SlotWindow
    firing_alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateResult:
    name: str
    outcome: Outcome
    value: float | None
    limit: float
    detail: str = ""


@dataclass(frozen=True)
class AnalysisRun:
    outcome: Outcome
    gates: tuple[GateResult, ...]
    step_index: int
    weight_pct: int
    at_s: float
    message: str = ""


@dataclass(frozen=True)
class State:
    """Everything the cutover persists. `intended_pct` is written before a weight write (write-ahead) and cleared
    once the write is verified, so a resume knows whether a crash came between a write and its verification."""

    run_id: str
    plan: Plan
    phase: Phase
    step_index: int
    weight_pct: int
    step_started_s: float
    intended_pct: int | None = None
    failures: int = 0
    inconclusives: int = 0
    full_promotion: bool = False
    analyses: tuple[AnalysisRun, ...] = ()
    message: str = ""
    finished_s: float | None = None


def step_to_dict(step: Step) -> dict[str, Any]:
    if isinstance(step, ShiftTraffic):
        return {"kind": step.kind, "weight_pct": step.weight_pct}
    if isinstance(step, Pause):
        return {"kind": step.kind, "duration_s": step.duration_s}
    return {"kind": step.kind, "bake_s": step.bake_s, "min_requests": step.min_requests}
