"""The native server's face of the optional authentication (services/auth.py) and rate limit
(services/ratelimit.py): the `guard` hook of `McpEndpoint` and the routes it adds (the protected resource metadata).

Built only when configured (`build_guard`): the default server never imports this module, the auth module or the JWT
library. The rules live in the shared modules; here they meet the wire's `HttpRequest` and `Response` shapes.
"""

from __future__ import annotations

import orjson

from services.auth import Authenticator, AuthSettings, Refusal
from services.mcp_server.wire import HttpRequest, Response
from services.ratelimit import RateLimiter, RateLimitSettings, client_address, counts, refusal_body, retry_after_s

_JSON = b"content-type: application/json\r\n"
_METADATA_HEADERS = b"content-type: application/json\r\ncache-control: public, max-age=300\r\n"


class Guard:
    """`guard(request)`: None when the request may go on, else the refusal to send (401, 403 or 429)."""

    def __init__(
        self, *, authenticator: Authenticator | None, limiter: RateLimiter | None, trust_forwarded_for: bool
    ) -> None:
        self._auth = authenticator
        self._limiter = limiter
        self._trust_forwarded_for = trust_forwarded_for
        self._rate_limited_body = refusal_body()
        self.routes: dict[bytes, Response] = {}
        if authenticator is not None:
            metadata: Response = (200, _METADATA_HEADERS, authenticator.metadata_body)
            for path in authenticator.settings.metadata_paths:
                self.routes[path.encode()] = metadata

    def __call__(self, request: HttpRequest) -> Response | None:
        subject: str | None = None
        if self._auth is not None:
            authorization = request.headers.get(b"authorization")
            verdict = self._auth.check(None if authorization is None else authorization.decode("latin-1"))
            if type(verdict) is Refusal:
                return self._refusal(verdict)
            subject = verdict.subject  # type: ignore[union-attr]
        if self._limiter is not None and request.method == b"POST" and counts(request.body, orjson.loads):
            if subject is not None:
                key = "sub:" + subject
            else:
                forwarded = request.headers.get(b"x-forwarded-for")
                key = "addr:" + client_address(
                    request.peer(),
                    None if forwarded is None else forwarded.decode("latin-1"),
                    trust_forwarded_for=self._trust_forwarded_for,
                )
            wait_s = self._limiter.take(key)
            if wait_s:
                headers = _JSON + b"retry-after: %d\r\n" % retry_after_s(wait_s)
                return 429, headers, self._rate_limited_body
        return None

    def caller_of(self, request: HttpRequest) -> str | None:
        """The subject of the request's token, with authentication on (else None): what a requestState and a task are
        bound to (services/request_state.py, services/tasks.py). Asked only by a request that needs it, after
        `__call__` admitted it, so the verdict is the authenticator's remembered one."""
        if self._auth is None:
            return None
        authorization = request.headers.get(b"authorization")
        verdict = self._auth.check(None if authorization is None else authorization.decode("latin-1"))
        return None if type(verdict) is Refusal else verdict.subject  # type: ignore[union-attr]

    @staticmethod
    def _refusal(refusal: Refusal) -> Response:
        headers = _JSON + b"www-authenticate: " + refusal.www_authenticate.encode("latin-1") + b"\r\n"
        return refusal.status, headers, refusal.body


def build_guard(auth: AuthSettings | None, rate_limit: RateLimitSettings) -> Guard | None:
    """The guard for this configuration, or None when neither authentication nor a rate limit is on."""
    if auth is None and not rate_limit.enabled:
        return None
    return Guard(
        authenticator=Authenticator(auth) if auth is not None else None,
        limiter=RateLimiter(rate_limit) if rate_limit.enabled else None,
        trust_forwarded_for=rate_limit.trust_forwarded_for,
    )
