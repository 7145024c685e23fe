"""The driver with fake adapters and a fake clock: verified writes, rollback, resume, no-op, lock, dry-run,
throttling, pre-flight."""

from __future__ import annotations

import dataclasses

import pytest

from scripts.cutover.model import Analysis, Pause, Phase, Plan, Reading, ShiftTraffic
from scripts.cutover.ports import MetricsError
from scripts.cutover.runner import Adapters, ExitCode, RetryPolicy, Runner
from tests.cutover.fakes import (
    GOOD,
    Crash,
    FakeClock,
    FakeMetrics,
    FakeRouter,
    FakeSmoke,
    ListAudit,
    MemoryLock,
    MemoryStore,
    window,
)

PLAN = Plan(
    source="blue",
    target="green",
    steps=(ShiftTraffic(10), Analysis(20, 100), ShiftTraffic(50), Analysis(20, 100), ShiftTraffic(100)),
    failure_limit=1,
    inconclusive_limit=1,
    healthy_polls=3,
    poll_interval_s=5,
)
BAD = Reading(target=window(1000, errors=200), source=window(1000))


@dataclasses.dataclass
class Rig:
    router: FakeRouter
    metrics: FakeMetrics
    store: MemoryStore
    audit: ListAudit
    lock: MemoryLock
    clock: FakeClock
    smoke: FakeSmoke

    def runner(self) -> Runner:
        adapters = Adapters(
            router=self.router,
            metrics=self.metrics,
            store=self.store,
            audit=self.audit,
            lock=self.lock,
            clock=self.clock,
            smoke=self.smoke,
        )
        return Runner(adapters, retry=RetryPolicy(attempts=4, initial_backoff_s=1, verify_interval_s=1))


@pytest.fixture
def rig() -> Rig:
    router = FakeRouter()
    return Rig(router, FakeMetrics(router), MemoryStore(), ListAudit(), MemoryLock(), FakeClock(), FakeSmoke())


def test_happy_path_reaches_green_100_and_healthy(rig: Rig) -> None:
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.OK
    assert rig.router.weights == {"blue": 0, "green": 100}
    assert rig.router.writes == [{"green": 10, "blue": 90}, {"green": 50, "blue": 50}, {"green": 100, "blue": 0}]
    assert rig.store.load() is not None and rig.store.load().phase is Phase.HEALTHY  # type: ignore[union-attr]
    assert rig.smoke.checked == ["green"]


def test_failing_gate_rolls_back_to_blue_100(rig: Rig) -> None:
    rig.metrics.script = lambda pct: BAD if pct >= 50 else GOOD
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.ROLLED_BACK
    assert rig.router.weights == {"blue": 100, "green": 0}
    assert result.state is not None and result.state.failures == 2
    assert rig.audit.names().count("analysis") == 3  # one pass at 10 %, two failures at 50 %


def test_failed_read_never_passes_and_ends_in_rollback(rig: Rig) -> None:
    rig.metrics.script = lambda pct: MetricsError("GetMetricData: throttled")
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.ROLLED_BACK
    assert rig.router.weights == {"blue": 100, "green": 0}


def test_crash_between_write_and_verify_resumes_without_rewriting(rig: Rig) -> None:
    rig.router.crash_after_write = True
    with pytest.raises(Crash):
        rig.runner().start(PLAN, run_id="r1")
    rig.lock.release()  # the dead process's lock (a real flock dies with its process)
    stored = rig.store.load()
    assert stored is not None and stored.intended_pct == 10 and stored.weight_pct == 0
    result = rig.runner().resume()
    assert result.code is ExitCode.OK
    assert rig.router.writes[:2] == [{"green": 10, "blue": 90}, {"green": 50, "blue": 50}]
    assert "reconciled" in rig.audit.names()


def test_second_start_after_promotion_is_a_no_op(rig: Rig) -> None:
    assert rig.runner().start(PLAN, run_id="r1").code is ExitCode.OK
    writes = len(rig.router.writes)
    result = rig.runner().start(PLAN, run_id="r2")
    assert result.code is ExitCode.OK
    assert len(rig.router.writes) == writes
    assert rig.audit.names()[-1] == "noop"


