"""Every resource of every synthesized stage is priced, explicitly free, or listed as unpriced (never $0)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from scripts.cost import prices, stage, templates, throughput, workload
from scripts.cost.templates import FREE, PRICED

from .conftest import RESULTS


def test_priced_and_free_tables_do_not_overlap() -> None:
    assert not set(PRICED) & set(FREE)


def test_every_resource_type_of_every_stage_has_a_decision(assemblies: dict[str, Path]) -> None:
    undecided = {
        (name, r.type)
        for name, path in assemblies.items()
        for r in templates.load(path, name)
        if templates.decision(r.type) == "unpriced"
    }
    assert not undecided, f"resource types nobody decided about (add to PRICED or FREE): {sorted(undecided)}"


def test_every_resource_carries_a_slot(assemblies: dict[str, Path]) -> None:
    for name, path in assemblies.items():
        resources = templates.load(path, name)
        assert {r.scope for r in resources} <= {"blue", "green", "shared"}
        assert {r.scope for r in resources if r.type == "AWS::AutoScaling::AutoScalingGroup"} == {"blue", "green"}


def test_every_stage_prices_both_fleets_and_the_shared_resources(assemblies: dict[str, Path]) -> None:
    run = throughput.load(RESULTS)
    for name, path in assemblies.items():
        report = stage.price_stage(
            templates.load(path, name),
            stage=name,
            workload=workload.preset("saas-200k"),
            run=run,
            table=prices.EMBEDDED,
        )
        assert set(report.variants) == {"fastapi", "native"}, name
        for cost in report.variants.values():
            assert cost.sizing is not None and cost.sizing.count >= cost.sizing.availability_floor
            assert any(line.price_key.startswith("ec2.") for line in cost.dedicated)
        keys = {line.price_key for line in report.shared}
        assert {"elb.alb.hour", "elb.alb.lcu", "vpc.nat.hour", "vpc.public-ipv4", "cw.alarm"} <= keys, name
        assert any(k.startswith("rds.db.") for k in keys), name
        assert not report.unpriced, name


def test_an_unknown_resource_type_is_listed_unpriced_not_zero(assemblies: dict[str, Path], tmp_path: Path) -> None:
    name = next(iter(assemblies))
    for template in assemblies[name].glob("*.template.json"):
        (tmp_path / template.name).write_text(template.read_text())
    edge = next(tmp_path.glob("*-Edge.template.json"))
    body = json.loads(edge.read_text())
    body["Resources"]["Mystery"] = {"Type": "AWS::Mystery::Thing", "Properties": {}}
    edge.write_text(json.dumps(body))
    report = stage.price_stage(
        templates.load(tmp_path, name),
        stage=name,
        workload=workload.preset("low"),
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    assert [(u.resource_type, u.logical_id) for u in report.unpriced] == [("AWS::Mystery::Thing", "Mystery")]
    assert all(line.resource != f"{edge.name.removesuffix('.template.json')}/Mystery" for line in report.shared)


def test_missing_assembly_is_an_assembly_error(tmp_path: Path) -> None:
    with pytest.raises(templates.AssemblyError):
        templates.load(tmp_path, "dev")


def test_stage_instance_count_follows_the_measured_throughput(assemblies: dict[str, Path]) -> None:
    """At a volume far beyond the floor, the count is ceil(peak / (vCPUs x 10^6 / CPU us x utilisation))."""
    run = throughput.load(RESULTS)
    name = next(iter(assemblies))
    heavy = workload.preset("high")
    report = stage.price_stage(
        templates.load(assemblies[name], name), stage=name, workload=heavy, run=run, table=prices.EMBEDDED
    )
    for variant, cost in report.variants.items():
        sizing = cost.sizing
        assert sizing is not None
        capacity = Decimal(1_000_000) / run.measured[variant].cpu_us_per_request * sizing.instance_type.vcpus
        expected = (heavy.peak_rps / (capacity * sizing.target_utilisation)).to_integral_value(rounding="ROUND_CEILING")
        assert sizing.count == max(sizing.availability_floor, int(expected))


def test_a_slot_log_group_other_than_the_app_logs_is_priced_at_the_stated_volume(
    assemblies: dict[str, Path], tmp_path: Path
) -> None:
    name = next(iter(assemblies))
    for template in assemblies[name].glob("*.template.json"):
        (tmp_path / template.name).write_text(template.read_text())
    blue = next(tmp_path.glob("*-FleetBlue.template.json"))
    body = json.loads(blue.read_text())
    body["Resources"]["Extra"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": "/extra", "RetentionInDays": 30, "Tags": [{"Key": "Color", "Value": "blue"}]},
    }
    blue.write_text(json.dumps(body))
    report = stage.price_stage(
        templates.load(tmp_path, name),
        stage=name,
        workload=workload.preset("low"),
        run=throughput.load(RESULTS),
        table=prices.EMBEDDED,
    )
    extra = [line for line in report.variants["fastapi"].dedicated if "/extra" in line.item]
    assert [(line.price_key, line.quantity) for line in extra] == [
        ("cw.logs.ingest", stage.Assumptions().other_log_gb_per_month),
        ("cw.logs.storage", stage.Assumptions().other_log_gb_per_month),
    ]
    assert len([line for line in report.variants["fastapi"].dedicated if "application logs" in line.item]) == 2


def test_each_secret_line_names_its_secret(assemblies: dict[str, Path]) -> None:
    run = throughput.load(RESULTS)
    for name, path in assemblies.items():
        report = stage.price_stage(
            templates.load(path, name),
            stage=name,
            workload=workload.preset("saas-200k"),
            run=run,
            table=prices.EMBEDDED,
        )
        items = [line.item for line in report.shared if line.price_key == "secrets.secret"]
        assert len(items) >= 2, name
        assert all(item.startswith("secret: ") and len(item) > len("secret: ") for item in items), items
        assert len(set(items)) == len(items), items
