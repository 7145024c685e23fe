"""Session fixtures for the cost tests: every stage of the CDK app synthesized once by the CDK CLI (the real
`cdk.out` the report reads), and the real benchmark results file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.cost import assembly
from scripts.state import REPO_ROOT

RESULTS = REPO_ROOT / "docs" / "benchmarks" / "results.json"


def _release_context(root: Path) -> list[str]:
    """The CDK app reads each slot's release manifest at synth when it has releases; give it small real ones."""
    try:
        from infra.config import STAGES
        from infra.releases import RELEASES_DIR_CONTEXT
        from tests.infra.conftest import write_synth_release
    except ImportError:
        return []
    for config in STAGES.values():
        for color in ("blue", "green"):
            release = getattr(config.fleet(color), "release", None)
            if release:
                write_synth_release(root, release)
    return [f"{RELEASES_DIR_CONTEXT}={root}"]


@pytest.fixture(scope="session")
def synth_context(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _release_context(tmp_path_factory.mktemp("cost-releases"))


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory: pytest.TempPathFactory, synth_context: list[str]) -> dict[str, Path]:
    """`npx cdk synth -c stage=<s>` for every stage the app defines (names read at run time)."""
    root = tmp_path_factory.mktemp("cost-cdk-out")
    out: dict[str, Path] = {}
    for stage in assembly.stage_names():
        out[stage] = root / stage
        assembly.synthesize(stage, out[stage], context=synth_context)
    return out
