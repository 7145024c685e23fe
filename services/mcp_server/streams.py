"""Server-sent events for the native server: a request's SSE response, opened only when its tool talks
to the client, and the peer (services/tools/context.py) that talks through it.

A tools/call answers plain JSON unless, before it finishes, its tool reports progress (for the request's
`_meta.progressToken`), logs (`notifications/message`) or asks the client something (sampling, elicitation, roots;
stateful mode only, for a client that declared the capability). The first such message opens the response as
`text/event-stream` (services/mcp_server/wire.py streams it chunked): a priming event for 2025-11-25 clients (an event
id and empty data), the messages as they come, and the JSON-RPC response as the last event, then the end of the
stream. A client whose Accept lacks text/event-stream gets no stream: its notifications are dropped and questions
refused. In the 2026-07-28 era the same stream carries progress and the logs at or above `_meta`'s log level (no
priming event; questions are multi-round-trip requests there, services/round_trips.py). The session's standalone GET
stream (stateful mode) is framed here too.

Nothing here decides a route or encodes a tool result; it sits beside the transport, under it in no way but the
peer factory it hands to the MCP methods.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from services.mcp_server import jsonrpc
from services.mcp_server.wire import HttpRequest, ResponseStream
from services.protocol import META_LOG_LEVEL, STATELESS_VERSION, accepts_sse
from services.sessions import (
    ENDED_BEFORE_ANSWER,
    LEFT_BEFORE_ANSWER,
    LEVEL_RANK,
    LOG_LEVELS,
    Inbox,
    Session,
    SessionEnded,
    SessionStore,
    ask_session,
)
from services.tools.context import NO_PEER, InputRequest, LogLevel, Peer, ToolError

SSE_HEADERS = b"content-type: text/event-stream\r\ncache-control: no-cache\r\n"
PRIMING_VERSION = "2025-11-25"  # the revision that introduced the priming event
ASK_TIMEOUT_S = 300.0
"""How long a tool waits for the client's answer to a server-to-client request (its own deadline may be shorter)."""
ANSWER_CHECK_S = 1.0
"""How often a waiting question looks at its request's connection (the wire layer calls nobody when one closes, and
keeps a half-closed one open for the response)."""

NO_LOGS = len(LOG_LEVELS)
"""A log floor above every level: the request asked for no log messages."""

REQUEST_CANCELLED = -32800
"""The error a request cancelled by `notifications/cancelled` ends with: the HTTP exchange must end with something,
and the client, which cancelled it, ignores it."""


def sse_event(data: bytes, event_id: str | None = None) -> bytes:
    """One event: an optional id line, then the data (one line: JSON as orjson writes it has no line break)."""
    head = b"id: " + event_id.encode() + b"\n" if event_id is not None else b""
    return head + b"data: " + data + b"\n\n"


class RequestStream:
    """The SSE response of one request, opened at its first message. Event ids are `<stream token>.<n>`, unique per
    stream; no event is stored for replay (a client that loses the stream loses its messages: no resumption)."""

    __slots__ = ("_counter", "_priming", "_request", "_stream", "_token")

    def __init__(self, request: HttpRequest, *, priming: bool) -> None:
        self._request = request
        self._priming = priming
        self._stream: ResponseStream | None = None
        self._token = ""
        self._counter = itertools.count(1)

    def _next_id(self) -> str:
        return f"{self._token}.{next(self._counter)}"

    def _open(self) -> ResponseStream | None:
        if self._stream is None:
            self._token = secrets.token_hex(6)
            self._stream = self._request.open_stream(SSE_HEADERS, self._last)
            if self._stream is not None and self._priming:
                self._stream.send(sse_event(b"", self._next_id()))
        return self._stream

    def _last(self, body: bytes) -> bytes:
        return sse_event(body, self._next_id())

    @property
    def closed(self) -> bool:
        """Whether the response was opened and its connection is gone since."""
        return self._stream is not None and self._stream.closed

    def keep_alive(self) -> None:
        """An SSE comment (clients ignore it): a client that closed its end answers it with a reset, and the
        connection is then seen closed. A client that only half-closed, still reading, is not disturbed."""
        if self._stream is not None and not self._stream.closed:
            self._stream.send(b": waiting\n\n")

    def send(self, message: Mapping[str, Any]) -> bool:
        """Write one JSON-RPC message as an event; False when it cannot reach the client (the request is answered,
        or its connection gone)."""
        stream = self._open()
        if stream is None or stream.closed:
            return False
        stream.send(sse_event(orjson.dumps(message), self._next_id()))
        return True


