"""Per-client rate limiting of tool calls and initializations: a token bucket per client key, in one process.

Dependency-free and free of I/O: both servers ask `RateLimiter.take(key)` before running a request that `counts` (a
`tools/call` or an `initialize`) and answer a refusal with 429, a `Retry-After` header and a JSON-RPC error body
(`refusal`). The key is the client's identity: the access token's `sub` when authentication is on, else its address
(`client_address`).

The buckets live in the worker process that answers the request. A server with N workers therefore admits up to N
times the configured rate from one client whose connections spread over every worker (SO_REUSEPORT or gunicorn
spread connections, not clients); a client on one keep-alive connection meets the configured rate. Behind a load
balancer with M instances, multiply again by M. The limit is a guard against one runaway client, not a quota.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

RATE_LIMITED = -32000  # the JSON-RPC implementation-defined server error range, as for "server overloaded"
RATE_LIMITED_MESSAGE = (
    "Rate limit exceeded: too many tool calls or initializations; retry after the time in Retry-After"
)
COUNTED_METHODS = frozenset(("tools/call", "initialize"))
"""What a client's bucket pays for: its tool calls (the work), and `initialize`, which in stateful mode opens a session
that a store keeps for up to a day (counted in every mode, so a limit means the same with or without sessions)."""
MAX_CLIENTS = 10_000  # buckets kept per worker; full ones are forgotten first (a full bucket is a fresh client)


class RateLimitConfigError(ValueError):
    """A rate-limit setting that cannot work: the message is the one line the operator sees."""


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """`per_s` tool calls per second refill, `burst` calls at once; `per_s == 0` is off."""

    per_s: float = 0.0
    burst: int = 0
    # Take the client address from X-Forwarded-For (the entry the nearest proxy appended) instead of the peer: only
    # behind a proxy that sets it, such as the load balancer, since a client can write any X-Forwarded-For itself.
    trust_forwarded_for: bool = False

    @property
    def enabled(self) -> bool:
        return self.per_s > 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateLimitSettings:
        """`MCP_RATE_LIMIT_PER_S`, `MCP_RATE_LIMIT_BURST` (default: one second's worth, at least 1) and
        `MCP_RATE_LIMIT_TRUST_FORWARDED_FOR`; absent or 0 = off."""
        per_s = _number(env, "MCP_RATE_LIMIT_PER_S", float)
        burst = int(_number(env, "MCP_RATE_LIMIT_BURST", int))
        trust = (env.get("MCP_RATE_LIMIT_TRUST_FORWARDED_FOR") or "0").strip().lower()
        if trust not in ("1", "0", "true", "false", "yes", "no"):
            raise RateLimitConfigError(f"MCP_RATE_LIMIT_TRUST_FORWARDED_FOR={trust!r} is not a valid bool")
        if per_s < 0 or not math.isfinite(per_s):
            raise RateLimitConfigError(f"MCP_RATE_LIMIT_PER_S must be a finite number >= 0, got {per_s}")
        if burst < 0:
            raise RateLimitConfigError(f"MCP_RATE_LIMIT_BURST must be >= 0, got {burst}")
        if per_s > 0 and burst == 0:
            burst = max(1, math.ceil(per_s))
        return cls(per_s=per_s, burst=burst, trust_forwarded_for=trust in ("1", "true", "yes"))


def _number(env: Mapping[str, str], name: str, kind: type[float] | type[int]) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return 0
    try:
        return kind(raw)
    except ValueError:
        raise RateLimitConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


class RateLimiter:
    """Token buckets per client key. `take` spends one token or says how many seconds until one is back."""

    __slots__ = ("_buckets", "_burst", "_clock", "_max_clients", "_per_s")

    def __init__(
        self,
        settings: RateLimitSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if not settings.enabled:
            raise RateLimitConfigError("a rate limiter needs MCP_RATE_LIMIT_PER_S > 0")
        self._per_s = settings.per_s
        self._burst = float(settings.burst)
        self._clock = clock
        self._max_clients = max_clients
        # key -> [tokens, at]: the tokens left at time `at` (refilled lazily on the next take)
        self._buckets: dict[str, list[float]] = {}

    def take(self, key: str) -> float:
        """0.0 when the call may go ahead (a token is spent), else the seconds until a token is back."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_clients:
                self._forget_full(now)
            self._buckets[key] = [self._burst - 1.0, now]
            return 0.0
        tokens = min(self._burst, bucket[0] + (now - bucket[1]) * self._per_s)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self._per_s

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (indistinguishable from a new client); if none has, the oldest half."""
        burst, per_s = self._burst, self._per_s
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * per_s >= burst]
        if not full:
            full = list(self._buckets)[: max(1, len(self._buckets) // 2)]
        for key in full:
            del self._buckets[key]


def counts(body: bytes, loads: Callable[[bytes], object] = json.loads) -> bool:
    """Whether a POST body is a request the limit counts (COUNTED_METHODS): a cheap byte test first, since most
    bodies name neither method; `loads` is the server's JSON reader."""
    if b"tools/call" not in body and b"initialize" not in body:
        return False
    try:
        message = loads(body)
    except ValueError:  # json's and orjson's decode errors alike
        return False
    return isinstance(message, dict) and message.get("method") in COUNTED_METHODS


def retry_after_s(wait_s: float) -> int:
    """The `Retry-After` value (whole seconds, at least 1) for a wait."""
    return max(1, math.ceil(wait_s))


def refusal_body() -> bytes:
    """The 429 body: a JSON-RPC error with id null, like the servers' other refusals."""
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": RATE_LIMITED, "message": RATE_LIMITED_MESSAGE}}
    return json.dumps(error, separators=(",", ":")).encode()


def client_address(peer: str | None, forwarded_for: str | None, *, trust_forwarded_for: bool) -> str:
    """The client's address for the rate limit: the peer's, or, when trusted, the last X-Forwarded-For entry (the
    address the nearest proxy saw; entries to its left are whatever the client sent and could be forged)."""
    if trust_forwarded_for and forwarded_for:
        last = forwarded_for.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return peer or "unknown"
