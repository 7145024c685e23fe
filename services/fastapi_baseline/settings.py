"""Settings of the FastAPI baseline, read once from the environment (the same variables as the native server)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services import protocol, sessions

# The server's keep-alive and drain (gunicorn's `keepalive` and `graceful_timeout`, in gunicorn_conf.py). Here, in a
# module without side effects, so the CDK app can check them against the load balancer's timeouts (infra/timeouts.py):
# keep-alive above the ALB's idle timeout (60 s), drain below the target group's deregistration delay (30 s).
KEEPALIVE_TIMEOUT_S = 75
DRAIN_TIMEOUT_S = 20
WORKERS_ENV = "MCP_GUNICORN_WORKERS"
"""Set by gunicorn_conf.py in each worker: the number of workers, which decides where sessions can live."""


def _items(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


def _int(source: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    """A whole-number setting at least `minimum`; anything else is refused (ValueError naming the variable)."""
    raw = source.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid int") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def keepalive_s(env: Mapping[str, str] | None = None) -> int:
    """gunicorn's `keepalive` from MCP_KEEPALIVE_TIMEOUT_S (whole seconds, at least 1); ValueError when unusable."""
    raw = (os.environ if env is None else env).get("MCP_KEEPALIVE_TIMEOUT_S")
    try:
        seconds = int(float(raw or KEEPALIVE_TIMEOUT_S))
    except ValueError:
        raise ValueError(f"MCP_KEEPALIVE_TIMEOUT_S={raw!r} is not a valid number") from None
    if seconds < 1:
        raise ValueError(f"MCP_KEEPALIVE_TIMEOUT_S must be at least 1, got {raw}")
    return seconds


def _flag(name: str, raw: str | None) -> bool:
    """A yes/no setting, spelled as the native server accepts it; anything else is refused (ValueError)."""
    lowered = (raw or "0").strip().lower()
    if lowered not in ("1", "0", "true", "false", "yes", "no"):
        raise ValueError(f"{name}={raw!r} is not a valid bool")
    return lowered in ("1", "true", "yes")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    bind_host: str = "127.0.0.1"
    # Small per-worker pools: with 2 x cores + 1 workers the server already holds many connections.
    db_pool_size: int = 4
    db_connect_timeout_s: float = 2.0
    max_body_bytes: int = 1_048_576
    page_size: int = 50
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    tool_packs: tuple[str, ...] = ("reference",)
    server_name: str = "mcpstack-fastapi"
    server_version: str = "0.1.0"
    # `/metrics` answers loopback peers only (the metrics bridge on the instance, local tools) unless this is set.
    metrics_allow_remote: bool = False
    # Optional stateful mode (sessions, Mcp-Session-Id; services/sessions.py) and the release slot its ids start with.
    stateful: bool = False
    slot: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        return cls(
            database_url=source.get("DATABASE_URL") or None,
            bind_host=source.get("MCP_HOST") or cls.bind_host,
            db_pool_size=_int(source, "MCP_DB_POOL_SIZE", cls.db_pool_size, minimum=1),
            max_body_bytes=_int(source, "MCP_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1),
            page_size=_int(source, "MCP_PAGE_SIZE", cls.page_size, minimum=1),
            allowed_origins=_items(source.get("MCP_ALLOWED_ORIGINS")),
            allowed_hosts=_items(source.get("MCP_ALLOWED_HOSTS")),
            tool_packs=_items(source.get("MCP_TOOL_PACKS")) or cls.tool_packs,
            metrics_allow_remote=_flag("MCP_METRICS_ALLOW_REMOTE", source.get("MCP_METRICS_ALLOW_REMOTE")),
            stateful=sessions.stateful_enabled(source),
            slot=sessions.current_slot(source),
        )

    @property
    def host_allow_list(self) -> frozenset[str]:
        """Host names accepted in the Host header; empty means no check (behind a load balancer)."""
        return protocol.host_allow_list(self.bind_host, self.allowed_hosts)
