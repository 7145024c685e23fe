"""Session fixtures shared by the CDK app's tests and the cost report's tests: every stage synthesized once by the
CDK CLI (`npx cdk synth -c stage=<s>`, offline), against manifest-only releases.

Registered for the whole suite from `tests/conftest.py`, so both folders read the same assemblies instead of each
synthesizing every stage again. Nothing here imports aws_cdk (no jsii start unless a test asks for a synth).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.config import STAGES
from infra.offline import offline_env
from infra.releases import RELEASES_DIR_CONTEXT, write_manifest_only_release
from scripts.state import REPO_ROOT as REPO

STAGE_NAMES = tuple(STAGES)


def write_synth_release(releases_dir: Path, release: str) -> Path:
    """A release directory as the CDK app sees it: the manifest and the bootstrap, no wheels (synth reads none)."""
    return write_manifest_only_release(releases_dir, release)


@pytest.fixture(scope="session")
def synth_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A releases directory holding every release the committed stage configs name."""
    root = tmp_path_factory.mktemp("releases")
    for config in STAGES.values():
        for fleet in (config.blue, config.green):
            write_synth_release(root, fleet.release)
    return root


@pytest.fixture(scope="session")
def cli_assemblies(tmp_path_factory: pytest.TempPathFactory, synth_releases: Path) -> dict[str, Path]:
    """`npx cdk synth -c stage=<s>` for every stage, one after the other (the machine is shared)."""
    root = tmp_path_factory.mktemp("cdk-out")
    outputs: dict[str, Path] = {}
    for name in STAGE_NAMES:
        out = root / name
        result = subprocess.run(
            [
                "npx",
                "cdk",
                "synth",
                "--no-notices",
                "--quiet",
                "-c",
                f"stage={name}",
                "-c",
                f"{RELEASES_DIR_CONTEXT}={synth_releases}",
                "-o",
                str(out),
            ],
            cwd=REPO,
            env=offline_env(),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, f"cdk synth -c stage={name} failed:\n{result.stdout}\n{result.stderr}"
        outputs[name] = out
    return outputs
