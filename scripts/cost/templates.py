"""Resources of a synthesized stage: every resource of every `McpStack-<stage>-*` template in a cloud assembly, with
its slot (blue / green / shared, from the `Color` tag or its stack) and the pricing decision for its type.

A resource type is priced (a rule in `stage.py` turns it into line items), free (with the reason), or unpriced:
listed as such, never shown as $0. A type missing from both tables is unpriced, and a test fails on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra import contract

# Types whose resources become line items (see `stage.py`), or are priced through the resource named.
PRICED: Final[dict[str, str]] = {
    "AWS::AutoScaling::AutoScalingGroup": "instance-hours, root volumes, t3 credits, agent metrics",
    "AWS::EC2::LaunchTemplate": "priced through its Auto Scaling group (instance type, root volume)",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "ALB hours, LCUs, one public IPv4 per AZ",
    "AWS::EC2::NatGateway": "NAT hours, data processed, its Elastic IP",
    "AWS::EC2::EIP": "public IPv4 (an EIP of a NAT gateway is priced with the gateway)",
    "AWS::RDS::DBInstance": "instance hours, storage, backups, exported logs",
    "AWS::SecretsManager::Secret": "secret-months",
    "AWS::CloudWatch::Alarm": "alarm-months",
    "AWS::CloudWatch::Dashboard": "dashboard-months",
    "AWS::Logs::LogGroup": "ingestion and storage from the workload",
    "AWS::EC2::FlowLog": "priced through its log group (vended-log volume from the workload)",
    "AWS::S3::Bucket": "ALB access-log storage from the workload",
    "AWS::KMS::Key": "key-months (the alarm topic's customer-managed key; its requests stay within the free tier)",
    "AWS::WAFv2::WebACL": "web-ACL-months, rule-months and every request it inspects (production stages)",
    "AWS::EC2::VPCEndpoint": "gateway endpoints are free; interface endpoints are not in the price table",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "no charge of its own; rules beyond 10 count in the ALB's LCUs",
    "AWS::AutoScaling::ScalingPolicy": "a target-tracking policy's two alarms (Auto Scaling creates them; billed)",
}

FREE: Final[dict[str, str]] = {
    "AWS::CDK::Metadata": "CDK bookkeeping, not deployed as a billable resource",
    "AWS::EC2::VPC": "no charge",
    "AWS::EC2::Subnet": "no charge",
    "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::Route": "no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::InternetGateway": "no charge (data transfer is priced separately)",
    "AWS::EC2::VPCGatewayAttachment": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::SecurityGroupEgress": "no charge",
    "AWS::ElasticLoadBalancingV2::Listener": "no charge of its own (the ALB's hours and LCUs are)",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "no charge",
    "AWS::AutoScaling::LifecycleHook": "no charge",
    "AWS::IAM::Role": "no charge",
    "AWS::WAFv2::WebACLAssociation": "no charge (the web ACL is priced)",
    "AWS::WAFv2::LoggingConfiguration": "no charge of its own (the WAF log group's ingestion and storage are priced)",
    "AWS::IAM::Policy": "no charge",
    "AWS::IAM::ManagedPolicy": "no charge",
    "AWS::IAM::InstanceProfile": "no charge",
    "AWS::RDS::DBSubnetGroup": "no charge",
    "AWS::RDS::DBParameterGroup": "no charge",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::SNS::Topic": "alarm notifications stay within the free 1,000 e-mails and 1M publishes a month",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SNS::Subscription": "no charge",
    "AWS::SSM::Parameter": "standard-tier parameters are free",
    "AWS::SecretsManager::SecretTargetAttachment": "no charge",
    "AWS::Lambda::Function": "custom-resource handlers (CDK's, the database roles'): run at deploy only, within the "
    "Lambda free tier",
    "Custom::VpcRestrictDefaultSG": "a deploy-time custom resource, no running charge",
    "Custom::DatabaseRoles": "a deploy-time custom resource (one Lambda run per Data-stack deploy), no running charge",
    "AWS::CloudFormation::WaitConditionHandle": "no charge",
}


class AssemblyError(ValueError):
    """The cloud assembly is missing or holds no templates of the stage."""


@dataclass(frozen=True, kw_only=True)
class Resource:
    stack: str
    unit: str
    logical_id: str
    type: str
    scope: str
    properties: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.stack}/{self.logical_id}"


def decision(resource_type: str) -> str:
    """'priced', 'free' or 'unpriced'."""
    if resource_type in PRICED:
        return "priced"
    if resource_type in FREE:
        return "free"
    return "unpriced"


def _tag(properties: dict[str, Any], key: str) -> str | None:
    tags = properties.get("Tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("Key") == key and isinstance(tag.get("Value"), str):
                return str(tag["Value"])
    return None


def _stack_scope(unit: str) -> str:
    if unit == contract.fleet_unit("blue"):
        return "blue"
    if unit == contract.fleet_unit("green"):
        return "green"
    return contract.COLOR_SHARED


def load(assembly: Path, stage: str) -> list[Resource]:
    prefix = f"{contract.STACK_PREFIX}-{stage}-"
    files = sorted(assembly.glob(f"{prefix}*.template.json"))
    if not files:
        raise AssemblyError(f"no {prefix}* templates in {assembly}")
    resources: list[Resource] = []
    for path in files:
        stack = path.name.removesuffix(".template.json")
        unit = stack.removeprefix(prefix)
        try:
            template = json.loads(path.read_text())
        except ValueError as ex:
            raise AssemblyError(f"{path} is not valid JSON: {ex}") from None
        for logical_id, body in (template.get("Resources") or {}).items():
            properties = body.get("Properties") or {}
            scope = _tag(properties, contract.TAG_COLOR) or _stack_scope(unit)
            resources.append(
                Resource(
                    stack=stack,
                    unit=unit,
                    logical_id=logical_id,
                    type=str(body.get("Type")),
                    scope=scope,
                    properties=properties,
                )
            )
    return resources
