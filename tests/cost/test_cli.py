"""`mcpstack cost` on the real synthesized stacks and the real benchmark results; bad input is one line and a
non-zero exit, never a traceback."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cost.cli import EXIT_BAD_INPUT, EXIT_UNPRICED, app
from scripts.cost.render import ROUNDING_NOTE

from .conftest import RESULTS

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_report_json_on_every_stage_adds_up(assemblies: dict[str, Path]) -> None:
    for name, path in assemblies.items():
        code, out, err = run("report", "--stage", name, "--cdk-out", str(path), "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert data["stage"] == name
        assert data["benchmark"].startswith(("full run", "quick run"))
        calls = Decimal(data["workload"]["calls_per_month"])
        for variant in data["variants"].values():
            monthly = Decimal(variant["monthly_usd"])
            assert isinstance(variant["monthly_usd"], str)
            parts = Decimal(variant["dedicated_usd"]) + Decimal(variant["shared_allocated_usd"])
            assert abs(monthly - parts) <= Decimal("0.01")  # each part is rounded to the cent on its own
            per_million = Decimal(variant["per_million_calls_usd"])
            assert abs(per_million * calls / 1_000_000 - monthly) <= calls / 1_000_000 * Decimal("0.005") + Decimal(
                "0.01"
            )
            assert variant["sizing"]["set_by"] in (
                "availability floor",
                "group minimum",
                "CPU credit baseline",
                "throughput",
            )
        assert data["unpriced"] == []


def test_report_markdown_and_csv_name_every_line(assemblies: dict[str, Path]) -> None:
    name, path = next(iter(assemblies.items()))
    code, md, _ = run("report", "--stage", name, "--cdk-out", str(path), "--format", "markdown")
    assert code == 0 and "| FastAPI fleet |" in md and "| native fleet |" in md and "Assumptions:" in md
    assert ROUNDING_NOTE in md  # displayed parts may miss a displayed total by a cent: the report says so
    code, text, _ = run("report", "--stage", name, "--cdk-out", str(path), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(r["source"] and r["checked"] and r["amount_usd"] for r in rows)


def test_labour_is_a_separate_line_outside_infrastructure(assemblies: dict[str, Path]) -> None:
    name, path = next(iter(assemblies.items()))
    base = json.loads(run("report", "--stage", name, "--cdk-out", str(path), "--format", "json")[1])
    code, out, _ = run(
        "report", "--stage", name, "--cdk-out", str(path), "--format", "json",
        "--labour-rate", "100", "--labour-hours-fastapi", "20", "--labour-hours-native", "4",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["labour_usd"] == {"fastapi": "2000.00", "native": "400.00"}
    assert data["variants"]["fastapi"]["monthly_usd"] == base["variants"]["fastapi"]["monthly_usd"]


def test_strict_exits_non_zero_on_an_unpriced_resource(assemblies: dict[str, Path], tmp_path: Path) -> None:
    name, path = next(iter(assemblies.items()))
    for template in path.glob("*.template.json"):
        (tmp_path / template.name).write_text(template.read_text())
    network = next(tmp_path.glob("*-Network.template.json"))
    body = json.loads(network.read_text())
    body["Resources"]["Endpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Interface"}}
    network.write_text(json.dumps(body))
    code, _, err = run("report", "--stage", name, "--cdk-out", str(tmp_path), "--format", "json")
    assert code == 0 and "unpriced" in err
    code, out, _ = run("report", "--stage", name, "--cdk-out", str(tmp_path), "--format", "json", "--strict")
    assert code == EXIT_UNPRICED
    assert json.loads(out)["unpriced"][0]["type"] == "AWS::EC2::VPCEndpoint"


@pytest.fixture
def malformed(tmp_path: Path) -> Path:
    path = tmp_path / "results.json"
    path.write_text("{ not json")
    return path


@pytest.fixture
def zero_calls(tmp_path: Path) -> Path:
    path = tmp_path / "zero.yaml"
    path.write_text("calls_per_day: 0\npeak_factor: 3\n")
    return path


@pytest.mark.parametrize(
    "case",
    ["unknown-stage", "missing-results", "malformed-results", "zero-calls", "unknown-preset", "bad-format", "bad-yaml"],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    case: str, malformed: Path, zero_calls: Path, tmp_path: Path, assemblies: dict[str, Path]
) -> None:
    name, path = next(iter(assemblies.items()))
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("calls_per_day: [1, 2\n")
    args = {
        "unknown-stage": ["--stage", "no-such-stage"],
        "missing-results": ["--stage", name, "--cdk-out", str(path), "--results", str(tmp_path / "none.json")],
        "malformed-results": ["--stage", name, "--cdk-out", str(path), "--results", str(malformed)],
        "zero-calls": ["--stage", name, "--cdk-out", str(path), "--workload", str(zero_calls)],
        "unknown-preset": ["--stage", name, "--cdk-out", str(path), "--workload", "gigantic"],
        "bad-format": ["--stage", name, "--cdk-out", str(path), "--format", "pdf"],
        "bad-yaml": ["--stage", name, "--cdk-out", str(path), "--workload", str(bad_yaml)],
    }[case]
    code, out, err = run("report", *args)
    assert code == EXIT_BAD_INPUT
    assert "Traceback" not in err + out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_prices_json_lists_source_date_and_confidence_per_entry() -> None:
    code, out, _ = run("prices", "--format", "json")
    assert code == 0
    entries = json.loads(out)
    assert {e["key"] for e in entries} >= {"ec2.t3.medium", "elb.alb.lcu", "vpc.nat.hour", "vpc.public-ipv4"}
    assert all(e["source"] and e["checked"] and e["confidence"] for e in entries)


def test_prices_refresh_without_credentials_fetches_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run("prices", "--refresh")
    assert code == EXIT_BAD_INPUT and "no AWS credentials" in err


def test_sweep_marks_steps_and_never_falls(assemblies: dict[str, Path]) -> None:
    name, path = next(iter(assemblies.items()))
    code, out, err = run(
        "sweep", "--stage", name, "--cdk-out", str(path), "--from", "1000", "--to", "10000000000",
        "--per-decade", "2", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    for variant in ("fastapi", "native"):
        series = [p for p in data["points"] if p["variant"] == variant]
        totals = [Decimal(p["monthly_usd"]) for p in series]
        assert totals == sorted(totals)
        assert series[0]["set_by"] == "availability floor" and series[-1]["set_by"] == "throughput"
        assert any(s["variant"] == variant and s["leaves_floor"] for s in data["steps"])


def test_diff_sets_two_stages_side_by_side(assemblies: dict[str, Path]) -> None:
    (first, first_path), (second, second_path) = list(assemblies.items())[:2]
    code, out, err = run(
        "diff", "--stage", first, "--cdk-out", str(first_path), "--against", second,
        "--against-cdk-out", str(second_path), "--format", "json", "--results", str(RESULTS),
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["stage"], r["variant"]) for r in rows] == [
        (first, "FastAPI fleet"), (first, "native fleet"), (second, "FastAPI fleet"), (second, "native fleet")
    ]  # fmt: skip
    assert rows[0]["difference_vs_first"] == "0.00"
