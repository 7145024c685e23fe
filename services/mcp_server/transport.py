"""Streamable HTTP (stateless, JSON responses): the HTTP rules of MCP around the JSON-RPC layer.

Routes `/mcp`, `/health`, `/ready` and `/metrics` (to loopback peers only, unless configured); checks Host and Origin,
method, Content-Type, Accept and the `MCP-Protocol-Version` header, which picks the era per request: the handshake era
(header absent or 2025-*) or the 2026-07-28 era, whose `_meta` and `Mcp-Method`/`Mcp-Name` headers are checked here
(services/protocol.py) and whose JSON-RPC error codes decide the HTTP status. Maps each outcome to its status code.
Nothing here sees a tool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from services.mcp_server import jsonrpc
from services.mcp_server.jsonrpc import INVALID_REQUEST
from services.mcp_server.methods import McpMethods, StatelessAnswer
from services.mcp_server.streams import REQUEST_CANCELLED
from services.mcp_server.wire import HttpRequest, Response
from services.protocol import (
    HOST_REFUSED,
    ORIGIN_REFUSED,
    SERVED_VERSIONS,
    STATELESS_ERROR_STATUS,
    STATELESS_VERSION,
    Era,
    ParamHeader,
    Rejection,
    accepts_json,
    check_call_param_headers,
    check_stateless_decoded,
    decode_header_value,
    era_of,
    host_allowed,
    is_json,
    loopback_peer,
    origin_allowed,
    unsupported_version,
)
from services.tools.reply import Pending, Reply, then

if TYPE_CHECKING:
    from services.mcp_server.stateful import Stateful

_JSON = b"content-type: application/json\r\n"
CANCELLED = "notifications/cancelled"
_TEXT = b"content-type: text/plain; charset=utf-8\r\n"
_PROMETHEUS = b"content-type: text/plain; version=0.0.4; charset=utf-8\r\n"
_ALLOW_POST = b"content-type: application/json\r\nallow: POST\r\n"

# Every refusal carries a JSON-RPC error body (id null), as both servers answer them.
NOT_FOUND: Response = (404, _JSON, jsonrpc.encode_error(None, INVALID_REQUEST, "Not Found"))
HEALTHY: Response = (200, _JSON, b'{"status":"ok"}')
READY: Response = (200, _JSON, b'{"status":"ready","database":"ok"}')
NOT_READY: Response = (503, _JSON, b'{"status":"not ready","database":"unavailable"}')
ACCEPTED: Response = (202, b"", b"")
OVERLOADED: Response = (
    503,
    b"content-type: application/json\r\nretry-after: 1\r\n",
    jsonrpc.encode_error(None, jsonrpc.SERVER_OVERLOADED, "Server overloaded; retry shortly"),
)
INTERNAL_ERROR: Response = (500, _JSON, jsonrpc.encode_error(None, jsonrpc.INTERNAL_ERROR, "Internal error"))
# A refused Host gets the same JSON-RPC error body from both servers, on every path.
HOST_FORBIDDEN: Response = (403, _JSON, jsonrpc.encode_error(None, INVALID_REQUEST, HOST_REFUSED))


def _error(status: int, id_: Any, code: int, message: str, data: Any = None) -> Response:
    return status, _JSON, jsonrpc.encode_error(id_, code, message, data)


def _rejected(rejection: Rejection, id_: Any) -> Response:
    """A request refused before its method runs (services/protocol.py): always 400."""
    return 400, _JSON, jsonrpc.encode_error(id_, rejection.code, rejection.message, rejection.data)


class McpEndpoint:
    """The HTTP handler of one worker (`wire.Handler`)."""

    def __init__(
        self,
        *,
        methods: McpMethods,
        mcp_path: str,
        allowed_hosts: frozenset[str],
        allowed_origins: frozenset[str],
        ready: Callable[[], Awaitable[bool]],
        metrics_text: Callable[[], bytes],
        metrics_allow_remote: bool = False,
        guard: Callable[[HttpRequest], Response | None] | None = None,
        guard_routes: Mapping[bytes, Response] | None = None,
        param_headers: Mapping[str, tuple[ParamHeader, ...]] | None = None,
        stateful: Stateful | None = None,
    ) -> None:
        self._methods = methods
        # Optional stateful mode (services/mcp_server/stateful.py): handshake-era messages with sessions, GET streams
        # and DELETE. None (the default): stateless, one `is None` test per request.
        self._stateful = stateful
        # The handshake era's in-flight tool calls that wait on I/O, by (caller, request id), for
        # notifications/cancelled; None marks an id in flight twice (ambiguous: neither is cancelled).
        self._running: dict[tuple[bytes | None, Any], asyncio.Task[Any] | None] = {}
        self._cancelling: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # looked up once: each look-up is a getpid() on 3.11
        # With a database: publishes a cancellation of a call that does not run here to every worker
        # (services/cancellation.py, set by the worker); None without one.
        self.relay: Callable[[str], None] | None = None
        self._mcp_path = mcp_path.encode()
        self._allowed_hosts = allowed_hosts
        self._allowed_origins = allowed_origins
        self._ready = ready
        self._metrics_text = metrics_text
        self._metrics_allow_remote = metrics_allow_remote
        # Optional authentication and rate limits (services/mcp_server/guard.py): a refusal, or None to go on; and
        # the routes it serves (the protected resource metadata). Off by default: then one `is None` test.
        self._guard = guard
        self._guard_routes = guard_routes or {}
        # Verdicts per distinct header value: clients send the same few values over and over.
        self._host_verdicts: Verdicts[bytes | None, bool] = Verdicts(self._host_allowed)
        self._origin_verdicts: Verdicts[bytes, bool] = Verdicts(self._origin_allowed)
        self._type_verdicts: Verdicts[bytes, bool] = Verdicts(_is_json)
        self._accept_verdicts: Verdicts[bytes, bool] = Verdicts(_accepts_json)
        self._eras: Verdicts[bytes, Era | None] = Verdicts(_era)  # None: a revision this server does not serve
        self._header_texts: Verdicts[bytes | None, str | None] = Verdicts(_header_text)  # Mcp-Method, Mcp-Name
        # The tools that mirror parameters into Mcp-Param-* headers (x-mcp-header; usually none): only with some does
        # the 2026-07-28 path check them, so without any it is exactly as it was.
        self._param_headers = param_headers or {}
        # Chosen once, held as an attribute rather than assigned over the method: a compiled build's class has no
        # per-instance methods.
        self._stateless_route: Callable[[jsonrpc.Message, HttpRequest], Reply[Response]] = (
            self._stateless_with_param_headers if self._param_headers else self._stateless
        )

    def __call__(self, request: HttpRequest) -> Reply[Response]:
        path = request.path
        if b"?" in path:
            path = path.split(b"?", 1)[0]
        if self._allowed_hosts and not self._host_verdicts[request.headers.get(b"host")]:
            return HOST_FORBIDDEN
        if path == self._mcp_path:
            return self._mcp(request)
        if path == b"/health":
            return HEALTHY
        if path == b"/ready":
            return self._readiness()
        if path == b"/metrics" and (self._metrics_allow_remote or loopback_peer(request.peer())):
            return 200, _PROMETHEUS, self._metrics_text()
        return self._guard_routes.get(path, NOT_FOUND)

    async def _readiness(self) -> Response:
        return READY if await self._ready() else NOT_READY

    def _host_allowed(self, host: bytes | None) -> bool:
        return host_allowed(None if host is None else host.decode("latin-1"), self._allowed_hosts)

    def _origin_allowed(self, origin: bytes) -> bool:
        return origin_allowed(
            origin.decode("latin-1"), allowed_origins=self._allowed_origins, allowed_hosts=self._allowed_hosts
        )

    def _mcp(self, request: HttpRequest) -> Reply[Response]:
        headers = request.headers
        origin = headers.get(b"origin")
        if origin is not None and not self._origin_verdicts[origin]:
            return _error(403, None, INVALID_REQUEST, ORIGIN_REFUSED)
        if self._guard is not None and (refused := self._guard(request)) is not None:
            return refused
        if request.method != b"POST":
            version = headers.get(b"mcp-protocol-version")
            if self._stateful is not None:
                era = "handshake" if version is None else self._eras[version]
                if era is None and version is not None and request.method in (b"GET", b"DELETE"):
                    # served in this mode, so an unserved revision is refused as on POST
                    return _rejected(unsupported_version(version.decode("latin-1")), None)
                if era != "stateless":
                    return self._stateful.other_method(request)
            # No standalone SSE stream and no sessions (stateless mode, and the 2026-07-28 era in either mode): GET
            # and DELETE are not offered.
            return 405, _ALLOW_POST, jsonrpc.encode_error(None, INVALID_REQUEST, "Method not allowed: use POST")
        content_type = headers.get(b"content-type", b"")
        if not self._type_verdicts[content_type]:
            return _error(415, None, INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json")
        accept = headers.get(b"accept")
        if accept is not None and not self._accept_verdicts[accept]:
            return _error(406, None, INVALID_REQUEST, "Not Acceptable: Accept must include application/json")
        message = jsonrpc.decode(request.body)
        kind = type(message)
        version = headers.get(b"mcp-protocol-version")
        if version is not None:
            era = self._eras[version]
            if era != "handshake":  # the handshake era (no header, or a 2025 revision) goes on below
                if era is None:
                    id_ = message.id if kind is jsonrpc.Request else None  # type: ignore[union-attr]
                    return _rejected(unsupported_version(version.decode("latin-1")), id_)
                request.cancel_on_close = True  # in this era a closed connection cancels its request
                return self._stateless_route(message, request)
        if self._stateful is not None:
            return self._stateful.post(request, message)
        if kind is jsonrpc.Request:
            # The request itself is the channel back to the client: a tool that talks opens its SSE response.
            reply = self._methods.handle(message, request)  # type: ignore[arg-type]
            if type(reply) is bytes:
                return 200, _JSON, reply
            key = (headers.get(b"authorization"), message.id)  # type: ignore[union-attr]
            return self._cancellable(reply, key)  # type: ignore[arg-type]  # not bytes: pending
        if kind is jsonrpc.Invalid:
            return _error(400, message.id, message.code, message.message)  # type: ignore[union-attr]
        if kind is jsonrpc.Notification and message.method == CANCELLED:  # type: ignore[union-attr]
            self.cancel(headers.get(b"authorization"), message.params)  # type: ignore[union-attr]
        return ACCEPTED  # notification or a response to a server request: nothing to answer

    async def _cancellable(self, reply: Pending[bytes], key: tuple[Any, Any]) -> Response:
        """A handshake-era request waiting on I/O, registered for notifications/cancelled while it runs. Without
        sessions a request id is only unique per client, so the caller is told apart by its Authorization header (when
        it sends one) and an id in flight twice is cancelled by neither."""
        return 200, _JSON, await self.cancellable(reply, key)

    async def cancellable(self, reply: Pending[bytes], key: tuple[Any, Any]) -> bytes:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        running = self._running
        running[key] = None if key in running else task
        try:
            return await reply
        except asyncio.CancelledError:
            if task is None or task not in self._cancelling:
                raise
            task.uncancel()
            return jsonrpc.encode_error(key[1], REQUEST_CANCELLED, "Request cancelled by the client")
        finally:
            if running.get(key) is task:
                del running[key]
            self._cancelling.discard(task)

    def cancel(self, scope: Any, params: Any) -> None:
        """`notifications/cancelled`: cancel the named request of this caller if it is running here; if it is not,
        and a database is configured, tell the other workers (`relay`)."""
        if type(params) is not dict or type(params.get("requestId")) not in (str, int):
            return  # a request id is a string or an integer: anything else names no request
        key = (scope, params["requestId"])
        if key in self._running:
            self._stop(self._running[key])
        elif self.relay is not None:
            from services.cancellation import cancel_key

            self.relay(cancel_key(*key))

    def cancel_relayed(self, relayed: str) -> None:
        """A cancellation another worker published (services/cancellation.py): the call running here under that key."""
        from services.cancellation import cancel_key

        for key, task in list(self._running.items()):
            if task is not None and cancel_key(*key) == relayed:
                self._stop(task)

    def _stop(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None and not task.done():
            self._cancelling.add(task)
            task.cancel()

    def _stateless(self, message: jsonrpc.Message, http: HttpRequest) -> Reply[Response]:
        """A 2026-07-28 message: a request's `_meta` and headers are checked, then its method runs (with the HTTP
        request as its channel back to the client: a tool that reports progress or logs opens its SSE response)."""
        headers = http.headers
        kind = type(message)
        if kind is not jsonrpc.Request:
            if kind is jsonrpc.Invalid:
                return _error(400, message.id, message.code, message.message)  # type: ignore[union-attr]
            return ACCEPTED
        request: jsonrpc.Request = message  # type: ignore[assignment]
        texts = self._header_texts
        rejection = check_stateless_decoded(
            request.method,
            request.params,
            version_header=STATELESS_VERSION,  # the one header value this era is chosen by (`_era`)
            method_header=texts[headers.get(b"mcp-method")],
            name_header=texts[headers.get(b"mcp-name")],
        )
        if rejection is not None:
            return _rejected(rejection, request.id)
        return then(self._methods.handle_stateless(request, http), _stateless_ok, None)

    def _stateless_with_param_headers(self, message: jsonrpc.Message, http: HttpRequest) -> Reply[Response]:
        """`_stateless`, for a server with tools that declare `x-mcp-header` parameters: a call of one of them must
        also repeat those arguments in its `Mcp-Param-*` headers (checked after the standard headers)."""
        if type(message) is jsonrpc.Request and message.method == "tools/call":
            headers = http.headers
            rejection = check_stateless_decoded(
                message.method,
                message.params,
                version_header=STATELESS_VERSION,
                method_header=self._header_texts[headers.get(b"mcp-method")],
                name_header=self._header_texts[headers.get(b"mcp-name")],
            ) or check_call_param_headers(self._param_headers, message.params, _header_reader(headers))
            if rejection is not None:
                return _rejected(rejection, message.id)
        return McpEndpoint._stateless(self, message, http)


def _ok(body: bytes, headers: bytes) -> Response:
    return 200, headers, body


def _stateless_ok(answer: StatelessAnswer, _: None) -> Response:
    code, body = answer
    return (STATELESS_ERROR_STATUS.get(code, 200) if code else 200), _JSON, body


def _header_reader(headers: dict[bytes, bytes]) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        value = headers.get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    return read


def _header_text(value: bytes | None) -> str | None:
    return None if value is None else decode_header_value(value.decode("latin-1"))


def _era(version: bytes) -> Era | None:
    return era_of(version.decode("latin-1"), SERVED_VERSIONS)


_VERDICT_CACHE_SIZE = 512
K = TypeVar("K")
V = TypeVar("V")


class Verdicts(dict[K, V]):
    """The verdicts of one header check, computed once per distinct value: a hit is a plain dict lookup, and a miss
    runs the check (`__missing__`). Bounded, since hostile clients may vary their headers."""

    __slots__ = ("_check",)

    def __init__(self, check: Callable[[K], V]) -> None:
        super().__init__()
        self._check = check

    def __missing__(self, value: K) -> V:
        verdict = self._check(value)
        if len(self) >= _VERDICT_CACHE_SIZE:
            self.clear()
        self[value] = verdict
        return verdict


def _is_json(content_type: bytes) -> bool:
    return is_json(content_type.decode("latin-1"))


def _accepts_json(accept: bytes) -> bool:
    return accepts_json(accept.decode("latin-1"))
