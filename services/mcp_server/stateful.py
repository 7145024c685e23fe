"""The native server's optional stateful mode (`MCP_STATEFUL=1`): handshake-era Streamable HTTP with sessions.

`initialize` opens a session (services/sessions.py keeps it: memory with one worker, PostgreSQL with several) and
answers its id in `Mcp-Session-Id`; every later message must carry it (400 without, 404 when unknown or ended).
DELETE ends a session; GET opens its standalone SSE stream (`notifications/resources/updated` for its resource
subscriptions). The session carries what the client declared at initialize, so a tool's `peer.ask` is sent on the
request's SSE stream only when the client can answer it; the client's JSON-RPC response arrives as a new POST (202),
on any worker, and the store relays it to the one that waits. `logging/setLevel` is remembered per session, and
`notifications/cancelled` cancels a request of the same session (on another worker too when a database is configured:
services/cancellation.py).

The 2026-07-28 era has no sessions: its requests never come here. Nothing here encodes a tool result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from services.mcp_server import jsonrpc
from services.mcp_server.jsonrpc import INVALID_PARAMS, INVALID_REQUEST
from services.mcp_server.streams import SSE_HEADERS, SseAccept, StandaloneStream
from services.mcp_server.wire import HttpRequest, Response
from services.sessions import (
    LEVEL_RANK,
    SESSION_REQUIRED,
    SESSION_UNKNOWN,
    STREAM_KEY,
    SUBSCRIPTIONS_FULL,
    Session,
    SessionEnded,
    SessionStore,
    StreamReplaced,
    subscription_refusal,
)
from services.tools.reply import Reply

if TYPE_CHECKING:
    from services.mcp_server.methods import McpMethods
    from services.mcp_server.transport import McpEndpoint

_JSON = b"content-type: application/json\r\n"
_ALLOW = b"content-type: application/json\r\nallow: GET, POST, DELETE\r\n"
ACCEPTED: Response = (202, b"", b"")
ENDED: Response = (200, b"", b"")
NOT_AN_ANSWER = "Invalid Request: no request of this session awaits a response with this id"
MALFORMED_ANSWER = (
    "Invalid Request: a response must carry a string id from the server's request, and either a result object or an "
    "error object with an integer code and a string message"
)
SUBSCRIBE_METHODS = ("resources/subscribe", "resources/unsubscribe")


def _error(status: int, id_: Any, code: int, message: str) -> Response:
    return status, _JSON, jsonrpc.encode_error(id_, code, message)


class Stateful:
    """The stateful handshake era of one worker: POST with sessions, GET streams, DELETE."""

    def __init__(self, *, methods: McpMethods, store: SessionStore, slot: str) -> None:
        self._methods = methods
        self._store = store
        self._slot = slot
        self._sse = SseAccept()
        self.endpoint: McpEndpoint | None = None  # set by the endpoint's owner: its cancellation registry

    # -- POST ------------------------------------------------------------------------------------------------------

    def post(self, request: HttpRequest, message: jsonrpc.Message) -> Reply[Response]:
        kind = type(message)
        if kind is jsonrpc.Request and message.method == "initialize":  # type: ignore[union-attr]
            return self._initialize(message)  # type: ignore[arg-type]
        if kind is jsonrpc.Invalid:
            return _error(400, message.id, message.code, message.message)  # type: ignore[union-attr]
        raw_id = request.headers.get(b"mcp-session-id")
        if not raw_id or raw_id.isspace():  # an empty header names no session: as if it were absent
            id_ = message.id if kind is jsonrpc.Request else None  # type: ignore[union-attr]
            return _error(400, id_, INVALID_REQUEST, SESSION_REQUIRED)
        return self._in_session(request, message, raw_id.decode("latin-1").strip())

    async def _initialize(self, message: jsonrpc.Request) -> Response:
        body = self._methods.handle(message)
        assert type(body) is bytes  # initialize answers at once
        answer = orjson.loads(body)
        result = answer.get("result")
        if result is None:  # refused (invalid params): no session
            return 200, _JSON, body
        capabilities = result["capabilities"]
        if "resources" in capabilities:  # subscriptions need a session's GET stream: offered in this mode only
            capabilities["resources"] = {**capabilities["resources"], "subscribe": True}
        declared = (message.params or {}).get("capabilities")
        session = await self._store.create(
            protocol_version=result["protocolVersion"],
            client_capabilities=declared if isinstance(declared, dict) else {},
            slot=self._slot,
        )
        headers = _JSON + b"mcp-session-id: " + session.id.encode() + b"\r\n"
        return 200, headers, orjson.dumps(answer)

    async def _in_session(self, request: HttpRequest, message: jsonrpc.Message, session_id: str) -> Response:
        session = await self._store.get(session_id)
        kind = type(message)
        if session is None:
            id_ = message.id if kind is jsonrpc.Request else None  # type: ignore[union-attr]
            return _error(404, id_, INVALID_REQUEST, SESSION_UNKNOWN)
        if kind is jsonrpc.Request:
            return await self._request(request, message, session)  # type: ignore[arg-type]
        if kind is jsonrpc.Notification:
            if message.method == "notifications/cancelled" and self.endpoint is not None:  # type: ignore[union-attr]
                self.endpoint.cancel(session.id.encode(), message.params)  # type: ignore[union-attr]
            return ACCEPTED
        return await self._answer(request, session)

    async def _request(self, request: HttpRequest, message: jsonrpc.Request, session: Session) -> Response:
        method = message.method
        params = message.params or {}
        if method == "logging/setLevel" and type(params.get("level")) is str and params["level"] in LEVEL_RANK:
            await self._store.set_log_level(session.id, params["level"])
        elif method in SUBSCRIBE_METHODS:
            return await self._subscription(message, session)
        reply = self._methods.handle(message, (request, session))
        if type(reply) is not bytes:
            endpoint = self.endpoint
            assert endpoint is not None
            reply = await endpoint.cancellable(reply, (session.id.encode(), message.id))  # type: ignore[arg-type]
        return 200, _JSON, reply

    async def _subscription(self, message: jsonrpc.Request, session: Session) -> Response:
        uri = (message.params or {}).get("uri")
        refused = subscription_refusal(message.method, uri)
        if refused is not None or not isinstance(uri, str):  # a str whenever there is no refusal
            return _error(200, message.id, INVALID_PARAMS, str(refused))
        if message.method == "resources/subscribe":
            if not await self._store.subscribe(session.id, uri):
                return _error(200, message.id, INVALID_PARAMS, SUBSCRIPTIONS_FULL)
        else:
            await self._store.unsubscribe(session.id, uri)
        return 200, _JSON, jsonrpc.encode_result(message.id, {})

    async def _answer(self, request: HttpRequest, session: Session) -> Response:
        """A client's response to a server-to-client request: relayed to the worker whose tool waits for it."""
        try:
            answer = orjson.loads(request.body)
        except orjson.JSONDecodeError:  # jsonrpc.decode has read it already; kept for safety
            return _error(400, None, INVALID_REQUEST, MALFORMED_ANSWER)
        if not _well_formed(answer):
            return _error(400, None, INVALID_REQUEST, MALFORMED_ANSWER)
        if not await self._store.deliver(session.id, answer["id"], answer):
            return _error(400, None, INVALID_REQUEST, NOT_AN_ANSWER)
        return ACCEPTED

    # -- GET and DELETE --------------------------------------------------------------------------------------------

    def other_method(self, request: HttpRequest) -> Reply[Response]:
        if request.method == b"GET":
            if not self._sse[request.headers.get(b"accept")]:
                return _error(406, None, INVALID_REQUEST, "Not Acceptable: Accept must include text/event-stream")
            return self._with_session(request, self._listen)
        if request.method == b"DELETE":
            return self._with_session(request, self._end)
        return 405, _ALLOW, jsonrpc.encode_error(None, INVALID_REQUEST, "Method not allowed: use POST, GET or DELETE")

    def _with_session(self, request: HttpRequest, then_: Any) -> Reply[Response]:
        raw_id = request.headers.get(b"mcp-session-id")
        if not raw_id or raw_id.isspace():
            return _error(400, None, INVALID_REQUEST, SESSION_REQUIRED)
        return then_(request, raw_id.decode("latin-1").strip())  # type: ignore[no-any-return]

    async def _end(self, _request: HttpRequest, session_id: str) -> Response:
        if not await self._store.end(session_id):
            return _error(404, None, INVALID_REQUEST, SESSION_UNKNOWN)
        return ENDED

    async def _listen(self, request: HttpRequest, session_id: str) -> Response:
        session = await self._store.get(session_id)
        if session is None:
            return _error(404, None, INVALID_REQUEST, SESSION_UNKNOWN)
        inbox = await self._store.expect(session.id, STREAM_KEY)
        try:
            stream = request.open_stream(SSE_HEADERS, _no_last)
            if stream is None:
                return ENDED
            standalone = StandaloneStream(stream, priming=session.protocol_version >= "2025-11-25")

            async def alive() -> bool:
                return await self._store.get(session.id) is not None

            await standalone.pump(inbox, alive)
        except StreamReplaced:
            pass  # the session's newer GET stream serves it now
        except SessionEnded:
            pass  # DELETE, on any worker, or its lifetime: nothing more for this stream
        finally:
            inbox.close()
        return ENDED


def _no_last(_body: bytes) -> bytes:
    return b""


def _well_formed(answer: Any) -> bool:
    if type(answer) is not dict or answer.get("jsonrpc") != "2.0" or type(answer.get("id")) is not str:
        return False
    if "result" in answer:
        return "error" not in answer and type(answer["result"]) is dict
    error = answer.get("error")
    return type(error) is dict and type(error.get("code")) is int and type(error.get("message")) is str
