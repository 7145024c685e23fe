"""What every mcpstack stack shares: its name from the contract, a region-only environment, cost tags, and for a
slot's stack the slot's explicit CPU credit option."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aspects, Environment, Stack, Tags
from constructs import Construct

from infra import contract
from infra.components.credits import CpuCreditSpecification
from infra.config import StageConfig

# CDK treats these as taggable but the CloudFormation schema rejects Tags on them.
_UNTAGGABLE = ["AWS::RDS::DBProxyTargetGroup"]


class McpStackBase(Stack):
    def __init__(
        self,
        scope: Construct,
        *,
        config: StageConfig,
        unit: contract.StackUnit,
        color: str = contract.COLOR_SHARED,
        description: str,
        **kwargs: Any,
    ) -> None:
        name = contract.stack_name(config.name, unit)
        # Region only: synth needs no credentials and does no lookups; the account comes from the deploy profile.
        super().__init__(
            scope, name, stack_name=name, env=Environment(region=config.region), description=description, **kwargs
        )
        self.config = config
        for key, value in ((contract.TAG_PROJECT, contract.PROJECT), (contract.TAG_STAGE, config.name)):
            Tags.of(self).add(key, value, exclude_resource_types=_UNTAGGABLE)
        Tags.of(self).add(contract.TAG_COLOR, color, exclude_resource_types=_UNTAGGABLE)
        if color in contract.COLORS:
            Aspects.of(self).add(CpuCreditSpecification(config.fleet(color)))
