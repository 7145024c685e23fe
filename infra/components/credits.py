"""The T2/T3/T4g CPU credit option of a slot's launch template, written explicitly from the slot's config.

EC2 launches a T3 in "unlimited" mode when the launch template says nothing, so an omitted option is a cost decision
made by default (a sustained load above the baseline is billed as surplus credits). An aspect, so it reaches the
launch template the Auto Scaling group creates for itself, whoever builds the group.
"""

from __future__ import annotations

import jsii
from aws_cdk import IAspect
from aws_cdk import aws_ec2 as ec2
from constructs import IConstruct

from infra.config import FleetConfig


@jsii.implements(IAspect)
class CpuCreditSpecification:
    """Sets `CreditSpecification.CpuCredits` on every launch template under the scope, for burstable types only."""

    def __init__(self, fleet: FleetConfig) -> None:
        self._fleet = fleet

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, ec2.CfnLaunchTemplate) and self._fleet.burstable:
            node.add_property_override("LaunchTemplateData.CreditSpecification.CpuCredits", self._fleet.cpu_credits)
