"""Session fixtures shared by the CDK app's tests and the cost report's tests: every stage synthesized once by the
CDK CLI (`npx cdk synth -c stage=<s>`, offline), against manifest-only releases.

Registered for the whole suite from `tests/conftest.py`, so both folders read the same assemblies instead of each
synthesizing every stage again. Nothing here imports aws_cdk (no jsii start unless a test asks for a synth).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.bootstrap.bootstrap import BOOTSTRAP_NAME, MANIFEST_NAME, RELEASE_FORMAT, requirements_name
from infra.config import STAGES
from infra.contract import SERVERS
from infra.offline import offline_env
from infra.releases import RELEASES_DIR_CONTEXT
from scripts.state import REPO_ROOT as REPO

STAGE_NAMES = tuple(STAGES)


def write_synth_release(releases_dir: Path, release: str) -> Path:
    """A release directory as the CDK app sees it: the manifest and the bootstrap, no wheels (synth reads none)."""
    path = releases_dir / release
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "infra" / "bootstrap" / "bootstrap.py", path / BOOTSTRAP_NAME)
    manifest = {
        "format": RELEASE_FORMAT,
        "id": release,
        "servers": {server: requirements_name(server) for server in SERVERS},
    }
    (path / MANIFEST_NAME).write_text(json.dumps(manifest, sort_keys=True) + "\n")
    return path


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
