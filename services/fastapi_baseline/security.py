"""Host and Origin checks (DNS-rebinding protection), as pure ASGI middleware in front of every route.

Host: when the server is bound to localhost only local names are accepted in the Host header (any path).
Origin: a browser origin that is not allow-listed may not call the MCP endpoint (403, before anything else).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from services.fastapi_baseline.errors import error_response
from services.fastapi_baseline.models import INVALID_REQUEST


def _host_name(host: str) -> str:
    name = host.strip().lower()
    if name.startswith("["):
        return name[: name.find("]") + 1]
    return name.rsplit(":", 1)[0] if ":" in name else name


class OriginHostMiddleware:
    def __init__(
        self, app: ASGIApp, *, mcp_path: str, allowed_hosts: frozenset[str], allowed_origins: frozenset[str]
    ) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = frozenset(o.lower() for o in allowed_origins)

    def host_allowed(self, host: str | None) -> bool:
        return host is not None and _host_name(host) in self.allowed_hosts

    def origin_allowed(self, origin: str) -> bool:
        text = origin.strip().lower()
        if "*" in self.allowed_origins or text in self.allowed_origins:
            return True
        # Same-machine origins are allowed when the server only accepts local Host names.
        return bool(self.allowed_hosts) and self.host_allowed(text.split("://", 1)[-1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in (b"host", b"origin")}
            if self.allowed_hosts and not self.host_allowed(headers.get("host")):
                response = error_response(403, INVALID_REQUEST, "Forbidden: Host not allowed")
                await response(scope, receive, send)
                return
            origin = headers.get("origin")
            if origin is not None and scope["path"] == self.mcp_path and not self.origin_allowed(origin):
                response = error_response(403, INVALID_REQUEST, "Forbidden: Origin not allowed")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
