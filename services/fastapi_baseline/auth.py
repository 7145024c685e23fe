"""The FastAPI baseline's face of the optional authentication (services/auth.py) and rate limit
(services/ratelimit.py): one pure ASGI middleware, inside the Host/Origin middleware, in front of every route.

On the MCP endpoint it answers 401/403 before the route runs, and 429 for a `tools/call` or `initialize` over the
client's limit (reading the body once and handing the same bytes on to the route); it serves the protected resource
metadata at its well-known paths. Installed only when configured (`install`): the default app has no such middleware
at all. With authentication on it also sets `CALLER`, the token's subject, for the route: a requestState and a task are
bound to it (services/fastapi_baseline/mcp.py, task_methods.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.auth import AuthConfigError, Authenticator, AuthSettings, Refusal
from services.ratelimit import (
    RateLimitConfigError,
    RateLimiter,
    RateLimitSettings,
    client_address,
    counts,
    refusal_body,
    retry_after_s,
)

_JSON = (b"content-type", b"application/json")

CALLER: ContextVar[str | None] = ContextVar("mcpstack_fastapi_caller", default=None)
"""The authenticated subject of the request being served (None with authentication off), set by `GuardMiddleware`
around the route, whose coroutine (and the tasks it starts) inherit it."""


class GuardConfigError(ValueError):
    """A wrong MCP_AUTH_* or MCP_RATE_LIMIT_* setting: the message is the one line the operator sees."""


def settings_from_env(env: Mapping[str, str] | None = None) -> tuple[AuthSettings | None, RateLimitSettings]:
    source = os.environ if env is None else env
    try:
        return AuthSettings.from_env(source), RateLimitSettings.from_env(source)
    except (AuthConfigError, RateLimitConfigError) as ex:
        raise GuardConfigError(str(ex)) from None


def install(app: FastAPI, *, mcp_path: str, max_body_bytes: int, env: Mapping[str, str] | None = None) -> None:
    """Add the middleware when authentication or a rate limit is configured (the environment's MCP_AUTH_* and
    MCP_RATE_LIMIT_*); otherwise nothing."""
    auth, rate_limit = settings_from_env(env)
    if auth is None and not rate_limit.enabled:
        return
    app.add_middleware(
        GuardMiddleware,
        mcp_path=mcp_path,
        max_body_bytes=max_body_bytes,
        authenticator=Authenticator(auth) if auth is not None else None,
        limiter=RateLimiter(rate_limit) if rate_limit.enabled else None,
        trust_forwarded_for=rate_limit.trust_forwarded_for,
    )


class GuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        mcp_path: str,
        max_body_bytes: int,
        authenticator: Authenticator | None,
        limiter: RateLimiter | None,
        trust_forwarded_for: bool,
    ) -> None:
        self.app = app
        self.mcp_path = mcp_path
        self.max_body_bytes = max_body_bytes
        self.auth = authenticator
        self.limiter = limiter
        self.trust_forwarded_for = trust_forwarded_for
        self.metadata_paths = frozenset(authenticator.settings.metadata_paths) if authenticator is not None else ()
        self.rate_limited_body = refusal_body()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == self.mcp_path:
            subject: str | None = None
            if self.auth is not None:
                verdict = self.auth.check(_header(scope, b"authorization"))
                if isinstance(verdict, Refusal):
                    www = (b"www-authenticate", verdict.www_authenticate.encode("latin-1"))
                    await _respond(send, verdict.status, [_JSON, www], verdict.body)
                    return
                subject = verdict.subject
            if self.limiter is not None and scope["method"] == "POST":
                messages = await _read_body(receive, self.max_body_bytes)
                if counts(b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")):
                    key = "sub:" + subject if subject is not None else "addr:" + self._address(scope)
                    wait_s = self.limiter.take(key)
                    if wait_s:
                        retry = (b"retry-after", str(retry_after_s(wait_s)).encode())
                        await _respond(send, 429, [_JSON, retry], self.rate_limited_body)
                        return
                receive = _replay(messages, receive)
            if subject is not None:
                bound = CALLER.set(subject)
                try:
                    await self.app(scope, receive, send)
                finally:
                    CALLER.reset(bound)
                return
        elif path in self.metadata_paths and self.auth is not None and scope["method"] in ("GET", "HEAD"):
            cache = (b"cache-control", b"public, max-age=300")
            await _respond(send, 200, [_JSON, cache], self.auth.metadata_body, head=scope["method"] == "HEAD")
            return
        await self.app(scope, receive, send)

    def _address(self, scope: Scope) -> str:
        client = scope.get("client")
        return client_address(
            client[0] if client else None,
            _header(scope, b"x-forwarded-for"),
            trust_forwarded_for=self.trust_forwarded_for,
        )


def _header(scope: Scope, name: bytes) -> str | None:
    found: bytes | None = None
    for key, value in scope["headers"]:
        if key == name:
            found = value
    return None if found is None else found.decode("latin-1")


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool = False
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _read_body(receive: Receive, limit: int) -> list[Message]:
    """The request's body messages, up to a little over `limit` bytes: the route refuses a larger body itself and
    reads the rest through `_replay`."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands the route the messages already read, then whatever the server sends next (the rest
    of a body read only in part, or the disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
