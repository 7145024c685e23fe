"""The cost model: line items, fleet sizing from measured throughput, per-variant totals. Pure; no I/O.

Every amount is an unrounded `Decimal`; `money.cents` rounds only for display. A line carries its quantity, unit,
unit price, price source and date, and the assumption that produced its quantity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Final, Literal

from infra.instance_types import INSTANCE_VCPUS
from scripts.cost.money import MILLION, ZERO
from scripts.cost.prices import PriceTable
from scripts.cost.throughput import VARIANT_COLORS, Measured, Variant
from scripts.cost.workload import Workload

Scope = Literal["blue", "green", "shared"]
DEFAULT_TARGET_UTILISATION: Final = Decimal("0.6")
GB: Final = Decimal(10**9)


@dataclass(frozen=True, kw_only=True)
class InstanceType:
    name: str
    vcpus: int
    # Sustained CPU per vCPU that a burstable type earns credits for; None for fixed-performance types.
    baseline: Decimal | None = None

    @property
    def price_key(self) -> str:
        return f"ec2.{self.name}"


INSTANCE_TYPES: Final[dict[str, InstanceType]] = {
    t.name: t
    for t in (
        InstanceType(name="t3.small", vcpus=INSTANCE_VCPUS["t3.small"], baseline=Decimal("0.2")),
        InstanceType(name="t3.medium", vcpus=INSTANCE_VCPUS["t3.medium"], baseline=Decimal("0.2")),
        InstanceType(name="t3.large", vcpus=INSTANCE_VCPUS["t3.large"], baseline=Decimal("0.3")),
        InstanceType(name="c5.large", vcpus=INSTANCE_VCPUS["c5.large"]),
        InstanceType(name="c5.xlarge", vcpus=INSTANCE_VCPUS["c5.xlarge"]),
    )
}


class UnknownInstanceTypeError(KeyError):
    """An instance type the model has no vCPU count or price for."""


def instance_type(name: str) -> InstanceType:
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        raise UnknownInstanceTypeError(name) from None


@dataclass(frozen=True, kw_only=True)
class Line:
    scope: Scope
    item: str
    price_key: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    source: str
    checked: date
    assumption: str = ""
    resource: str = ""


def priced(
    table: PriceTable,
    key: str,
    quantity: Decimal,
    *,
    scope: Scope,
    item: str,
    assumption: str = "",
    resource: str = "",
) -> Line:
    entry = table[key]
    amount = entry.cost(quantity)
    # A tiered entry (data transfer out: the first 100 GB free) shows its average price over the quantity, not the
    # first tier's $0 beside a non-zero amount.
    tiered = len(entry.tiers) > 1 and quantity > 0
    unit_price = (amount / quantity).quantize(Decimal("0.0001")) if tiered else entry.usd
    return Line(
        scope=scope,
        item=item,
        price_key=key,
        quantity=quantity,
        unit=entry.unit,
        unit_price=unit_price,
        amount=amount,
        source=entry.source,
        checked=entry.checked,
        assumption=assumption,
        resource=resource,
    )


def total(lines: tuple[Line, ...] | list[Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


# --- fleets ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sizing:
    variant: Variant
    instance_type: InstanceType
    availability_floor: int
    capacity_rps_per_instance: Decimal
    target_utilisation: Decimal
    required_by_throughput: int
    count: int
    # Average CPU per vCPU over the month at this count (what t3 credits are charged against).
    average_utilisation: Decimal
    # The Auto Scaling group's MinSize: AWS never runs fewer, whatever the load needs.
    group_minimum: int = 0
    # A t3 in standard credit mode earns its baseline and no more: the month's average CPU per vCPU must stay at or
    # below it, or the fleet is throttled (0 for unlimited mode and fixed-performance types).
    required_by_credits: int = 0
    # The group's MaxSize: Auto Scaling never runs more, so a count above it is a peak the stack cannot serve.
    group_maximum: int | None = None

    @property
    def above_maximum(self) -> bool:
        return self.group_maximum is not None and self.count > self.group_maximum

    @property
    def set_by_shown(self) -> str:
        """`set_by`, with the warning a reader needs when the count is more than the group may run."""
        if self.above_maximum:
            return f"{self.set_by}; above the group's MaxSize {self.group_maximum}: the stack cannot serve this peak"
        return self.set_by

    @property
    def set_by(self) -> str:
        if self.required_by_throughput > max(self.availability_floor, self.group_minimum):
            return "throughput"
        if self.required_by_credits > max(self.availability_floor, self.group_minimum, self.required_by_throughput):
            return "CPU credit baseline"
        if self.group_minimum > self.availability_floor:
            return "group minimum"
        return "availability floor"


def ceil_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def size_fleet(
    workload: Workload,
    measured: Measured,
    itype: InstanceType,
    *,
    availability_floor: int,
    target_utilisation: Decimal = DEFAULT_TARGET_UTILISATION,
    group_minimum: int = 0,
    standard_credits: bool = False,
    group_maximum: int | None = None,
) -> Sizing:
    """instances = max(availability floor, the group's MinSize, ceil(peak req/s / (capacity per instance x target
    utilisation))), and on a t3 in standard credit mode at least enough instances to keep the month's average CPU per
    vCPU at its baseline."""
    if not Decimal(0) < target_utilisation <= 1:
        raise ValueError("target utilisation must be in (0, 1]")
    capacity = measured.rps_per_vcpu * itype.vcpus
    required = ceil_int(workload.peak_rps / (capacity * target_utilisation))
    cpu_seconds_per_second = workload.average_rps * measured.cpu_us_per_request / MILLION
    by_credits = 0
    if standard_credits and itype.baseline is not None:
        by_credits = ceil_int(cpu_seconds_per_second / (itype.vcpus * itype.baseline))
    count = max(availability_floor, group_minimum, required, by_credits)
    return Sizing(
        variant=measured.variant,
        instance_type=itype,
        availability_floor=availability_floor,
        capacity_rps_per_instance=capacity,
        target_utilisation=target_utilisation,
        required_by_throughput=required,
        count=count,
        average_utilisation=cpu_seconds_per_second / (count * itype.vcpus),
        group_minimum=group_minimum,
        required_by_credits=by_credits,
        group_maximum=group_maximum,
    )


def fleet_lines(
    table: PriceTable,
    *,
    scope: Scope,
    itype: InstanceType,
    count: int,
    hours: Decimal,
    volume_gib: Decimal,
    volume_type: str = "gp3",
    average_utilisation: Decimal = ZERO,
    # The launch template's CPU credit option; EC2 runs a T3 unlimited when the template names none. In "standard"
    # mode a load above the baseline is throttled instead of billed, so there is nothing to price.
    unlimited_credits: bool = True,
    agent_metrics_per_instance: int = 0,
    agent_metrics_per_group: int = 0,
    resource: str = "",
) -> list[Line]:
    """Instance-hours, root volumes, t3 surplus credits, and the CloudWatch agent's custom metrics."""
    lines = [
        priced(
            table,
            itype.price_key,
            count * hours,
            scope=scope,
            item=f"{count} x {itype.name}",
            assumption=f"{count} instances x {hours} h",
            resource=resource,
        ),
        priced(
            table,
            f"ebs.{volume_type}",
            count * volume_gib,
            scope=scope,
            item=f"root volumes, {volume_type}",
            assumption=f"{count} x {volume_gib} GB",
            resource=resource,
        ),
    ]
    if itype.baseline is not None and unlimited_credits:
        surplus = max(ZERO, average_utilisation - itype.baseline) * itype.vcpus * count * hours
        if surplus > 0:
            lines.append(
                priced(
                    table,
                    "ec2.t3.cpu-credits",
                    surplus,
                    scope=scope,
                    item="t3 surplus CPU credits",
                    assumption=(
                        f"average CPU {average_utilisation:.1%} per vCPU above the {itype.baseline:.0%} baseline "
                        "(unlimited mode)"
                    ),
                    resource=resource,
                )
            )
    metrics = agent_metrics_per_instance * count + agent_metrics_per_group
    if metrics:
        lines.append(
            priced(
                table,
                "cw.metric",
                Decimal(metrics),
                scope=scope,
                item="CloudWatch agent metrics",
                assumption=f"{agent_metrics_per_instance} per instance + {agent_metrics_per_group} per group",
                resource=resource,
            )
        )
    return lines


