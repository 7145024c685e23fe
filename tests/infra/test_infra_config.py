"""Stage configs: shapes per stage, validation, and the entry point's handling of an unknown stage."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import (
    DEFAULT_STAGE,
    INITIAL_RELEASE,
    PINNED_AMIS,
    STAGES,
    FleetConfig,
    NetworkConfig,
    UnknownStageError,
    get_stage,
)
from infra.live_weights import LiveWeights, LiveWeightsError, read_live_weights, write_live_weights
from infra.offline import offline_env
from infra.releases import RELEASES_DIR_CONTEXT
from infra.synth import REPO, STAGE_NAMES

SLOT = {"server": "native", "release": INITIAL_RELEASE, "instance_type": "t3.small"}


def test_stages_are_dev_burstable_bench_with_dev_default() -> None:
    assert set(STAGES) == {"dev", "burstable", "bench"}
    assert DEFAULT_STAGE == "dev"


def test_burstable_stage_has_the_cost_posts_shapes() -> None:
    burstable = get_stage("burstable")
    # The post ran FastAPI on 4 x t3.medium and native on 1 x t3.small; both groups start at the availability
    # floor here (one instance per AZ), the fair baseline included.
    assert (burstable.blue.instance_type, burstable.blue.min_capacity) == ("t3.medium", 2)
    assert (burstable.green.instance_type, burstable.green.min_capacity) == ("t3.small", 2)
    assert (burstable.database.instance_class, burstable.database.multi_az) == ("t4g.small", True)


def test_bench_stage_runs_both_fleets_on_c5_xlarge() -> None:
    bench = get_stage("bench")
    assert bench.blue.instance_type == bench.green.instance_type == "c5.xlarge"


def test_stage_configs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_stage("dev").name = "prod"  # type: ignore[misc]


def test_unknown_stage_raises_with_the_known_names() -> None:
    with pytest.raises(UnknownStageError) as info:
        get_stage("prod")
    assert "bench, burstable, dev" in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: NetworkConfig(nat_gateways=0),
        lambda: FleetConfig(**SLOT, min_capacity=2, max_capacity=1),
        lambda: FleetConfig(**{**SLOT, "server": "django"}, min_capacity=1, max_capacity=1),
        lambda: FleetConfig(**{**SLOT, "release": "../elsewhere"}, min_capacity=1, max_capacity=1),
        lambda: FleetConfig(**SLOT, min_capacity=1, max_capacity=1, ami_id="al2023-latest"),
        lambda: FleetConfig(**SLOT, min_capacity=1, max_capacity=1, health_check_grace_s=20 * 60),
        lambda: LiveWeights(blue=0, green=0),
        lambda: LiveWeights(blue=1000, green=0),
        lambda: LiveWeights(blue=-1, green=100),
    ],
)
def test_invalid_config_values_are_rejected(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_slot_names_a_server_a_release_and_a_pinned_ami(stage: str) -> None:
    config = get_stage(stage)
    for color in ("blue", "green"):
        assert config.fleet(color).release
        assert config.ami_id(color) == PINNED_AMIS[config.region]


def test_slots_are_not_tied_to_an_implementation() -> None:
    fleet = FleetConfig(**{**SLOT, "server": "fastapi"}, min_capacity=1, max_capacity=1)
    assert fleet.server == "fastapi"  # green (or blue) may run either server


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_stage_has_committed_live_weights(stage: str) -> None:
    assert read_live_weights(stage) == LiveWeights(blue=100, green=0)


def test_live_weights_written_by_the_cutover_are_what_the_app_reads(tmp_path: Path) -> None:
    write_live_weights("dev", LiveWeights(blue=5, green=95), root=tmp_path)
    assert read_live_weights("dev", root=tmp_path) == LiveWeights(blue=5, green=95)


@pytest.mark.parametrize("text", [None, "not json", '{"blue": 100}', '{"blue": "100", "green": 0}'])
def test_missing_or_malformed_live_weights_are_one_clear_error(tmp_path: Path, text: str | None) -> None:
    if text is not None:
        path = tmp_path / "infra" / "live-weights" / "dev.json"
        path.parent.mkdir(parents=True)
        path.write_text(text)
    with pytest.raises(LiveWeightsError):
        read_live_weights("dev", root=tmp_path)


def test_app_with_unknown_stage_exits_with_one_clear_line() -> None:
    env = offline_env() | {"CDK_CONTEXT_JSON": json.dumps({"stage": "prod"})}
    result = subprocess.run(
        [sys.executable, "-m", "infra.app"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: unknown stage 'prod'; expected one of: bench, burstable, dev"]


def test_app_without_the_slots_release_exits_with_one_clear_line(tmp_path: Path) -> None:
    env = offline_env() | {"CDK_CONTEXT_JSON": json.dumps({"stage": "dev", RELEASES_DIR_CONTEXT: str(tmp_path)})}
    result = subprocess.run(
        [sys.executable, "-m", "infra.app"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: release {INITIAL_RELEASE} is not built in {tmp_path}")
