"""Session fixtures for the CDK app tests: one in-process synth per stage, one CLI synth per stage.

Each jsii start costs seconds and each synth stages the repo asset, so every stage is built once per session and
shared by all tests.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.config import STAGES
from infra.synth import REPO, STAGE_NAMES, SynthesizedStage, offline_env, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthesizedStage]:
    return {name: synthesize(STAGES[name], tmp_path_factory.mktemp(f"app-{name}")) for name in STAGE_NAMES}


@pytest.fixture(scope="session")
def cli_assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`npx cdk synth -c stage=<s>` for every stage, one after the other (the machine is shared)."""
    root = tmp_path_factory.mktemp("cdk-out")
    outputs: dict[str, Path] = {}
    for name in STAGE_NAMES:
        out = root / name
        result = subprocess.run(
            ["npx", "cdk", "synth", "--no-notices", "--quiet", "-c", f"stage={name}", "-o", str(out)],
            cwd=REPO,
            env=offline_env(),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, f"cdk synth -c stage={name} failed:\n{result.stdout}\n{result.stderr}"
        outputs[name] = out
    return outputs
