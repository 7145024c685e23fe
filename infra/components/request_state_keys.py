"""The stage's request-state keys: one generated Secrets Manager secret per stage, shared by both slots, whose JSON
field `keys` is the servers' `MCP_REQUEST_STATE_KEYS` (comma-separated base64url keys: the first signs, every one
verifies). One secret for both slots, so a multi-round-trip request whose retry lands on the other slot, or on
another instance, still verifies.

The generated value is 64 letters and digits: every such string is canonical unpadded base64url of 48 bytes, above
the 32 the servers require (`services/request_state.py`). The instances read it at boot (`--request-state-secret-id`),
like the database roles' secrets; rotation is prepending a new key (`new,old`) and rolling both fleets, then dropping
the old one (docs/deploy.md, "Security").
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import contract
from infra.bootstrap.bootstrap import REQUEST_STATE_SECRET_KEY
from infra.components.nag import acknowledge

# Letters and digits are a subset of the base64url alphabet; 64 of them (a multiple of 4) decode without padding.
KEY_CHARS = 64


class RequestStateKeys(Construct):
    """Exposes `secret`."""

    def __init__(self, scope: Construct, id_: str, *, stage: str, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=contract.request_state_secret_name(stage),
            description="MCP_REQUEST_STATE_KEYS of both slots: base64url keys signing multi-round-trip request state",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 (an empty JSON object, the generated key goes into it)
                generate_string_key=REQUEST_STATE_SECRET_KEY,
                exclude_punctuation=True,
                include_space=False,
                password_length=KEY_CHARS,
            ),
            # A signed request state lives for one round trip: nothing needs the keys once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "The servers read the keys at boot and verify with every key listed, so a rotation is a new key put "
            "first and a rolling restart of both fleets (docs/deploy.md); a rotation Lambda could not restart them.",
        )
