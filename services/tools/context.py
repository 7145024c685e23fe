"""What a tool sees of its surroundings: a database handle and the errors it may raise.

`Database` is the slice of asyncpg's API the tools use; an `asyncpg.Pool` satisfies it, and so does the native
server's fixed connection set. Tools never import a server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import orjson


class Database(Protocol):
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...


class ToolError(Exception):
    """A business-rule failure: the message goes to the model as an `isError` result, so make it actionable."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now (raised by connection sets when failing fast)."""


class _NoDatabase:
    async def _fail(self, *_: Any, **__: Any) -> Any:
        raise DatabaseUnavailable("no database is configured for this server")

    fetch = fetchrow = fetchval = execute = _fail


LogLevel = str
"""An RFC 5424 severity as MCP names it: debug, info, notice, warning, error, critical, alert, emergency."""


class InputRequest(NamedTuple):
    """One question a tool puts to the client: a server-to-client method (`elicitation/create`,
    `sampling/createMessage`, `roots/list`) and its params, as the MCP schema defines them."""

    method: str
    params: Mapping[str, Any]


class Peer(Protocol):
    """The client at the other end of one request, as far as a tool may talk to it while it runs.

    Each server supplies its own: over an SSE response in the handshake era (notifications and server-to-client
    requests on the request's stream), and as multi-round-trip requests in the 2026-07-28 era (`ask` either returns
    the answers the retried request carries or raises `InputRequired`, which the MCP layer turns into an
    `InputRequiredResult` with a signed `requestState`). A tool is written once for both.
    """

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress; dropped unless the request carried a `progressToken`."""
        ...

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        """Send a `notifications/message`; dropped below the level the client set."""
        ...

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        """Put named questions to the client and return its answers by name (each a result object).

        `state` is the tool's own opaque progress between rounds (multi-round tools); the answers of a retried
        request come back with it, via `round_state`. Raises `ToolError` when the client did not declare the
        capability a question needs.
        """
        ...

    @property
    def round_state(self) -> str | None:
        """The `state` the tool passed to the `ask` that led to this (retried) request, else None."""
        ...


class InputRequired(Exception):
    """Raised by a 2026-07-28 era `Peer.ask`: the MCP layer answers with an `InputRequiredResult`."""

    def __init__(self, requests: Mapping[str, InputRequest], state: str | None = None) -> None:
        super().__init__("input required")
        self.requests = requests
        self.state = state


class RequestRefused(Exception):
    """Raised by a 2026-07-28 era `Peer.ask` when the request, not the tool, is at fault: the client did not declare
    the capability a question needs (`capability` names it, e.g. "sampling"), or an answer in `inputResponses` does
    not fit its question (`capability` is None). The MCP layer answers with a JSON-RPC error, not an `isError`
    result; the tool registry lets it through like `InputRequired`."""

    def __init__(self, message: str, *, capability: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.capability = capability


CAPABILITY_OF: Mapping[str, str] = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}
"""The client capability (a key of `ClientCapabilities`) each server-to-client method needs."""


class _NoPeer:
    """A request with no way back to its client (a plain JSON response, or a caller outside MCP)."""

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        return None

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        raise ToolError(
            "This tool needs input from the client ("
            + ", ".join(sorted({request.method for request in requests.values()}))
            + "), which this request cannot carry."
        )

    @property
    def round_state(self) -> str | None:
        return None


NO_PEER: Peer = _NoPeer()


class DeferredPeer:
    """A request's peer built on its first use: most tools that take a ToolContext want only its database (a read, a
    write) and never talk to their client, so the server hands them this instead of building the request's stream
    and peer for every call. `make` builds the request's own peer (never one shared with another request) at most once;
    until then this holds only `make`."""

    __slots__ = ("_make", "_peer")

    def __init__(self, make: Callable[[], Peer]) -> None:
        self._make: Callable[[], Peer] | None = make
        self._peer: Peer | None = None

    def _built(self) -> Peer:
        peer = self._peer
        if peer is None:
            assert self._make is not None
            peer = self._peer = self._make()
            self._make = None  # the request, its channel: not kept longer than the peer needs them
        return peer

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        await self._built().progress(progress, total, message)

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        await self._built().log(level, data, logger)

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        return await self._built().ask(requests, state)

    @property
    def round_state(self) -> str | None:
        return self._built().round_state


class ToolContext(NamedTuple):
    """Passed to a tool that declares a parameter annotated `ToolContext` (it does not appear in the schema)."""

    db: Database
    request_id: str | int | orjson.Fragment | None = None  # a Fragment: a wide integer id's exact digits
    peer: Peer = NO_PEER
    # The capabilities the client declared (2026-07-28: `_meta`'s clientCapabilities), or None when the server cannot
    # know them (a stateless handshake-era request). A tool that can do without a question asks only what fits.
    client_capabilities: Mapping[str, Any] | None = None


NO_DATABASE: Database = _NoDatabase()
