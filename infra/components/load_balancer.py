"""The ALB: a weighted blue/green forward, both target groups, a header rule to green, encrypted access logs, and a
rule that answers `/metrics` itself (404), so the servers' Prometheus metrics are never served through the ALB.

The weights are not configuration: they are the live weights the cutover last verified and wrote back
(`infra/live_weights.py`), so re-applying this construct never moves traffic. The port-80 listener is the same
resource with or without HTTPS (it forwards, or redirects to 443), so turning HTTPS on replaces nothing.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import contract
from infra.components.nag import acknowledge
from infra.config import EdgeConfig
from infra.live_weights import LiveWeights

# Rule priorities of the smoke-test rules (one per slot); the default action (the weighted forward) takes the rest.
SMOKE_RULE_PRIORITIES: dict[contract.Color, int] = {"green": 10, "blue": 11}
# Stateful stages only: a request carrying a session id that names a slot goes to that slot (after the smoke rules).
SESSION_RULE_PRIORITIES: dict[contract.Color, int] = {"blue": 20, "green": 21}

# The servers' Prometheus endpoint: read on the instance (the metrics bridge), never through the ALB. Its rule comes
# before every other rule, so no header reaches it either.
METRICS_PATH = "/metrics"
METRICS_RULE_PRIORITY = 1


class LoadBalancer(Construct):
    """Exposes `load_balancer`, `listener` (the one carrying the weights), `http_listener` (port 80, always),
    `target_groups` by colour, `smoke_rules` by colour (`smoke_rule` is green's), `session_rules` by colour (empty
    unless `stateful`), `metrics_rule`, `access_log_bucket`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        config: EdgeConfig,
        weights: LiveWeights,
        smoke_token: str,
        stateful: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # ALB access logs can only be delivered to SSE-S3 buckets (not SSE-KMS).
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.access_log_retention_days))],
            # Logs outlive a `cdk destroy` so an incident can still be read; the lifecycle rule empties the bucket.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_log_bucket,
            "AwsSolutions-S1",
            "This bucket only receives ALB access logs; logging access to the log bucket itself would recurse.",
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="mcpstack ALB: HTTP(S) from the internet",
            allow_all_outbound=False,
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.security_group,
            idle_timeout=Duration.seconds(config.idle_timeout_s),
            drop_invalid_header_fields=True,
        )
        self.load_balancer.log_access_logs(self.access_log_bucket, prefix="alb")

        self.target_groups: dict[contract.Color, elbv2.ApplicationTargetGroup] = {
            color: self._target_group(vpc, config, color) for color in contract.COLORS
        }
        weighted = elbv2.ListenerAction.weighted_forward(
            [
                elbv2.WeightedTargetGroup(target_group=self.target_groups[color], weight=weights.of(color))
                for color in contract.COLORS
            ]
        )
        https = config.certificate_arn is not None
        # One port-80 listener whatever the options: with HTTPS it redirects, without it carries the weights. A
        # second construct for the redirect would make CloudFormation create a port-80 listener before deleting the
        # old one, which the ALB refuses.
        self.http_listener = self.load_balancer.add_listener(
            "Http",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=True,
            default_action=(
                elbv2.ListenerAction.redirect(protocol="HTTPS", port="443", permanent=True) if https else weighted
            ),
        )
        self.listener = self.http_listener
        if config.certificate_arn is not None:
            self.listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                open=True,
                certificates=[elbv2.ListenerCertificate.from_arn(config.certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_action=weighted,
            )
        self.metrics_rule = elbv2.ApplicationListenerRule(
            self,
            "MetricsNotRouted",
            listener=self.listener,
            priority=METRICS_RULE_PRIORITY,
            conditions=[elbv2.ListenerCondition.path_patterns([METRICS_PATH, f"{METRICS_PATH}/*"])],
            action=elbv2.ListenerAction.fixed_response(404, content_type="text/plain", message_body="Not Found"),
        )
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "The ALB is the public entry point of the MCP service, so it accepts HTTP(S) from any IPv4 address.",
        )

        # A header rule per slot, so whichever slot is idle can be smoke-tested before it gets any weight. Green's
        # keeps its construct id (and so its identity) from before blue had one.
        self.smoke_rules: dict[contract.Color, elbv2.ApplicationListenerRule] = {
            color: elbv2.ApplicationListenerRule(
                self,
                f"{color.capitalize()}SmokeRule",
                listener=self.listener,
                priority=SMOKE_RULE_PRIORITIES[color],
                conditions=[
                    elbv2.ListenerCondition.http_header(
                        contract.SMOKE_HEADER_NAME, [contract.smoke_header_value(color)]
                    ),
                    # The stage's smoke token (`infra/components/smoke_token.py`): the colour alone is guessable.
                    elbv2.ListenerCondition.http_header(contract.SMOKE_TOKEN_HEADER_NAME, [smoke_token]),
                ],
                action=elbv2.ListenerAction.forward([self.target_groups[color]]),
            )
            for color in contract.COLORS
        }
        self.smoke_rule = self.smoke_rules["green"]

        # Stateful mode: a session lives in the memory of the slot that opened it, and its id starts with that slot
        # (`blue-...`), so these rules keep every later request of the session there whatever the weights say,
        # during a cutover too. A request without a session id (or with a stale one) takes the weighted forward.
        self.session_rules: dict[contract.Color, elbv2.ApplicationListenerRule] = {}
        if stateful:
            self.session_rules = {
                color: elbv2.ApplicationListenerRule(
                    self,
                    f"{color.capitalize()}SessionRule",
                    listener=self.listener,
                    priority=SESSION_RULE_PRIORITIES[color],
                    conditions=[
                        elbv2.ListenerCondition.http_header(
                            contract.SESSION_HEADER_NAME, [f"{contract.session_id_prefix(color)}*"]
                        )
                    ],
                    action=elbv2.ListenerAction.forward([self.target_groups[color]]),
                )
                for color in contract.COLORS
            }

    def _target_group(self, vpc: ec2.IVpc, config: EdgeConfig, color: contract.Color) -> elbv2.ApplicationTargetGroup:
        group = elbv2.ApplicationTargetGroup(
            self,
            f"{color.capitalize()}TargetGroup",
            vpc=vpc,
            port=contract.SERVER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            deregistration_delay=Duration.seconds(config.deregistration_delay_s),
            health_check=elbv2.HealthCheck(
                path=contract.HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(config.health_check_interval_s),
                timeout=Duration.seconds(config.health_check_timeout_s),
                healthy_threshold_count=config.healthy_threshold_count,
                unhealthy_threshold_count=config.unhealthy_threshold_count,
            ),
        )
        Tags.of(group).add(contract.TAG_COLOR, color, priority=200)
        return group
