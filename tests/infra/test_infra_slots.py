"""Blue and green as release slots: a deploy of one slot leaves the other byte-identical, nothing else re-rolls a
fleet, and every configuration toggle keeps the exports other stacks import (so a day-2 change deploys)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import contract
from infra.config import STAGES, StageConfig
from infra.offline import offline_env
from infra.synth import REPO, STAGE_NAMES, SynthesizedStage, synthesize
from tests.synth_fixtures import write_synth_release

Stages = dict[str, SynthesizedStage]
FLEETS: tuple[contract.StackUnit, ...] = ("FleetBlue", "FleetGreen")
NEW_RELEASE = "0.1.0-fedcba987654"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def launch_template_and_init(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The launch template (with its user data) and the ASG's CloudFormation Init metadata: what an instance runs."""
    (launch_template,) = resources_of_type(template, "AWS::EC2::LaunchTemplate").values()
    (asg,) = resources_of_type(template, "AWS::AutoScaling::AutoScalingGroup").values()
    return launch_template, asg["Metadata"]["AWS::CloudFormation::Init"]


def user_data(template: dict[str, Any]) -> Any:
    launch_template, _ = launch_template_and_init(template)
    return launch_template["Properties"]["LaunchTemplateData"]["UserData"]


# --- one slot's release changes, the other slot does not ------------------------------------------------------------


@pytest.fixture(scope="module")
def green_release_changed(
    tmp_path_factory: pytest.TempPathFactory, synth_releases: Path, synthesized: Stages
) -> SynthesizedStage:
    releases = tmp_path_factory.mktemp("releases-next")
    shutil.copytree(synth_releases, releases, dirs_exist_ok=True)
    write_synth_release(releases, NEW_RELEASE)
    dev = STAGES["dev"]
    config = dataclasses.replace(dev, green=dataclasses.replace(dev.green, release=NEW_RELEASE))
    return synthesize(config, tmp_path_factory.mktemp("app-next"), releases_dir=releases)


def test_new_release_in_green_leaves_blue_byte_identical(
    synthesized: Stages, green_release_changed: SynthesizedStage
) -> None:
    before = synthesized["dev"].templates["FleetBlue"].to_json()
    after = green_release_changed.templates["FleetBlue"].to_json()
    assert launch_template_and_init(after) == launch_template_and_init(before)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_new_release_in_green_changes_greens_user_data_and_asset(
    synthesized: Stages, green_release_changed: SynthesizedStage
) -> None:
    before = synthesized["dev"].templates["FleetGreen"].to_json()
    after = green_release_changed.templates["FleetGreen"].to_json()
    # The user data carries the init fingerprint, so the launch template gets a new version and the ASG rolls.
    assert user_data(after) != user_data(before)
    _, init = launch_template_and_init(after)
    assert f"--release={NEW_RELEASE}" in json.dumps(init)


def test_new_release_in_green_changes_no_other_stack(
    synthesized: Stages, green_release_changed: SynthesizedStage
) -> None:
    for unit in contract.STACK_UNITS:
        if unit == "FleetGreen":
            continue
        before = synthesized["dev"].templates[unit].to_json()
        assert green_release_changed.templates[unit].to_json() == before, f"{unit} changed"


# --- a docs-only change of the repository -------------------------------------------------------------------------

_DRIVER = """
import json, sys
from pathlib import Path
from infra.config import STAGES
from infra.synth import synthesize
releases, out = Path(sys.argv[1]), Path(sys.argv[2])
stage = synthesize(STAGES["dev"], out, releases_dir=releases)
print(json.dumps({unit: stage.templates[unit].to_json() for unit in ("FleetBlue", "FleetGreen")}, sort_keys=True))
"""


def synth_checkout(checkout: Path, releases: Path, out: Path) -> dict[str, Any]:
    """The fleet templates, synthesized by the app's code and files as they are in `checkout` (not this tree)."""
    env = offline_env() | {"PYTHONPATH": str(checkout), "MCPSTACK_STATE_DIR": str(checkout / ".state")}
    result = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(releases), str(out)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    templates: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return templates


