"""SSE responses for a request that talks to its client while it runs (Streamable HTTP, handshake era).

A `tools/call` whose tool takes a `ToolContext` gets a `StreamPeer` when the client's `Accept` admits
`text/event-stream`, and the route answers a `ToolCallResponse`, which runs the tool inline (no task of its own) and
decides the answer as it goes: plain JSON, byte for byte as without a peer, if the tool finishes without a word to the
client; else `text/event-stream`, opened by the tool's first message: a priming event for 2025-11-25 clients (an event
id and empty data), the notifications and server-to-client requests as the tool sends them, the JSON-RPC response,
end of stream. A tool without a `ToolContext` never gets here.

Server-to-client requests (`sampling/createMessage`, `elicitation/create`, `roots/list`) carry ids
`s-<worker tag>-<n>`; the client answers each with a POST of a JSON-RPC response. The answer travels through the
relay of the session store (services/sessions.py): with sessions, from whichever worker the POST reached to the one
whose tool waits; stateless, within this worker (session ""). A client that goes away does not cancel the tool in
the handshake era (the Streamable HTTP transport, 2025-11-25: a disconnection "SHOULD NOT be interpreted as the client
cancelling its request"); the tool finishes and its later messages are dropped. A question it is waiting on ends at
once, though (no resumable stream could carry the call's response on), as it does when the session ends.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from fastapi import Response
from fastapi.sse import format_sse_event
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from services.sessions import (
    ENDED_BEFORE_ANSWER,
    LEFT_BEFORE_ANSWER,
    LEVEL_RANK,
    Inbox,
    Session,
    SessionEnded,
    SessionStore,
    ask_session,
)
from services.tools.context import NO_PEER, InputRequest, LogLevel, Peer, ToolError

log = logging.getLogger("mcpstack.fastapi")


PRIMING_VERSIONS = frozenset({"2025-11-25"})
"""Revisions whose clients expect the priming event (an event id and empty data) first on a stream; older clients
would try to parse its empty data as a message."""

ASK_TIMEOUT_S = 300.0
"""How long a tool waits for the client's answer to a server-to-client request (its own deadline may be shorter)."""

SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]

WORKER_TAG = secrets.token_hex(4)
"""Names this worker in the ids of its server-to-client requests, so an answer that reaches another worker is
recognised as not its own."""
_SERVER_ID = re.compile(r"s-([0-9a-f]{8})-[0-9]+")
_ABANDONED = "abandoned"  # put in an open question's inbox when its stream ends


def ours(id_: Any) -> bool:
    """Whether `id_` names a server-to-client request this worker sent."""
    if not isinstance(id_, str):
        return False
    match = _SERVER_ID.fullmatch(id_)
    return match is not None and match.group(1) == WORKER_TAG


_numbers = itertools.count(1)

STREAM: ContextVar[Peer] = ContextVar("mcpstack_fastapi_stream", default=NO_PEER)
"""The 2026-07-28 era's request stream, for the round trip's peer to send its notifications on (set while a
`ToolCallResponse` runs the era's tools/call handler, whatever wraps it: the tasks extension does)."""


def next_request_id() -> str:
    return f"s-{WORKER_TAG}-{next(_numbers)}"


def answer_problem(result: Any, error: Any) -> str | None:
    """What is wrong with a client's answer to a server-to-client request (None: nothing)."""
    if error is not None:
        if not isinstance(error.get("code"), int) or isinstance(error.get("code"), bool):
            return "error.code must be an integer"
        if not isinstance(error.get("message"), str):
            return "error.message must be a string"
        return None
    if not isinstance(result, dict):
        return "result must be an object"
    return None


