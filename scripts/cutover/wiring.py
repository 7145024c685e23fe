"""Builds the adapters for a target: the only place that knows where the local stack keeps its files and which AWS
clients the AWS adapters get."""

from __future__ import annotations

from scripts.cutover.runner import Adapters


def local_adapters(stage: str) -> Adapters:
    from scripts.cutover.haproxy import HaproxyRouter
    from scripts.cutover.local import (
        FileAbortSignal,
        FileLock,
        FileStore,
        HttpSynthetic,
        JsonlAudit,
        LocalMetrics,
        SystemClock,
        local_smoke,
    )
    from scripts.stack import cutover_dir, files, load_spec

    spec = load_spec()
    api = files().api()
    directory = cutover_dir(stage)
    return Adapters(
        router=HaproxyRouter(api),
        metrics=LocalMetrics(api, spec.slot_ports),
        store=FileStore(directory),
        audit=JsonlAudit(directory / "audit.jsonl", target=f"local/{stage}"),
        lock=FileLock(directory / "lock"),
        clock=SystemClock(),
        smoke=local_smoke(spec.slot_ports),
        synthetic=HttpSynthetic(spec.port),
        abort_signal=FileAbortSignal(directory / "abort-request"),
    )


def aws_adapters(stage: str) -> Adapters:
    """Clients from the default credential chain and region (AWS_PROFILE, AWS_DEFAULT_REGION)."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    from scripts.cutover.aws import build_aws_adapters
    from scripts.cutover.awserrors import AWS_ERRORS, domain_error
    from scripts.cutover.local import SystemClock

    try:
        session = boto3.session.Session()
        # Retries of our own (verified writes with backoff); botocore's standard mode handles transient errors below.
        config = Config(retries={"mode": "standard", "max_attempts": 3})
        return build_aws_adapters(
            stage,
            elbv2=session.client("elbv2", config=config),
            cloudwatch=session.client("cloudwatch", config=config),
            ssm=session.client("ssm", config=config),
            logs=session.client("logs", config=config),
            secrets=session.client("secretsmanager", config=config),
            clock=SystemClock(),
        )
    except AWS_ERRORS as ex:
        raise domain_error(ex, "AWS") from ex
