"""The database connection budget of a stage, computed at synth: what both slots' pools can open at their maximum
capacity (plus a rolling update's extra instance) and a reserve must fit the instance class's `max_connections`.

Pure arithmetic, no aws_cdk import. The per-worker pool sizes are the servers' own defaults (read from their config
classes, never copied), the worker counts are the servers' own formulas per vCPU count, and `max_connections` is the
RDS default `LEAST({DBInstanceClassMemory/9531392}, 5000)` (the RDS user guide, "Maximum number of database
connections"). A stage that does not fit raises `ConnectionBudgetError`, whose message is the one line the synth
prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from infra import contract
from infra.config import StageConfig, StageConfigError
from infra.instance_types import INSTANCE_VCPUS
from services.fastapi_baseline.settings import Settings as FastApiSettings
from services.mcp_server.config import ServerConfig


class ConnectionBudgetError(StageConfigError):
    """The stage's pools and reserve exceed the database's max_connections; the message is one line."""


# Memory per RDS instance class in GiB (the RDS "DB instance class" hardware table). RDS computes max_connections from
# DBInstanceClassMemory, which is this memory less what the operating system and the RDS processes hold; RDS does not
# publish that figure per class, so the budget assumes 15 % is held back: db.t4g.small gives 191 (the review of this
# stack saw about 190), db.t4g.micro 95, db.t4g.medium 383. A stage whose parameter group sets max_connections
# states it in `DatabaseConfig.max_connections` instead. Check a deployed instance with `SHOW max_connections`.
RDS_CLASS_MEMORY_GIB: Final[dict[str, float]] = {
    "t3.micro": 1,
    "t3.small": 2,
    "t3.medium": 4,
    "t3.large": 8,
    "t4g.micro": 1,
    "t4g.small": 2,
    "t4g.medium": 4,
    "t4g.large": 8,
    "m6g.large": 8,
    "m7g.large": 8,
    "r6g.large": 16,
    "r7g.large": 16,
}
MEMORY_HELD_BACK_FRACTION: Final = 0.15
BYTES_PER_CONNECTION: Final = 9_531_392
MAX_CONNECTIONS_CAP: Final = 5000


def default_max_connections(instance_class: str) -> int:
    """RDS's default `LEAST({DBInstanceClassMemory/9531392}, 5000)` for a class (without the `db.` prefix)."""
    try:
        gib = RDS_CLASS_MEMORY_GIB[instance_class]
    except KeyError:
        known = ", ".join(sorted(RDS_CLASS_MEMORY_GIB))
        raise ConnectionBudgetError(
            f"no memory figure for database class db.{instance_class}; add it to RDS_CLASS_MEMORY_GIB "
            f"(known: {known}) or set database.max_connections"
        ) from None
    class_memory = gib * 2**30 * (1 - MEMORY_HELD_BACK_FRACTION)
    return min(int(class_memory // BYTES_PER_CONNECTION), MAX_CONNECTIONS_CAP)


def workers_per_instance(server: contract.Server, vcpus: int) -> int:
    """The servers' own worker counts as the instances start them (no override in the slot's environment):
    the native supervisor runs one worker per core (`services/mcp_server/__main__.py`); gunicorn runs 2 x cores + 1
    (`services/fastapi_baseline/gunicorn_conf.py`, `worker_count`; a test holds the two equal)."""
    return vcpus if server == "native" else 2 * vcpus + 1


def pool_size_per_worker(server: contract.Server) -> int:
    """The maximum pool of one worker: the servers' configured defaults (MCP_DB_POOL_SIZE unset on the instances)."""
    return ServerConfig().db_pool_size if server == "native" else FastApiSettings().db_pool_size


@dataclass(frozen=True, kw_only=True)
class ConnectionReserve:
    """Connections kept free of the pools."""

    # PostgreSQL's superuser_reserved_connections (default 3) and RDS's rds.rds_superuser_reserved_connections
    # (default 2): max_connections counts them, the application can never use them.
    superuser_reserved: int = 3
    rds_superuser_reserved: int = 2
    # `mcpstack db migrate` from a booting instance of each slot (one connection each).
    migrations: int = 2
    # An operator's psql session, RDS monitoring, the cutover's checks.
    monitoring: int = 3

    @property
    def total(self) -> int:
        return self.superuser_reserved + self.rds_superuser_reserved + self.migrations + self.monitoring


@dataclass(frozen=True, kw_only=True)
class SlotConnections:
    color: contract.Color
    server: contract.Server
    instance_type: str
    pool_per_worker: int
    workers_per_instance: int
    # Maximum capacity plus the rolling update's extra instance (MaxBatchSize 1 may launch one above MaxSize).
    instances: int

    @property
    def per_instance(self) -> int:
        return self.pool_per_worker * self.workers_per_instance

    @property
    def total(self) -> int:
        return self.per_instance * self.instances


# The rolling update replaces one instance at a time (infra/components/fleet.py, max_batch_size=1): while the new one
# boots, the group can run one instance above its maximum.
ROLLING_UPDATE_SURGE_INSTANCES: Final = 1


@dataclass(frozen=True, kw_only=True)
class ConnectionBudget:
    slots: tuple[SlotConnections, ...]
    reserve: ConnectionReserve
    max_connections: int
    database_class: str

    @property
    def pools(self) -> int:
        return sum(slot.total for slot in self.slots)

    @property
    def needed(self) -> int:
        return self.pools + self.reserve.total

    @property
    def fits(self) -> bool:
        return self.needed <= self.max_connections

    def summary(self) -> str:
        """One line naming every number of the sum."""
        parts = " + ".join(
            f"{s.color} {s.server} {s.pool_per_worker} x {s.workers_per_instance} workers x {s.instances} "
            f"{s.instance_type} = {s.total}"
            for s in self.slots
        )
        return (
            f"{parts}, reserve {self.reserve.total}: {self.needed} connections against max_connections "
            f"{self.max_connections} of db.{self.database_class}"
        )


def connection_budget(config: StageConfig, *, reserve: ConnectionReserve | None = None) -> ConnectionBudget:
    slots = []
    for color in contract.COLORS:
        fleet = config.fleet(color)
        try:
            vcpus = INSTANCE_VCPUS[fleet.instance_type]
        except KeyError:
            raise ConnectionBudgetError(
                f"stage {config.name}: no vCPU count for {fleet.instance_type} ({color}); "
                "add it to infra/instance_types.py"
            ) from None
        slots.append(
            SlotConnections(
                color=color,
                server=fleet.server,
                instance_type=fleet.instance_type,
                pool_per_worker=pool_size_per_worker(fleet.server),
                workers_per_instance=workers_per_instance(fleet.server, vcpus),
                instances=fleet.max_capacity + ROLLING_UPDATE_SURGE_INSTANCES,
            )
        )
    database = config.database
    limit = database.max_connections or default_max_connections(database.instance_class)
    return ConnectionBudget(
        slots=tuple(slots),
        reserve=reserve or ConnectionReserve(),
        max_connections=limit,
        database_class=database.instance_class,
    )


def check_connection_budget(config: StageConfig) -> ConnectionBudget:
    """The stage's budget, or `ConnectionBudgetError` (one line) when it does not fit."""
    budget = connection_budget(config)
    if not budget.fits:
        raise ConnectionBudgetError(f"stage {config.name} exceeds its database connection budget: {budget.summary()}")
    return budget
