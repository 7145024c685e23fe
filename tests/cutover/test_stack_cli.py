"""`mcpstack stack …` argument handling and the fault file it writes (no processes started here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.stack import app


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCPSTACK_STATE_DIR", str(tmp_path))
    return tmp_path


def test_status_without_a_stack_says_so_and_exits_3() -> None:
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 3 and "stack up" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["faults", "purple"],
        ["faults", "green", "--tool-error-rate", "1.5"],
        ["faults", "green", "--added-latency-ms", "-1"],
    ],
)
def test_bad_fault_arguments_are_one_line_and_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_faults_write_the_file_the_server_reads_and_clear_removes_it(state: Path) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(app, ["faults", "green", "--tool-error-rate", "0.25", "--added-latency-ms", "40"]).exit_code == 0
    )
    path = state / "stack" / "green-faults.json"
    assert json.loads(path.read_text()) == {"tool_error_rate": 0.25, "added_latency_ms": 40}
    assert runner.invoke(app, ["faults", "green", "--clear"]).exit_code == 0
    assert not path.exists()


def test_up_with_clashing_ports_is_refused_before_starting_anything(state: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--port", "9000", "--blue-port", "9000"])
    assert result.exit_code == 2
    assert not (state / "stack" / "stack.json").exists()
