"""The checks every stage passes before synth (infra/stage_checks.py): the database connection budget, the timeouts,
the PostgreSQL version; and the entry point stopping with one line when a stage fails one of them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import textwrap

import pytest

from infra.bootstrap.bootstrap import Settings as BootSettings
from infra.bootstrap.bootstrap import render_unit
from infra.budget import (
    ConnectionBudgetError,
    check_connection_budget,
    connection_budget,
    default_max_connections,
    pool_size_per_worker,
    workers_per_instance,
)
from infra.config import STAGES, DatabaseConfig, EdgeConfig, StageConfig, StageConfigError
from infra.offline import offline_env
from infra.postgres_versions import POSTGRES_MAJORS, PostgresVersionError, check_postgres_version, postgres_major
from infra.stage_checks import check_stage
from infra.synth import REPO, STAGE_NAMES
from infra.timeouts import TimeoutsError, check_timeouts, stage_timeouts
from services.fastapi_baseline.gunicorn_conf import worker_count
from services.fastapi_baseline.settings import Settings as FastApiSettings
from services.mcp_server.config import ServerConfig


def with_blue_max(config: StageConfig, max_capacity: int) -> StageConfig:
    return dataclasses.replace(config, blue=dataclasses.replace(config.blue, max_capacity=max_capacity))


# --- connection budget ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_committed_stage_fits_its_database_connection_budget(stage: str) -> None:
    budget = check_connection_budget(STAGES[stage])
    assert budget.needed <= budget.max_connections


def test_burstable_at_the_reviewed_capacity_does_not_fit_db_t4g_small() -> None:
    # The review: 8 FastAPI t3.medium + 4 native t3.small open 184 connections, 210 during a rolling update.
    budget = connection_budget(with_blue_max(STAGES["burstable"], 8))
    assert budget.pools == 210
    assert (budget.max_connections, budget.fits) == (191, False)


def test_budget_counts_pool_x_workers_x_max_instances_plus_surge_per_slot_and_the_reserve() -> None:
    budget = connection_budget(STAGES["bench"])
    blue, green = budget.slots
    # c5.xlarge: 4 vCPUs; gunicorn 2 x 4 + 1 workers x 4 connections; native 4 workers x 3; max 4 + 1 surge.
    assert (blue.pool_per_worker, blue.workers_per_instance, blue.instances, blue.total) == (4, 9, 5, 180)
    assert (green.pool_per_worker, green.workers_per_instance, green.instances, green.total) == (3, 4, 5, 60)
    assert budget.needed == 180 + 60 + budget.reserve.total


def test_stage_over_budget_raises_one_line_naming_the_numbers() -> None:
    with pytest.raises(ConnectionBudgetError) as info:
        check_connection_budget(with_blue_max(STAGES["burstable"], 8))
    message = str(info.value)
    assert "\n" not in message
    for number in ("4 x 5 workers x 9 t3.medium = 180", "= 30", "reserve 10", "220 connections", "191"):
        assert number in message


def test_max_connections_override_replaces_the_class_default() -> None:
    dev = STAGES["dev"]
    config = dataclasses.replace(dev, database=dataclasses.replace(dev.database, max_connections=50))
    with pytest.raises(ConnectionBudgetError):
        check_connection_budget(config)


def test_default_max_connections_follows_the_rds_formula_per_class() -> None:
    assert [default_max_connections(c) for c in ("t4g.micro", "t4g.small", "t4g.medium")] == [95, 191, 383]


def test_unknown_types_stop_the_budget_with_one_line() -> None:
    dev = STAGES["dev"]
    with pytest.raises(ConnectionBudgetError) as info:
        connection_budget(dataclasses.replace(dev, green=dataclasses.replace(dev.green, instance_type="x9.huge")))
    assert "\n" not in str(info.value)
    with pytest.raises(ConnectionBudgetError):
        connection_budget(dataclasses.replace(dev, database=DatabaseConfig(instance_class="x9.huge")))


def test_budget_uses_the_servers_own_pool_sizes_and_worker_formulas() -> None:
    assert pool_size_per_worker("native") == ServerConfig().db_pool_size
    assert pool_size_per_worker("fastapi") == FastApiSettings().db_pool_size
    for cores in (1, 2, 4, 8):
        assert workers_per_instance("fastapi", cores) == worker_count(cores, tuned=False)
        assert workers_per_instance("native", cores) == cores  # services/mcp_server/__main__.py: os.cpu_count()


# --- timeouts -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_committed_stage_has_consistent_timeouts(stage: str) -> None:
    timeouts = check_timeouts(STAGES[stage])
    assert timeouts.server_keepalive_s > timeouts.alb_idle_timeout_s
    assert timeouts.server_drain_s < timeouts.deregistration_delay_s < timeouts.stop_timeout_s


@pytest.mark.parametrize(
    ("edge", "broken"),
    [
        (EdgeConfig(idle_timeout_s=120), "keep-alive"),
        (EdgeConfig(deregistration_delay_s=15), "drain"),
        (EdgeConfig(health_check_timeout_s=10), "health check timeout"),
        (EdgeConfig(health_check_interval_s=30, healthy_threshold_count=10), "grace"),
    ],
)
def test_timeouts_that_disagree_stop_the_synth_with_one_line(edge: EdgeConfig, broken: str) -> None:
    with pytest.raises(TimeoutsError) as info:
        check_timeouts(dataclasses.replace(STAGES["dev"], edge=edge))
    assert broken in str(info.value)
    assert "\n" not in str(info.value)


def test_server_unit_stop_timeout_is_the_checked_one() -> None:
    timeouts = stage_timeouts(STAGES["dev"])
    settings = BootSettings(
        stage="dev",
        color="blue",
        server="fastapi",
        release="r",
        release_dir=REPO,
        prefix=REPO,
        secret_id="s",
        region="us-east-1",
        log_group="g",
        metrics_log_group="m",
        drain_s=timeouts.deregistration_delay_s,
    )
    assert f"TimeoutStopSec={timeouts.stop_timeout_s}" in render_unit(settings).splitlines()


# --- PostgreSQL version -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_stages_postgres_is_in_rds_standard_support_today(stage: str) -> None:
    entry = check_postgres_version(STAGES[stage].database.postgres_full_version, today=dt.date.today())
    assert entry.rds_end_of_standard_support > dt.date.today()


def test_a_version_past_its_end_of_standard_support_is_refused() -> None:
    end = POSTGRES_MAJORS["17"].rds_end_of_standard_support
    assert check_postgres_version("17.9", today=end - dt.timedelta(days=1)).major == "17"
    with pytest.raises(PostgresVersionError):
        check_postgres_version("17.9", today=end)


def test_support_table_is_ordered_and_rds_outlives_the_community() -> None:
    entries = [POSTGRES_MAJORS[m] for m in sorted(POSTGRES_MAJORS, key=int)]
    for entry in entries:
        assert entry.rds_end_of_standard_support > entry.community_end_of_life
    ends = [e.rds_end_of_standard_support for e in entries]
    assert ends == sorted(ends)


@pytest.mark.parametrize("version", ["17", "12.22", "seventeen.1", ""])
def test_unlisted_or_partial_versions_are_refused(version: str) -> None:
    with pytest.raises(PostgresVersionError):
        postgres_major(version)


def test_full_version_of_another_major_than_configured_is_refused() -> None:
    dev = STAGES["dev"]
    config = dataclasses.replace(dev, database=dataclasses.replace(dev.database, postgres_full_version="16.13"))
    with pytest.raises(PostgresVersionError):
        check_stage(config)


def test_stage_check_errors_are_stage_config_errors() -> None:
    # infra/app.py prints a StageConfigError as one line and exits 2.
    for error in (ConnectionBudgetError, TimeoutsError, PostgresVersionError):
        assert issubclass(error, StageConfigError)


# --- the entry point ----------------------------------------------------------------------------------------------


def test_app_with_a_stage_over_budget_exits_with_one_line_and_no_traceback() -> None:
    program = textwrap.dedent(
        """
        import dataclasses
        import infra.config as c
        dev = c.STAGES["dev"]
        c.STAGES["dev"] = dataclasses.replace(dev, blue=dataclasses.replace(dev.blue, max_capacity=10))
        from infra.app import main
        main()
        """
    )
    env = offline_env() | {"CDK_CONTEXT_JSON": json.dumps({"stage": "dev"})}
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: stage dev exceeds its database connection budget: blue fastapi 4 x 5 workers")
    assert "against max_connections 95 of db.t4g.micro" in errors[0]
