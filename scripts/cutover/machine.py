"""The cutover's transitions: pure functions from (state, event, time) to the next state, and `decide`, which names
the one thing the driver must do next. No I/O, no clock reads: time comes in as an argument.

Rules (kept here, beside the machine they govern):
- A shift step is done when its weight has been written *and verified by re-reading*.
- A failed analysis repeats the step's bake; more than `failure_limit` failed analyses roll back (phase Degraded).
- Inconclusive and Error results repeat the bake too; more than `inconclusive_limit` of them in a row count as one
  failed analysis. A failed read never counts as a pass.
- Degraded and Aborted move every bit of traffic back to the source slot (receiving slot at 0 %), verified.
- `promote` continues a paused cutover; `promote --full` skips the remaining steps and sends 100 % (verified).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scripts.cutover.model import (
    TERMINAL_PHASES,
    Analysis,
    AnalysisRun,
    Outcome,
    Pause,
    Phase,
    Plan,
    ShiftTraffic,
    State,
)


class TransitionError(Exception):
    """A verb that does not apply in the current phase (for example `promote` after a rollback)."""


@dataclass(frozen=True)
class SetWeights:
    weight_pct: int


@dataclass(frozen=True)
class Bake:
    until_s: float
    analysis: Analysis


@dataclass(frozen=True)
class WaitUntil:
    until_s: float


@dataclass(frozen=True)
class AwaitPromotion:
    pass


@dataclass(frozen=True)
class Finished:
    phase: Phase


Action = SetWeights | Bake | WaitUntil | AwaitPromotion | Finished


def begin(plan: Plan, *, run_id: str, now_s: float) -> State:
    return State(
        run_id=run_id,
        plan=plan,
        phase=Phase.PROGRESSING,
        step_index=0,
        weight_pct=plan.start_weight_pct,
        step_started_s=now_s,
        message="started",
    )


def decide(state: State) -> Action:
    plan = state.plan
    if state.phase in (Phase.DEGRADED, Phase.ABORTED):
        return SetWeights(0) if state.weight_pct != 0 or state.intended_pct is not None else Finished(state.phase)
    if state.phase is Phase.HEALTHY:
        return Finished(state.phase)
    if state.phase is Phase.PAUSED:
        return AwaitPromotion()
    if state.full_promotion:
        return SetWeights(100)
    if state.step_index >= len(plan.steps):
        # Every step done; the final weight is verified by the last shift, so only the phase is left to set.
        return SetWeights(plan.final_weight_pct())
    step = plan.steps[state.step_index]
    if isinstance(step, ShiftTraffic):
        return SetWeights(step.weight_pct)
    if isinstance(step, Pause):
        if step.duration_s is None:
            return AwaitPromotion()
        return WaitUntil(state.step_started_s + step.duration_s)
    return Bake(state.step_started_s + step.bake_s, step)


def _advance(state: State, now_s: float, message: str) -> State:
    nxt = state.step_index + 1
    if nxt >= len(state.plan.steps) and state.weight_pct == state.plan.final_weight_pct():
        return dataclasses.replace(
            state, step_index=nxt, phase=Phase.HEALTHY, step_started_s=now_s, message="promoted", finished_s=now_s
        )
    return dataclasses.replace(state, step_index=nxt, step_started_s=now_s, message=message, inconclusives=0)


def weights_intended(state: State, weight_pct: int) -> State:
    """Recorded (and persisted) before the write, so a crash between write and verification is recognisable."""
    return dataclasses.replace(state, intended_pct=weight_pct)


def weights_verified(state: State, weight_pct: int, now_s: float) -> State:
    """The router re-read `weight_pct` after a write (or found it already there)."""
    state = dataclasses.replace(state, weight_pct=weight_pct, intended_pct=None)
    if state.phase in (Phase.DEGRADED, Phase.ABORTED):
        return dataclasses.replace(state, finished_s=now_s if weight_pct == 0 else None)
    if state.full_promotion and weight_pct == 100:
        return dataclasses.replace(
            state,
            step_index=len(state.plan.steps),
            phase=Phase.HEALTHY,
            full_promotion=False,
            step_started_s=now_s,
            message="promoted (full)",
            finished_s=now_s,
        )
    if state.step_index >= len(state.plan.steps):
        return dataclasses.replace(state, phase=Phase.HEALTHY, message="promoted", finished_s=now_s)
    step = state.plan.steps[state.step_index]
    if isinstance(step, ShiftTraffic) and step.weight_pct == weight_pct:
        return _advance(state, now_s, f"{weight_pct} % on {state.plan.target}")
    return state


def pause_elapsed(state: State, now_s: float) -> State:
    step = state.plan.steps[state.step_index] if state.step_index < len(state.plan.steps) else None
    if state.phase is not Phase.PROGRESSING or not isinstance(step, Pause) or step.duration_s is None:
        raise TransitionError("no timed pause is running")
    return _advance(state, now_s, "pause over")


def paused(state: State, now_s: float) -> State:
    """A `pause` without a duration: wait for `promote`."""
    if state.phase is not Phase.PROGRESSING:
        raise TransitionError(f"cannot pause a {state.phase} cutover")
    return dataclasses.replace(state, phase=Phase.PAUSED, step_started_s=now_s, message="waiting for promote")


def analysis_done(state: State, run: AnalysisRun, now_s: float) -> State:
    plan = state.plan
    analyses = (*state.analyses, run)
    if run.outcome is Outcome.SUCCESSFUL:
        return _advance(dataclasses.replace(state, analyses=analyses), now_s, f"analysis at {run.weight_pct} % passed")
    failures, inconclusives = state.failures, state.inconclusives
    if run.outcome is Outcome.FAILED:
        failures += 1
    else:
        inconclusives += 1
        if inconclusives > plan.inconclusive_limit:
            failures, inconclusives = failures + 1, 0
    state = dataclasses.replace(
        state, analyses=analyses, failures=failures, inconclusives=inconclusives, step_started_s=now_s
    )
    if failures > plan.failure_limit:
        return dataclasses.replace(
            state,
            phase=Phase.DEGRADED,
            message=f"rolled back: {failures} failed analyses (limit {plan.failure_limit}); {run.message}",
        )
    return dataclasses.replace(state, message=f"analysis {run.outcome}: {run.message}; repeating the bake")


def promote(state: State, *, full: bool, now_s: float) -> State:
    if state.phase in TERMINAL_PHASES:
        raise TransitionError(f"cannot promote a {state.phase} cutover")
    if full:
        return dataclasses.replace(state, phase=Phase.PROGRESSING, full_promotion=True, message="promote --full")
    step = state.plan.steps[state.step_index] if state.step_index < len(state.plan.steps) else None
    if state.phase is Phase.PAUSED or isinstance(step, Pause | Analysis):
        # Skips the current pause or bake: the operator takes responsibility for this step.
        return _advance(dataclasses.replace(state, phase=Phase.PROGRESSING), now_s, "promoted by the operator")
    raise TransitionError("nothing to promote: the cutover is shifting traffic")


def abort(state: State, now_s: float) -> State:
    if state.phase is Phase.HEALTHY:
        raise TransitionError("the cutover is promoted; use `rollback` to send traffic back")
    if state.phase in (Phase.DEGRADED, Phase.ABORTED):
        return state
    return dataclasses.replace(state, phase=Phase.ABORTED, step_started_s=now_s, message="aborted by the operator")


def rollback(state: State, now_s: float) -> State:
    """Any phase, including after promotion: all traffic back to the source slot."""
    if state.phase is Phase.DEGRADED:
        return state
    return dataclasses.replace(
        state, phase=Phase.DEGRADED, step_started_s=now_s, finished_s=None, message="rolled back by the operator"
    )