def test_held_lock_stops_a_second_run(rig: Rig) -> None:
    rig.lock.acquire("someone else")
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.LOCK_HELD
    assert rig.router.writes == []
    assert rig.store.load() is None


def test_dry_run_lists_calls_and_writes_nothing(rig: Rig) -> None:
    lines = rig.runner().dry_run(PLAN)
    assert any("set {'green': 10, 'blue': 90}" in line for line in lines)
    assert rig.router.writes == [] and rig.store.states == [] and rig.audit.events == []


def test_throttled_writes_are_retried_with_backoff(rig: Rig) -> None:
    rig.router.throttle_next = 2
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.OK
    assert rig.audit.names().count("throttled") == 2


def test_throttling_that_never_ends_fails_with_state_kept(rig: Rig) -> None:
    rig.router.throttle_next = 100
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.ADAPTER_FAILED
    assert rig.store.load() is not None and rig.store.load().intended_pct == 10  # type: ignore[union-attr]


def test_preflight_refuses_when_live_weights_differ_from_plan_start(rig: Rig) -> None:
    rig.router.weights = {"blue": 50, "green": 50}
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.PREFLIGHT_FAILED
    assert rig.router.writes == []


def test_preflight_refuses_unhealthy_receiving_slot(rig: Rig) -> None:
    from scripts.cutover.ports import TargetHealth

    rig.router.health["green"] = TargetHealth(1, 1)
    assert rig.runner().start(PLAN, run_id="r1").code is ExitCode.PREFLIGHT_FAILED
    assert rig.router.writes == []


def test_preflight_refuses_failed_behaviour_check(rig: Rig) -> None:
    rig.smoke.ok = False
    assert rig.runner().start(PLAN, run_id="r1").code is ExitCode.PREFLIGHT_FAILED


def test_preflight_refuses_firing_gate_alarm(rig: Rig) -> None:
    rig.metrics.firing = ("McpStack-dev-green-5xx-rate",)
    assert rig.runner().start(PLAN, run_id="r1").code is ExitCode.PREFLIGHT_FAILED


def test_weights_changed_outside_the_cutover_refuse_to_resume(rig: Rig) -> None:
    rig.router.crash_after_write = True
    with pytest.raises(Crash):
        rig.runner().start(PLAN, run_id="r1")
    rig.lock.release()
    rig.router.weights = {"blue": 70, "green": 30}
    assert rig.runner().resume().code is ExitCode.DIVERGED


def test_pause_then_promote_completes(rig: Rig) -> None:
    plan = dataclasses.replace(PLAN, steps=(ShiftTraffic(10), Pause(), ShiftTraffic(100)))
    assert rig.runner().start(plan, run_id="r1").code is ExitCode.PAUSED
    assert rig.router.weights == {"blue": 90, "green": 10}
    assert rig.runner().promote(full=False).code is ExitCode.OK
    assert rig.router.weights == {"blue": 0, "green": 100}


def test_abort_of_a_paused_cutover_returns_traffic(rig: Rig) -> None:
    plan = dataclasses.replace(PLAN, steps=(ShiftTraffic(10), Pause(), ShiftTraffic(100)))
    rig.runner().start(plan, run_id="r1")
    result = rig.runner().abort()
    assert result.code is ExitCode.OK
    assert result.state is not None and result.state.phase is Phase.ABORTED
    assert rig.router.weights == {"blue": 100, "green": 0}


def test_rollback_after_promotion_sends_traffic_back(rig: Rig) -> None:
    rig.runner().start(PLAN, run_id="r1")
    assert rig.runner().rollback().code is ExitCode.OK
    assert rig.router.weights == {"blue": 100, "green": 0}


def test_reverse_cutover_after_promotion_runs_as_a_new_plan(rig: Rig) -> None:
    rig.runner().start(PLAN, run_id="r1")
    reverse = dataclasses.replace(PLAN, source="green", target="blue")
    assert rig.runner().start(reverse, run_id="r2").code is ExitCode.OK
    assert rig.router.weights == {"blue": 100, "green": 0}


