"""The CLI path of a clean clone: `npx cdk synth` offline per stage, then cfn-lint and checkov on the assemblies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra import contract
from infra.components.db_roles_resource import HANDLER_FILES
from infra.offline import offline_env
from infra.synth import REPO, STAGE_NAMES

CHECKOV = REPO / "infra" / "tools" / "checkov.sh"
CHECKOV_SKIPS = REPO / "infra" / "tools" / "checkov-skips.json"
CFN_LINT_CONFIG = REPO / "infra" / "tools" / "cfn-lint.yaml"


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_cdk_synth_works_offline_for_every_stage(cli_assemblies: dict[str, Path], stage: str) -> None:
    out = cli_assemblies[stage]
    names = sorted(p.name.removesuffix(".template.json") for p in out.glob("*.template.json"))
    assert names == sorted(contract.stack_name(stage, unit) for unit in contract.STACK_UNITS)
    # infra/app.py runs cdk-nag as a validation plugin: an unacknowledged finding would have failed the synth and
    # left a failing plugin report here.
    report = json.loads((out / "validation-report.json").read_text())
    assert [r["pluginName"] for r in report["pluginReports"] if r["conclusion"] != "success"] == []


def test_fleet_assets_are_the_slots_releases_not_the_working_tree(
    cli_assemblies: dict[str, Path], synth_releases: Path
) -> None:
    out = cli_assemblies["dev"]
    staged = sorted(p for p in out.glob("asset.*") if p.is_dir())
    releases = [p for p in staged if (p / "release.json").is_file()]
    # Both slots run the same release in the committed dev stage: one content-addressed asset.
    assert len(releases) == 1
    for asset in releases:
        # Exactly a release directory: nothing from the repository around it ships.
        manifest = json.loads((asset / "release.json").read_text())
        expected = sorted(p.name for p in (synth_releases / manifest["id"]).iterdir())
        assert sorted(p.name for p in asset.iterdir()) == expected
    lambdas = 0
    for asset in staged:
        if (asset / "infra" / "lambdas").is_dir():
            # The database-roles Lambda: of the repository, exactly the files its handler imports.
            lambdas += 1
            shipped = sorted(p.relative_to(asset).as_posix() for p in (asset / "infra").rglob("*") if p.is_file())
            assert shipped == sorted(HANDLER_FILES)
            repo_files: tuple[str, ...] = ("pyproject.toml", "README.md", "docs", "services", ".git", ".venv")
        else:
            repo_files = ("pyproject.toml", "README.md", "docs", "services", "infra", ".git", ".venv")
        for repo_file in repo_files:
            assert not (asset / repo_file).exists(), f"{repo_file} leaked into {asset.name}"
    assert lambdas == 1


def test_cfn_lint_passes_on_every_template(cli_assemblies: dict[str, Path]) -> None:
    templates = sorted(str(p) for out in cli_assemblies.values() for p in out.glob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--config-file", str(CFN_LINT_CONFIG), *templates],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_skips_each_carry_a_reason() -> None:
    skips: dict[str, str] = json.loads(CHECKOV_SKIPS.read_text())
    assert skips
    assert all(check.startswith("CKV_") and len(reason) >= 20 for check, reason in skips.items())


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first run creates .venv-checkov (pip install of the pinned checkov)
def test_checkov_passes_offline_with_the_reasoned_skips(cli_assemblies: dict[str, Path]) -> None:
    root = next(iter(cli_assemblies.values())).parent
    result = subprocess.run(
        [str(CHECKOV), str(root), "--output", "json"],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 0
    assert sum(r["summary"]["failed"] for r in reports) == 0