# --- load balancer ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LcuDimensions:
    new_connections_per_s: Decimal
    active_connections_per_min: Decimal
    processed_gb_per_hour: Decimal
    rule_evaluations_per_s: Decimal

    @property
    def by_dimension(self) -> dict[str, Decimal]:
        return {
            "new connections": self.new_connections_per_s / 25,
            "active connections": self.active_connections_per_min / 3000,
            "processed bytes": self.processed_gb_per_hour,
            "rule evaluations": self.rule_evaluations_per_s / 1000,
        }

    @property
    def lcu(self) -> Decimal:
        """Billed LCUs for an hour: the largest of the four dimensions."""
        return max(self.by_dimension.values())

    @property
    def dominant(self) -> str:
        dims = self.by_dimension
        return max(dims, key=lambda k: dims[k])


FREE_RULES: Final = 10


def lcu_dimensions(workload: Workload, *, rules: int = 1) -> LcuDimensions:
    """An hour at the workload's average rate. Connections are taken to last one call, so the connections active in a
    minute are the ones opened in it; LCU dimensions are linear in the rate, so the month's LCU-hours are the
    average hour's LCU x hours while one dimension dominates throughout."""
    rate = workload.average_rps
    new_per_s = rate * workload.new_connections_per_call
    return LcuDimensions(
        new_connections_per_s=new_per_s,
        active_connections_per_min=new_per_s * 60,
        processed_gb_per_hour=rate * 3600 * workload.bytes_per_call / GB,
        rule_evaluations_per_s=rate * max(0, rules - FREE_RULES),
    )


