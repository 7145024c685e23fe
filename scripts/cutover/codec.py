"""Plans and states to and from JSON-ready dicts (the state store's format, and `--plan FILE`). Bad input raises
PlanError with one clear line."""

from __future__ import annotations

import dataclasses
from typing import Any

from scripts.cutover.model import (
    Analysis,
    AnalysisRun,
    GateResult,
    Gates,
    Outcome,
    Pause,
    Phase,
    Plan,
    ShiftTraffic,
    State,
    Step,
    step_to_dict,
)


class PlanError(ValueError):
    pass


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = dataclasses.asdict(plan)
    data["steps"] = [step_to_dict(s) for s in plan.steps]
    data["gates"]["alarm_names"] = list(plan.gates.alarm_names)
    return data


def _step(raw: Any) -> Step:
    if not isinstance(raw, dict):
        raise PlanError(f"a step must be an object, got {raw!r}")
    kind = raw.get("kind")
    try:
        # Values pass as the file has them: Plan checks their types and ranges (50.7 % or "5" are refused, not
        # truncated or parsed).
        if kind == "shift_traffic":
            return ShiftTraffic(raw["weight_pct"])
        if kind == "pause":
            return Pause(raw.get("duration_s"))
        if kind == "analysis":
            return Analysis(raw["bake_s"], raw["min_requests"])
    except (KeyError, TypeError, ValueError) as ex:
        raise PlanError(f"bad {kind} step {raw!r}: {ex}") from ex
    raise PlanError(f"unknown step kind {kind!r} (expected shift_traffic, pause or analysis)")


def plan_from_dict(raw: Any) -> Plan:
    if not isinstance(raw, dict):
        raise PlanError("a plan must be a JSON object")
    fields = {f.name for f in dataclasses.fields(Plan)}
    unknown = set(raw) - fields
    if unknown:
        raise PlanError(f"unknown plan field(s): {', '.join(sorted(unknown))}")
    gate_fields = {f.name for f in dataclasses.fields(Gates)}
    gates_raw = raw.get("gates", {})
    if not isinstance(gates_raw, dict) or set(gates_raw) - gate_fields:
        raise PlanError(f"gates must be an object with fields among: {', '.join(sorted(gate_fields))}")
    try:
        names = gates_raw.get("alarm_names", [])
        if not isinstance(names, list):
            raise PlanError(f"gates.alarm_names must be a list of alarm names, got {names!r}")
        gates = Gates(**{**gates_raw, "alarm_names": tuple(names)})
        steps = tuple(_step(s) for s in raw.get("steps", []))
        rest = {k: v for k, v in raw.items() if k not in ("gates", "steps")}
        return Plan(steps=steps, gates=gates, **rest)
    except (TypeError, ValueError) as ex:
        if isinstance(ex, PlanError):
            raise
        raise PlanError(f"bad plan: {ex}") from ex


def state_to_dict(state: State) -> dict[str, Any]:
    data = dataclasses.asdict(state)
    data["plan"] = plan_to_dict(state.plan)
    data["phase"] = state.phase.value
    data["analyses"] = [
        {
            **dataclasses.asdict(a),
            "outcome": a.outcome.value,
            "gates": [{**dataclasses.asdict(g), "outcome": g.outcome.value} for g in a.gates],
        }
        for a in state.analyses
    ]
    return data


def state_from_dict(raw: dict[str, Any]) -> State:
    try:
        analyses = tuple(
            AnalysisRun(
                outcome=Outcome(a["outcome"]),
                gates=tuple(GateResult(**{**g, "outcome": Outcome(g["outcome"])}) for g in a["gates"]),
                step_index=a["step_index"],
                weight_pct=a["weight_pct"],
                at_s=a["at_s"],
                message=a.get("message", ""),
            )
            for a in raw.get("analyses", [])
        )
        return State(
            **{
                **raw,
                "plan": plan_from_dict(raw["plan"]),
                "phase": Phase(raw["phase"]),
                "analyses": analyses,
            }
        )
    except (KeyError, TypeError, ValueError) as ex:
        raise PlanError(f"stored cutover state unreadable: {ex}") from ex
