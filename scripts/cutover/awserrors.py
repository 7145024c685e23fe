"""AWS errors as the cutover's domain errors: one place maps a botocore `ClientError` (throttling included)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from scripts.cutover.ports import CutoverError, RouterError, ThrottledError

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)


# What a boto3 call can raise: the service's answer (ClientError) or no answer at all (credentials, endpoint, timeout).
AWS_ERRORS = (ClientError, BotoCoreError)


def error_code(ex: Any) -> str:
    """The service's error code, or "" when there was no answer (a BotoCoreError)."""
    response = getattr(ex, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def domain_error(ex: Any, what: str, kind: type[CutoverError] = RouterError) -> CutoverError:
    code = error_code(ex)
    message = (getattr(ex, "response", None) or {}).get("Error", {}).get("Message", "") if code else str(ex)
    if code in THROTTLING_CODES:
        return ThrottledError(f"{what}: {code}")
    return kind(f"{what}: {code}: {message}" if code else f"{what}: {message}")
