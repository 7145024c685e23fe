"""Names shared between the CDK app and the operator tools (cutover, cost): stacks, outputs, SSM parameters, alarms.

This is the one place those names are defined. It imports nothing from aws_cdk so the CLI can import it cheaply;
the CDK app publishes exactly these names and a test checks they exist in the synthesized templates.
"""

from __future__ import annotations

from typing import Final, Literal

Color = Literal["blue", "green"]
COLORS: Final[tuple[Color, ...]] = ("blue", "green")

PROJECT: Final = "mcpstack"
STACK_PREFIX: Final = "McpStack"

# Cost-allocation tags on every resource.
TAG_PROJECT: Final = "Project"
TAG_STAGE: Final = "Stage"
TAG_COLOR: Final = "Color"
COLOR_SHARED: Final = "shared"

# Both fleets listen here; the target groups and the health check use it.
SERVER_PORT: Final = 8080
HEALTH_CHECK_PATH: Final = "/health"

# A request carrying this header reaches green directly (smoke tests before any weight moves).
SMOKE_HEADER_NAME: Final = "X-Mcpstack-Color"
SMOKE_HEADER_VALUE: Final = "green"

# Cutover gates: one alarm per colour and gate, with names that never change between deploys.
GATES: Final[tuple[str, ...]] = ("5xx-rate", "p95-latency", "unhealthy-hosts")

StackUnit = Literal["Network", "Data", "Edge", "FleetBlue", "FleetGreen", "Monitoring"]
STACK_UNITS: Final[tuple[StackUnit, ...]] = ("Network", "Data", "Edge", "FleetBlue", "FleetGreen", "Monitoring")


def stack_name(stage: str, unit: StackUnit) -> str:
    return f"{STACK_PREFIX}-{stage}-{unit}"


def fleet_unit(color: Color) -> StackUnit:
    return "FleetBlue" if color == "blue" else "FleetGreen"


# --- SSM parameters --------------------------------------------------------------------------------------------


def ssm_prefix(stage: str) -> str:
    return f"/{PROJECT}/{stage}"


def listener_arn_parameter(stage: str) -> str:
    """The listener whose default action is the weighted blue/green forward (HTTPS when a certificate is set)."""
    return f"{ssm_prefix(stage)}/edge/listener-arn"


def smoke_rule_arn_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/edge/green-smoke-rule-arn"


def load_balancer_arn_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/edge/load-balancer-arn"


def load_balancer_full_name_parameter(stage: str) -> str:
    """`app/<name>/<id>`: the `LoadBalancer` dimension of `AWS/ApplicationELB` metrics."""
    return f"{ssm_prefix(stage)}/edge/load-balancer-full-name"


def load_balancer_dns_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/edge/load-balancer-dns"


def target_group_arn_parameter(stage: str, color: Color) -> str:
    return f"{ssm_prefix(stage)}/edge/target-group/{color}-arn"


def target_group_full_name_parameter(stage: str, color: Color) -> str:
    """`targetgroup/<name>/<id>`: the `TargetGroup` dimension of `AWS/ApplicationELB` metrics."""
    return f"{ssm_prefix(stage)}/edge/target-group/{color}-full-name"


def asg_name_parameter(stage: str, color: Color) -> str:
    return f"{ssm_prefix(stage)}/fleet/{color}/asg-name"


def gate_alarm_names_parameter(stage: str) -> str:
    """A StringList of every cutover gate alarm name."""
    return f"{ssm_prefix(stage)}/monitoring/gate-alarm-names"


def alarm_topic_arn_parameter(stage: str) -> str:
    return f"{ssm_prefix(stage)}/monitoring/alarm-topic-arn"


def cutover_state_parameter(stage: str) -> str:
    """Written by the cutover (its state store), never by CloudFormation, so a deploy cannot reset it."""
    return f"{ssm_prefix(stage)}/cutover/state"


# --- CloudWatch names ------------------------------------------------------------------------------------------


def gate_alarm_name(stage: str, color: Color, gate: str) -> str:
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; expected one of {', '.join(GATES)}")
    return f"{STACK_PREFIX}-{stage}-{color}-{gate}"


def gate_alarm_names(stage: str) -> tuple[str, ...]:
    return tuple(gate_alarm_name(stage, color, gate) for color in COLORS for gate in GATES)


def operations_dashboard_name(stage: str) -> str:
    return f"{STACK_PREFIX}-{stage}-operations"


def cost_dashboard_name(stage: str) -> str:
    return f"{STACK_PREFIX}-{stage}-cost"


def app_log_group_name(stage: str, color: Color) -> str:
    return f"/{PROJECT}/{stage}/{color}/app"


# --- CloudFormation outputs -------------------------------------------------------------------------------------

OUTPUT_LISTENER_ARN: Final = "ListenerArn"
OUTPUT_SMOKE_RULE_ARN: Final = "GreenSmokeRuleArn"
OUTPUT_LOAD_BALANCER_ARN: Final = "LoadBalancerArn"
OUTPUT_LOAD_BALANCER_FULL_NAME: Final = "LoadBalancerFullName"
OUTPUT_LOAD_BALANCER_DNS: Final = "LoadBalancerDnsName"
OUTPUT_GATE_ALARM_NAMES: Final = "GateAlarmNames"
OUTPUT_ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
OUTPUT_ASG_NAME: Final = "AutoScalingGroupName"
OUTPUT_DATABASE_SECRET_ARN: Final = "DatabaseSecretArn"  # noqa: S105 (an output key, not a secret)
OUTPUT_DATABASE_ENDPOINT: Final = "DatabaseEndpoint"


def target_group_arn_output(color: Color) -> str:
    return f"{color.capitalize()}TargetGroupArn"


def target_group_full_name_output(color: Color) -> str:
    return f"{color.capitalize()}TargetGroupFullName"


def published_parameters(stage: str) -> dict[StackUnit, tuple[str, ...]]:
    """Every SSM parameter the app creates, by the stack that owns it."""
    return {
        "Edge": (
            listener_arn_parameter(stage),
            smoke_rule_arn_parameter(stage),
            load_balancer_arn_parameter(stage),
            load_balancer_full_name_parameter(stage),
            load_balancer_dns_parameter(stage),
            *(target_group_arn_parameter(stage, c) for c in COLORS),
            *(target_group_full_name_parameter(stage, c) for c in COLORS),
        ),
        "FleetBlue": (asg_name_parameter(stage, "blue"),),
        "FleetGreen": (asg_name_parameter(stage, "green"),),
        "Monitoring": (gate_alarm_names_parameter(stage), alarm_topic_arn_parameter(stage)),
    }


def published_outputs() -> dict[StackUnit, tuple[str, ...]]:
    """Every stack output the tools read, by the stack that owns it (keys are the same for every stage)."""
    return {
        "Data": (OUTPUT_DATABASE_SECRET_ARN, OUTPUT_DATABASE_ENDPOINT),
        "Edge": (
            OUTPUT_LISTENER_ARN,
            OUTPUT_SMOKE_RULE_ARN,
            OUTPUT_LOAD_BALANCER_ARN,
            OUTPUT_LOAD_BALANCER_FULL_NAME,
            OUTPUT_LOAD_BALANCER_DNS,
            *(target_group_arn_output(c) for c in COLORS),
            *(target_group_full_name_output(c) for c in COLORS),
        ),
        "FleetBlue": (OUTPUT_ASG_NAME,),
        "FleetGreen": (OUTPUT_ASG_NAME,),
        "Monitoring": (OUTPUT_GATE_ALARM_NAMES, OUTPUT_ALARM_TOPIC_ARN),
    }
