"""AWS adapters: the Price List API parsing against botocore's Stubber (decoys, pagination), Cost Explorer and
EstimatedCharges against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from scripts.cost import actual, refresh
from scripts.cost.prices import EMBEDDED, PriceTable


def product(usagetype: str, usd: str, *, family: str = "Load Balancer-Application", extra: str = "") -> str:
    return json.dumps(
        {
            "product": {"attributes": {"usagetype": usagetype, "productFamily": family, "note": extra}},
            "terms": {
                "OnDemand": {
                    "T1": {"priceDimensions": {"D1": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}},
                }
            },
        }
    )


def stub_pages(stubber: Stubber, service_code: str, filters: list[dict[str, str]], pages: list[list[str]]) -> None:
    for i, page in enumerate(pages):
        expected: dict[str, Any] = {"ServiceCode": service_code, "Filters": filters, "MaxResults": 100}
        if i:
            expected["NextToken"] = f"t{i}"
        response: dict[str, Any] = {"PriceList": page, "FormatVersion": "aws_v1"}
        if i < len(pages) - 1:
            response["NextToken"] = f"t{i + 1}"
        stubber.add_response("get_products", response, expected)


def filters_of(key: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": n, "Value": v} for n, v in EMBEDDED[key].filters]


@pytest.fixture
def pricing() -> Any:
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def test_lcu_price_is_the_one_positive_match_across_pages_with_decoys(pricing: Any) -> None:
    entry = EMBEDDED["elb.alb.lcu"]
    with Stubber(pricing) as stubber:
        stub_pages(
            stubber,
            "AWSELB",
            filters_of("elb.alb.lcu"),
            [
                # Outposts LCU row at $0, and a prefixed usage type from another region: decoys.
                [product("LCUUsage", "0.0000000000", extra="Outposts"), product("USE2-LCUUsage", "0.008")],
                [product("LCUUsage", "0.0080000000")],
            ],
        )
        assert refresh.lookup(pricing, entry) == Decimal("0.008")
        stubber.assert_no_pending_responses()


def test_two_positive_matches_keep_the_embedded_price(pricing: Any) -> None:
    table = PriceTable({"elb.alb.hour": EMBEDDED["elb.alb.hour"]})
    with Stubber(pricing) as stubber:
        stub_pages(
            stubber,
            "AWSELB",
            filters_of("elb.alb.hour"),
            [[product("LoadBalancerUsage", "0.0225"), product("LoadBalancerUsage", "0.0252")]],
        )
        updated, lines = refresh.refresh(pricing, table)
    assert updated["elb.alb.hour"] == EMBEDDED["elb.alb.hour"]
    assert lines == ["kept embedded: elb.alb.hour: 2 products with one price above zero; expected exactly one"]


def test_refresh_updates_price_source_and_date(pricing: Any) -> None:
    table = PriceTable({"elb.alb.hour": EMBEDDED["elb.alb.hour"]})
    when = datetime(2027, 1, 5, tzinfo=UTC)
    with Stubber(pricing) as stubber:
        stub_pages(stubber, "AWSELB", filters_of("elb.alb.hour"), [[product("LoadBalancerUsage", "0.0243")]])
        updated, lines = refresh.refresh(pricing, table, today=when)
    entry = updated["elb.alb.hour"]
    assert entry.usd == Decimal("0.0243") and isinstance(entry.usd, Decimal)
    assert entry.source == refresh.PRICE_LIST_SOURCE and entry.checked == when.date()
    assert lines == ["elb.alb.hour: 0.0225 -> 0.0243"]


def test_capacity_reservation_rows_do_not_match_an_instance_price(pricing: Any) -> None:
    entry = EMBEDDED["ec2.t3.small"]
    attributes = dict(entry.filters)
    used = json.loads(product("BoxUsage:t3.small", "0.0208"))
    used["product"]["attributes"] = attributes
    reserved = json.loads(product("Reservation:t3.small", "0.0208"))
    reserved["product"]["attributes"] = {**attributes, "capacitystatus": "UnusedCapacityReservation"}
    with Stubber(pricing) as stubber:
        stub_pages(stubber, "AmazonEC2", filters_of("ec2.t3.small"), [[json.dumps(reserved), json.dumps(used)]])
        assert refresh.lookup(pricing, entry) == Decimal("0.0208")


def ce_result(groups: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "results": [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
                        "Total": {},
                        "Groups": [
                            {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
                            for key, amount in groups
                        ],
                        "Estimated": False,
                    }
                ],
                "DimensionValueAttributes": [],
            }
        ]
    }


def queue_ce(result: dict[str, Any]) -> None:
    from moto.moto_api import state_manager  # noqa: F401 (loads the moto API backend)
    from moto.moto_api._internal.models import moto_api_backend

    for item in result["results"]:
        moto_api_backend.set_ce_cost_usage(item, account_id=DEFAULT_ACCOUNT_ID)


@mock_aws
def test_spend_by_color_sums_tag_groups_in_decimal() -> None:
    queue_ce(ce_result([("Color$blue", "121.4700000001"), ("Color$green", "15.18"), ("Color$shared", "66.25")]))
    spend = actual.spend_by_color(actual.ce_client(), start="2026-11-01", end="2026-12-01", stage="burstable")
    assert spend == {"blue": Decimal("121.4700000001"), "green": Decimal("15.18"), "shared": Decimal("66.25")}


@mock_aws
def test_spend_without_the_tag_activated_is_a_clear_error() -> None:
    queue_ce(ce_result([("Color$", "42.00")]))
    with pytest.raises(actual.ActualError, match="cost-allocation tag"):
        actual.spend_by_color(actual.ce_client(), start="2026-11-01", end="2026-12-01", stage="burstable")


def test_end_date_is_exclusive_and_must_follow_the_start() -> None:
    with pytest.raises(actual.ActualError, match="exclusive"):
        actual.spend_by_color(object(), start="2026-11-01", end="2026-11-01", stage="dev")
    with pytest.raises(actual.ActualError, match="YYYY-MM-DD"):
        actual.spend_by_color(object(), start="November", end="2026-11-01", stage="dev")


@mock_aws
def test_estimated_charges_is_the_latest_month_to_date_point() -> None:
    cloudwatch = actual.cloudwatch_client()
    now = datetime.now(UTC).replace(microsecond=0)
    for hours_ago, value in ((12, 80.5), (6, 97.25)):
        cloudwatch.put_metric_data(
            Namespace="AWS/Billing",
            MetricData=[
                {
                    "MetricName": "EstimatedCharges",
                    "Dimensions": [{"Name": "Currency", "Value": "USD"}],
                    "Timestamp": now - timedelta(hours=hours_ago),
                    "Value": value,
                }
            ],
        )
    assert actual.estimated_charges(cloudwatch, now=now) == Decimal("97.25")


@mock_aws
def test_estimated_charges_outside_us_east_1_is_refused() -> None:
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    with pytest.raises(actual.ActualError, match="only in us-east-1"):
        actual.estimated_charges(client)


@mock_aws
def test_actual_command_prints_spend_per_color_and_the_billing_total() -> None:
    from typer.testing import CliRunner

    from scripts.cost.cli import app

    queue_ce(ce_result([("Color$blue", "10.10"), ("Color$shared", "5.005")]))
    result = CliRunner().invoke(app, ["actual", "--start", "2026-11-01", "--end", "2026-12-01", "--stage", "dev"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "blue: $10.10",
        "shared: $5.01",
        "EstimatedCharges, month to date (us-east-1, no tag split): no datapoint",
    ]
