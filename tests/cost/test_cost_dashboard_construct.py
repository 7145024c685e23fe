"""The CloudWatch cost dashboard construct: metric math from the running instance counts and the same price table
the report uses, cost per million calls, and EstimatedCharges read in us-east-1."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

from infra import contract
from infra.components.cost_dashboard import CostDashboard, instance_hourly_usd, shared_hourly_usd
from infra.config import STAGES, StageConfig
from scripts.cost.prices import EMBEDDED


def body_of(config: StageConfig) -> str:
    app = App()
    stack = Stack(app, "CostDashboardTest", env=Environment(region=config.region))
    CostDashboard(
        stack,
        "Cost",
        config=config,
        auto_scaling_group_names={c: f"asg-{c}" for c in contract.COLORS},
        target_group_full_names={c: f"targetgroup/{c}/0123" for c in contract.COLORS},
        load_balancer_full_name="app/alb/4567",
    )
    dashboards = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1
    (resource,) = dashboards.values()
    assert resource["Properties"]["DashboardName"] == contract.cost_dashboard_name(config.name)
    return json.dumps(resource["Properties"]["DashboardBody"])


@pytest.fixture(scope="module")
def bodies() -> dict[str, str]:
    return {name: body_of(config) for name, config in STAGES.items()}


def test_slot_cost_is_instances_times_the_table_price(bodies: dict[str, str]) -> None:
    for name, config in STAGES.items():
        for color in contract.COLORS:
            fleet = config.fleet(color)
            expected = (
                EMBEDDED[f"ec2.{fleet.instance_type}"].usd + EMBEDDED["ebs.gp3"].usd * fleet.root_volume_gib / 730
            )
            assert instance_hourly_usd(config, color) == expected
            assert f"i{color[0]} * {expected.normalize():f}" in bodies[name], (name, color)


def test_dashboard_has_cost_per_million_and_us_east_1_billing(bodies: dict[str, str]) -> None:
    for body in bodies.values():
        assert "IF((rb + rg) > 0" in body and "* 1000000" in body
        assert "EstimatedCharges" in body and '\\"region\\":\\"us-east-1\\"' in body
        assert "GroupInServiceInstances" in body and "RequestCount" in body


def test_shared_cost_counts_each_nat_gateway_and_its_address() -> None:
    config = next(iter(STAGES.values()))
    more = replace(config, network=replace(config.network, nat_gateways=config.network.nat_gateways + 1))
    step = EMBEDDED["vpc.nat.hour"].usd + EMBEDDED["vpc.public-ipv4"].usd
    assert shared_hourly_usd(more) - shared_hourly_usd(config) == step


def test_multi_az_doubles_the_database_lines() -> None:
    config = next(iter(STAGES.values()))
    single = replace(config, database=replace(config.database, instance_class="t4g.small", multi_az=False))
    multi = replace(single, database=replace(single.database, multi_az=True))
    gib = single.database.allocated_storage_gib
    db_single = EMBEDDED["rds.db.t4g.small.single-az"].usd + EMBEDDED["rds.storage.single-az"].usd * gib / 730
    # Decimal division keeps 28 significant digits, so the two sums may differ in the last one.
    assert abs(shared_hourly_usd(multi) - shared_hourly_usd(single) - db_single) < Decimal("1e-20")
    assert isinstance(shared_hourly_usd(multi), Decimal)