def alb_lines(
    table: PriceTable, workload: Workload, *, azs: int, rules: int = 1, internet_facing: bool = True, resource: str = ""
) -> list[Line]:
    hours = workload.hours_per_month
    dims = lcu_dimensions(workload, rules=rules)
    lines = [
        priced(table, "elb.alb.hour", hours, scope="shared", item="ALB", assumption=f"{hours} h", resource=resource),
        priced(
            table,
            "elb.alb.lcu",
            dims.lcu * hours,
            scope="shared",
            item="ALB capacity units",
            assumption=f"{dims.lcu:.4f} LCU on average, set by {dims.dominant}",
            resource=resource,
        ),
    ]
    if internet_facing:
        lines.append(
            priced(
                table,
                "vpc.public-ipv4",
                azs * hours,
                scope="shared",
                item="ALB public IPv4",
                assumption=f"one address per AZ: {azs}",
                resource=resource,
            )
        )
        # The answers leave AWS through the internet-facing ALB: billed per GB out, after the first 100 GB a month.
        lines.append(
            priced(
                table,
                "dto.internet",
                workload.calls_per_month * workload.bytes_per_call / GB,
                scope="shared",
                item="data transfer out to the internet",
                assumption="bytes per call, request included (upper bound); the first 100 GB a month are free",
                resource=resource,
            )
        )
    return lines


# --- database, network, observability -----------------------------------------------------------------------------


def rds_lines(
    table: PriceTable,
    *,
    instance_class: str,
    multi_az: bool,
    storage_gib: Decimal,
    hours: Decimal,
    backup_beyond_gib: Decimal = ZERO,
    resource: str = "",
) -> list[Line]:
    deployment = "multi-az" if multi_az else "single-az"
    lines = [
        priced(
            table,
            f"rds.{instance_class}.{deployment}",
            hours,
            scope="shared",
            item=f"RDS PostgreSQL {instance_class}, {deployment}",
            assumption=f"{hours} h",
            resource=resource,
        ),
        priced(
            table,
            f"rds.storage.{deployment}",
            storage_gib,
            scope="shared",
            item="RDS storage",
            assumption=f"{storage_gib} GB allocated",
            resource=resource,
        ),
    ]
    lines.append(
        priced(
            table,
            "rds.backup",
            backup_beyond_gib,
            scope="shared",
            item="RDS backups beyond the free 100 %",
            assumption="automated backups of a small database stay within the free allowance"
            if backup_beyond_gib == 0
            else f"{backup_beyond_gib} GB beyond the database size",
            resource=resource,
        )
    )
    return lines


