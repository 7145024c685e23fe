"""`actual`: what AWS says was spent. Cost Explorer grouped by the `Color` cost-allocation tag (end date exclusive,
$0.01 per request), and the `AWS/Billing` `EstimatedCharges` month-to-date total, which exists only in us-east-1 and
has no tag split. Clients are injected so tests run against moto.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra import contract

BILLING_REGION = "us-east-1"


class ActualError(RuntimeError):
    """Cost Explorer or CloudWatch cannot answer (bad dates, no credentials, tag not activated, access denied)."""


def ce_client() -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client("ce", region_name=BILLING_REGION)


def cloudwatch_client() -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=BILLING_REGION)


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ActualError(f"{name} must be a date YYYY-MM-DD, not {text!r}") from None


def _call(fn: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # type: ignore[import-untyped]

    try:
        return fn(**kwargs)
    except NoCredentialsError:
        raise ActualError("no AWS credentials found") from None
    except (ClientError, BotoCoreError) as ex:
        raise ActualError(str(ex)) from None


def spend_by_color(ce: Any, *, start: str, end: str, stage: str) -> dict[str, Decimal]:
    """Unblended cost per `Color` tag value for the stage, from `start` up to but not including `end`."""
    first, after = _day(start, "--start"), _day(end, "--end")
    if after <= first:
        raise ActualError("--end is exclusive and must be after --start")
    totals: dict[str, Decimal] = {}
    untagged = Decimal(0)
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": first.isoformat(), "End": after.isoformat()},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "TAG", "Key": contract.TAG_COLOR}],
            "Filter": {"Tags": {"Key": contract.TAG_STAGE, "Values": [stage]}},
        }
        if token:
            kwargs["NextPageToken"] = token
        page = _call(ce.get_cost_and_usage, **kwargs)
        for period in page.get("ResultsByTime", []):
            for group in period.get("Groups", []):
                key = group["Keys"][0]
                value = key.split("$", 1)[1] if "$" in key else key
                amount = Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
                if value:
                    totals[value] = totals.get(value, Decimal(0)) + amount
                else:
                    untagged += amount
        token = page.get("NextPageToken")
        if not token:
            break
    if not totals and untagged > 0:
        raise ActualError(
            f"spend found but none carries the {contract.TAG_COLOR} tag: activate {contract.TAG_COLOR} as a "
            "cost-allocation tag in the Billing console (it applies from activation on)"
        )
    if untagged > 0:
        totals["(untagged)"] = untagged
    return totals


def estimated_charges(cloudwatch: Any, *, now: datetime | None = None) -> Decimal | None:
    """The latest month-to-date EstimatedCharges in USD (published a few times a day), or None without a datapoint."""
    region = getattr(getattr(cloudwatch, "meta", None), "region_name", BILLING_REGION)
    if region != BILLING_REGION:
        raise ActualError(f"EstimatedCharges exists only in {BILLING_REGION}, not {region}")
    end = now or datetime.now(UTC)
    answer = _call(
        cloudwatch.get_metric_statistics,
        Namespace="AWS/Billing",
        MetricName="EstimatedCharges",
        Dimensions=[{"Name": "Currency", "Value": "USD"}],
        StartTime=end - timedelta(days=2),
        EndTime=end,
        Period=21_600,
        Statistics=["Maximum"],
    )
    points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
    if not points:
        return None
    return Decimal(str(points[-1]["Maximum"]))
