"""Builds the adapters for a target: the only place that knows where the local stack keeps its files and which AWS
clients the AWS adapters get."""

from __future__ import annotations

from scripts.cutover.runner import Adapters


def local_adapters(stage: str) -> Adapters:
    from scripts.cutover.haproxy import HaproxyRouter
    from scripts.cutover.local import FileLock, FileStore, JsonlAudit, LocalMetrics, LocalSmoke, SystemClock
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
        smoke=LocalSmoke(spec.slot_ports),
    )


def aws_adapters(stage: str) -> Adapters:
    from scripts.cutover.ports import CutoverError

    raise CutoverError(f"--target aws (stage {stage}): the AWS adapters are not in this build yet")
