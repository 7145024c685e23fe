"""The cloud assembly a report reads: `cdk.out` of one stage, synthesized by the CDK CLI when missing or stale.

Each stage gets its own directory (`<state dir>/cost/cdk.out/<stage>`) so pricing one stage never overwrites
another's templates. Stale means older than any file of the CDK app (`infra/**`, `cdk.json`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from infra import contract
from infra.offline import offline_env
from scripts.state import REPO_ROOT, state_dir


class SynthError(RuntimeError):
    """`cdk synth` failed or could not start."""


def stage_names() -> tuple[str, ...]:
    """The stages the CDK app knows, read at run time (never a list of our own)."""
    from infra.config import STAGES

    return tuple(STAGES)


def check_stage(stage: str) -> None:
    names = stage_names()
    if stage not in names:
        raise SynthError(f"unknown stage {stage!r}; expected one of: {', '.join(names)}")


def default_dir(stage: str) -> Path:
    return state_dir() / "cost" / "cdk.out" / stage


def _app_mtime() -> float:
    paths = [REPO_ROOT / "cdk.json", *(p for p in (REPO_ROOT / "infra").rglob("*") if p.is_file())]
    return max(p.stat().st_mtime for p in paths if "__pycache__" not in p.parts)


def is_current(assembly: Path, stage: str) -> bool:
    templates = list(assembly.glob(f"{contract.STACK_PREFIX}-{stage}-*.template.json"))
    if len(templates) < len(contract.STACK_UNITS):
        return False
    return min(t.stat().st_mtime for t in templates) >= _app_mtime()


def synthesize(stage: str, out: Path, *, context: Sequence[str] = (), timeout_s: int = 600) -> None:
    command = ["npx", "cdk", "synth", "--no-notices", "--quiet", "-c", f"stage={stage}", "-o", str(out)]
    for item in context:
        command += ["-c", item]
    try:
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=offline_env(), capture_output=True, text=True, timeout=timeout_s
        )
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise SynthError(f"cdk synth -c stage={stage} could not run: {ex}") from None
    if result.returncode != 0:
        lines = [
            line for line in (result.stderr + result.stdout).splitlines() if line.strip() and "npm warn" not in line
        ]
        # The app reports its own failure as one "error: ..." line; the CLI's exit line follows it.
        errors = [line for line in lines if line.lower().startswith("error:")]
        reason = (errors or lines or ["no output"])[-1].removeprefix("error: ")
        raise SynthError(f"cdk synth -c stage={stage} failed: {reason}")


def assembly_for(stage: str, cdk_out: Path | None = None, *, context: Sequence[str] = ()) -> Path:
    """The stage's assembly: `cdk_out` as given (never re-synthesized), or ours, synthesized when missing or stale."""
    check_stage(stage)
    if cdk_out is not None:
        return cdk_out
    out = default_dir(stage)
    if not is_current(out, stage):
        out.parent.mkdir(parents=True, exist_ok=True)
        synthesize(stage, out, context=context)
    return out


def pricing_context(stage: str, root: Path) -> list[str]:
    """`cdk synth` reads each slot's release manifest, never its wheels: when the stage's releases are not built (a
    fresh clone), price it from manifest-only releases written under `root` and named by the synth context."""
    from infra.config import STAGES
    from infra.releases import (
        RELEASES_DIR_CONTEXT,
        ReleaseNotFoundError,
        default_releases_dir,
        release_path,
        write_manifest_only_release,
    )

    fleets = [STAGES[stage].fleet(color) for color in ("blue", "green")]
    try:
        for fleet in fleets:
            release_path(default_releases_dir(), fleet.release, server=fleet.server)
        return []
    except ReleaseNotFoundError:
        pass
    for fleet in fleets:
        write_manifest_only_release(root, fleet.release)
    return [f"{RELEASES_DIR_CONTEXT}={root}"]
