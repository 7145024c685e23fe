"""Session fixtures for the CDK app tests: one in-process synth per stage, one CLI synth per stage.

Each jsii start costs seconds and each synth stages the slots' release assets, so every stage is built once per
session and shared by all tests. Synth reads a release's manifest only, so the synth fixtures use small release
directories with a real manifest (`write_synth_release`); the boot-path test builds and installs a real release.
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
from infra.releases import RELEASES_DIR_CONTEXT
from infra.synth import REPO, STAGE_NAMES, SynthesizedStage, offline_env, synthesize


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
def synthesized(tmp_path_factory: pytest.TempPathFactory, synth_releases: Path) -> dict[str, SynthesizedStage]:
    return {
        name: synthesize(STAGES[name], tmp_path_factory.mktemp(f"app-{name}"), releases_dir=synth_releases)
        for name in STAGE_NAMES
    }


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


@pytest.fixture(scope="session")
def built_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real release of HEAD, built by the same code as `mcpstack release build` (downloads the locked wheels)."""
    from scripts.release import build_release

    path, built = build_release(REPO, "HEAD", tmp_path_factory.mktemp("built-releases"))
    assert built
    return path
