"""`mcpstack cutover …` argument handling: a bad argument or plan file is one clear line and a distinct exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cutover.cli import app
from scripts.cutover.model import Pause, Plan, ShiftTraffic
from scripts.cutover.runner import Adapters, ExitCode, Runner
from tests.cutover.fakes import FakeClock, FakeMetrics, FakeRouter, FakeSmoke, ListAudit, MemoryLock, MemoryStore


def test_aws_target_without_stage_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["status", "--target", "aws"])
    assert result.exit_code == ExitCode.USAGE
    assert "--stage is required" in result.output and "Traceback" not in result.output


def test_unreadable_plan_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "--plan", str(tmp_path / "missing.json")])
    assert result.exit_code == ExitCode.USAGE


def test_plan_with_a_bad_step_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"steps": [{"kind": "shift_traffic", "weight_pct": 150}]}')
    result = CliRunner().invoke(app, ["plan", "--plan", str(bad)])
    assert result.exit_code == ExitCode.USAGE
    assert "150" in result.output


def test_receiving_slot_must_be_blue_or_green() -> None:
    result = CliRunner().invoke(app, ["plan", "--to", "purple"])
    assert result.exit_code == ExitCode.USAGE


def test_local_status_without_a_stack_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPSTACK_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == ExitCode.ADAPTER_FAILED
    assert "stack up" in result.output and "Traceback" not in result.output


def test_aws_without_region_or_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(app, ["status", "--target", "aws", "--stage", "dev"])
    assert result.exit_code == ExitCode.ADAPTER_FAILED
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)


def _paused_rig(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeRouter, MemoryStore]:
    """A cutover paused at green 5 %, behind the CLI's adapter factory (fakes instead of HAProxy)."""
    router, store = FakeRouter(), MemoryStore()
    adapters = Adapters(
        router=router, metrics=FakeMetrics(router), store=store, audit=ListAudit(), lock=MemoryLock(),
        clock=FakeClock(), smoke=FakeSmoke(),
    )  # fmt: skip
    plan = Plan(source="blue", target="green", steps=(ShiftTraffic(5), Pause(None), ShiftTraffic(100)))
    assert Runner(adapters).start(plan, run_id="r1").code is ExitCode.PAUSED
    monkeypatch.setattr("scripts.cutover.cli._adapters", lambda *_args: adapters)
    return router, store


@pytest.mark.parametrize(
    ("args", "weights"),
    [
        (["promote"], {"green": 100, "blue": 0}),
        (["promote", "--full"], {"green": 100, "blue": 0}),
        (["abort"], {"green": 0, "blue": 100}),
        (["rollback"], {"green": 0, "blue": 100}),
    ],
)
def test_dry_run_of_a_mutating_verb_prints_the_change_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, args: list[str], weights: dict[str, int]
) -> None:
    router, store = _paused_rig(monkeypatch)
    writes, states = len(router.writes), len(store.states)
    result = CliRunner().invoke(app, [*args, "--dry-run"])
    assert result.exit_code == ExitCode.OK, result.output
    assert f"set {weights}" in result.output and "would store: phase" in result.output
    assert len(router.writes) == writes and len(store.states) == states
    assert router.weights == {"blue": 95, "green": 5}
