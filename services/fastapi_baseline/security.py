"""Host and Origin checks (DNS-rebinding protection), as pure ASGI middleware in front of every route.

Host: when the server is bound to localhost only local names are accepted in the Host header (any path).
Origin: a browser origin that is not allow-listed may not call the MCP endpoint (403, before anything else).
Clients send the same few Host and Origin values over and over: each distinct value is judged once (a bounded cache).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from services.fastapi_baseline.errors import error_response
from services.fastapi_baseline.models import INVALID_REQUEST
from services.protocol import HOST_REFUSED, ORIGIN_REFUSED, host_allowed, origin_allowed

_VERDICT_CACHE_SIZE = 512  # hostile clients may vary the values: stay bounded


K = TypeVar("K")


class Verdicts(Generic[K]):
    """A header rule's verdict per distinct value (bounded): clients send the same few values over and over."""

    def __init__(self, rule: Callable[[K], bool]) -> None:
        self.rule = rule
        self.cache: dict[K, bool] = {}

    def __call__(self, value: K) -> bool:
        verdict = self.cache.get(value)
        if verdict is None:
            verdict = self.rule(value)
            if len(self.cache) >= _VERDICT_CACHE_SIZE:
                self.cache.clear()
            self.cache[value] = verdict
        return verdict


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


class OriginHostMiddleware:
    def __init__(
        self, app: ASGIApp, *, mcp_path: str, allowed_hosts: frozenset[str], allowed_origins: frozenset[str]
    ) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = frozenset(o.lower() for o in allowed_origins)
        self._host_verdict = Verdicts[bytes | None](lambda value: self.host_allowed(_text(value)))
        self._origin_verdict = Verdicts[bytes](lambda value: self.origin_allowed(value.decode("latin-1")))

    def host_allowed(self, host: str | None) -> bool:
        return host_allowed(host, self.allowed_hosts)

    def origin_allowed(self, origin: str) -> bool:
        return origin_allowed(origin, allowed_origins=self.allowed_origins, allowed_hosts=self.allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = origin = None
            for name, value in scope["headers"]:  # the last of repeated headers counts
                if name == b"host":
                    host = value
                elif name == b"origin":
                    origin = value
            if self.allowed_hosts and not self._host_verdict(host):
                response = error_response(403, INVALID_REQUEST, HOST_REFUSED)
                await response(scope, receive, send)
                return
            if origin is not None and scope["path"] == self.mcp_path and not self._origin_verdict(origin):
                response = error_response(403, INVALID_REQUEST, ORIGIN_REFUSED)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
