"""Stage configurations: frozen dataclasses with units in field names, decided once by `infra/app.py`.

Nothing here talks to AWS or imports aws_cdk; the cost tool can read the same shapes the app deploys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.contract import Color


class UnknownStageError(ValueError):
    """The stage name given on the command line has no configuration."""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    cidr: str = "10.40.0.0/16"
    max_azs: int = 2
    # NAT gateways are a cost line ($0.045/h each); instances need one to reach PyPI at boot.
    nat_gateways: int = 1
    # Interface endpoints cost per AZ-hour; worth it only when NAT traffic to AWS APIs is heavy.
    interface_endpoints: bool = False
    flow_log_retention_days: int = 30

    def __post_init__(self) -> None:
        if self.nat_gateways < 1:
            raise ValueError("nat_gateways must be >= 1: instances install the service from PyPI at boot")
        if not 2 <= self.max_azs <= 3:
            raise ValueError("max_azs must be 2 or 3 (an ALB and Multi-AZ RDS need two)")


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    instance_class: str = "t4g.micro"
    # A full version: a major-only version makes cfn-lint warn and lets RDS pick minor upgrades under us.
    postgres_full_version: str = "17.6"
    postgres_major_version: str = "17"
    database_name: str = "mcpstack"
    username: str = "mcpstack"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    backup_retention_days: int = 7
    multi_az: bool = False
    deletion_protection: bool = False
    rds_proxy: bool = False


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    # The weights of the listener's default action. The cutover writes its final weights back here, or the next
    # `cdk deploy` resets the listener to these values.
    blue_weight: int = 100
    green_weight: int = 0
    deregistration_delay_s: int = 30
    health_check_interval_s: int = 10
    health_check_timeout_s: int = 5
    healthy_threshold_count: int = 2
    unhealthy_threshold_count: int = 3
    idle_timeout_s: int = 60
    certificate_arn: str | None = None
    access_log_retention_days: int = 90

    def __post_init__(self) -> None:
        if self.blue_weight + self.green_weight <= 0:
            raise ValueError("at least one colour needs a positive weight")
        if not (0 <= self.blue_weight <= 999 and 0 <= self.green_weight <= 999):
            raise ValueError("ALB weights are between 0 and 999")


@dataclass(frozen=True, kw_only=True)
class FleetConfig:
    instance_type: str
    min_capacity: int
    max_capacity: int
    root_volume_gib: int = 8
    # Target tracking on ALBRequestCountPerTarget (requests per target per minute).
    requests_per_target_per_min: int = 6000
    # How long CloudFormation waits for the instances' success signals (install, migrate, healthy).
    signal_timeout_min: int = 20
    log_retention_days: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.min_capacity <= self.max_capacity:
            raise ValueError("need 0 < min_capacity <= max_capacity")


@dataclass(frozen=True, kw_only=True)
class MonitoringConfig:
    alarm_email: str | None = None
    period_s: int = 60
    evaluation_periods: int = 3
    # Cutover gates (absolute limits; the cutover also compares green against blue).
    max_5xx_rate_pct: float = 1.0
    max_p95_latency_s: float = 0.5


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    name: str
    region: str = "us-east-1"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    blue: FleetConfig
    green: FleetConfig
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)

    def fleet(self, color: Color) -> FleetConfig:
        return self.blue if color == "blue" else self.green


STAGES: dict[str, StageConfig] = {
    # Small and cheap: one NAT, single-AZ micro database, one small instance per colour.
    "dev": StageConfig(
        name="dev",
        blue=FleetConfig(instance_type="t3.small", min_capacity=1, max_capacity=2),
        green=FleetConfig(instance_type="t3.small", min_capacity=1, max_capacity=2),
    ),
    # The shapes of the "Conduit vs FastAPI" cost post: FastAPI on 4 x t3.medium (burstable), native on one t3.small,
    # RDS PostgreSQL Multi-AZ on db.t4g.small, CloudWatch.
    "burstable": StageConfig(
        name="burstable",
        database=DatabaseConfig(instance_class="t4g.small", multi_az=True, deletion_protection=True),
        blue=FleetConfig(instance_type="t3.medium", min_capacity=4, max_capacity=8),
        green=FleetConfig(instance_type="t3.small", min_capacity=1, max_capacity=4),
    ),
    # Benchmark: the same compute-optimized type for both fleets so throughput per instance compares directly.
    "bench": StageConfig(
        name="bench",
        database=DatabaseConfig(instance_class="t4g.medium"),
        blue=FleetConfig(instance_type="c5.xlarge", min_capacity=1, max_capacity=4, requests_per_target_per_min=60000),
        green=FleetConfig(instance_type="c5.xlarge", min_capacity=1, max_capacity=4, requests_per_target_per_min=60000),
    ),
}

DEFAULT_STAGE = "dev"


def get_stage(name: str) -> StageConfig:
    try:
        return STAGES[name]
    except KeyError:
        raise UnknownStageError(f"unknown stage {name!r}; expected one of: {', '.join(sorted(STAGES))}") from None
