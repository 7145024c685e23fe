"""The embedded, dated price table: us-east-1, Linux, on demand, USD. One entry per priced unit.

Every entry names its source (a public AWS pricing page, or the Price List API after `prices --refresh`), the date it
was checked and a confidence. The numbers are transcribed, not fetched: `mcpstack cost prices --refresh` re-reads them
from the AWS Price List API when credentials exist. Nothing here prices a resource; `model` does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from scripts.cost.money import ZERO

Confidence = Literal["high", "medium", "verify"]
HOURS_PER_MONTH: Final = Decimal(730)
REGION: Final = "us-east-1"
EMBEDDED_AS_OF: Final = date(2026, 11, 30)

EC2_PAGE = "Amazon EC2 On-Demand Pricing, https://aws.amazon.com/ec2/pricing/on-demand/"
T3_PAGE = "Amazon EC2 T3 Instances (unlimited mode pricing), https://aws.amazon.com/ec2/instance-types/t3/"
ELB_PAGE = "Elastic Load Balancing pricing, https://aws.amazon.com/elasticloadbalancing/pricing/"
VPC_PAGE = "Amazon VPC pricing (NAT gateway, public IPv4), https://aws.amazon.com/vpc/pricing/"
EBS_PAGE = "Amazon EBS pricing, https://aws.amazon.com/ebs/pricing/"
RDS_PAGE = "Amazon RDS for PostgreSQL pricing, https://aws.amazon.com/rds/postgresql/pricing/"
CW_PAGE = "Amazon CloudWatch pricing, https://aws.amazon.com/cloudwatch/pricing/"
SM_PAGE = "AWS Secrets Manager pricing, https://aws.amazon.com/secrets-manager/pricing/"
S3_PAGE = "Amazon S3 pricing, https://aws.amazon.com/s3/pricing/"
KMS_PAGE = "AWS Key Management Service pricing, https://aws.amazon.com/kms/pricing/"
WAF_PAGE = "AWS WAF pricing, https://aws.amazon.com/waf/pricing/"


@dataclass(frozen=True, kw_only=True)
class Tier:
    """`usd` per unit for the quantity above the previous tier's `up_to` and up to this one (None: no limit)."""

    up_to: Decimal | None
    usd: Decimal


@dataclass(frozen=True, kw_only=True)
class PriceEntry:
    key: str
    description: str
    unit: str
    tiers: tuple[Tier, ...]
    source: str
    checked: date
    confidence: Confidence
    region: str = REGION
    note: str = ""
    # The Price List API filters that find this entry (service code and attribute terms); empty: not refreshable.
    service_code: str = ""
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def usd(self) -> Decimal:
        """The price of the first unit (the whole price for a flat entry)."""
        return self.tiers[0].usd

    def cost(self, quantity: Decimal) -> Decimal:
        """The amount for `quantity` units through the tiers, unrounded."""
        total, below = ZERO, ZERO
        for tier in self.tiers:
            top = quantity if tier.up_to is None else min(quantity, tier.up_to)
            if top > below:
                total += (top - below) * tier.usd
            if tier.up_to is None or quantity <= tier.up_to:
                break
            below = tier.up_to
        return total

    def with_price(self, usd: Decimal, *, source: str, checked: date) -> PriceEntry:
        """The entry re-priced (flat entries only: the Price List API refresh)."""
        return replace(self, tiers=(Tier(up_to=None, usd=usd),), source=source, checked=checked, confidence="high")


def _flat(
    key: str,
    description: str,
    unit: str,
    usd: str,
    source: str,
    *,
    confidence: Confidence = "medium",
    note: str = "",
    service_code: str = "",
    filters: tuple[tuple[str, str], ...] = (),
) -> PriceEntry:
    return PriceEntry(
        key=key,
        description=description,
        unit=unit,
        tiers=(Tier(up_to=None, usd=Decimal(usd)),),
        source=source,
        checked=EMBEDDED_AS_OF,
        confidence=confidence,
        note=note,
        service_code=service_code,
        filters=filters,
    )


