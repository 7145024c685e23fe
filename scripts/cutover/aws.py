"""The AWS target: builds the cutover's adapters from injected clients (elbv2, cloudwatch, ssm, logs) and the names
the CDK app publishes (`infra/contract.py`), and writes each verified weight change into the stage's live-weights
file. Every `ClientError` becomes a domain error `from ex` (`awserrors.py`)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra import contract
from scripts.cutover.alb import AlbRouter, AlbSmoke, AlbSynthetic
from scripts.cutover.awserrors import AWS_ERRORS, domain_error
from scripts.cutover.cloudwatch import CloudWatchLogsAudit, CloudWatchMetrics
from scripts.cutover.model import SLOTS, Slot
from scripts.cutover.ports import Clock, RouterError
from scripts.cutover.runner import Adapters
from scripts.cutover.ssm import SsmAbortSignal, SsmLock, SsmStateStore


class LiveWeightsFile:
    """Writes each verified weight change into the stage's live-weights file (`infra/live_weights.py`), which the
    CDK app reads so that a `cdk deploy` re-applies the live weights instead of resetting them."""

    def __init__(self, stage: str, *, root: Path | None = None) -> None:
        self.stage = stage
        self.root = root

    def record(self, weights: Mapping[Slot, int]) -> None:
        from infra.live_weights import LiveWeights, write_live_weights

        value = LiveWeights(blue=weights["blue"], green=weights["green"])
        if self.root is None:
            write_live_weights(self.stage, value)
        else:
            write_live_weights(self.stage, value, root=self.root)


class SmokeTokenSecret:
    """The stage's smoke token from Secrets Manager (`contract.smoke_token_secret_name`), read once, on first use
    (only the behaviour check needs it; `status` never reads it)."""

    def __init__(self, secrets: Any, *, name: str) -> None:
        self.secrets = secrets
        self.name = name
        self.value: str | None = None

    def __call__(self) -> str:
        if self.value is None:
            try:
                raw = self.secrets.get_secret_value(SecretId=self.name)["SecretString"]
            except AWS_ERRORS as ex:
                raise domain_error(ex, f"smoke token secret {self.name} (is the Edge stack deployed?)") from ex
            try:
                token = json.loads(raw)[contract.SMOKE_TOKEN_SECRET_KEY]
            except (ValueError, KeyError, TypeError):
                raise RouterError(
                    f"smoke token secret {self.name} has no {contract.SMOKE_TOKEN_SECRET_KEY!r} key"
                ) from None
            if not isinstance(token, str) or not token:
                raise RouterError(f"smoke token secret {self.name}: empty {contract.SMOKE_TOKEN_SECRET_KEY!r}")
            self.value = token
        return self.value


def audit_log_group(stage: str) -> str:
    return f"/{contract.PROJECT}/{stage}/cutover"


def abort_parameter(stage: str) -> str:
    return f"{contract.cutover_state_parameter(stage)}-abort"


def lock_parameter(stage: str) -> str:
    return f"{contract.cutover_state_parameter(stage)}-lock"


def resolve(ssm: Any, names: Mapping[str, str]) -> dict[str, str]:
    """Read the parameters the app publishes (names from the contract); one clear error names what is missing."""
    out = {}
    for key, name in names.items():
        try:
            out[key] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except AWS_ERRORS as ex:
            raise domain_error(ex, f"SSM parameter {name} (is the stage deployed?)", RouterError) from ex
    return out


def build_aws_adapters(
    stage: str,
    *,
    elbv2: Any,
    cloudwatch: Any,
    ssm: Any,
    logs: Any,
    secrets: Any,
    clock: Clock,
    run_name: str | None = None,
    with_smoke: bool = True,
    live_weights_root: Path | None = None,
) -> Adapters:
    values = resolve(
        ssm,
        {
            "listener": contract.listener_arn_parameter(stage),
            "lb": contract.load_balancer_full_name_parameter(stage),
            "dns": contract.load_balancer_dns_parameter(stage),
            **{f"tg_{c}": contract.target_group_arn_parameter(stage, c) for c in SLOTS},
            **{f"tgname_{c}": contract.target_group_full_name_parameter(stage, c) for c in SLOTS},
        },
    )
    try:
        alarms = tuple(
            ssm.get_parameter(Name=contract.gate_alarm_names_parameter(stage))["Parameter"]["Value"].split(",")
        )
    except AWS_ERRORS:
        alarms = (*contract.gate_alarm_names(stage), *(contract.mcp_error_rate_alarm_name(stage, c) for c in SLOTS))
    alarms = tuple(a for a in alarms if a)
    router = AlbRouter(elbv2, listener_arn=values["listener"], target_groups={c: values[f"tg_{c}"] for c in SLOTS})
    return Adapters(
        router=router,
        metrics=CloudWatchMetrics(
            cloudwatch,
            stage=stage,
            load_balancer=values["lb"],
            target_groups={c: values[f"tgname_{c}"] for c in SLOTS},
            alarm_names=alarms,
            clock=clock,
        ),
        store=SsmStateStore(ssm, name=contract.cutover_state_parameter(stage)),
        audit=CloudWatchLogsAudit(
            logs, group=audit_log_group(stage), stream=run_name or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        ),
        lock=SsmLock(ssm, name=lock_parameter(stage), clock=clock),
        clock=clock,
        smoke=(
            AlbSmoke(
                router,
                dns_name=values["dns"],
                token=SmokeTokenSecret(secrets, name=contract.smoke_token_secret_name(stage)),
            )
            if with_smoke
            else None
        ),
        weights_sink=LiveWeightsFile(stage, root=live_weights_root),
        synthetic=AlbSynthetic(router, dns_name=values["dns"]) if with_smoke else None,
        abort_signal=SsmAbortSignal(ssm, name=abort_parameter(stage)),
    )
