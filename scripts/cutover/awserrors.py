"""AWS errors as the cutover's domain errors: one place maps a botocore `ClientError` (throttling included)."""

from __future__ import annotations

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from scripts.cutover.ports import CutoverError, RouterError, ThrottledError

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)


def domain_error(ex: ClientError, what: str, kind: type[CutoverError] = RouterError) -> CutoverError:
    code = ex.response.get("Error", {}).get("Code", "")
    message = ex.response.get("Error", {}).get("Message", "")
    if code in THROTTLING_CODES:
        return ThrottledError(f"{what}: {code}")
    return kind(f"{what}: {code}: {message}")