def _ec2(instance_type: str, usd: str) -> PriceEntry:
    return _flat(
        f"ec2.{instance_type}",
        f"EC2 {instance_type}, Linux, shared tenancy",
        "instance-hour",
        usd,
        EC2_PAGE,
        service_code="AmazonEC2",
        filters=(
            ("instanceType", instance_type),
            ("operatingSystem", "Linux"),
            ("tenancy", "Shared"),
            ("preInstalledSw", "NA"),
            ("capacitystatus", "Used"),
            ("location", "US East (N. Virginia)"),
        ),
    )


def _rds(
    instance_class: str, usd: str, *, multi_az: bool, confidence: Confidence = "medium", note: str = ""
) -> PriceEntry:
    deployment = "Multi-AZ" if multi_az else "Single-AZ"
    return _flat(
        f"rds.{instance_class}.{'multi-az' if multi_az else 'single-az'}",
        f"RDS PostgreSQL {instance_class}, {deployment}",
        "instance-hour",
        usd,
        RDS_PAGE,
        confidence=confidence,
        note=note,
        service_code="AmazonRDS",
        filters=(
            ("instanceType", instance_class),
            ("databaseEngine", "PostgreSQL"),
            ("deploymentOption", deployment),
            ("location", "US East (N. Virginia)"),
        ),
    )