def test_unreadable_metrics_baseline_is_an_error_result_that_ends_in_rollback(rig: Rig) -> None:
    rig.metrics.begin_error = MetricsError("/metrics refused")
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.ROLLED_BACK
    assert result.state is not None and {a.outcome for a in result.state.analyses} == {"Error"}
    assert rig.router.weights == {"blue": 100, "green": 0}


class FakeSynthetic:
    def __init__(self) -> None:
        self.sent = 0

    def send(self, count: int) -> int:
        self.sent += count
        return count


def test_too_little_traffic_gets_bounded_synthetic_calls_and_then_judges(rig: Rig) -> None:
    synthetic = FakeSynthetic()
    # Real traffic gives the receiving slot 10 requests a bake; synthetic calls reach it in proportion to its weight.
    rig.metrics.script = lambda pct: Reading(target=window(10 + synthetic.sent * pct // 100), source=window(1000))
    plan = dataclasses.replace(PLAN, synthetic_max_requests=5000)
    runner = rig.runner()
    runner.a = dataclasses.replace(runner.a, synthetic=synthetic)
    result = runner.start(plan, run_id="r1")
    assert result.code is ExitCode.OK
    assert 0 < synthetic.sent <= 2 * plan.synthetic_max_requests
    assert "synthetic_traffic" in rig.audit.names()


def test_without_synthetic_traffic_too_little_traffic_never_passes(rig: Rig) -> None:
    rig.metrics.script = lambda pct: Reading(target=window(10), source=window(1000))
    result = rig.runner().start(PLAN, run_id="r1")
    assert result.code is ExitCode.ROLLED_BACK
    assert rig.router.weights == {"blue": 100, "green": 0}


def test_abort_requested_from_another_terminal_stops_the_bake_and_returns_traffic(rig: Rig) -> None:
    from tests.cutover.fakes import MemoryAbortSignal

    signal = MemoryAbortSignal()

    def reading(pct: int) -> Reading:
        if pct == 50:
            signal.request("operator in another terminal")
        return GOOD

    rig.metrics.script = reading
    runner = rig.runner()
    runner.a = dataclasses.replace(runner.a, abort_signal=signal)
    result = runner.start(PLAN, run_id="r1")
    assert result.code is ExitCode.ABORTED
    assert rig.router.weights == {"blue": 100, "green": 0}
    assert signal.requested() is None
    assert ("abort", {"run_id": "r1", "by": "operator in another terminal"}) in rig.audit.events


def test_abort_while_another_run_holds_the_lock_asks_it_and_says_when_unconfirmed(rig: Rig) -> None:
    from tests.cutover.fakes import MemoryAbortSignal

    signal = MemoryAbortSignal()
    rig.lock.acquire("the running cutover")
    runner = rig.runner()
    runner.a = dataclasses.replace(runner.a, abort_signal=signal)
    result = runner.abort(wait_s=10)
    assert result.code is ExitCode.LOCK_HELD and "not confirmed" in result.message
    assert signal.requested() is not None  # left for the running cutover to act on


def test_stale_abort_request_does_not_abort_a_new_run(rig: Rig) -> None:
    from tests.cutover.fakes import MemoryAbortSignal

    signal = MemoryAbortSignal()
    signal.request("yesterday")
    runner = rig.runner()
    runner.a = dataclasses.replace(runner.a, abort_signal=signal)
    assert runner.start(PLAN, run_id="r1").code is ExitCode.OK


def test_start_with_an_unfinished_run_resumes_it_and_says_so(rig: Rig) -> None:
    paused = dataclasses.replace(PLAN, steps=(ShiftTraffic(10), Pause(), ShiftTraffic(100)))
    assert rig.runner().start(paused, run_id="r1").code is ExitCode.PAUSED
    result = rig.runner().start(PLAN, run_id="r2")
    assert result.code is ExitCode.PAUSED and "resumed run r1" in result.message
    assert rig.router.weights == {"blue": 90, "green": 10}
