"""The timeouts that must agree across the load balancer, the Auto Scaling group and the servers, gathered into one
frozen record per stage and validated at synth.

Sources, each read from its one place (never copied here): the ALB idle timeout, the deregistration delay and the
health check from the stage's `EdgeConfig`; the health check grace and the signal timeout from each slot's
`FleetConfig`; the servers' keep-alive and drain timeouts from the servers' own configuration (the native server's
`WireLimits` and `ServerConfig`, the FastAPI baseline's `settings.py`, which its gunicorn configuration reads). The
rules, and why:

- keep-alive above the ALB idle timeout: the load balancer, not the server, closes an idle connection, so the ALB
  never sends a request on a connection the server is closing (a 502 for that request);
- the servers' drain below the deregistration delay: a request the ALB sent before deregistering the instance finishes
  before the ALB stops waiting for it; and the systemd stop timeout above the drain, so systemd never kills a drain;
- the health check's own timeout below its interval (the ALB requires it), and the grace period long enough for a
  healthy instance to pass its checks but shorter than the signal timeout (infra/config.py, `FleetConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra import contract
from infra.bootstrap.bootstrap import STOP_TIMEOUT_MARGIN_S
from infra.config import StageConfig, StageConfigError
from services.fastapi_baseline.settings import DRAIN_TIMEOUT_S as FASTAPI_DRAIN_TIMEOUT_S
from services.fastapi_baseline.settings import KEEPALIVE_TIMEOUT_S as FASTAPI_KEEPALIVE_TIMEOUT_S
from services.mcp_server.config import ServerConfig
from services.mcp_server.wire import WireLimits


class TimeoutsError(StageConfigError):
    """Timeouts that do not agree; the message is the one line the synth prints."""


def server_keepalive_s(server: contract.Server) -> float:
    return WireLimits().keepalive_timeout_s if server == "native" else FASTAPI_KEEPALIVE_TIMEOUT_S


def server_drain_s(server: contract.Server) -> float:
    return ServerConfig().drain_timeout_s if server == "native" else FASTAPI_DRAIN_TIMEOUT_S


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    alb_idle_timeout_s: int
    # The shortest keep-alive and the longest drain of the servers the stage's slots run.
    server_keepalive_s: float
    server_drain_s: float
    deregistration_delay_s: int
    stop_timeout_s: int
    health_check_interval_s: int
    health_check_timeout_s: int
    # Interval x healthy threshold: the least time a new instance takes to be marked healthy.
    time_to_healthy_s: int
    # The shortest grace and the shortest signal timeout of the two slots.
    health_check_grace_s: int
    signal_timeout_s: int

    def problems(self) -> list[str]:
        found = []
        if not self.server_keepalive_s > self.alb_idle_timeout_s:
            found.append(
                f"server keep-alive {self.server_keepalive_s:g} s must be above the ALB idle timeout "
                f"{self.alb_idle_timeout_s} s"
            )
        if not self.server_drain_s < self.deregistration_delay_s:
            found.append(
                f"server drain {self.server_drain_s:g} s must be below the deregistration delay "
                f"{self.deregistration_delay_s} s"
            )
        if not self.stop_timeout_s > self.server_drain_s:
            found.append(f"stop timeout {self.stop_timeout_s} s must be above the drain {self.server_drain_s:g} s")
        if not self.health_check_timeout_s < self.health_check_interval_s:
            found.append(
                f"health check timeout {self.health_check_timeout_s} s must be below its interval "
                f"{self.health_check_interval_s} s"
            )
        if not self.time_to_healthy_s < self.health_check_grace_s < self.signal_timeout_s:
            found.append(
                f"health check grace {self.health_check_grace_s} s must be above the time to healthy "
                f"{self.time_to_healthy_s} s and below the signal timeout {self.signal_timeout_s} s"
            )
        return found


def stage_timeouts(config: StageConfig) -> Timeouts:
    edge = config.edge
    fleets = [config.fleet(color) for color in contract.COLORS]
    servers = {fleet.server for fleet in fleets}
    return Timeouts(
        alb_idle_timeout_s=edge.idle_timeout_s,
        server_keepalive_s=min(server_keepalive_s(s) for s in servers),
        server_drain_s=max(server_drain_s(s) for s in servers),
        deregistration_delay_s=edge.deregistration_delay_s,
        stop_timeout_s=edge.deregistration_delay_s + STOP_TIMEOUT_MARGIN_S,
        health_check_interval_s=edge.health_check_interval_s,
        health_check_timeout_s=edge.health_check_timeout_s,
        time_to_healthy_s=edge.health_check_interval_s * edge.healthy_threshold_count,
        health_check_grace_s=min(fleet.health_check_grace_s for fleet in fleets),
        signal_timeout_s=min(fleet.signal_timeout_min for fleet in fleets) * 60,
    )


def check_timeouts(config: StageConfig) -> Timeouts:
    """The stage's timeouts, or `TimeoutsError` naming every rule broken, on one line."""
    timeouts = stage_timeouts(config)
    found = timeouts.problems()
    if found:
        raise TimeoutsError(f"stage {config.name}: " + "; ".join(found))
    return timeouts
