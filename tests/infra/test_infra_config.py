"""Stage configs: shapes per stage, validation, and the entry point's handling of an unknown stage."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from infra.config import (
    DEFAULT_STAGE,
    STAGES,
    EdgeConfig,
    FleetConfig,
    NetworkConfig,
    UnknownStageError,
    get_stage,
)
from infra.synth import REPO, offline_env


def test_stages_are_dev_burstable_bench_with_dev_default() -> None:
    assert set(STAGES) == {"dev", "burstable", "bench"}
    assert DEFAULT_STAGE == "dev"


def test_burstable_stage_has_the_cost_posts_shapes() -> None:
    burstable = get_stage("burstable")
    assert (burstable.blue.instance_type, burstable.blue.min_capacity) == ("t3.medium", 4)
    assert (burstable.green.instance_type, burstable.green.min_capacity) == ("t3.small", 1)
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
        lambda: EdgeConfig(blue_weight=0, green_weight=0),
        lambda: EdgeConfig(blue_weight=1000),
        lambda: FleetConfig(instance_type="t3.small", min_capacity=2, max_capacity=1),
    ],
)
def test_invalid_config_values_are_rejected(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_app_with_unknown_stage_exits_with_one_clear_line() -> None:
    env = offline_env() | {"CDK_CONTEXT_JSON": json.dumps({"stage": "prod"})}
    result = subprocess.run(
        [sys.executable, "-m", "infra.app"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: unknown stage 'prod'; expected one of: bench, burstable, dev"]
