"""The cutover's data: plan, steps, gates, phases, analysis results and the persisted state (frozen, plain data).

Vocabulary from Argo Rollouts and CodeDeploy: phases Progressing/Paused/Healthy/Degraded/Aborted, steps
`shift_traffic`/`pause`/`analysis`, analysis results Successful/Failed/Inconclusive/Error. Weights are percentages of
the receiving slot; adapters map them to what their load balancer takes (ALB 0-999, HAProxy 0-256).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Slot = Literal["blue", "green"]
SLOTS: tuple[Slot, ...] = ("blue", "green")


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
        if self.source == self.target:
            raise ValueError("source and target slots must differ")
        if not self.steps:
            raise ValueError("a plan needs at least one step")
        for step in self.steps:
            if isinstance(step, ShiftTraffic) and not 0 <= step.weight_pct <= 100:
                raise ValueError(f"shift_traffic weight {step.weight_pct} outside 0-100 %")
            if isinstance(step, Analysis) and (step.bake_s <= 0 or step.min_requests < 0):
                raise ValueError("analysis needs bake_s > 0 and min_requests >= 0")
        if self.synthetic_max_requests < 0:
            raise ValueError("synthetic_max_requests must be >= 0")
        if self.failure_limit < 0 or self.inconclusive_limit < 0:
            raise ValueError("failure_limit and inconclusive_limit must be >= 0")
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
