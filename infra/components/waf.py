"""The production profile's AWS WAF web ACL on the ALB: a per-IP rate limit, `/metrics` refused whatever its
spelling, and two AWS managed rule groups (the common rule set and known bad inputs).

Only stages with `exposure="production"` get one (`infra/stacks/edge.py`); it is a cost line (a web ACL, its rules
and every request it inspects), which the cost report prices.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.components.load_balancer import METRICS_PATH

# AWS managed rule groups, in evaluation order after the rate limit and the /metrics rule. The common rule set covers
# the OWASP-style generic attacks; known bad inputs covers request patterns of known exploits (Log4j among them).
MANAGED_RULE_GROUPS: tuple[str, ...] = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
RATE_WINDOW_S = 300


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


class WebAcl(Construct):
    """Exposes `web_acl` and `association` (the web ACL on `load_balancer`)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        stage: str,
        load_balancer: elbv2.IApplicationLoadBalancer,
        requests_per_ip_per_5min: int,
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