_ENTRIES: tuple[PriceEntry, ...] = (
    _ec2("t3.small", "0.0208"),
    _ec2("t3.medium", "0.0416"),
    _ec2("t3.large", "0.0832"),
    _ec2("c5.large", "0.085"),
    _ec2("c5.xlarge", "0.17"),
    _flat(
        "ec2.t3.cpu-credits",
        "T3 unlimited: surplus CPU credits above the baseline",
        "vCPU-hour",
        "0.05",
        T3_PAGE,
        note="baseline 20 % per vCPU on t3.small and t3.medium, 30 % on t3.large",
    ),
    _flat(
        "elb.alb.hour",
        "Application Load Balancer",
        "ALB-hour",
        "0.0225",
        ELB_PAGE,
        service_code="AWSELB",
        filters=(("usagetype", "LoadBalancerUsage"), ("productFamily", "Load Balancer-Application")),
    ),
    _flat(
        "elb.alb.lcu",
        "Application Load Balancer capacity units",
        "LCU-hour",
        "0.008",
        ELB_PAGE,
        note="LCU = max(new conn/s / 25, active conn/min / 3,000, GB/h processed, rule evals/s beyond 10 / 1,000)",
        service_code="AWSELB",
        filters=(("usagetype", "LCUUsage"), ("productFamily", "Load Balancer-Application")),
    ),
    _flat(
        "vpc.public-ipv4",
        "Public IPv4 address (in use or idle, since 2024-02-01)",
        "IP-hour",
        "0.005",
        VPC_PAGE,
        note="ALB nodes (one per AZ), NAT gateway Elastic IPs, instances with a public address",
    ),
    _flat("vpc.nat.hour", "NAT gateway", "NAT-hour", "0.045", VPC_PAGE),
    _flat("vpc.nat.gb", "NAT gateway data processed", "GB", "0.045", VPC_PAGE),
    _flat("ebs.gp3", "EBS gp3 volume", "GB-month", "0.08", EBS_PAGE, note="3,000 IOPS and 125 MB/s included"),
    _flat("ebs.gp2", "EBS gp2 volume", "GB-month", "0.10", EBS_PAGE),
    _rds("db.t3.micro", "0.018", multi_az=False),
    _rds("db.t4g.micro", "0.016", multi_az=False),
    _rds("db.t4g.small", "0.032", multi_az=False),
    _rds("db.t4g.micro", "0.032", multi_az=True, note="Multi-AZ is twice Single-AZ"),
    _rds(
        "db.t4g.small",
        "0.064",
        multi_az=True,
        confidence="verify",
        note="published sources disagree by $0.001/h for t4g.small/medium Multi-AZ",
    ),
    _rds(
        "db.t4g.medium",
        "0.065",
        multi_az=False,
        confidence="verify",
        note="not in the design's table; from the public pricing page, refresh before relying on it",
    ),
    _rds(
        "db.t4g.medium",
        "0.13",
        multi_az=True,
        confidence="verify",
        note="published sources disagree by $0.001/h for t4g.small/medium Multi-AZ",
    ),
    _flat("rds.storage.single-az", "RDS gp2/gp3 storage, Single-AZ", "GB-month", "0.115", RDS_PAGE),
    _flat("rds.storage.multi-az", "RDS gp2/gp3 storage, Multi-AZ", "GB-month", "0.23", RDS_PAGE),
    _flat(
        "rds.backup",
        "RDS backup storage beyond 100 % of the database size",
        "GB-month",
        "0.095",
        RDS_PAGE,
        note="backups up to the provisioned storage size are free",
    ),
    _flat("cw.metric", "CloudWatch custom metric (first 10,000)", "metric-month", "0.30", CW_PAGE),
    _flat("cw.dashboard", "CloudWatch dashboard", "dashboard-month", "3.00", CW_PAGE),
    _flat("cw.alarm", "CloudWatch standard-resolution alarm (per metric)", "alarm-month", "0.10", CW_PAGE),
    _flat("cw.logs.ingest", "CloudWatch Logs ingestion (standard)", "GB", "0.50", CW_PAGE),
    _flat("cw.logs.storage", "CloudWatch Logs storage (archived)", "GB-month", "0.03", CW_PAGE),
    _flat("secrets.secret", "Secrets Manager secret", "secret-month", "0.40", SM_PAGE),
    _flat("secrets.api", "Secrets Manager API calls", "10,000 calls", "0.05", SM_PAGE),
    _flat("s3.standard", "S3 Standard storage (first 50 TB)", "GB-month", "0.023", S3_PAGE),
    _flat("kms.key", "KMS customer managed key", "key-month", "1.00", KMS_PAGE),
    _flat("waf.web-acl", "AWS WAF web ACL", "web-ACL-month", "5.00", WAF_PAGE),
    _flat(
        "waf.rule",
        "AWS WAF rule (a managed rule group counts as one)",
        "rule-month",
        "1.00",
        WAF_PAGE,
        note="the AWS managed common and known-bad-inputs groups carry no subscription fee",
    ),
    _flat("waf.requests", "AWS WAF requests inspected (up to 1,500 WCUs)", "1M requests", "0.60", WAF_PAGE),
    PriceEntry(
        key="dto.internet",
        description="Data transfer out to the internet (first 100 GB a month free, all services)",
        unit="GB",
        tiers=(
            Tier(up_to=Decimal(100), usd=Decimal(0)),
            Tier(up_to=Decimal(10_240), usd=Decimal("0.09")),
            Tier(up_to=None, usd=Decimal("0.085")),
        ),
        source=EC2_PAGE,
        checked=EMBEDDED_AS_OF,
        confidence="medium",
    ),
)


class UnknownPriceError(KeyError):
    """No entry for a price key (an instance type or class the table does not carry)."""


@dataclass(frozen=True)
class PriceTable:
    entries: dict[str, PriceEntry]

    def __getitem__(self, key: str) -> PriceEntry:
        try:
            return self.entries[key]
        except KeyError:
            raise UnknownPriceError(key) from None

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def replaced(self, updates: dict[str, PriceEntry]) -> PriceTable:
        return PriceTable({**self.entries, **updates})

    @property
    def oldest(self) -> date:
        return min(e.checked for e in self.entries.values())


EMBEDDED = PriceTable({e.key: e for e in _ENTRIES})
