"""Server configuration: environment variables and flags, decided once into a frozen object.

Bad configuration fails at start with one clear line (`ConfigError`), never later under load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from services.mcp_server.wire import WireLimits
from services.protocol import LOCAL_HOSTS, host_allow_list

if TYPE_CHECKING:
    from services.auth import AuthSettings
    from services.ratelimit import RateLimitSettings


class ConfigError(ValueError):
    """Invalid configuration: the message is the one line the operator sees."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    reuse_port: bool = True
    mcp_path: str = "/mcp"
    database_url: str | None = None
    db_pool_size: int = 3
    db_connect_timeout_s: float = 2.0
    db_retry_interval_s: float = 0.5
    drain_timeout_s: float = 20.0
    # Origins allowed to call /mcp (besides the same-host local origins); "*" allows any.
    allowed_origins: tuple[str, ...] = ()
    # Host header allow-list (DNS-rebinding protection). Empty = derived: local names when bound to localhost,
    # no check when bound to a routable address (behind a load balancer that sets Host).
    allowed_hosts: tuple[str, ...] = ()
    tool_packs: tuple[str, ...] = ("reference",)
    page_size: int = 50
    server_name: str = "mcpstack-native"
    server_version: str = "0.1.0"
    instructions: str | None = None
    log_level: str = "INFO"
    # Fault injection for local rehearsals (services/mcp_server/faults.py): the faults file, and whether a server bound
    # to an address that is not loopback may use one.
    faults_file: str | None = None
    faults_allow_remote: bool = False
    # `/metrics` answers loopback peers only (the metrics bridge on the instance, local tools) unless this is set.
    metrics_allow_remote: bool = False
    # Debugging the cold start: each worker writes the modules loaded when it answers its first request to this file.
    modules_at_first_request_file: str | None = None
    limits: WireLimits = field(default_factory=WireLimits)
    # Optional bearer-token authentication (MCP_AUTH_*, services/auth.py) and tool-call rate limit (MCP_RATE_LIMIT_*,
    # services/ratelimit.py); None = off, the default.
    auth: AuthSettings | None = None
    rate_limit: RateLimitSettings | None = None
    # Optional stateful mode (MCP_STATEFUL=1, services/sessions.py): sessions with Mcp-Session-Id; shared through
    # PostgreSQL, so several workers need DATABASE_URL. `slot` (MCP_SLOT) prefixes the session ids.
    stateful: bool = False
    slot: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, got {self.port}")
        if not 1 <= self.workers <= 256:
            raise ConfigError(f"workers must be 1-256, got {self.workers}")
        if not 1 <= self.db_pool_size <= 64:
            raise ConfigError(f"db pool size must be 1-64, got {self.db_pool_size}")
        if not self.mcp_path.startswith("/"):
            raise ConfigError(f"MCP path must start with '/', got {self.mcp_path!r}")
        if self.drain_timeout_s < 0:
            raise ConfigError("drain timeout must be >= 0 seconds")
        if self.database_url is not None and not self.database_url.startswith(("postgres://", "postgresql://")):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL")
        if self.page_size < 1:
            raise ConfigError("page size must be >= 1")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"log level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        if self.faults_file and not self.faults_allow_remote and not is_loopback(self.host):
            raise ConfigError(
                f"MCP_FAULTS is refused on a server bound to {self.host}, which is not a loopback address "
                "(fault injection is for local rehearsals; set MCP_FAULTS_ALLOW_REMOTE=1 to allow it)"
            )
        if self.stateful and self.workers > 1 and not self.database_url:
            raise ConfigError(
                f"MCP_STATEFUL=1 with {self.workers} workers needs DATABASE_URL (sessions are shared through "
                "PostgreSQL); without a database run one worker (--workers 1)"
            )
        if self.slot and not (self.slot.isascii() and self.slot.replace("-", "").isalnum()):
            raise ConfigError(f"MCP_SLOT={self.slot!r} must be letters, digits and '-'")
        lim = self.limits
        for name in ("max_body_bytes", "max_header_bytes", "max_in_flight", "keepalive_timeout_s", "request_timeout_s"):
            if getattr(lim, name) <= 0:
                raise ConfigError(f"{name} must be positive")

    @property
    def host_allow_list(self) -> frozenset[str]:
        """Host names (without port) accepted in the Host header; empty means no check."""
        return host_allow_list(self.host, self.allowed_hosts)


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost); a wildcard bind is not loopback."""
    if host in LOCAL_HOSTS:
        return True
    import ipaddress  # here: asked only when faults are configured, off the usual start path

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_ENV: dict[str, tuple[str, type]] = {
    "MCP_HOST": ("host", str),
    "MCP_PORT": ("port", int),
    "MCP_WORKERS": ("workers", int),
    "MCP_REUSE_PORT": ("reuse_port", bool),
    "MCP_PATH": ("mcp_path", str),
    "DATABASE_URL": ("database_url", str),
    "MCP_DB_POOL_SIZE": ("db_pool_size", int),
    "MCP_DRAIN_TIMEOUT_S": ("drain_timeout_s", float),
    "MCP_ALLOWED_ORIGINS": ("allowed_origins", tuple),
    "MCP_ALLOWED_HOSTS": ("allowed_hosts", tuple),
    "MCP_TOOL_PACKS": ("tool_packs", tuple),
    "MCP_PAGE_SIZE": ("page_size", int),
    "MCP_LOG_LEVEL": ("log_level", str),
    "MCP_FAULTS": ("faults_file", str),
    "MCP_FAULTS_ALLOW_REMOTE": ("faults_allow_remote", bool),
    "MCP_METRICS_ALLOW_REMOTE": ("metrics_allow_remote", bool),
    "MCP_DEBUG_MODULES_FILE": ("modules_at_first_request_file", str),
    "MCP_STATEFUL": ("stateful", bool),
    "MCP_SLOT": ("slot", str),
}
_LIMIT_ENV: dict[str, tuple[str, type]] = {
    "MCP_MAX_BODY_BYTES": ("max_body_bytes", int),
    "MCP_MAX_HEADER_BYTES": ("max_header_bytes", int),
    "MCP_MAX_IN_FLIGHT": ("max_in_flight", int),
    "MCP_KEEPALIVE_TIMEOUT_S": ("keepalive_timeout_s", float),
    "MCP_REQUEST_TIMEOUT_S": ("request_timeout_s", float),
}


def _parse(env_name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes")
        if kind is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{env_name}={raw!r} is not a valid {kind.__name__}") from None


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> ServerConfig:
    """Environment first, then explicit overrides (flags); `None` overrides are ignored."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for env_name, (attr, kind) in _ENV.items():
        if source.get(env_name):
            values[attr] = _parse(env_name, source[env_name], kind)
    limit_values: dict[str, Any] = {}
    for env_name, (attr, kind) in _LIMIT_ENV.items():
        if source.get(env_name):
            limit_values[attr] = _parse(env_name, source[env_name], kind)
    known = {f.name for f in fields(ServerConfig)}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = value
    limits = replace(WireLimits(), **limit_values) if limit_values else WireLimits()
    values.setdefault("auth", _auth_settings(source))
    values.setdefault("rate_limit", _rate_limit_settings(source))
    _check_request_state_keys(source)
    if "limits" in values:
        limits = values.pop("limits")
    try:
        return ServerConfig(**values, limits=limits)
    except TypeError as ex:
        raise ConfigError(str(ex)) from None


