"""Stage configurations: frozen dataclasses with units in field names, decided once by `infra/app.py`.

Nothing here talks to AWS or imports aws_cdk; the cost tool can read the same shapes the app deploys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from infra.contract import SERVERS, Color, Server


class UnknownStageError(ValueError):
    """The stage name given on the command line has no configuration."""


class StageConfigError(ValueError):
    """A stage configuration that must not be deployed (the synth stops with this one line)."""


# What a stage exposes to the internet. "dev-open": plain HTTP allowed, no WAF, the servers' bearer-token auth only
# if `auth` is set: anyone who finds the ALB's name can call every tool, including the one that writes to the
# database. "production": HTTPS only (port 80 redirects), an AWS WAF web ACL on the ALB, bearer-token auth required.
CpuCredits = Literal["standard", "unlimited"]
CPU_CREDITS: Final[tuple[CpuCredits, ...]] = ("standard", "unlimited")
BURSTABLE_FAMILIES: Final = frozenset({"t2", "t3", "t3a", "t4g"})

Exposure = Literal["dev-open", "production"]
EXPOSURES: Final[tuple[Exposure, ...]] = ("dev-open", "production")


# Amazon Linux 2023 (x86_64, kernel 6.1) pinned per region: the image is part of a slot's release, so it is never
# re-resolved at synth or deploy (a new AMI would replace both fleets at once). To move to a newer image, read
# `aws ssm get-parameter --name /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64`, put the id in a
# slot's `ami_id` and deploy that slot as a release (docs/deploy.md).
PINNED_AMIS: Final[dict[str, str]] = {
    "us-east-1": "ami-0453ec754f44f9a4a",
}


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    cidr: str = "10.40.0.0/16"
    max_azs: int = 2
    # NAT gateways are a cost line ($0.045/h each). Instances install from their release artifact (S3, through the
    # gateway endpoint) and never reach PyPI, but still need a route to the OS package repositories and AWS APIs.
    nat_gateways: int = 1
    # Interface endpoints cost per AZ-hour; worth it only when NAT traffic to AWS APIs is heavy.
    interface_endpoints: bool = False
    flow_log_retention_days: int = 30

    def __post_init__(self) -> None:
        if self.nat_gateways < 1:
            raise ValueError("nat_gateways must be >= 1: instances reach the OS package repositories at boot")
        if not 2 <= self.max_azs <= 3:
            raise ValueError("max_azs must be 2 or 3 (an ALB and Multi-AZ RDS need two)")


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    instance_class: str = "t4g.micro"
    # A full version (a major-only one makes cfn-lint warn): the version a new instance starts from. The major must be
    # listed with its support dates in infra/postgres_versions.py; minor upgrades are on, so RDS moves the minor
    # forward in the maintenance window.
    postgres_full_version: str = "17.9"
    postgres_major_version: str = "17"
    database_name: str = "mcpstack"
    username: str = "mcpstack"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    backup_retention_days: int = 7
    multi_az: bool = False
    deletion_protection: bool = False
    rds_proxy: bool = False
    # None: the RDS default for the class (infra/budget.py); set it when the parameter group sets max_connections.
    max_connections: int | None = None
    # The PostgreSQL log export's log group (created by the stack, deleted with it).
    log_retention_days: int = 30


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    # No weights here: the listener's weights are owned by the cutover (see `infra/live_weights.py`).
    deregistration_delay_s: int = 30
    health_check_interval_s: int = 10
    health_check_timeout_s: int = 5
    healthy_threshold_count: int = 2
    unhealthy_threshold_count: int = 3
    idle_timeout_s: int = 60
    certificate_arn: str | None = None
    access_log_retention_days: int = 90
    exposure: Exposure = "dev-open"
    # The WAF's rate-based rule (production only): requests per client IP per 5-minute window before it blocks.
    waf_requests_per_ip_per_5min: int = 2000
    # The WAF's request log (production only; CloudWatch Logs, priced by the cost report): how long it is kept.
    waf_log_retention_days: int = 90

    def __post_init__(self) -> None:
        if self.exposure not in EXPOSURES:
            raise StageConfigError(f"exposure must be one of {', '.join(EXPOSURES)}, not {self.exposure!r}")
        if not 10 <= self.waf_requests_per_ip_per_5min <= 2_000_000_000:
            raise StageConfigError("waf_requests_per_ip_per_5min must be between 10 and 2e9 (the WAF's limits)")


@dataclass(frozen=True, kw_only=True)
class AuthConfig:
    """The servers' bearer-token authentication (an OAuth 2.1 resource server), set on the instances as the
    MCP_AUTH_* environment: tokens must come from `issuer`, be meant for `audience`, be signed by a key from
    `jwks_url` and carry `required_scopes`; `resource_url` is the public URL of the MCP endpoint the servers
    advertise in their protected-resource metadata."""

    issuer: str
    audience: str
    jwks_url: str
    resource_url: str
    required_scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("issuer", "jwks_url", "resource_url"):
            if not getattr(self, name).startswith("https://"):
                raise StageConfigError(f"auth.{name} must be an https:// URL, not {getattr(self, name)!r}")
        if not self.audience:
            raise StageConfigError("auth.audience must not be empty")
        if any(not scope or " " in scope for scope in self.required_scopes):
            raise StageConfigError("auth.required_scopes must be scope names without spaces")


@dataclass(frozen=True, kw_only=True)
class FleetConfig:
    """One release slot (blue or green): which server it runs, which release, on which image and instances."""

    # The implementation this slot runs; either slot can run either server.
    server: Server
    # The id of an immutable artifact built by `mcpstack release build` (a hashed wheelhouse plus the project wheel).
    # Changing it re-rolls this slot only; the other slot's launch template stays byte-identical.
    release: str
    instance_type: str
    min_capacity: int
    max_capacity: int
    # None: the stage region's entry in PINNED_AMIS.
    ami_id: str | None = None
    root_volume_gib: int = 8
    # Target tracking on ALBRequestCountPerTarget (requests per target per minute).
    requests_per_target_per_min: int = 6000
    # How long CloudFormation waits for the instances' success signals (install, migrate, healthy).
    signal_timeout_min: int = 20
    # How long the ASG ignores a failing ELB health check after launch. The bootstrap's part of a boot (venv, install
    # from the release, migrate, start, /health) measured 13-56 s on the shared 2-core test machine, depending on its
    # load (tests/infra/test_infra_bootstrap.py, four boots per run); cfn-init's OS packages and the CloudWatch agent
    # come on top (not measured here: no AWS). Five minutes covers that with room and stays far below the signal
    # timeout, so a boot that never serves is replaced instead of staying in service for the whole timeout.
    health_check_grace_s: int = 300
    log_retention_days: int = 30
    # T2/T3/T4g only (ignored on fixed-performance types). "standard": a sustained load above the baseline (20 % per
    # vCPU on t3.small/medium) is throttled to it once the earned credits are spent, at no extra cost. "unlimited":
    # never throttled, surplus credits billed at $0.05 per vCPU-hour (which can double a t3's price under a sustained
    # load; the cost report prices it). EC2's own default for T3 is unlimited; the stack states it per slot instead.
    cpu_credits: CpuCredits = "standard"

    def __post_init__(self) -> None:
        if not 0 < self.min_capacity <= self.max_capacity:
            raise ValueError("need 0 < min_capacity <= max_capacity")
        if self.server not in SERVERS:
            raise ValueError(f"server must be one of {', '.join(SERVERS)}, not {self.server!r}")
        if not self.release or "/" in self.release or self.release.startswith("."):
            raise ValueError(f"release must be a release id (a directory name), not {self.release!r}")
        if self.ami_id is not None and not self.ami_id.startswith("ami-"):
            raise ValueError(f"ami_id must be an AMI id (ami-...), not {self.ami_id!r}")
        if self.cpu_credits not in CPU_CREDITS:
            raise ValueError(f"cpu_credits must be one of {', '.join(CPU_CREDITS)}, not {self.cpu_credits!r}")
        if self.cpu_credits == "unlimited" and not self.burstable:
            raise ValueError(f"cpu_credits='unlimited' applies to burstable types only, not {self.instance_type}")
        if not 0 < self.health_check_grace_s < self.signal_timeout_min * 60:
            raise ValueError("health_check_grace_s must be positive and shorter than the signal timeout")

    @property
    def burstable(self) -> bool:
        """A T-family type, which runs on CPU credits."""
        return self.instance_type.split(".", 1)[0] in BURSTABLE_FAMILIES


@dataclass(frozen=True, kw_only=True)
class MonitoringConfig:
    # Who gets the alarms by e-mail (each address confirms its subscription once). Empty: nobody is subscribed and
    # the alarms reach only the topic (its ARN is published for other subscribers) and the dashboards.
    alarm_emails: tuple[str, ...] = ()
    period_s: int = 60
    evaluation_periods: int = 3
    # Cutover gates (absolute limits; the cutover also compares green against blue).
    max_5xx_rate_pct: float = 1.0
    max_p95_latency_s: float = 0.5
    # Tool calls answered with `isError`, a JSON-RPC error or a timeout, as a percentage of all tool calls.
    max_mcp_error_rate_pct: float = 1.0


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
    # The servers' bearer-token auth; None: off (allowed only when edge.exposure is "dev-open").
    auth: AuthConfig | None = None
    # The servers' optional stateful mode (MCP_STATEFUL=1: sessions with Mcp-Session-Id, ids prefixed with the slot):
    # listener rules then send a request whose Mcp-Session-Id starts with `blue-` (`green-`) to that slot, so a
    # session stays on its slot during a cutover. Off: stateless, any request may go to either slot by weight.
    stateful: bool = False

    def __post_init__(self) -> None:
        for color in ("blue", "green"):
            if self.fleet(color).ami_id is None and self.region not in PINNED_AMIS:
                raise ValueError(f"no pinned AMI for {self.region}: add it to PINNED_AMIS or set {color}.ami_id")

    def check_exposure(self) -> None:
        """A production stage has a certificate and auth; checked when the app is built, so a stage edited into an
        undeployable state stops the synth with one line (`StageConfigError`)."""
        if self.edge.exposure != "production":
            return
        if self.edge.certificate_arn is None:
            raise StageConfigError(
                f"stage {self.name!r} is production but has no edge.certificate_arn: HTTPS is required"
            )
        if self.auth is None:
            raise StageConfigError(f"stage {self.name!r} is production but has no auth: bearer tokens are required")

    def fleet(self, color: Color) -> FleetConfig:
        return self.blue if color == "blue" else self.green

    def ami_id(self, color: Color) -> str:
        return self.fleet(color).ami_id or PINNED_AMIS[self.region]


# The release every slot runs until an operator deploys a newer one into a slot (`mcpstack release build`, then set
# that slot's `release` and deploy its fleet stack; docs/deploy.md). Built from the commit named in the id.
INITIAL_RELEASE: Final = "0.1.0-5fac28901233"

STAGES: dict[str, StageConfig] = {
    # Small and cheap: one NAT, single-AZ micro database, one small instance per colour.
    # OPEN: plain HTTP, no WAF, no bearer-token auth. Anyone who finds the ALB can call every tool, including the one
    # that writes to the database. For a short-lived test deployment only (docs/deploy.md, "Security").
    "dev": StageConfig(
        name="dev",
        edge=EdgeConfig(exposure="dev-open"),
        blue=FleetConfig(
            server="fastapi", release=INITIAL_RELEASE, instance_type="t3.small", min_capacity=1, max_capacity=2
        ),
        green=FleetConfig(
            server="native", release=INITIAL_RELEASE, instance_type="t3.small", min_capacity=1, max_capacity=2
        ),
    ),
    # The shapes of the "Conduit vs FastAPI" cost post: FastAPI on t3.medium (burstable), native on t3.small, RDS
    # PostgreSQL Multi-AZ on db.t4g.small, CloudWatch. The post ran FastAPI on 4 instances and native on one; here
    # both groups start at the availability floor (2, one per AZ) and scale out on load: at the post's 200,000 calls
    # a day the measured need is far below one instance (docs/cost.md), so a MinSize of 4 would price an assumption,
    # not a measurement, and one instance would leave an AZ without capacity.
    # OPEN like dev (the repository holds no certificate or identity provider): before users reach it, set
    # exposure="production", certificate_arn and auth (docs/deploy.md, "Security").
    "burstable": StageConfig(
        name="burstable",
        edge=EdgeConfig(exposure="dev-open"),
        database=DatabaseConfig(instance_class="t4g.small", multi_az=True, deletion_protection=True),
        # At most 6 FastAPI instances: 7 (with the rolling update's extra one) x 5 gunicorn workers x 4 connections
        # + 5 x 2 native workers x 3 + a reserve of 10 = 180 fit db.t4g.small's 191 connections; 8 would need 220
        # (infra/budget.py). Unlimited credits: the cost post's fleets run the T3 default and its sustained load is
        # priced, not throttled.
        blue=FleetConfig(
            server="fastapi",
            release=INITIAL_RELEASE,
            instance_type="t3.medium",
            min_capacity=2,
            max_capacity=6,
            cpu_credits="unlimited",
        ),
        green=FleetConfig(
            server="native",
            release=INITIAL_RELEASE,
            instance_type="t3.small",
            min_capacity=2,
            max_capacity=4,
            cpu_credits="unlimited",
        ),
    ),
    # Benchmark: the same compute-optimized type for both fleets so throughput per instance compares directly.
    # OPEN like dev: a WAF rate limit or token checks would be part of what it measures.
    "bench": StageConfig(
        name="bench",
        edge=EdgeConfig(exposure="dev-open"),
        database=DatabaseConfig(instance_class="t4g.medium"),
        blue=FleetConfig(
            server="fastapi",
            release=INITIAL_RELEASE,
            instance_type="c5.xlarge",
            min_capacity=1,
            max_capacity=4,
            requests_per_target_per_min=60000,
        ),
        green=FleetConfig(
            server="native",
            release=INITIAL_RELEASE,
            instance_type="c5.xlarge",
            min_capacity=1,
            max_capacity=4,
            requests_per_target_per_min=60000,
        ),
    ),
}

DEFAULT_STAGE = "dev"


def get_stage(name: str) -> StageConfig:
    try:
        return STAGES[name]
    except KeyError:
        raise UnknownStageError(f"unknown stage {name!r}; expected one of: {', '.join(sorted(STAGES))}") from None
