"""Prices a synthesized stage: the resources read from `cdk.out` become line items for a workload, with each fleet
sized from the benchmark's measured throughput. The rules per resource type live here; `templates` says which types
are priced, free or unpriced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from infra import contract
from scripts.cost import mcp_metrics, model
from scripts.cost.model import CostReport, Line, Scope, Sizing, Unpriced
from scripts.cost.money import ZERO
from scripts.cost.prices import PriceTable
from scripts.cost.templates import FREE, PRICED, Resource, decision
from scripts.cost.throughput import VARIANT_COLORS, BenchmarkRun, Variant
from scripts.cost.workload import Workload

# What the CloudWatch agent publishes (infra/bootstrap/bootstrap.py, `cloudwatch_agent_config`): memory and disk
# per instance, and the same two aggregated per Auto Scaling group.
AGENT_METRICS_PER_INSTANCE: Final = 2
AGENT_METRICS_PER_GROUP: Final = 2
TARGET_TRACKING: Final = "TargetTrackingScaling"
TARGET_TRACKING_ALARMS: Final = 2


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """Quantities the templates cannot tell; each is printed on the report."""

    target_utilisation: Decimal = model.DEFAULT_TARGET_UTILISATION
    # None: one instance per AZ the group spans.
    availability_floor: int | None = None
    nat_gb_per_month: Decimal = Decimal(5)
    # VPC flow logs: about four records of ~130 bytes per new connection (client-ALB and ALB-instance, both ENIs).
    flow_log_bytes_per_connection: Decimal = Decimal(520)
    # ALB access logs: one line of about 500 bytes per request (stored gzip; uncompressed is the upper bound used).
    access_log_bytes_per_call: Decimal = Decimal(500)
    # AWS WAF's log (production profile): one JSON record per inspected request, about 1.5 KB with its headers.
    waf_log_bytes_per_call: Decimal = Decimal(1500)
    # PostgreSQL logs exported to CloudWatch: connection and error logs of a quiet database.
    db_log_gb_per_month: Decimal = Decimal("0.5")
    # Any other log group of a slot (metric documents, agent logs): not driven by calls in this model.
    other_log_gb_per_month: Decimal = Decimal(1)
    # Tools a slot serves (the MCP metrics' Tool dimension); None: the server's default tool packs.
    mcp_tools: int | None = None

    def mcp_metrics(self) -> mcp_metrics.McpMetricCount:
        return mcp_metrics.per_slot(tools=mcp_metrics.catalogue_tools() if self.mcp_tools is None else self.mcp_tools)

    def lines(self) -> tuple[str, ...]:
        floor = "one instance per AZ the group spans" if self.availability_floor is None else self.availability_floor
        return (
            f"target CPU utilisation at peak: {self.target_utilisation:.0%}",
            f"availability floor: {floor}; never below the Auto Scaling group's MinSize",
            "t3 in standard credit mode: enough instances to keep the month's average CPU per vCPU at the baseline",
            "data transfer out: the workload's bytes per call through the internet-facing ALB (upper bound)",
            f"NAT data processed: {self.nat_gb_per_month} GB a month (OS packages at boot, agent and AWS API traffic)",
            f"VPC flow logs: {self.flow_log_bytes_per_connection} bytes per new connection",
            f"ALB access logs: {self.access_log_bytes_per_call} bytes per call, uncompressed (upper bound)",
            f"WAF logs (production profile): {self.waf_log_bytes_per_call} bytes per call",
            f"PostgreSQL logs exported: {self.db_log_gb_per_month} GB a month",
            f"any other log group of a slot: {self.other_log_gb_per_month} GB a month",
            f"MCP custom metrics {self.mcp_metrics().describe()}",
        )


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return None


class _Pricer:
    def __init__(
        self,
        resources: list[Resource],
        *,
        workload: Workload,
        table: PriceTable,
        assumptions: Assumptions,
        stage: str,
    ) -> None:
        self.stage = stage
        self.resources = resources
        self.by_id = {(r.stack, r.logical_id): r for r in resources}
        self.workload = workload
        self.table = table
        self.a = assumptions
        self.hours = workload.hours_per_month
        self.unpriced: list[Unpriced] = []

    def unpriced_(self, r: Resource) -> None:
        self.unpriced.append(Unpriced(resource_type=r.type, logical_id=r.logical_id, stack=r.stack, scope=r.scope))

    def _scope(self, r: Resource) -> Scope:
        return "blue" if r.scope == "blue" else "green" if r.scope == "green" else "shared"

    def shared_and_slot_lines(self) -> list[Line]:
        """Every line but the fleets' instance lines (those depend on the variant's sizing)."""
        lines: list[Line] = []
        nat_eips = {
            _ref_allocation(r.properties.get("AllocationId"))
            for r in self.resources
            if r.type == "AWS::EC2::NatGateway"
        }
        flow_log_groups = {
            _ref(r.properties.get("LogGroupName")) for r in self.resources if r.type == "AWS::EC2::FlowLog"
        }
        calls = self.workload.calls_per_month
        for r in self.resources:
            scope = self._scope(r)
            if r.type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
                azs = len(r.properties.get("Subnets") or r.properties.get("SubnetMappings") or []) or 2
                rules = 1 + sum(
                    1
                    for x in self.resources
                    if x.type == "AWS::ElasticLoadBalancingV2::ListenerRule" and x.stack == r.stack
                )
                lines += model.alb_lines(
                    self.table,
                    self.workload,
                    azs=azs,
                    rules=rules,
                    internet_facing=r.properties.get("Scheme") != "internal",
                    resource=r.name,
                )
            elif r.type == "AWS::EC2::NatGateway":
                lines += model.nat_lines(
                    self.table, gateways=1, hours=self.hours, processed_gb=self.a.nat_gb_per_month, resource=r.name
                )
            elif r.type == "AWS::EC2::EIP" and r.logical_id not in nat_eips:
                lines.append(
                    model.priced(
                        self.table, "vpc.public-ipv4", self.hours, scope=scope, item="Elastic IP", resource=r.name
                    )
                )
            elif r.type == "AWS::RDS::DBInstance":
                lines += self._rds(r)
            elif r.type == "AWS::SecretsManager::Secret":
                lines.append(
                    model.priced(
                        self.table, "secrets.secret", Decimal(1), scope=scope, item=_secret_item(r), resource=r.name
                    )
                )
            elif r.type == "AWS::WAFv2::WebACL":
                waf_rules = Decimal(len(r.properties.get("Rules") or []))
                lines += [
                    model.priced(
                        self.table, "waf.web-acl", Decimal(1), scope=scope, item="WAF web ACL", resource=r.name
                    ),
                    model.priced(self.table, "waf.rule", waf_rules, scope=scope, item="WAF rules", resource=r.name),
                    model.priced(
                        self.table,
                        "waf.requests",
                        self.workload.millions_per_month,
                        scope=scope,
                        item="WAF requests (all calls)",
                        resource=r.name,
                    ),
                ]
            elif r.type == "AWS::KMS::Key":
                lines.append(
                    model.priced(self.table, "kms.key", Decimal(1), scope=scope, item="KMS key", resource=r.name)
                )
            elif r.type == "AWS::CloudWatch::Alarm":
                # Billed per metric the alarm evaluates: a metric-math alarm's expression entry is not a metric.
                metrics = sum(1 for m in r.properties.get("Metrics") or [] if isinstance(m, dict) and "MetricStat" in m)
                metrics = metrics or 1
                lines.append(
                    model.priced(self.table, "cw.alarm", Decimal(metrics), scope=scope, item="alarm", resource=r.name)
                )
            elif r.type == "AWS::AutoScaling::ScalingPolicy" and r.properties.get("PolicyType") == TARGET_TRACKING:
                # EC2 Auto Scaling creates two alarms per target-tracking policy (scale out, scale in), billed as
                # standard alarms.
                lines.append(
                    model.priced(
                        self.table,
                        "cw.alarm",
                        Decimal(TARGET_TRACKING_ALARMS),
                        scope=scope,
                        item="target-tracking alarms (created by Auto Scaling)",
                        resource=r.name,
                    )
                )
            elif r.type == "AWS::CloudWatch::Dashboard":
                lines += model.cloudwatch_lines(self.table, scope=scope, dashboards=1, resource=r.name)
            elif r.type == "AWS::Logs::LogGroup":
                retention = Decimal(_int(r.properties.get("RetentionInDays"), 30)) / 30
                if r.logical_id in flow_log_groups:
                    gb = (
                        calls * self.workload.new_connections_per_call * self.a.flow_log_bytes_per_connection / model.GB
                    )
                    item = "VPC flow logs"
                elif str(r.properties.get("LogGroupName", "")).startswith(contract.WAF_LOG_GROUP_PREFIX):
                    gb = calls * self.a.waf_log_bytes_per_call / model.GB
                    item = "WAF logs (all calls)"
                elif scope in ("blue", "green") and r.properties.get("LogGroupName") == contract.app_log_group_name(
                    self.stage, scope
                ):
                    gb = calls * self.workload.log_bytes_per_call / model.GB
                    item = f"{scope} application logs (all calls)"
                elif scope in ("blue", "green"):
                    gb = self.a.other_log_gb_per_month
                    item = f"{scope} log group {r.properties.get('LogGroupName', r.logical_id)}"
                    if r.properties.get("LogGroupName") == contract.mcp_metrics_log_group_name(self.stage, scope):
                        # The EMF documents landing here become the slot's MCP custom metrics.
                        count = self.a.mcp_metrics()
                        lines.append(
                            model.priced(
                                self.table,
                                "cw.metric",
                                Decimal(count.total),
                                scope=scope,
                                item=f"{scope} MCP metrics ({contract.MCP_METRICS_NAMESPACE})",
                                assumption=count.describe(),
                                resource=r.name,
                            )
                        )
                else:
                    gb = ZERO
                    item = "log group"
                lines += model.cloudwatch_lines(
                    self.table, scope=scope, log_gb=gb, log_retention_months=retention, log_item=item, resource=r.name
                )
            elif r.type == "AWS::S3::Bucket":
                days = _expiration_days(r.properties) or 30
                gb = calls * self.a.access_log_bytes_per_call / model.GB * Decimal(days) / 30
                lines.append(
                    model.priced(
                        self.table,
                        "s3.standard",
                        gb,
                        scope=scope,
                        item="ALB access logs in S3",
                        assumption=f"kept {days} days",
                        resource=r.name,
                    )
                )
            elif decision(r.type) == "unpriced" or _interface_endpoint(r):
                self.unpriced_(r)
        return lines

    def _rds(self, r: Resource) -> list[Line]:
        p = r.properties
        instance_class = str(p.get("DBInstanceClass"))
        multi_az = str(p.get("MultiAZ")).lower() == "true"
        key = f"rds.{instance_class}.{'multi-az' if multi_az else 'single-az'}"
        if key not in self.table:
            self.unpriced_(r)
            return []
        lines = model.rds_lines(
            self.table,
            instance_class=instance_class,
            multi_az=multi_az,
            storage_gib=Decimal(_int(p.get("AllocatedStorage"), 20)),
            hours=self.hours,
            resource=r.name,
        )
        if p.get("EnableCloudwatchLogsExports"):
            lines += model.cloudwatch_lines(
                self.table,
                log_gb=self.a.db_log_gb_per_month,
                log_item="PostgreSQL logs",
                resource=r.name,
            )
        return lines

    def fleet(self, r: Resource, variant: Variant, run: BenchmarkRun) -> tuple[Sizing | None, list[Line]]:
        template = self.by_id.get((r.stack, _ref(r.properties.get("LaunchTemplate", {}).get("LaunchTemplateId")) or ""))
        data = (template.properties.get("LaunchTemplateData") if template else None) or {}
        name = str(data.get("InstanceType"))
        try:
            itype = model.instance_type(name)
        except model.UnknownInstanceTypeError:
            self.unpriced_(r)
            return None, []
        if itype.price_key not in self.table:
            self.unpriced_(r)
            return None, []
        ebs: dict[str, Any] = next((m["Ebs"] for m in data.get("BlockDeviceMappings", []) if "Ebs" in m), {})
        # EC2 runs a T3 unlimited when the launch template names no credit option.
        unlimited = (data.get("CreditSpecification") or {}).get("CpuCredits", "unlimited") == "unlimited"
        azs = len(r.properties.get("VPCZoneIdentifier") or []) or 2
        floor = self.a.availability_floor if self.a.availability_floor is not None else azs
        sizing = model.size_fleet(
            self.workload,
            run.measured[variant],
            itype,
            availability_floor=floor,
            target_utilisation=self.a.target_utilisation,
            group_minimum=_int(r.properties.get("MinSize"), 0),
            standard_credits=not unlimited,
            group_maximum=_int(r.properties.get("MaxSize"), 0) or None,
        )
        lines = model.fleet_lines(
            self.table,
            scope=self._scope(r),
            itype=itype,
            count=sizing.count,
            hours=self.hours,
            volume_gib=Decimal(_int(ebs.get("VolumeSize"), 8)),
            volume_type=str(ebs.get("VolumeType", "gp3")),
            average_utilisation=sizing.average_utilisation,
            unlimited_credits=unlimited,
            agent_metrics_per_instance=AGENT_METRICS_PER_INSTANCE,
            agent_metrics_per_group=AGENT_METRICS_PER_GROUP,
            resource=r.name,
        )
        return sizing, lines


def _ref_allocation(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return _ref(value)


def _interface_endpoint(r: Resource) -> bool:
    """Interface endpoints cost per AZ-hour and per GB; the table has no entry for them (gateway endpoints are free)."""
    return r.type == "AWS::EC2::VPCEndpoint" and r.properties.get("VpcEndpointType", "Gateway") != "Gateway"


def _expiration_days(properties: dict[str, Any]) -> int | None:
    rules = (properties.get("LifecycleConfiguration") or {}).get("Rules") or []
    days = [_int(rule.get("ExpirationInDays")) for rule in rules if rule.get("ExpirationInDays")]
    return min(days) if days else None


def slot_variants(stage: str) -> dict[str, Variant]:
    """Which implementation each slot runs, from the stage config (either slot can run either server)."""
    from infra.config import STAGES

    variants: dict[str, Variant] = {color: variant for variant, color in VARIANT_COLORS.items()}
    config = STAGES.get(stage)
    if config is not None:
        for color in ("blue", "green"):
            server = getattr(config.fleet(color), "server", None)
            if server in ("fastapi", "native"):
                variants[color] = server
    return variants


def price_stage(
    resources: list[Resource],
    *,
    stage: str,
    workload: Workload,
    run: BenchmarkRun,
    table: PriceTable,
    assumptions: Assumptions | None = None,
    variants_by_slot: dict[str, Variant] | None = None,
) -> CostReport:
    a = assumptions or Assumptions()
    pricer = _Pricer(resources, workload=workload, table=table, assumptions=a, stage=stage)
    other = pricer.shared_and_slot_lines()
    slots = variants_by_slot or slot_variants(stage)
    by_variant: dict[Variant, model.VariantCost] = {}
    shared = tuple(line for line in other if line.scope == "shared")
    for slot, variant in slots.items():
        groups = [r for r in resources if r.type == "AWS::AutoScaling::AutoScalingGroup" and r.scope == slot]
        sizing: Sizing | None = None
        dedicated = [line for line in other if line.scope == slot]
        for group in groups:
            sizing, lines = pricer.fleet(group, variant, run)
            dedicated += lines
        by_variant[variant] = model.variant_cost(variant, sizing, dedicated, shared, workload, slot=slot)
    free = tuple(sorted({(r.type, FREE[r.type]) for r in resources if r.type in FREE}))
    return CostReport(
        stage=stage,
        workload=workload,
        run_name=run.name,
        prices_as_of=table.oldest,
        shared=shared,
        variants=by_variant,
        unpriced=tuple(pricer.unpriced),
        free=free,
        assumptions=(run.assumption(), *a.lines()),
    )


__all__ = ["PRICED", "Assumptions", "price_stage", "slot_variants"]


def _secret_item(resource: Resource) -> str:
    """A secret's line names it: its `Name` when the template fixes one, else its description, else its logical id."""
    for key in ("Name", "Description"):
        value = resource.properties.get(key)
        if isinstance(value, str) and value:
            return f"secret: {value}"
    return f"secret: {_CDK_HASH.sub('', resource.logical_id) or resource.logical_id}"


_CDK_HASH = re.compile(r"[0-9A-Fa-f]{8,}$")  # the hash CDK appends to a logical id says nothing to a reader