def _auth_settings(source: Mapping[str, str]) -> AuthSettings | None:
    if not any(name.startswith("MCP_AUTH_") for name in source):
        return None  # off: the auth module is not even imported (cold start)
    from services.auth import AuthConfigError, AuthSettings

    try:
        return AuthSettings.from_env(source)
    except AuthConfigError as ex:
        raise ConfigError(str(ex)) from None


def _check_request_state_keys(source: Mapping[str, str]) -> None:
    """MCP_REQUEST_STATE_KEYS is read by each worker (services/request_state.py); a bad value fails here, at start."""
    raw = source.get("MCP_REQUEST_STATE_KEYS", "").strip()
    if raw:
        from services.request_state import RequestStateConfigError, parse_keys

        try:
            parse_keys(raw)
        except RequestStateConfigError as ex:
            raise ConfigError(str(ex)) from None


def _rate_limit_settings(source: Mapping[str, str]) -> RateLimitSettings | None:
    if not any(name.startswith("MCP_RATE_LIMIT_") for name in source):
        return None
    from services.ratelimit import RateLimitConfigError, RateLimitSettings

    try:
        settings = RateLimitSettings.from_env(source)
    except RateLimitConfigError as ex:
        raise ConfigError(str(ex)) from None
    return settings if settings.enabled else None
