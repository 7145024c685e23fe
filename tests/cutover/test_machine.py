"""The pure state machine and the gates: transitions and verdicts from plain data."""

from __future__ import annotations

import pytest

from scripts.cutover import machine
from scripts.cutover.codec import PlanError, plan_from_dict, plan_to_dict, state_from_dict, state_to_dict
from scripts.cutover.gates import GATE_MCP, GATE_P95, evaluate, histogram_quantile
from scripts.cutover.model import (
    Analysis,
    AnalysisRun,
    Gates,
    Outcome,
    Pause,
    Phase,
    Plan,
    Reading,
    ShiftTraffic,
    default_plan,
)
from tests.cutover.fakes import window

PLAN = Plan(
    source="blue",
    target="green",
    steps=(ShiftTraffic(10), Analysis(30, 100), ShiftTraffic(100), Analysis(30, 100)),
    failure_limit=1,
    inconclusive_limit=1,
)


def _run(outcome: Outcome) -> AnalysisRun:
    return AnalysisRun(outcome, (), 1, 10, 0.0, "")


def test_default_plan_steps_are_1_5_25_50_100_with_three_period_bakes() -> None:
    plan = default_plan(metric_period_s=60)
    shifts = [s.weight_pct for s in plan.steps if isinstance(s, ShiftTraffic)]
    bakes = {s.bake_s for s in plan.steps if isinstance(s, Analysis)}
    assert shifts == [1, 5, 25, 50, 100]
    assert bakes == {180}


def test_plan_not_ending_at_100_is_rejected() -> None:
    with pytest.raises(ValueError, match="100"):
        Plan(source="blue", target="green", steps=(ShiftTraffic(50),))


def test_decide_walks_shift_then_bake_then_healthy() -> None:
    state = machine.begin(PLAN, run_id="r", now_s=0)
    assert machine.decide(state) == machine.SetWeights(10)
    state = machine.weights_verified(state, 10, 1)
    assert machine.decide(state) == machine.Bake(31, PLAN.steps[1])  # type: ignore[arg-type]
    state = machine.analysis_done(state, _run(Outcome.SUCCESSFUL), 31)
    assert machine.decide(state) == machine.SetWeights(100)
    state = machine.weights_verified(state, 100, 32)
    state = machine.analysis_done(state, _run(Outcome.SUCCESSFUL), 62)
    assert state.phase is Phase.HEALTHY
    assert machine.decide(state) == machine.Finished(Phase.HEALTHY)


def test_failures_beyond_limit_degrade_and_send_weight_back() -> None:
    state = machine.weights_verified(machine.begin(PLAN, run_id="r", now_s=0), 10, 1)
    state = machine.analysis_done(state, _run(Outcome.FAILED), 31)
    assert state.phase is Phase.PROGRESSING  # one failure is within failure_limit=1: the bake repeats
    assert isinstance(machine.decide(state), machine.Bake)
    state = machine.analysis_done(state, _run(Outcome.FAILED), 61)
    assert state.phase is Phase.DEGRADED
    assert machine.decide(state) == machine.SetWeights(0)
    state = machine.weights_verified(state, 0, 62)
    assert machine.decide(state) == machine.Finished(Phase.DEGRADED)


def test_inconclusive_beyond_limit_counts_as_a_failure() -> None:
    state = machine.weights_verified(machine.begin(PLAN, run_id="r", now_s=0), 10, 1)
    state = machine.analysis_done(state, _run(Outcome.INCONCLUSIVE), 2)
    assert (state.failures, state.inconclusives) == (0, 1)
    state = machine.analysis_done(state, _run(Outcome.ERROR), 3)
    assert (state.failures, state.inconclusives) == (1, 0)
    state = machine.analysis_done(state, _run(Outcome.INCONCLUSIVE), 4)
    state = machine.analysis_done(state, _run(Outcome.INCONCLUSIVE), 5)
    assert state.phase is Phase.DEGRADED


def test_pause_without_duration_waits_for_promote() -> None:
    plan = Plan(source="blue", target="green", steps=(ShiftTraffic(50), Pause(), ShiftTraffic(100)))
    state = machine.weights_verified(machine.begin(plan, run_id="r", now_s=0), 50, 1)
    assert machine.decide(state) == machine.AwaitPromotion()
    state = machine.paused(state, 2)
    state = machine.promote(state, full=False, now_s=3)
    assert machine.decide(state) == machine.SetWeights(100)