def nat_lines(
    table: PriceTable, *, gateways: int, hours: Decimal, processed_gb: Decimal, resource: str = ""
) -> list[Line]:
    return [
        priced(
            table,
            "vpc.nat.hour",
            gateways * hours,
            scope="shared",
            item=f"{gateways} NAT gateway(s)",
            resource=resource,
        ),
        priced(
            table,
            "vpc.public-ipv4",
            gateways * hours,
            scope="shared",
            item="NAT Elastic IPs",
            assumption="one per NAT gateway",
            resource=resource,
        ),
        priced(
            table,
            "vpc.nat.gb",
            processed_gb,
            scope="shared",
            item="NAT data processed",
            assumption="OS packages at boot, agent and AWS API traffic; the tool calls do not cross the NAT",
            resource=resource,
        ),
    ]


def cloudwatch_lines(
    table: PriceTable,
    *,
    scope: Scope = "shared",
    dashboards: int = 0,
    alarms: int = 0,
    custom_metrics: int = 0,
    log_gb: Decimal = ZERO,
    log_retention_months: Decimal = Decimal(1),
    log_item: str = "logs",
    resource: str = "",
) -> list[Line]:
    lines: list[Line] = []
    if dashboards:
        lines.append(
            priced(
                table, "cw.dashboard", Decimal(dashboards), scope=scope, item="CloudWatch dashboards", resource=resource
            )
        )
    if alarms:
        lines.append(
            priced(table, "cw.alarm", Decimal(alarms), scope=scope, item="CloudWatch alarms", resource=resource)
        )
    if custom_metrics:
        lines.append(
            priced(
                table,
                "cw.metric",
                Decimal(custom_metrics),
                scope=scope,
                item="CloudWatch custom metrics",
                resource=resource,
            )
        )
    if log_gb:
        lines.append(
            priced(table, "cw.logs.ingest", log_gb, scope=scope, item=f"{log_item}: ingestion", resource=resource)
        )
        lines.append(
            priced(
                table,
                "cw.logs.storage",
                log_gb * log_retention_months,
                scope=scope,
                item=f"{log_item}: storage",
                assumption=f"steady state: {log_retention_months} month(s) retained, uncompressed (upper bound)",
                resource=resource,
            )
        )
    return lines


# --- per variant -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VariantCost:
    variant: Variant
    sizing: Sizing | None
    dedicated: tuple[Line, ...]
    shared: Decimal
    calls_per_month: Decimal
    slot: str = ""

    @property
    def color(self) -> str:
        return self.slot or VARIANT_COLORS[self.variant]

    @property
    def dedicated_total(self) -> Decimal:
        return total(self.dedicated)

    @property
    def total(self) -> Decimal:
        return self.dedicated_total + self.shared

    @property
    def per_million(self) -> Decimal:
        return self.total / self.calls_per_month * MILLION


@dataclass(frozen=True, kw_only=True)
class Savings:
    usd: Decimal
    pct: Decimal


def savings(baseline: VariantCost, other: VariantCost) -> Savings:
    diff = baseline.total - other.total
    return Savings(usd=diff, pct=diff / baseline.total * 100 if baseline.total else ZERO)


@dataclass(frozen=True, kw_only=True)
class Unpriced:
    resource_type: str
    logical_id: str
    stack: str
    scope: str


@dataclass(frozen=True, kw_only=True)
class CostReport:
    stage: str
    workload: Workload
    run_name: str
    prices_as_of: date
    shared: tuple[Line, ...]
    variants: dict[Variant, VariantCost]
    unpriced: tuple[Unpriced, ...] = ()
    free: tuple[tuple[str, str], ...] = ()
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    # Labour per variant (USD a month), when given: shown beside infrastructure, never added to it.
    labour: dict[Variant, Decimal] = field(default_factory=dict)

    @property
    def shared_total(self) -> Decimal:
        return total(self.shared)

    def savings(self) -> Savings:
        return savings(self.variants["fastapi"], self.variants["native"])

    @property
    def stage_total(self) -> Decimal:
        """Both fleets running at once (during a cutover) plus the shared resources."""
        return self.shared_total + sum((v.dedicated_total for v in self.variants.values()), ZERO)


def variant_cost(
    variant: Variant,
    sizing: Sizing | None,
    dedicated: list[Line],
    shared: list[Line] | tuple[Line, ...],
    workload: Workload,
    *,
    slot: str = "",
) -> VariantCost:
    """A variant serving all the traffic: its own lines plus all of the shared ones (they exist for either)."""
    return VariantCost(
        variant=variant,
        sizing=sizing,
        dedicated=tuple(dedicated),
        shared=total(list(shared)),
        calls_per_month=workload.calls_per_month,
        slot=slot,
    )
