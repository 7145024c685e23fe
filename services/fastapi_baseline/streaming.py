"""SSE responses for a request that talks to its client while it runs (Streamable HTTP, handshake era).

A `tools/call` whose tool takes a `ToolContext` gets a `StreamPeer` when the client's `Accept` admits
`text/event-stream`. The tool runs in its own task; the route waits for whichever comes first: the tool's answer
(then it answers plain JSON, exactly as without a peer) or the tool's first message to the client (then it answers
`text/event-stream`: a priming event for 2025-11-25 clients, the notifications and server-to-client requests as the
tool sends them, the JSON-RPC response, end of stream). The decision is lazy, so a tool that sends nothing costs one
task and never a stream; a tool without a `ToolContext` never gets here.

Server-to-client requests (`sampling/createMessage`, `elicitation/create`, `roots/list`) carry ids
`s-<worker tag>-<n>`; the client answers each with a POST of a JSON-RPC response, which `Waiting.settle` hands to
the waiting tool when it reaches this worker. A client that goes away does not cancel the tool in the handshake era
(the Streamable HTTP transport, 2025-11-25: a disconnection "SHOULD NOT be interpreted as the client cancelling its
request"); the tool finishes and its later messages are dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi.sse import format_sse_event
from pydantic_core import to_json

from services.tools.context import InputRequest, LogLevel, ToolError

log = logging.getLogger("mcpstack.fastapi")

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""RFC 5424 severities in the order MCP's `logging/setLevel` compares them."""
LEVEL_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

PRIMING_VERSIONS = frozenset({"2025-11-25"})
"""Revisions whose clients expect the priming event (an event id and empty data) first on a stream; older clients
would try to parse its empty data as a message."""

CAPABILITY_OF = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
"""The client capability each server-to-client request needs."""

WORKER_TAG = secrets.token_hex(4)
"""Names this worker in the ids of its server-to-client requests, so an answer that reaches another worker is
recognised as not its own."""
_SERVER_ID = re.compile(r"s-([0-9a-f]{8})-[0-9]+")


class Waiting:
    """The server-to-client requests of this worker whose answers have not arrived yet."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._numbers = itertools.count(1)

    def issue(self) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        id_ = f"s-{WORKER_TAG}-{next(self._numbers)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._futures[id_] = future
        return id_, future

    def forget(self, id_: str) -> None:
        self._futures.pop(id_, None)

    def abandon(self, id_: str) -> None:
        """The stream that carried the request has ended: its answer can no longer be expected."""
        future = self._futures.pop(id_, None)
        if future is not None and not future.done():
            future.set_exception(ToolError("The client's stream ended before it answered."))

    def settle(self, id_: Any, result: Any, error: Any) -> str | None:
        """Hand a client's answer to the tool waiting for it; returns why it cannot be accepted, or None.

        An answer to an id this worker never issued (another worker's, or a client's own numbering) is accepted
        and dropped, as any client response is; one that answers this worker's request with a malformed result or
        error is refused (and the waiting tool told so), since a tool must not wait for an answer that never comes.
        """
        if not isinstance(id_, str):
            return None
        future = self._futures.get(id_)
        if future is None:
            match = _SERVER_ID.fullmatch(id_)
            if match is not None and match.group(1) == WORKER_TAG:
                return f"no request with id {id_} is waiting for an answer (answered already, or given up)"
            return None
        del self._futures[id_]
        problem = _answer_problem(result, error)
        if future.done():
            return None
        if problem is not None:
            future.set_exception(ToolError(f"The client's answer was malformed: {problem}."))
            return problem
        future.set_result({"result": result} if error is None else {"error": error})
        return None


def _answer_problem(result: Any, error: Any) -> str | None:
    if error is not None:
        if not isinstance(error.get("code"), int) or isinstance(error.get("code"), bool):
            return "error.code must be an integer"
        if not isinstance(error.get("message"), str):
            return "error.message must be a string"
        return None
    if not isinstance(result, dict):
        return "result must be an object"
    return None


def accepts_sse(accept: str) -> bool:
    """Whether an `Accept` header admits `text/event-stream` (wildcards included)."""
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in ("text/event-stream", "text/*", "*/*"):
            return True
    return False


class StreamPeer:
    """The client at the other end of one SSE-capable request (a `Peer`, services/tools/context.py)."""

    def __init__(
        self,
        *,
        progress_token: str | int | None,
        min_log_rank: int,
        waiting: Waiting,
        client_capabilities: Mapping[str, Any] | None,
        priming: bool,
    ) -> None:
        self.progress_token = progress_token
        self.min_log_rank = min_log_rank
        self.waiting = waiting
        self.client_capabilities = client_capabilities
        self.priming = priming
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False  # the stream has ended (or was never opened): later messages are dropped
        self._queue: list[bytes] = []
        self._wakeup = asyncio.Event()
        self._final: bytes | None = None
        self._finished = False
        self._asked: list[str] = []

    # -- Peer ----------------------------------------------------------------------------------------------------

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        if LEVEL_RANK.get(level, 0) < self.min_log_rank:
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        self._send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        if self.client_capabilities is not None:
            missing = sorted(
                {CAPABILITY_OF[r.method] for r in requests.values() if r.method in CAPABILITY_OF}
                - set(self.client_capabilities)
            )
            if missing:
                raise ToolError(
                    f"This tool needs the client capability {', '.join(missing)}, which it did not declare."
                )
        if self.closed:
            raise ToolError("The client is no longer listening on this request's stream, so it cannot be asked.")
        issued: list[tuple[str, str, asyncio.Future[dict[str, Any]]]] = []
        try:
            for name, request in requests.items():
                id_, future = self.waiting.issue()
                issued.append((name, id_, future))
                self._asked.append(id_)
                self._send({"jsonrpc": "2.0", "id": id_, "method": request.method, "params": dict(request.params)})
            answers: dict[str, Any] = {}
            for name, _, future in issued:
                answer = await future
                if "error" in answer:
                    error = answer["error"]
                    raise ToolError(
                        f"The client refused {requests[name].method} ({error['code']}): {str(error['message'])[:200]}"
                    )
                answers[name] = answer["result"]
            return answers
        finally:
            for _, id_, _ in issued:
                self.waiting.forget(id_)

    @property
    def round_state(self) -> str | None:
        return None

    # -- the stream ----------------------------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        self._queue.append(to_json(message))
        self._wakeup.set()
        if not self.opened.done():
            self.opened.set_result(None)

    def finish(self, final: bytes | None) -> None:
        """The request's JSON-RPC response (None: none is due, the request was cancelled): the stream's last event."""
        self._final = final
        self._finished = True
        self._wakeup.set()

    def decline(self) -> None:
        """The request is answered as plain JSON: nothing more goes to the client."""
        self.closed = True

    async def events(
        self, task: asyncio.Task[Any], on_disconnect: Callable[[asyncio.Task[Any]], None]
    ) -> AsyncIterator[bytes]:
        """The SSE body: priming event, the queued messages as they come, the response, end of stream."""
        numbers = itertools.count()
        finished = False
        try:
            if self.priming:
                yield format_sse_event(id=str(next(numbers)), data_str="")
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue:
                    data = self._queue.pop(0)
                    yield format_sse_event(event="message", id=str(next(numbers)), data_str=data.decode())
                if self._finished:
                    finished = True
                    if self._final is not None:
                        yield format_sse_event(event="message", id=str(next(numbers)), data_str=self._final.decode())
                    return
        finally:
            self.closed = True
            for id_ in self._asked:
                self.waiting.abandon(id_)
            if not finished:
                on_disconnect(task)
