"""The cost report checked by hand against the synthesized templates and AWS's pricing rules: each test is a line a
reader recomputes from the template and the price table, and that the report once got wrong.

- An Auto Scaling group never runs fewer instances than its MinSize (a group whose MinSize is above the floor).
- CloudWatch bills an alarm per metric it evaluates; a metric-math alarm's expression entry is not a metric.
- A target-tracking scaling policy makes EC2 Auto Scaling create two alarms, billed as standard alarms.
- Answers leaving through an internet-facing ALB are data transfer out, free for the first 100 GB a month.
- `mcpstack cost report` on a clone with no built releases synthesizes from manifest-only releases.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scripts.cost import assembly, model, prices, stage, templates, throughput, workload
from scripts.cost.cli import app
from scripts.cost.templates import Resource

from .conftest import RESULTS

HOURS = Decimal(730)


def _cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _lines(resources: list[Resource], load: workload.Workload | None = None) -> list[model.Line]:
    pricer = stage._Pricer(
        resources,
        workload=load or workload.preset("saas-200k"),
        table=prices.EMBEDDED,
        assumptions=stage.Assumptions(),
        stage="dev",
    )
    return pricer.shared_and_slot_lines()


def _resource(type_: str, properties: dict[str, Any], *, unit: str = "Monitoring", scope: str = "shared") -> Resource:
    return Resource(
        stack=f"McpStack-dev-{unit}", unit=unit, logical_id="X", type=type_, scope=scope, properties=properties
    )


def test_group_min_size_above_the_floor_sets_the_instance_count(assemblies: dict[str, Path]) -> None:
    # burstable's FastAPI group with a MinSize of 4 (the cost post's fleet): the stack runs four however light the
    # load. The stage itself starts the group at the availability floor (infra/config.py).
    resources = [
        dataclasses.replace(r, properties={**r.properties, "MinSize": "4"})
        if r.type == "AWS::AutoScaling::AutoScalingGroup" and r.scope == "blue"
        else r
        for r in templates.load(assemblies["burstable"], "burstable")
    ]
    assert any(r.type == "AWS::AutoScaling::AutoScalingGroup" and r.scope == "blue" for r in resources)
    report = stage.price_stage(
        resources,
        stage="burstable",
        workload=workload.preset("saas-200k"),
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    blue = report.variants["fastapi"]
    assert blue.sizing is not None
    assert (blue.sizing.count, blue.sizing.set_by) == (4, "group minimum")
    instances = next(line for line in blue.dedicated if line.price_key == "ec2.t3.medium")
    assert (instances.quantity, _cents(instances.amount)) == (4 * HOURS, Decimal("121.47"))
    green = report.variants["native"]
    assert green.sizing is not None and (green.sizing.count, green.sizing.set_by) == (2, "availability floor")


def test_metric_math_alarm_is_billed_per_metric_not_per_expression() -> None:
    stat = {"Id": "m", "MetricStat": {"Metric": {"MetricName": "M"}, "Period": 60, "Stat": "Sum"}, "ReturnData": False}
    math = {"Id": "e", "Expression": "m1 / m2", "ReturnData": True}
    lines = _lines([_resource("AWS::CloudWatch::Alarm", {"Metrics": [math, stat, dict(stat, Id="n")]})])
    assert [(line.price_key, line.quantity) for line in lines] == [("cw.alarm", Decimal(2))]
    single = _lines([_resource("AWS::CloudWatch::Alarm", {"MetricName": "TargetResponseTime", "Period": 60})])
    assert [(line.price_key, line.quantity) for line in single] == [("cw.alarm", Decimal(1))]


def test_target_tracking_policy_bills_the_two_alarms_auto_scaling_creates() -> None:
    policy = _resource(
        "AWS::AutoScaling::ScalingPolicy",
        {"PolicyType": "TargetTrackingScaling", "TargetTrackingConfiguration": {"TargetValue": 6000}},
        unit="FleetGreen",
        scope="green",
    )
    lines = _lines([policy])
    assert [(line.scope, line.price_key, line.quantity) for line in lines] == [("green", "cw.alarm", Decimal(2))]
    assert templates.decision("AWS::AutoScaling::ScalingPolicy") == "priced"
    step = _resource("AWS::AutoScaling::ScalingPolicy", {"PolicyType": "StepScaling"}, unit="FleetGreen")
    assert _lines([step]) == []  # a step policy's alarms are resources of their own in the template


def test_data_transfer_out_is_priced_beyond_the_free_100_gb() -> None:
    high = workload.preset("high")  # 50M calls a day x 2,048 bytes: 3,114.67 GB a month
    lines = model.alb_lines(prices.EMBEDDED, high, azs=2)
    out = next(line for line in lines if line.price_key == "dto.internet")
    gb = high.calls_per_month * high.bytes_per_call / Decimal(10**9)
    assert out.quantity == gb
    assert _cents(out.amount) == _cents((gb - 100) * Decimal("0.09")) == Decimal("271.32")
    assert out.unit_price == (out.amount / gb).quantize(Decimal("0.0001"))  # not the first tier's $0
    light = model.alb_lines(prices.EMBEDDED, workload.preset("saas-200k"), azs=2)  # 12.46 GB: inside the free 100
    assert next(line.amount for line in light if line.price_key == "dto.internet") == 0
    internal = model.alb_lines(prices.EMBEDDED, high, azs=2, internet_facing=False)
    assert all(line.price_key != "dto.internet" for line in internal)


def test_report_on_a_clone_without_built_releases_synthesizes_from_manifests(
    assemblies: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPSTACK_STATE_DIR", str(tmp_path))  # no releases built here
    seen: list[tuple[str, ...]] = []

    def assembly_for(name: str, cdk_out: Path | None = None, *, context: tuple[str, ...] | list[str] = ()) -> Path:
        seen.append(tuple(context))
        return assemblies[name]

    monkeypatch.setattr(assembly, "assembly_for", assembly_for)
    result = CliRunner().invoke(app, ["report", "--stage", "dev", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    [context] = seen
    releases = [c.split("=", 1)[1] for c in context if c.startswith("releases_dir=")]
    assert releases and Path(releases[0]).is_relative_to(tmp_path)
    assert any(Path(releases[0]).rglob("*.json")), "manifest-only releases are written for synth to read"


def test_standard_credit_t3_fleet_is_sized_to_keep_its_average_at_the_baseline() -> None:
    # Flat traffic (peak = average) at a 100 % peak target: 1,000 req/s at 1,000 us of CPU each is 1 vCPU-second per
    # second. Throughput needs one t3.small (2 vCPU); its 20 % baseline earns 0.4 vCPU a second per instance, so a
    # standard-mode fleet needs ceil(1 / 0.4) = 3 or it is throttled. Unlimited mode runs above it and pays credits.
    flat = workload.Workload(name="flat", calls_per_day=Decimal(86_400_000), peak_factor=Decimal(1))
    busy = throughput.Measured(
        variant="native",
        server="s",
        label="s",
        tool_mix="m",
        cpu_us_per_request=Decimal(1000),
        whole_box_rps=Decimal(1),
    )
    small = model.instance_type("t3.small")
    kwargs: dict[str, Any] = {"availability_floor": 1, "target_utilisation": Decimal(1)}
    standard = model.size_fleet(flat, busy, small, standard_credits=True, **kwargs)
    assert (standard.required_by_throughput, standard.count, standard.set_by) == (1, 3, "CPU credit baseline")
    assert standard.average_utilisation <= small.baseline  # type: ignore[operator]
    unlimited = model.size_fleet(flat, busy, small, **kwargs)
    assert (unlimited.count, unlimited.set_by) == (1, "availability floor")
    surplus = model.fleet_lines(
        prices.EMBEDDED,
        scope="green",
        itype=small,
        count=unlimited.count,
        hours=HOURS,
        volume_gib=Decimal(8),
        average_utilisation=unlimited.average_utilisation,
    )
    credits = next(line for line in surplus if line.price_key == "ec2.t3.cpu-credits")
    # (50 % - 20 %) x 2 vCPU x 730 h = 438 vCPU-hours at $0.05
    assert (credits.quantity, _cents(credits.amount)) == (Decimal(438), Decimal("21.90"))


def _results_with(tmp_path: Path, **change: Any) -> Path:
    import json

    raw = json.loads(RESULTS.read_text())
    if "servers" in change:
        raw["servers"] = {name: change["servers"] for name in raw["servers"]}
    if "cpu_us" in change:
        raw["throughput"] = [dict(row, median_cpu_us_per_request=change["cpu_us"]) for row in raw["throughput"]]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("args", "workload_yaml", "results", "message"),
    [
        ((), "calls_per_day: 1e30\n", {}, "calls_per_day must be between 1 and"),
        ((), "calls_per_day: 1e-30\n", {}, "calls_per_day must be between 1 and"),
        ((), "calls_per_day: 100\npeak_factor: 1e100000\n", {}, "peak_factor must be between 1 and"),
        ((), None, {"servers": 1}, "servers.fastapi-deployed must be an object"),
        ((), None, {"cpu_us": 1e300}, "CPU per request must be between"),
        (("--target-utilisation", "1e-30"), None, {}, "--target-utilisation must be between 0.01 and 1"),
        (("--floor", "1" + "0" * 30), None, {}, "--floor must be between 1 and"),
        (("--labour-rate", "1e400", "--labour-hours-native", "1"), None, {}, "labour rate and hours must be between"),
    ],
    ids=[
        "huge-volume",
        "tiny-volume",
        "huge-peak",
        "server-not-object",
        "huge-cpu",
        "tiny-util",
        "huge-floor",
        "labour",
    ],
)
def test_out_of_range_numbers_are_one_line_and_exit_2(
    assemblies: dict[str, Path],
    tmp_path: Path,
    args: tuple[str, ...],
    workload_yaml: str | None,
    results: dict[str, Any],
    message: str,
) -> None:
    command = ["report", "--stage", "dev", "--cdk-out", str(assemblies["dev"]), "--format", "json", *args]
    if workload_yaml is not None:
        (tmp_path / "w.yaml").write_text(workload_yaml)
        command += ["--workload", str(tmp_path / "w.yaml")]
    command += ["--results", str(_results_with(tmp_path, **results) if results else RESULTS)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sweep_refuses_a_range_or_density_it_cannot_walk(assemblies: dict[str, Path]) -> None:
    for extra in (("--to", "1e40"), ("--per-decade", "100000000")):
        result = CliRunner().invoke(
            app, ["sweep", "--stage", "dev", "--cdk-out", str(assemblies["dev"]), "--from", "1", "--to", "1e9", *extra]
        )
        assert result.exit_code == 2 and "--per-decade <= 100" in result.stderr, result.output


def test_generated_block_in_docs_cost_md_is_what_the_tool_renders_now(assemblies: dict[str, Path]) -> None:
    """docs/cost.md's block is generated by `cost report --into`; a change to the model or the benchmark results
    file without regenerating it leaves the docs quoting figures the tool no longer gives."""
    from scripts.cost import render
    from scripts.cost.cli import BLOCK_END
    from scripts.state import REPO_ROOT

    text = (REPO_ROOT / "docs" / "cost.md").read_text()
    head, marker, rest = text.partition("; do not edit by hand._\n\n")
    block, end, _ = rest.partition("\n" + BLOCK_END)
    assert marker and end, "docs/cost.md has no generated block"
    command = head.rsplit("_Generated by `", 1)[1].removesuffix("`")
    words = command.split()
    name, preset = words[words.index("--stage") + 1], words[words.index("--workload") + 1]
    report = stage.price_stage(
        templates.load(assemblies[name], name),
        stage=name,
        workload=workload.preset(preset),
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    assert block == render.to_markdown(report), f"regenerate: {command}"


@pytest.mark.parametrize("command", ["diff", "sweep", "prices"])
def test_a_format_the_command_cannot_print_is_refused_not_shown_as_a_table(
    assemblies: dict[str, Path], command: str
) -> None:
    where = [] if command == "prices" else ["--stage", "dev", "--cdk-out", str(assemblies["dev"])]
    result = CliRunner().invoke(app, [command, *where, "--format", "csv"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "error: unknown format 'csv'; expected table or json"


def test_a_count_above_the_group_max_size_is_flagged_not_priced_silently(assemblies: dict[str, Path]) -> None:
    # 1e9 calls a day at 3x peak is 34,722 req/s: 33 FastAPI t3.medium, where burstable's group stops at 6.
    heavy = workload.preset("saas-200k").at_volume(Decimal(10**9))
    report = stage.price_stage(
        templates.load(assemblies["burstable"], "burstable"),
        stage="burstable",
        workload=heavy,
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    blue = report.variants["fastapi"].sizing
    assert blue is not None and blue.group_maximum == 6 and blue.count > 6
    assert blue.above_maximum and "above the group's MaxSize 6" in blue.set_by_shown
    light = stage.price_stage(
        templates.load(assemblies["burstable"], "burstable"),
        stage="burstable",
        workload=workload.preset("saas-200k"),
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    assert not any(v.sizing and v.sizing.above_maximum for v in light.variants.values())


def test_results_file_strings_reach_the_report_as_one_plain_line(tmp_path: Path) -> None:
    """The run's strings are printed in every report and written into docs/cost.md: a results file from elsewhere
    cannot break the page's tables or lines (and the report names the machine one vCPU is mapped to)."""
    import json

    raw = json.loads(RESULTS.read_text())
    raw["environment"]["cpu_model"] = "Evil | CPU\n# heading `code` <b>" + "x" * 500
    raw["generated_at"] = "2026-11-30\n| forged | row |"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(raw))
    run = throughput.load(path)
    assert run.cpu_model.startswith("Evil CPU heading code b ") and len(run.cpu_model) == 100
    assert "\n" not in run.name and "|" not in run.name
    assert f"({run.cores} cores, {run.cpu_model})" in run.assumption()


def test_a_workload_name_heads_the_report_as_one_plain_line(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text('name: "two\\nlines | and a forged cell"\ncalls_per_day: 1000\n')
    assert workload.load(path).name == "two lines and a forged cell"