@pytest.mark.timeout(600)
def test_docs_only_change_leaves_both_fleets_identical(tmp_path: Path, synth_releases: Path) -> None:
    checkout = tmp_path / "checkout"
    # The repository as a developer has it: tracked files and untracked ones git does not ignore.
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file() and not name.startswith(("tests/", "docs/benchmarks/")):
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    before = synth_checkout(checkout, synth_releases, tmp_path / "out-before")

    deploy_doc = checkout / "docs" / "deploy.md"
    deploy_doc.write_text(deploy_doc.read_text() + "\nA docs-only edit.\n")
    (checkout / "docs" / "untracked-notes.md").write_text("an untracked file in the working tree\n")
    after = synth_checkout(checkout, synth_releases, tmp_path / "out-after")

    for unit in FLEETS:
        assert launch_template_and_init(after[unit]) == launch_template_and_init(before[unit]), unit
        assert after[unit] == before[unit], unit


# --- configuration toggles keep every imported export ----------------------------------------------------------------

TOGGLES = ("https", "rds_proxy", "interface_endpoints", "multi_az")


def is_on(config: StageConfig, toggle: str) -> bool:
    return {
        "https": config.edge.certificate_arn is not None,
        "rds_proxy": config.database.rds_proxy,
        "interface_endpoints": config.network.interface_endpoints,
        "multi_az": config.database.multi_az,
    }[toggle]


def flipped(config: StageConfig, toggle: str) -> StageConfig:
    on = not is_on(config, toggle)
    if toggle == "https":
        return dataclasses.replace(
            config, edge=dataclasses.replace(config.edge, certificate_arn=CERTIFICATE_ARN if on else None)
        )
    if toggle == "interface_endpoints":
        return dataclasses.replace(config, network=dataclasses.replace(config.network, interface_endpoints=on))
    field = "rds_proxy" if toggle == "rds_proxy" else "multi_az"
    return dataclasses.replace(config, database=dataclasses.replace(config.database, **{field: on}))


def exports(templates: dict[str, dict[str, Any]]) -> set[str]:
    return {
        output["Export"]["Name"]
        for template in templates.values()
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }


def imports(templates: dict[str, dict[str, Any]]) -> set[str]:
    return {
        name
        for template in templates.values()
        for name in re.findall(r'"Fn::ImportValue": "([^"]+)"', json.dumps(template))
    }


def as_json(stage: SynthesizedStage) -> dict[str, dict[str, Any]]:
    return {unit: template.to_json() for unit, template in stage.templates.items()}


Flip = Callable[[str, str], dict[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def flip(tmp_path_factory: pytest.TempPathFactory, synth_releases: Path) -> Flip:
    """The templates of a stage with one toggle flipped, synthesized once per (stage, toggle) in this module."""
    cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def templates(stage: str, toggle: str) -> dict[str, dict[str, Any]]:
        if (stage, toggle) not in cache:
            out = tmp_path_factory.mktemp(f"app-{stage}-{toggle}")
            cache[(stage, toggle)] = as_json(
                synthesize(flipped(STAGES[stage], toggle), out, releases_dir=synth_releases)
            )
        return cache[(stage, toggle)]

    return templates


@pytest.mark.parametrize("toggle", TOGGLES)
@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_toggle_keeps_every_export_another_stack_imports(
    synthesized: Stages, flip: Flip, stage: str, toggle: str
) -> None:
    configured = as_json(synthesized[stage])
    other = flip(stage, toggle)
    off, on = (other, configured) if is_on(STAGES[stage], toggle) else (configured, other)
    assert imports(off), "expected cross-stack imports to check"
    # Turning the option on, and back off again: CloudFormation refuses to remove an export that is still imported.
    assert imports(off) <= exports(on), f"turning {toggle} on would remove {sorted(imports(off) - exports(on))}"
    assert imports(on) <= exports(off), f"turning {toggle} off would remove {sorted(imports(on) - exports(off))}"


def http_listener_id(templates: dict[str, dict[str, Any]]) -> str:
    (logical_id,) = [
        k
        for k, v in resources_of_type(templates["Edge"], "AWS::ElasticLoadBalancingV2::Listener").items()
        if v["Properties"]["Port"] == 80
    ]
    return logical_id


def test_port_80_listener_keeps_its_identity_when_https_is_turned_on(synthesized: Stages, flip: Flip) -> None:
    off = as_json(synthesized["dev"])
    on = flip("dev", "https")
    # Same logical id: CloudFormation updates the listener's action instead of creating a second port-80 listener.
    assert http_listener_id(on) == http_listener_id(off)
    action = on["Edge"]["Resources"][http_listener_id(on)]["Properties"]["DefaultActions"]
    assert action[0]["Type"] == "redirect"
