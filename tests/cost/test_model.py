"""The cost model's arithmetic: the design's worked example to the cent, unit prices x 730, the LCU example, the
workload invariants, fleet sizing, and the price table's provenance."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from scripts.cost import model
from scripts.cost.model import (
    LcuDimensions,
    alb_lines,
    cloudwatch_lines,
    fleet_lines,
    instance_type,
    rds_lines,
    size_fleet,
    total,
    variant_cost,
)
from scripts.cost.money import cents, usd
from scripts.cost.prices import EMBEDDED, HOURS_PER_MONTH
from scripts.cost.throughput import Measured
from scripts.cost.workload import PRESETS, Workload, WorkloadError, preset

D = Decimal
SAAS = preset("saas-200k")


def worked_example_shared() -> list[model.Line]:
    """The shared block of the worked example: ALB (two AZs, one rule), RDS db.t4g.small Single-AZ with 20 GB,
    CloudWatch (operations and cost dashboards, 8 alarms, 29 custom metrics, 256 log bytes per call kept a month);
    no NAT gateway."""
    log_gb = SAAS.calls_per_month * SAAS.log_bytes_per_call / model.GB
    return [
        *alb_lines(EMBEDDED, SAAS, azs=2, rules=1),
        *rds_lines(EMBEDDED, instance_class="db.t4g.small", multi_az=False, storage_gib=D(20), hours=D(730)),
        *cloudwatch_lines(EMBEDDED, dashboards=2, alarms=8, custom_metrics=29, log_gb=log_gb),
    ]


def fleet(name: str, count: int) -> list[model.Line]:
    return fleet_lines(EMBEDDED, scope="blue", itype=instance_type(name), count=count, hours=D(730), volume_gib=D(8))


@pytest.mark.parametrize(
    ("name", "count", "monthly", "per_million"),
    [("t3.medium", 4, "190.28", "31.28"), ("t3.small", 1, "82.08", None), ("t3.small", 2, "97.90", None)],
)
def test_worked_example_reproduces_to_the_cent(name: str, count: int, monthly: str, per_million: str | None) -> None:
    cost = variant_cost("fastapi", None, fleet(name, count), worked_example_shared(), SAAS)
    assert cents(cost.total) == D(monthly)
    if per_million is not None:
        assert cents(cost.per_million) == D(per_million)


def test_worked_example_shared_block_has_no_nat_and_prices_every_line() -> None:
    shared = worked_example_shared()
    assert not [line for line in shared if line.price_key.startswith("vpc.nat")]
    assert all(line.source and line.checked for line in shared)
    assert cents(total(shared)) == D("66.25")


@pytest.mark.parametrize(
    ("key", "quantity", "expected"),
    [
        ("ec2.t3.medium", D(730), "30.37"),
        ("ec2.t3.small", D(730), "15.18"),
        ("ec2.t3.large", D(730), "60.74"),
        ("elb.alb.hour", D(730), "16.43"),
        ("vpc.nat.hour", D(730), "32.85"),
        ("ebs.gp3", D(40), "3.20"),
        ("ec2.t3.cpu-credits", D(1460), "73.00"),
    ],
)
def test_unit_price_times_quantity_rounds_half_up_to_the_cent(key: str, quantity: Decimal, expected: str) -> None:
    assert cents(EMBEDDED[key].cost(quantity)) == D(expected)


def test_alb_hours_round_half_up_not_to_even() -> None:
    amount = EMBEDDED["elb.alb.hour"].cost(HOURS_PER_MONTH)
    assert amount == D("16.425")
    assert usd(amount) == "$16.43"


def test_lcu_is_the_largest_dimension_of_the_design_example() -> None:
    dims = LcuDimensions(
        new_connections_per_s=D(100),
        active_connections_per_min=D(18_000),
        processed_gb_per_hour=D("3.6"),
        rule_evaluations_per_s=D(400) * (20 - model.FREE_RULES),
    )
    assert dims.by_dimension == {
        "new connections": D(4),
        "active connections": D(6),
        "processed bytes": D("3.6"),
        "rule evaluations": D(4),
    }
    assert dims.lcu == D(6)
    assert dims.dominant == "active connections"


def test_lcu_counts_rule_evaluations_only_beyond_ten_free_rules() -> None:
    ten = model.lcu_dimensions(SAAS, rules=10)
    assert ten.rule_evaluations_per_s == 0
    eleven = model.lcu_dimensions(SAAS, rules=11)
    assert eleven.rule_evaluations_per_s == SAAS.average_rps


def test_workload_rates_of_200k_calls_a_day_at_three_times_peak() -> None:
    assert SAAS.average_rps.quantize(D("0.0001")) == D("2.3148")
    assert SAAS.peak_rps.quantize(D("0.001")) == D("6.944")
    assert SAAS.calls_per_month.to_integral_value() == D(6_083_333)


def measured(variant: model.Variant = "native", cpu_us: str = "500") -> Measured:
    return Measured(
        variant=variant, server="s", label="s", tool_mix="m", cpu_us_per_request=D(cpu_us), whole_box_rps=D(1)
    )


def price_at(calls_per_day: int, *, cpu_us: str = "500", peak_factor: str = "3") -> model.VariantCost:
    workload = SAAS.at_volume(D(calls_per_day), D(peak_factor))
    itype = instance_type("t3.small")
    sizing = size_fleet(workload, measured(cpu_us=cpu_us), itype, availability_floor=2)
    lines = fleet_lines(
        EMBEDDED,
        scope="green",
        itype=itype,
        count=sizing.count,
        hours=workload.hours_per_month,
        volume_gib=D(8),
        average_utilisation=sizing.average_utilisation,
    )
    log_gb = workload.calls_per_month * workload.log_bytes_per_call / model.GB
    shared = [*alb_lines(EMBEDDED, workload, azs=2), *cloudwatch_lines(EMBEDDED, log_gb=log_gb)]
    return variant_cost("native", sizing, lines, shared, workload)


@pytest.mark.parametrize("calls_per_day", [1_000, 200_000, 3_000_000, 80_000_000])
def test_cost_per_million_times_calls_is_the_total(calls_per_day: int) -> None:
    cost = price_at(calls_per_day)
    assert cost.per_million * cost.calls_per_month / D(1_000_000) == pytest.approx(cost.total, abs=D("1e-20"))


def test_cost_never_falls_as_volume_rises() -> None:
    volumes = [int(10 ** (e / 4)) for e in range(12, 37)]  # 1k .. 1e9 calls a day, four points a decade
    totals = [price_at(v).total for v in volumes]
    assert all(a <= b for a, b in itertools.pairwise(totals))
    assert totals[-1] > totals[0]


def test_fleet_size_is_the_availability_floor_at_low_volume_and_throughput_at_high() -> None:
    low = price_at(1_000).sizing
    high = price_at(500_000_000).sizing
    assert low is not None and high is not None
    assert (low.count, low.set_by) == (2, "availability floor")
    assert high.set_by == "throughput"
    # ceil(peak / (capacity x utilisation)): 500 us per request is 2,000 req/s per vCPU, 4,000 per t3.small.
    peak = D(500_000_000) / 86_400 * 3
    assert high.count == model.ceil_int(peak / (D(4000) * model.DEFAULT_TARGET_UTILISATION))


def test_t3_credits_appear_only_above_the_baseline() -> None:
    quiet = price_at(200_000)
    assert not [line for line in quiet.dedicated if line.price_key == "ec2.t3.cpu-credits"]
    # A flat load (peak = average) of 4,000 req/s at 500 us: two t3.small at 50 % CPU each, 30 points over baseline.
    busy = price_at(345_600_000, peak_factor="1")
    credits = [line for line in busy.dedicated if line.price_key == "ec2.t3.cpu-credits"]
    assert busy.sizing is not None and busy.sizing.count == 2
    assert busy.sizing.average_utilisation == D("0.5")
    assert credits[0].quantity == (D("0.5") - D("0.2")) * 2 * 2 * 730


def test_t3_credits_are_priced_only_in_unlimited_mode() -> None:
    def lines(*, unlimited: bool) -> list[model.Line]:
        return fleet_lines(
            EMBEDDED,
            scope="green",
            itype=instance_type("t3.small"),
            count=2,
            hours=D(730),
            volume_gib=D(8),
            average_utilisation=D("0.5"),
            unlimited_credits=unlimited,
        )

    unlimited, standard = lines(unlimited=True), lines(unlimited=False)
    assert [line.price_key for line in unlimited if line.price_key == "ec2.t3.cpu-credits"] == ["ec2.t3.cpu-credits"]
    assert [line.price_key for line in standard if line.price_key == "ec2.t3.cpu-credits"] == []


def test_every_price_has_a_source_a_date_a_unit_and_a_positive_rate() -> None:
    for key, entry in EMBEDDED.entries.items():
        assert entry.key == key
        assert entry.source.strip() and "http" in entry.source, key
        assert entry.checked.year >= 2024, key
        assert entry.unit and entry.region == "us-east-1", key
        assert entry.confidence in ("high", "medium", "verify"), key
        assert any(t.usd > 0 for t in entry.tiers), key


def test_tiered_price_is_free_within_the_first_tier_and_charged_beyond() -> None:
    dto = EMBEDDED["dto.internet"]
    assert dto.cost(D(100)) == 0
    assert dto.cost(D(150)) == D(50) * D("0.09")
    assert dto.cost(D(10_340)) == D(10_140) * D("0.09") + D(100) * D("0.085")


@pytest.mark.parametrize(
    ("field", "value"),
    [("calls_per_day", D(0)), ("calls_per_day", D(-5)), ("peak_factor", D("0.5")), ("bytes_per_call", D(-1))],
)
def test_workload_with_a_non_positive_volume_or_negative_size_is_refused(field: str, value: Decimal) -> None:
    kwargs: dict[str, Decimal] = {"calls_per_day": D(1000), field: value}
    with pytest.raises(WorkloadError):
        Workload(name="bad", **kwargs)


def test_unknown_preset_is_refused_with_the_known_names() -> None:
    with pytest.raises(WorkloadError) as info:
        preset("enormous")
    assert all(name in str(info.value) for name in PRESETS)
