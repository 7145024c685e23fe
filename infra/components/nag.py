"""cdk-nag acknowledgments and checkov skips, placed next to the resource they are about, and the one list of the
reasons an IAM statement of this app may name the resource `*` (the template tests read it)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

MIN_REASON_CHARS = 20

# IAM statements whose resource is "*", by Sid, with the reason each cannot name a resource.
WILDCARD_RESOURCE_REASONS: dict[str, str] = {
    "SessionManagerChannels": (
        "Session Manager (instead of SSH): the SSM Agent registers the instance (ssm:UpdateInstanceInformation) and "
        "opens its control and data channels (ssmmessages), the minimum the Session Manager documentation lists; "
        "the instances are launched by the Auto Scaling group, so no ARN of theirs exists at synth."
    ),
    "SsmAgentMessages": (
        "The SSM Agent's message endpoint (ec2messages), listed in the Systems Manager reference 'ec2messages, "
        "ssmmessages, and other API operations'; these actions have no resource type to scope to."
    ),
    "CloudWatchAgentMetrics": (
        "cloudwatch:PutMetricData has no resource type; the statement is limited by its condition to the agent's "
        "own namespace (CWAgent)."
    ),
    "LambdaVpcNetworkInterfaces": (
        "A Lambda function in a VPC creates, describes and deletes its own network interfaces through its execution "
        "role (the AWSLambdaVPCAccessExecutionRole actions); the interfaces do not exist at synth, so no ARN can be "
        "named, and the Lambda documentation grants these on '*'."
    ),
    "CloudWatchAgentTags": (
        "ec2:DescribeTags (the agent resolves the AutoScalingGroupName dimension from the instance's tags) has no "
        "resource type; it only reads tags."
    ),
}


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one AwsSolutions finding on `scope` (and its children) for a stated reason."""
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise ValueError(f"acknowledgment of {rule_id} needs a real reason (at least {MIN_REASON_CHARS} characters)")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def skip_checkov(scope: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on the CloudFormation resource of `scope` only (resource metadata), for a stated
    reason; skips that hold for every template live in `infra/tools/checkov-skips.json`."""
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise ValueError(f"skipping {check_id} needs a real reason (at least {MIN_REASON_CHARS} characters)")
    resource = scope.node.default_child if not isinstance(scope, CfnResource) else scope
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource to carry a checkov skip")
    resource.add_metadata("checkov", {"skip": [{"id": check_id, "comment": reason}]})
