"""cdk-nag acknowledgments, placed next to the resource they are about (cdk-nag 3 validation API)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

MIN_REASON_CHARS = 20


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one AwsSolutions finding on `scope` (and its children) for a stated reason."""
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise ValueError(f"acknowledgment of {rule_id} needs a real reason (at least {MIN_REASON_CHARS} characters)")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