def test_promote_full_sends_everything_then_healthy() -> None:
    state = machine.weights_verified(machine.begin(PLAN, run_id="r", now_s=0), 10, 1)
    state = machine.promote(state, full=True, now_s=2)
    assert machine.decide(state) == machine.SetWeights(100)
    assert machine.weights_verified(state, 100, 3).phase is Phase.HEALTHY


def test_promote_after_rollback_is_refused() -> None:
    state = machine.rollback(machine.begin(PLAN, run_id="r", now_s=0), 1)
    with pytest.raises(machine.TransitionError):
        machine.promote(state, full=True, now_s=2)


def test_abort_after_promotion_is_refused_but_rollback_works() -> None:
    state = machine.weights_verified(machine.begin(PLAN, run_id="r", now_s=0), 100, 1)
    state = machine.promote(state, full=True, now_s=2)
    state = machine.weights_verified(state, 100, 3)
    with pytest.raises(machine.TransitionError):
        machine.abort(state, 4)
    assert machine.decide(machine.rollback(state, 4)) == machine.SetWeights(0)


def test_mcp_is_error_beyond_budget_fails_although_http_is_all_200() -> None:
    reading = Reading(target=window(1000, errors=50), source=window(1000, errors=0))
    run = evaluate(Gates(), Analysis(30, 100), reading, step_index=1, weight_pct=10, at_s=0)
    assert run.outcome is Outcome.FAILED
    assert {g.name: g.outcome for g in run.gates}[GATE_MCP] is Outcome.FAILED


def test_mcp_errors_within_budget_pass() -> None:
    reading = Reading(target=window(1000, errors=5), source=window(1000, errors=0))
    run = evaluate(Gates(), Analysis(30, 100), reading, step_index=1, weight_pct=10, at_s=0)
    assert run.outcome is Outcome.SUCCESSFUL


def test_too_few_requests_is_inconclusive_even_when_numbers_look_good() -> None:
    reading = Reading(target=window(10), source=window(1000))
    run = evaluate(Gates(), Analysis(30, 100), reading, step_index=1, weight_pct=1, at_s=0)
    assert run.outcome is Outcome.INCONCLUSIVE


def test_missing_latency_is_inconclusive_not_a_pass() -> None:
    target = window(1000)
    reading = Reading(target=type(target)(**{**target.__dict__, "p95_ms": None}), source=window())
    run = evaluate(Gates(), Analysis(30, 100), reading, step_index=1, weight_pct=10, at_s=0)
    assert run.outcome is Outcome.INCONCLUSIVE
    assert {g.name: g.outcome for g in run.gates}[GATE_P95] is Outcome.INCONCLUSIVE


def test_p95_relative_to_source_fails_when_more_than_ratio() -> None:
    reading = Reading(target=window(p95_ms=90), source=window(p95_ms=30))
    run = evaluate(Gates(max_p95_ratio=2.0), Analysis(30, 100), reading, step_index=1, weight_pct=10, at_s=0)
    assert {g.name: g.outcome for g in run.gates}[GATE_P95] is Outcome.FAILED


def test_named_alarm_firing_fails() -> None:
    reading = Reading(target=window(), source=window(), firing_alarms=("a-5xx",))
    run = evaluate(Gates(alarm_names=("a-5xx",)), Analysis(30, 100), reading, step_index=1, weight_pct=10, at_s=0)
    assert run.outcome is Outcome.FAILED


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    inf = float("inf")
    assert histogram_quantile(0.5, (0.01, 0.1, inf), (0, 100, 100)) == pytest.approx(0.055)
    assert histogram_quantile(0.95, (0.01, 0.1, inf), (0, 0, 0)) is None


def test_plan_and_state_round_trip_through_json_dicts() -> None:
    state = machine.analysis_done(
        machine.weights_verified(machine.begin(PLAN, run_id="r", now_s=0), 10, 1),
        evaluate(Gates(), Analysis(30, 100), Reading(window(), window()), step_index=1, weight_pct=10, at_s=5),
        31,
    )
    assert plan_from_dict(plan_to_dict(PLAN)) == PLAN
    assert state_from_dict(state_to_dict(state)) == state


def test_plan_with_unknown_step_kind_is_a_plan_error() -> None:
    with pytest.raises(PlanError):
        plan_from_dict({"source": "blue", "target": "green", "steps": [{"kind": "jump"}]})


def test_errors_on_too_few_requests_are_inconclusive_not_failed() -> None:
    reading = Reading(target=window(10, errors=5), source=window(1000))
    run = evaluate(Gates(), Analysis(30, 100), reading, step_index=1, weight_pct=1, at_s=0)
    assert run.outcome is Outcome.INCONCLUSIVE
