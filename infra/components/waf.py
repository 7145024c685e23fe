"""The production profile's AWS WAF web ACL on the ALB: a per-IP rate limit, `/metrics` refused whatever its
spelling, and two AWS managed rule groups (the common rule set and known bad inputs); every request it inspects is
logged to a CloudWatch Logs group (`aws-waf-logs-mcpstack-<stage>`: WAF accepts only that prefix) with the credentials
redacted: the `Authorization` header (bearer tokens) and the smoke-token header.

Only stages with `exposure="production"` get one (`infra/stacks/edge.py`); it is a cost line (a web ACL, its rules,
every request it inspects, and the log it writes), which the cost report prices.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import contract
from infra.components.load_balancer import METRICS_PATH
from infra.components.retention import log_retention

# AWS managed rule groups, in evaluation order after the rate limit and the /metrics rule. The common rule set covers
# the OWASP-style generic attacks; known bad inputs covers request patterns of known exploits (Log4j among them).
MANAGED_RULE_GROUPS: tuple[str, ...] = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
RATE_WINDOW_S = 300
# Headers whose values never reach the log: the servers' bearer tokens and the stage's smoke token.
REDACTED_HEADERS: tuple[str, ...] = ("authorization", contract.SMOKE_TOKEN_HEADER_NAME.lower())


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


class WebAcl(Construct):
    """Exposes `web_acl`, `association` (the web ACL on `load_balancer`), `log_group` and `logging`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        load_balancer: elbv2.IApplicationLoadBalancer,
        requests_per_ip_per_5min: int,
        log_retention_days: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=requests_per_ip_per_5min,
                        evaluation_window_sec=RATE_WINDOW_S,
                    )
                ),
                visibility_config=_visibility("RateLimitPerIp"),
            ),
            self._block_metrics_rule(priority=1),
            *(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=group
                        )
                    ),
                    visibility_config=_visibility(group),
                )
                for priority, group in enumerate(MANAGED_RULE_GROUPS, start=2)
            ),
        ]
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"mcpstack {stage}: rate limit per IP, no /metrics, AWS managed rule groups",
            rules=rules,
            visibility_config=_visibility(f"mcpstack-{stage}-web-acl"),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=load_balancer.load_balancer_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=contract.waf_log_group_name(stage),
            retention=log_retention(log_retention_days),
            # Deleted with the stack like the other log groups: its name is fixed (WAF's prefix), so a kept group
            # would stop the stage from ever being created again; read an incident's requests within the retention.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # WAF names the group by its ARN without the ":*" that LogGroup.log_group_arn carries. It adds the log group's
        # resource policy for its delivery service itself on first use.
        log_group_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
                for name in REDACTED_HEADERS
            ],
        )
        self.logging.node.add_dependency(self.log_group)

    @staticmethod
    def _block_metrics_rule(*, priority: int) -> wafv2.CfnWebACL.RuleProperty:
        """The ALB's listener rule answers the plain `/metrics` with a 404; this one also refuses the spellings a
        server would decode to the same path (`/%6detrics`, `//metrics`, `/./metrics`), which the ALB's path
        patterns compare literally."""
        return wafv2.CfnWebACL.RuleProperty(
            name="BlockMetrics",
            priority=priority,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    positional_constraint="STARTS_WITH",
                    search_string=METRICS_PATH,
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                        wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
                        wafv2.CfnWebACL.TextTransformationProperty(priority=2, type="LOWERCASE"),
                    ],
                )
            ),
            visibility_config=_visibility("BlockMetrics"),
        )