class StreamPeer:
    """The client at the other end of one SSE-capable request (a `Peer`, services/tools/context.py). `session` is None
    in stateless mode: no level set, so every log message goes out; no way to receive answers, so questions are
    refused."""

    def __init__(
        self,
        *,
        progress_token: str | int | None,
        session: Session | None,
        store: SessionStore | None,
        priming: bool,
        log_floor: int | None = 0,
        cancel_on_disconnect: bool = False,
    ) -> None:
        self.progress_token = progress_token
        self.log_floor = log_floor  # the least severe level sent without a session (None: no log goes out)
        self.cancel_on_disconnect = cancel_on_disconnect  # 2026-07-28: a client that leaves cancels its request
        self.disconnected = False
        self.session = session
        self.store = store
        self.priming = priming
        self.send: Send | None = None  # the ASGI send of the response, once it runs
        self.receive: Receive | None = None  # the ASGI receive of the request: a question waits on its disconnect
        self.started = False  # the SSE response has begun
        self.closed = False  # the stream has ended, or the answer is plain JSON: later messages are dropped
        self._lock: asyncio.Lock | None = None
        self._token = ""  # event ids <token>.<n>, unique per stream (no replay offered); drawn when it opens
        self._events = 0
        self._inboxes: list[Inbox] = []

    # -- Peer ----------------------------------------------------------------------------------------------------

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        if self.session is not None:
            if not self.session.logs(level):
                return
        elif self.log_floor is None or LEVEL_RANK.get(level, 0) < self.log_floor:
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        session, store = self.session, self.store
        methods = ", ".join(sorted({request.method for request in requests.values()}))
        if session is None or store is None:
            raise ToolError(
                f"This tool needs input from the client ({methods}), which needs a session: this server runs "
                "stateless (MCP_STATEFUL=1 turns sessions on), or the request carried no Mcp-Session-Id."
            )
        ask_session(requests, session)
        if self.closed:
            raise ToolError(f"The client's stream ended before it could be asked ({methods}).")
        inboxes: list[tuple[str, Inbox]] = []
        watch = None if self.receive is None else asyncio.get_running_loop().create_task(self._watch(self.receive))
        try:
            for name, request in requests.items():
                id_ = next_request_id()
                inbox = await store.expect(session.id, id_)  # before sending: the answer cannot race it
                inboxes.append((name, inbox))
                self._inboxes.append(inbox)
                await self._send(
                    {"jsonrpc": "2.0", "id": id_, "method": request.method, "params": dict(request.params)}
                )
            answers: dict[str, Any] = {}
            for name, inbox in inboxes:
                method = requests[name].method
                try:
                    answer = await inbox.get(ASK_TIMEOUT_S)
                except TimeoutError:
                    raise ToolError(f"The client did not answer {method} within {ASK_TIMEOUT_S:g} s.") from None
                except SessionEnded:
                    raise ToolError(ENDED_BEFORE_ANSWER.format(method)) from None
                if answer.get(_ABANDONED):
                    raise ToolError(LEFT_BEFORE_ANSWER.format(method))
                result, error = answer.get("result"), answer.get("error")
                problem = answer_problem(result, error)
                if problem is not None:
                    raise ToolError(f"The client's answer to {method} was malformed: {problem}.")
                if error is not None:
                    raise ToolError(f"The client refused {method} ({error['code']}): {str(error['message'])[:200]}")
                answers[name] = result
            return answers
        finally:
            if watch is not None:
                watch.cancel()
            for _, inbox in inboxes:
                inbox.close()

    async def _watch(self, receive: Receive) -> None:
        """While a question waits: the request's disconnect (the body has been read, so the next ASGI message is
        that) abandons it at once. The tool goes on (in the handshake era a disconnect is no cancellation); it only
        stops waiting for an answer that no stream could carry on to its client."""
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        self._gone()

    @property
    def round_state(self) -> str | None:
        return None

    # -- the stream ----------------------------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        """Write one message; the first opens the SSE response (its headers, then the priming event)."""
        if self.closed or self.send is None:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()  # a tool may send from several coroutines: one event at a time
        async with self._lock:
            try:
                if not self.started:
                    self.started = True
                    self._token = secrets.token_hex(4)
                    await self.send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                    if self.priming:
                        await self._write(format_sse_event(id=self._next_id(), data_str=""))
                await self._write(format_sse_event(event="message", id=self._next_id(), data_str=_text(message)))
            except OSError:  # the client went away (uvicorn's ClientDisconnected)
                self._gone()
                self.disconnected = True
                if self.cancel_on_disconnect:  # 2026-07-28; in the handshake era the tool finishes unheard
                    raise asyncio.CancelledError from None

    async def finish(self, final: bytes) -> None:
        """The request's JSON-RPC response, as the stream's last event; then the end of the stream."""
        if self.send is None or self.closed:
            return
        try:
            await self._write(format_sse_event(event="message", id=self._next_id(), data_str=final.decode()))
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass
        self._gone()

    async def _write(self, chunk: bytes) -> None:
        assert self.send is not None
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    def _next_id(self) -> str:
        self._events += 1
        return f"{self._token}.{self._events}"

    def _gone(self) -> None:
        self.closed = True
        for inbox in self._inboxes:  # a question still open can no longer be answered
            inbox.put({_ABANDONED: True})


def _text(message: dict[str, Any]) -> str:
    return to_json(message).decode()


class ToolCallResponse(Response):
    """The answer to a tools/call whose tool may talk to the client, decided while the tool runs (inline, in the
    request's own task): plain JSON if it finishes without a word to the client, else the SSE stream its first
    message opened (`StreamPeer`), ended by the JSON-RPC response."""

    def __init__(self, run: Callable[[], Awaitable[tuple[int, bytes]]], peer: StreamPeer) -> None:
        # Not Response.__init__: this response writes its own headers when it knows them (FastAPI reads `background`).
        self.status_code = 200
        self.background = None
        self.run = run
        self.peer = peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = self.peer
        peer.send = send
        peer.receive = receive
        try:
            status, body = await self.run()
        except asyncio.CancelledError:
            if peer.disconnected and peer.cancel_on_disconnect:
                return  # the client left and so cancelled its request: nobody to answer
            raise
        if peer.started:
            await peer.finish(body)
            return
        peer.closed = True
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
