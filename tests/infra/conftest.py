"""Session fixtures for the CDK app tests: one in-process synth per stage, one CLI synth per stage.

Each jsii start costs seconds and each synth stages the slots' release assets, so every stage is built once per
session and shared by all tests. Synth reads a release's manifest only, so the synth fixtures use small release
directories with a real manifest (`write_synth_release`); the boot-path test builds and installs a real release.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.config import STAGES
from infra.synth import REPO, STAGE_NAMES, SynthesizedStage, synthesize
from tests.infra import tls_support


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, synth_releases: Path) -> dict[str, SynthesizedStage]:
    return {
        name: synthesize(STAGES[name], tmp_path_factory.mktemp(f"app-{name}"), releases_dir=synth_releases)
        for name in STAGE_NAMES
    }


@pytest.fixture(scope="session")
def built_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real release of HEAD, built by the same code as `mcpstack release build` (downloads the locked wheels)."""
    from scripts.release import build_release

    path, built = build_release(REPO, "HEAD", tmp_path_factory.mktemp("built-releases"))
    assert built
    return path


@pytest.fixture(scope="session")
def tls_cluster() -> Iterator[tls_support.TlsCluster]:
    """A throwaway PostgreSQL serving TLS (tests/infra/tls_support.py), for the verify-full tests."""
    yield from tls_support.tls_cluster()