class StreamPeer:
    """The handshake era's peer: notifications and questions on the request's SSE stream. `session` is None in
    stateless mode (no level set: every log message goes out; no way to receive answers: questions are refused)."""

    __slots__ = ("_log_floor", "_progress_token", "_session", "_store", "_stream")

    def __init__(
        self,
        stream: RequestStream,
        *,
        progress_token: str | int | None,
        session: Session | None,
        store: SessionStore | None,
        log_floor: int | None = None,
    ) -> None:
        self._stream = stream
        self._progress_token = progress_token
        self._session = session
        self._store = store
        self._log_floor = log_floor  # the lowest LEVEL_RANK sent (2026-07-28: from `_meta`); None: the session's

    # int | float, not float: a compiled build turns an int passed as `float` into a float (0 would go out as 0.0).
    async def progress(
        self, progress: int | float, total: int | float | None = None, message: str | None = None
    ) -> None:
        if self._progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self._progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._stream.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        if self._session is not None and not self._session.logs(level):
            return
        if self._log_floor is not None and LEVEL_RANK.get(level, 0) < self._log_floor:
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        self._stream.send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        session, store = self._session, self._store
        methods = ", ".join(sorted({request.method for request in requests.values()}))
        if session is None or store is None:
            raise ToolError(
                f"This tool needs input from the client ({methods}), which needs a session: this server runs "
                "stateless (MCP_STATEFUL=1 turns sessions on), or the request carried no Mcp-Session-Id."
            )
        ask_session(requests, session)
        asked: dict[str, tuple[str, Any]] = {}
        try:
            for name, request in requests.items():
                key = "s-" + secrets.token_urlsafe(12)  # the JSON-RPC id of the server's request: unguessable
                asked[name] = (key, await store.expect(session.id, key))
                message = {"jsonrpc": "2.0", "id": key, "method": request.method, "params": dict(request.params)}
                if not self._stream.send(message):
                    raise ToolError(f"The client's connection closed before it could be asked ({methods}).")
            answers: dict[str, Any] = {}
            deadline = asyncio.get_running_loop().time() + ASK_TIMEOUT_S
            for name, (_key, inbox) in asked.items():
                reply = await self._answer(inbox, requests[name].method, deadline)
                error = reply.get("error")
                if error is not None:
                    raise ToolError(
                        f"The client refused {requests[name].method}: {str(error.get('message', ''))[:200]}"
                    )
                answers[name] = reply.get("result")
            return answers
        finally:
            for _key, inbox in asked.values():
                inbox.close()

    async def _answer(self, inbox: Inbox, method: str, deadline: float) -> dict[str, Any]:
        """The client's answer, or a ToolError once it cannot come: the session ended (at once, through the store),
        the request's connection closed (found within about two ANSWER_CHECK_S: a comment written on the stream each
        time draws the reset of a client that has gone, which closes the connection), or the deadline passed."""
        loop = asyncio.get_running_loop()
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise ToolError(f"The client did not answer {method} within {ASK_TIMEOUT_S:g} s.")
            try:
                return await inbox.get(min(left, ANSWER_CHECK_S))
            except SessionEnded:
                raise ToolError(ENDED_BEFORE_ANSWER.format(method)) from None
            except TimeoutError:
                if self._stream.closed:
                    raise ToolError(LEFT_BEFORE_ANSWER.format(method)) from None
                self._stream.keep_alive()

    @property
    def round_state(self) -> str | None:
        return None


_SSE_VERDICT_CACHE_SIZE = 512


class SseAccept(dict[bytes | None, bool]):
    """Whether an Accept header admits `text/event-stream` (a wildcard does; an absent header does not: MCP clients
    name both types), computed once per distinct value, bounded."""

    def __missing__(self, accept: bytes | None) -> bool:
        verdict = accept is not None and accepts_sse(accept.decode("latin-1"))
        if len(self) >= _SSE_VERDICT_CACHE_SIZE:
            self.clear()
        self[accept] = verdict
        return verdict


class Peers:
    """The peer factory the transport hands to the MCP methods (`McpMethods(peers=…)`): called only for a tool that
    takes a ToolContext, with the channel the transport passed along with the request (an HttpRequest, or an
    (HttpRequest, Session) pair in stateful mode)."""

    def __init__(self, *, store: SessionStore | None) -> None:
        self._accepts_sse = SseAccept()
        self._store = store

    def __call__(self, request: jsonrpc.Request, channel: Any) -> Peer:
        if type(channel) is tuple:
            http, session = channel
        else:
            http, session = channel, None
        if not self._accepts_sse[http.headers.get(b"accept")]:
            return NO_PEER
        meta = (request.params or {}).get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if type(token) is not str and type(token) is not int:
            token = None
        version = session.protocol_version if session is not None else _header(http, b"mcp-protocol-version")
        stream = RequestStream(http, priming=version == PRIMING_VERSION)
        if version == STATELESS_VERSION:
            # 2026-07-28: questions are multi-round-trip requests (services/round_trips.py wraps this peer), and logs
            # go out only at or above the level the request's `_meta` names, none without one.
            level = meta.get(META_LOG_LEVEL) if isinstance(meta, dict) else None
            floor = LEVEL_RANK.get(level, NO_LOGS) if type(level) is str else NO_LOGS
            return StreamPeer(stream, progress_token=token, session=None, store=None, log_floor=floor)
        return StreamPeer(stream, progress_token=token, session=session, store=self._store)


def _header(request: HttpRequest, name: bytes) -> str | None:
    value = request.headers.get(name)
    return None if value is None else value.decode("latin-1").strip()


class StandaloneStream:
    """A session's GET stream (stateful mode): a priming event, then whatever the session's inbox receives
    (`notifications/resources/updated`), until the client goes away or the session ends."""

    def __init__(self, stream: ResponseStream, *, priming: bool) -> None:
        self._stream = stream
        self._token = secrets.token_hex(6)
        self._counter = itertools.count(1)
        if priming:
            stream.send(sse_event(b"", self._next_id()))

    def _next_id(self) -> str:
        return f"{self._token}.{next(self._counter)}"

    async def pump(self, inbox: Any, alive: Any, check_every_s: float = 1.0) -> None:
        """Forward the inbox's messages until the connection closes or `alive()` (the session) says no."""
        while not self._stream.closed and not self._stream.draining:
            try:
                message = await inbox.get(check_every_s)
            except TimeoutError:
                if not await alive():
                    return
                continue
            self._stream.send(sse_event(orjson.dumps(message), self._next_id()))

    def last(self, body: bytes) -> bytes:
        return b""
