"""The per-stage smoke token: a generated Secrets Manager secret whose value the smoke header rules require, so the
header that reaches an idle slot directly is not guessable from the repository.

Why Secrets Manager and not an SSM SecureString: a listener rule condition needs the literal value at deploy time, and
CloudFormation resolves `ssm-secure` references only in a short list of resource properties (listener rules are not
among them), while `secretsmanager` references resolve in any resource property. The trade-offs (the value is
visible to anyone allowed `elasticloadbalancing:DescribeRules`; a new value reaches the rules only with a stack
update that changes them) are written down in docs/runbook.md.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import contract
from infra.components.nag import acknowledge

# Letters and digits only: a header rule value treats `*` and `?` as wildcards, and a header value must not hold
# spaces or control characters.
TOKEN_LENGTH = 40


class SmokeToken(Construct):
    """Exposes `secret` and `value` (a CloudFormation dynamic reference resolving to the token at deploy time)."""

    def __init__(self, scope: Construct, id_: str, *, stage: str, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=contract.smoke_token_secret_name(stage),
            description=f"Value the {contract.SMOKE_TOKEN_HEADER_NAME} header must carry to reach a slot directly",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 (an empty JSON object, the generated key goes into it)
                generate_string_key=contract.SMOKE_TOKEN_SECRET_KEY,
                exclude_punctuation=True,
                include_space=False,
                password_length=TOKEN_LENGTH,
            ),
            # Nothing depends on the old value once the stack is gone; a new stack generates a new token.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.value = self.secret.secret_value_from_json(contract.SMOKE_TOKEN_SECRET_KEY).unsafe_unwrap()
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "The smoke token reaches the listener rules only through a stack update (a dynamic reference), so a "
            "rotation Lambda could not apply a new value; it is rotated by redeploying (docs/runbook.md).",
        )
