"""`mcpstack cutover` against hostile plan files and a run stopped by a signal.

A plan value the machine cannot honour (a gate limit that is a string, a NaN bake, a zero poll interval, a slot named
"purple") is refused before anything is written, in one line with exit 2; it once passed, shifted 10 % of the traffic
and crashed with a traceback at the first analysis. A run stopped by SIGTERM stops where it is, like Ctrl-C: the lock
is released, the interruption is in the audit log, the state matches the live weights, and `start` resumes it.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scripts.cutover.cli import EXIT_TERMINATED, app
from scripts.cutover.model import Analysis, Plan, ShiftTraffic
from scripts.cutover.runner import Adapters, ExitCode, Runner
from tests.cutover.fakes import FakeClock, FakeMetrics, FakeRouter, FakeSmoke, ListAudit, MemoryLock, MemoryStore
from tests.cutover.test_aws import aws  # noqa: F401 - the moto fixture (ALB, SSM, CloudWatch Logs in process)

SHORT = json.loads((Path(__file__).parent / "short_plan.json").read_text())


def _with(path: str, value: Any) -> dict[str, Any]:
    plan = json.loads(json.dumps(SHORT))
    node = plan
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return plan


HOSTILE = {
    "gate-limit-string": (_with("gates.max_p95_ms", "abc"), "gates.max_p95_ms"),
    "gate-rate-nan": (_with("gates.max_5xx_rate", float("nan")), "gates.max_5xx_rate"),
    "gate-rate-above-1": (_with("gates.max_mcp_error_rate", 5), "gates.max_mcp_error_rate"),
    "gate-latency-negative": (_with("gates.max_p95_ms", -1), "gates.max_p95_ms"),
    "alarm-names-string": (_with("gates.alarm_names", "abc"), "alarm_names"),
    "bake-nan": (_with("steps.1", {"kind": "analysis", "bake_s": float("nan"), "min_requests": 1}), "bake_s"),
    "bake-infinite": (_with("steps.1", {"kind": "analysis", "bake_s": float("inf"), "min_requests": 1}), "bake_s"),
    "min-requests-string": (_with("steps.1", {"kind": "analysis", "bake_s": 4, "min_requests": "5"}), "min_requests"),
    "pause-negative": (_with("steps.1", {"kind": "pause", "duration_s": -5}), "duration_s"),
    "weight-fraction": (_with("steps.0", {"kind": "shift_traffic", "weight_pct": 10.7}), "whole percentage"),
    "weight-boolean": (_with("steps.0", {"kind": "shift_traffic", "weight_pct": True}), "whole percentage"),
    "poll-zero": (_with("poll_interval_s", 0), "poll_interval_s"),
    "healthy-polls-negative": (_with("healthy_polls", -3), "healthy_polls"),
    "failure-limit-string": (_with("failure_limit", "1"), "failure_limit"),
    "start-weight-500": (_with("start_weight_pct", 500), "start_weight_pct"),
    "deregistration-negative": (_with("deregistration_delay_s", -100), "deregistration_delay_s"),
    "synthetic-huge": (_with("synthetic_max_requests", 10**18), "synthetic_max_requests"),
    "source-purple": ({**SHORT, "source": "purple"}, "blue or green"),
    "target-purple": ({**SHORT, "source": "blue", "target": "purple"}, "blue or green"),
    "too-many-steps": (
        {**SHORT, "steps": [{"kind": "shift_traffic", "weight_pct": 100}] * 1001},
        "at most 1000 steps",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_plan_value_is_refused_in_one_line_before_anything_runs(name: str, tmp_path: Path) -> None:
    plan, message = HOSTILE[name]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))  # NaN and Infinity as Python's json writes and reads them
    for verb in ("plan", "start"):
        result = CliRunner().invoke(app, [verb, "--plan", str(path)])
        assert result.exit_code == ExitCode.USAGE, (verb, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_repository_plans_still_load() -> None:
    result = CliRunner().invoke(app, ["plan", "--plan", str(Path(__file__).parent / "short_plan.json")])
    assert result.exit_code == ExitCode.OK, result.output


class _SigtermAfterFirstWrite(FakeClock):
    """Sends this process SIGTERM at the first sleep after a weight write: mid-bake of the first step."""

    def __init__(self, router: FakeRouter) -> None:
        super().__init__()
        self.router = router
        self.fired = False

    def sleep(self, seconds: float) -> None:
        if self.router.writes and not self.fired:
            self.fired = True
            os.kill(os.getpid(), signal.SIGTERM)
        super().sleep(seconds)


def test_sigterm_mid_bake_stops_where_it_is_releases_the_lock_and_start_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router, store, lock, audit = FakeRouter(), MemoryStore(), MemoryLock(), ListAudit()
    clock = _SigtermAfterFirstWrite(router)
    adapters = Adapters(
        router=router, metrics=FakeMetrics(router), store=store, audit=audit, lock=lock, clock=clock,
        smoke=FakeSmoke(),
    )  # fmt: skip
    monkeypatch.setattr("scripts.cutover.cli._adapters", lambda *_args: adapters)
    plan = tmp_plan = Plan(
        source="blue", target="green", steps=(ShiftTraffic(10), Analysis(30, 10), ShiftTraffic(100), Analysis(30, 10))
    )
    monkeypatch.setattr("scripts.cutover.cli.load_plan", lambda *_args, **_kw: tmp_plan)
    previous = signal.getsignal(signal.SIGTERM)

    result = CliRunner().invoke(app, ["start"])

    assert clock.fired
    assert result.exit_code == EXIT_TERMINATED, result.output
    assert "SIGTERM" in result.stderr and "Traceback" not in result.output
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler is the run's only
    assert lock.owner is None  # released on the way out, as on Ctrl-C
    assert ("interrupted", {"signal": "SIGTERM", "verb": "start"}) in audit.events
    stored = store.load()
    assert stored is not None and stored.weight_pct == 10 and router.weights == {"blue": 90, "green": 10}

    resumed = Runner(adapters).start(plan, run_id="again")
    assert resumed.code is ExitCode.OK, resumed.message
    assert router.weights == {"blue": 0, "green": 100}


def test_a_stored_state_this_code_refuses_says_how_to_start_afresh(tmp_path: Path) -> None:
    from scripts.cutover.codec import state_to_dict
    from scripts.cutover.local import FileStore
    from scripts.cutover.model import Phase, State
    from scripts.cutover.ports import StateStoreError

    plan = Plan(source="blue", target="green", steps=(ShiftTraffic(100),))
    stored = state_to_dict(
        State(run_id="old", plan=plan, phase=Phase.ABORTED, step_index=0, weight_pct=0, step_started_s=0)
    )
    stored["plan"]["poll_interval_s"] = 0  # accepted by older code, refused now
    store = FileStore(tmp_path)
    store.path.write_text(json.dumps(stored))
    with pytest.raises(StateStoreError, match="move it aside to start afresh"):
        store.load()


def test_sigterm_on_aws_releases_the_ssm_lock_at_once_and_start_resumes(
    aws: Any,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, a SIGTERM'd AWS run died holding the SSM lock: every `start` got exit 6 until its 10-minute TTL."""
    from tests.cutover.test_aws import PLAN, STAGE, lock_parameter
    from tests.cutover.test_aws import _runner as _aws_runner

    class SigtermAfterListenerWrite(FakeClock):
        fired = False

        def sleep(self, seconds: float) -> None:
            if "ModifyListener" in aws.calls and not self.fired:
                self.fired = True
                os.kill(os.getpid(), signal.SIGTERM)
            super().sleep(seconds)

    clock = SigtermAfterListenerWrite()
    monkeypatch.setattr("scripts.cutover.cli._adapters", lambda *_args: aws.adapters(clock))
    monkeypatch.setattr("scripts.cutover.cli.load_plan", lambda *_args, **_kw: PLAN)

    result = CliRunner().invoke(app, ["start", "--target", "aws", "--stage", STAGE])

    assert clock.fired and result.exit_code == EXIT_TERMINATED, result.output
    with pytest.raises(aws.ssm.exceptions.ParameterNotFound):
        aws.ssm.get_parameter(Name=lock_parameter(STAGE))
    assert aws.live() == {"blue": 95, "green": 5}
    resumed = _aws_runner(aws.adapters(FakeClock())).start(PLAN, run_id="again")
    assert resumed.code is ExitCode.OK, resumed.message
    assert aws.live() == {"blue": 0, "green": 100}
