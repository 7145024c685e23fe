"""The checks a stage must pass before any construct is built: the database connection budget, the timeouts, the
PostgreSQL version. Each failure is a `StageConfigError` whose message is the one line the synth prints
(`infra/app.py`). No aws_cdk import: the checks are arithmetic on the stage config and the servers' settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.budget import ConnectionBudget, check_connection_budget
from infra.config import StageConfig
from infra.postgres_versions import PostgresMajor, PostgresVersionError, postgres_major
from infra.timeouts import Timeouts, check_timeouts


@dataclass(frozen=True, kw_only=True)
class StageChecks:
    budget: ConnectionBudget
    timeouts: Timeouts
    postgres: PostgresMajor


def check_stage(config: StageConfig) -> StageChecks:
    database = config.database
    major = postgres_major(database.postgres_full_version)
    if major.major != database.postgres_major_version:
        raise PostgresVersionError(
            f"stage {config.name}: postgres_full_version {database.postgres_full_version} is not of "
            f"postgres_major_version {database.postgres_major_version}"
        )
    return StageChecks(budget=check_connection_budget(config), timeouts=check_timeouts(config), postgres=major)
