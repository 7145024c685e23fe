"""MCP methods of both eras, served statelessly: the handshake era (2025-11-25, 2025-06-18, 2025-03-26; `handle`) and
the 2026-07-28 era (`handle_stateless`: `server/discover`, no initialize/ping/logging, `resultType` on every result,
`ttlMs`/`cacheScope` on lists).

Input: a decoded JSON-RPC request (in the 2026-07-28 era, one whose `_meta` and headers the transport has checked).
Output: the response bytes as a `Reply` (services/tools/reply.py): ready at once for initialize, ping, lists and
synchronous tools, which never touch the event loop; pending for tools that do I/O. Every request is counted in the
metrics here, in one place (`_counted`), whichever form its answer takes. Results that never change (initialize,
server/discover, the first tools/list page) are encoded once at start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from services.mcp_server import jsonrpc
from services.mcp_server.catalogue_methods import CatalogueMethods
from services.mcp_server.faults import Faults, Invocable, with_faults
from services.mcp_server.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from services.mcp_server.metrics import Metrics
from services.mcp_server.task_methods import TaskMethods
from services.protocol import (
    DISCOVER_METHOD,
    ECHO_METHOD_CHARS,
    ECHO_TOOL_CHARS,
    HANDSHAKE_ONLY_METHODS,
    HANDSHAKE_VERSIONS,
    INITIALIZE_PARAMS_INVALID,
    InvalidCursor,
    decode_cursor,
    discover_result,
    encode_cursor,
    stateless_result,
)
from services.request_state import RequestStateSigner, default_signer
from services.round_trips import RoundTrip, RoundTripRefused, refusal
from services.sessions import LEVEL_RANK, LOG_LEVELS
from services.tools.context import (
    NO_PEER,
    Database,
    DeferredPeer,
    InputRequired,
    Peer,
    RequestRefused,
    ToolContext,
)
from services.tools.features import CACHEABLE_METHODS, CatalogueError, Features
from services.tools.registry import ToolRegistry, ToolResult
from services.tools.reply import Reply, pending, then

# A method's answer to one request: the response bytes, then the tool label ("" unless tools/call) and the outcome
# label ("ok", "tool_error" for an isError result, "rpc_error") the request counts under in the metrics. A plain
# tuple: one is made per request, and a named tuple costs several times as much to create.
Answer = tuple[bytes, str, str]
# A 2026-07-28 answer: the JSON-RPC error code (0 for a result), from which the transport picks the HTTP status, and
# the response bytes.
StatelessAnswer = tuple[int, bytes]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    name: str
    version: str
    protocol_versions: tuple[str, ...] = HANDSHAKE_VERSIONS  # newest first
    instructions: str | None = None
    page_size: int = 50


class McpMethods:
    def __init__(
        self,
        *,
        registry: ToolRegistry,
        info: ServerInfo,
        db: Database,
        metrics: Metrics,
        peers: Callable[[jsonrpc.Request, Any], Peer] | None = None,
        signer: RequestStateSigner | None = None,
    ) -> None:
        self._registry = registry
        # Signs and verifies the requestState of multi-round-trip tool calls (2026-07-28); one per process by default.
        self._signer = signer if signer is not None else default_signer()
        # The transport's peer factory (handshake era): called, with the `channel` `handle` was given, only for a
        # tool that takes a ToolContext; `_channel` holds that channel while `handle` runs its route (synchronously).
        self._peers = peers
        self._channel: Any = None
        # With authentication on, the subject of a request's token (services/mcp_server/guard.py, `Guard.caller_of`,
        # given the channel, the HTTP request): a requestState and a task are bound to it. None: authentication off.
        self.caller_of: Callable[[Any], str | None] | None = None
        self._registered: dict[str, Invocable] = {tool.name: tool for tool in registry}
        self._tools = self._registered
        self._info = info
        self._db = db
        self._metrics = metrics
        self._supported = frozenset(info.protocol_versions)
        # Resources, prompts and completion (catalogue_methods.py): routed and advertised only when registered.
        self._catalogue = CatalogueMethods(registry, page_size=info.page_size)
        self._capabilities: dict[str, Any] = {**_CAPABILITIES, **self._catalogue.capabilities}
        self._initialize = {v: orjson.dumps(self._initialize_result(v)) for v in info.protocol_versions}
        descriptors = [tool.descriptor() for tool in registry]
        self._pages = [descriptors[i : i + info.page_size] for i in range(0, len(descriptors), info.page_size)] or [[]]
        self._first_page = orjson.dumps(self._list_page(0))
        # The tasks extension (task_methods.py): 2026-07-28 only, routed and advertised when a tool supports tasks.
        self._tasks = TaskMethods.for_registry(registry, db, self._signer, self._caller)
        self._discover = orjson.dumps(
            discover_result(
                capabilities=self._capabilities
                if self._tasks is None
                else {**self._capabilities, **self._tasks.capabilities},
                server_name=info.name,
                server_version=info.version,
                instructions=info.instructions,
            )
        )
        self._routes: dict[str, Callable[[jsonrpc.Request], Reply[Answer]]] = {
            "initialize": self._on_initialize,
            "ping": self._on_ping,
            "logging/setLevel": self._on_set_level,
            "tools/list": self._on_tools_list,
            "tools/call": self._on_tools_call,
        }
        self._routes.update(self._catalogue.routes)
        # Routes whose answers are already in the 2026-07-28 form: server/discover, and tools/call (the hot path, whose
        # result is written with `resultType` at once). Every other route of `_routes` serves this era too, its result
        # completed by `_stateless_body`.
        self._stateless_routes: dict[str, Callable[[jsonrpc.Request], Reply[Answer]]] = {
            DISCOVER_METHOD: self._on_discover,
            "tools/call": self._on_tools_call_stateless,
        }
        self._stateless_routes.update(self._catalogue.stateless_routes)
        # Prompts that take a ToolContext may ask the client first (prompts/get is a multi-round-trip method too):
        # their prompts/get goes through `_on_prompts_get_stateless`, every other prompt's through the catalogue's.
        if any(prompt.context_param for prompt in registry.prompts):
            self._prompts_get = self._stateless_routes["prompts/get"]
            self._features = Features(registry.resources, registry.prompts, page_size=info.page_size)
            self._stateless_routes["prompts/get"] = self._on_prompts_get_stateless
        if self._tasks is not None:
            self._stateless_routes.update(self._tasks.routes(self._stateless_routes["tools/call"]))

    def handle(self, request: jsonrpc.Request, channel: Any = None) -> Reply[bytes]:
        """A handshake-era request's response bytes (always HTTP 200). `channel` is the transport's way back to the
        client (given to `peers` when a tool asks for its ToolContext)."""
        started = time.perf_counter()
        method = request.method
        route = self._routes.get(method)
        answer: Reply[Answer]
        self._channel = channel
        try:
            if route is None:
                method = "unknown"  # client-chosen names never become metric labels
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {request.method[:ECHO_METHOD_CHARS]}")
            answer = route(request)
        except RpcError as ex:
            answer = jsonrpc.encode_error(request.id, ex.code, ex.message, ex.data), "", "rpc_error"
        finally:
            self._channel = None
        return then(answer, self._counted, (method, started))

    def handle_stateless(self, request: jsonrpc.Request, channel: Any = None) -> Reply[StatelessAnswer]:
        """A 2026-07-28 request's answer: the error code beside the bytes, since in this era the code decides the HTTP
        status (services/protocol.py, STATELESS_ERROR_STATUS). The routes are the handshake era's, without the
        methods this era removed, plus server/discover; their results gain the era's members (`_stateless_body`).
        `channel` is as in `handle`: a tool that takes a ToolContext reports progress and logs through it."""
        started = time.perf_counter()
        method = request.method
        self._channel = channel
        try:
            route = self._stateless_routes.get(method)
            if route is not None:
                return then(route(request), self._counted_complete, (method, started))
            route = None if method in HANDSHAKE_ONLY_METHODS else self._routes.get(method)
            if route is None:
                method = "unknown"
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {request.method[:ECHO_METHOD_CHARS]}")
            return then(route(request), self._counted_stateless, (method, started))
        except RpcError as ex:
            error = jsonrpc.encode_error(request.id, ex.code, ex.message, ex.data)
            return ex.code, self._counted((error, "", "rpc_error"), (method, started))
        finally:
            self._channel = None

    def _counted(self, answer: Answer, timing: tuple[str, float]) -> bytes:
        """The one place a request is counted in the metrics, once its answer is known."""
        body, tool, outcome = answer
        method, started = timing
        self._metrics.record(method, tool, outcome, time.perf_counter() - started)
        return body

    def _counted_stateless(self, answer: Answer, timing: tuple[str, float]) -> StatelessAnswer:
        return 0, _stateless_body(self._counted(answer, timing), timing[0] in CACHEABLE_METHODS)

    def _counted_complete(self, answer: Answer, timing: tuple[str, float]) -> StatelessAnswer:
        if answer[2] == _RPC_ERROR:  # a refusal found only after awaiting (a round trip's): its code sets the status
            return orjson.loads(answer[0])["error"]["code"], self._counted(answer, timing)
        return 0, self._counted(answer, timing)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def _initialize_result(self, version: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "protocolVersion": version,
            # logging/setLevel is a handshake-era method (notifications/message go out on a request's SSE stream)
            "capabilities": {**self._capabilities, "logging": {}},
            "serverInfo": {"name": self._info.name, "version": self._info.version},
        }
        if self._info.instructions:
            result["instructions"] = self._info.instructions
        return result

    def _on_initialize(self, request: jsonrpc.Request) -> Answer:
        params = request.params or {}
        requested = params.get("protocolVersion")
        if not (
            isinstance(requested, str)
            and isinstance(params.get("capabilities"), dict)
            and isinstance(params.get("clientInfo"), dict)
        ):
            raise RpcError(INVALID_PARAMS, INITIALIZE_PARAMS_INVALID)
        version = requested if requested in self._supported else self._info.protocol_versions[0]
        return _with_result(request.id, self._initialize[version]), "", "ok"

    def _on_ping(self, request: jsonrpc.Request) -> Answer:
        return _with_result(request.id, b"{}"), "", "ok"

    def _on_set_level(self, request: jsonrpc.Request) -> Answer:
        """Accepted when the level is one of MCP's; a session remembers it (the transport, in stateful mode)."""
        level = (request.params or {}).get("level")
        if type(level) is not str or level not in LEVEL_RANK:  # a list or an object is no key of it
            raise RpcError(INVALID_PARAMS, "logging/setLevel: level must be one of " + ", ".join(LOG_LEVELS))
        return _with_result(request.id, b"{}"), "", "ok"

    def _on_discover(self, request: jsonrpc.Request) -> Answer:
        return _with_result(request.id, self._discover), "", "ok"

    # -- tools ---------------------------------------------------------------------------------------------------

    def _list_page(self, index: int) -> dict[str, Any]:
        page: dict[str, Any] = {"tools": self._pages[index]}
        if index + 1 < len(self._pages):
            page["nextCursor"] = encode_cursor("tools", index + 1)
        return page

    def _on_tools_list(self, request: jsonrpc.Request) -> Answer:
        cursor = (request.params or {}).get("cursor")
        if cursor is None:
            return _with_result(request.id, self._first_page), "", "ok"
        if not isinstance(cursor, str):
            raise RpcError(INVALID_PARAMS, "tools/list: cursor must be a string from a previous nextCursor")
        try:
            index = decode_cursor("tools", cursor, len(self._pages))
        except InvalidCursor:
            raise RpcError(INVALID_PARAMS, "tools/list: invalid cursor") from None
        return _with_result(request.id, orjson.dumps(self._list_page(index))), "", "ok"

    def _on_tools_call(self, request: jsonrpc.Request) -> Reply[Answer]:
        return then(self._call(request), _call_answer, request)

    def _on_tools_call_stateless(self, request: jsonrpc.Request) -> Reply[Answer]:
        """`_call`'s checks, written out here so that the echo path looks its tool up once (the hot path of the era)."""
        params = request.params  # the era's checks made it an object (with _meta)
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, _NAME_NOT_STRING)
        tool = self._tools.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name[:ECHO_TOOL_CHARS]}")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, _ARGUMENTS_NOT_OBJECT)
        if tool.context_param:  # a tool that may ask the client: a multi-round-trip request
            return self._round_trip(request, tool, name, arguments)
        return then(tool.invoke(arguments, None), _stateless_call_answer, request)

    def _on_prompts_get_stateless(self, request: jsonrpc.Request) -> Reply[Answer]:
        params = request.params
        name = params.get("name")
        prompt = self._registry.prompts.get(name) if type(name) is str else None
        if prompt is None or prompt.context_param is None:
            return self._prompts_get(request)
        arguments = params.get("arguments")
        try:
            trip = RoundTrip(
                self._signer,
                method="prompts/get",
                target=name,
                arguments=arguments,
                params=params,
                caller=self._caller(),
            )
            reply = self._features.get_prompt(
                name, arguments, ToolContext(self._db, request.id, trip.peer, trip.capabilities)
            )
        except RoundTripRefused as ex:
            raise RpcError(*ex.rejection) from None
        except CatalogueError as error:  # not `ex`: mypyc gives a name one type per function
            raise RpcError(error.code, error.message, error.data) from None
        except (InputRequired, RequestRefused) as signal:
            return _round_trip_answer(signal, trip, request)
        if pending(reply):
            return _prompt_later(reply, trip, request)
        return _with_result(request.id, orjson.dumps(stateless_result(reply))), "", "ok"

    def _round_trip(self, request: jsonrpc.Request, tool: Invocable, name: str, arguments: Any) -> Reply[Answer]:
        """A 2026-07-28 tools/call of a tool that takes a ToolContext: its peer answers questions from the request's
        `inputResponses` and signed `requestState` (services/round_trips.py), and a question still open ends the call
        with an InputRequiredResult. A refused state or answer is a JSON-RPC error."""
        params = request.params
        channel, peers = self._channel, self._peers
        # The request's stream and its peer are built only if the tool reports progress or logs (DeferredPeer).
        inner = NO_PEER if channel is None or peers is None else DeferredPeer(partial(peers, request, channel))
        try:
            trip = RoundTrip(
                self._signer,
                method="tools/call",
                target=name,
                arguments=arguments,
                params=params,
                inner=inner,
                caller=self._caller(),
            )
        except RoundTripRefused as ex:
            raise RpcError(*ex.rejection) from None
        try:
            reply = tool.invoke(arguments, ToolContext(self._db, request.id, trip.peer, trip.capabilities))
        except (InputRequired, RequestRefused) as signal:
            return _round_trip_answer(signal, trip, request)
        if pending(reply):
            return _round_trip_later(reply, trip, request)
        return _stateless_call_answer(reply, request)

    def _caller(self) -> str | None:
        """The authenticated subject of the request being routed (only while `handle_stateless` runs a route)."""
        caller_of, channel = self.caller_of, self._channel
        return None if caller_of is None or channel is None else caller_of(channel)

    def _call(self, request: jsonrpc.Request) -> Reply[ToolResult]:
        params = request.params
        if params is None:
            raise RpcError(INVALID_PARAMS, "tools/call: params with a tool name are required")
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, _NAME_NOT_STRING)
        tool = self._tools.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name[:ECHO_TOOL_CHARS]}")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, _ARGUMENTS_NOT_OBJECT)
        if not tool.context_param:
            return tool.invoke(arguments, None)
        channel, peers = self._channel, self._peers
        # The request's stream and its peer are built only if the tool talks to its client (DeferredPeer).
        peer = NO_PEER if channel is None or peers is None else DeferredPeer(partial(peers, request, channel))
        return tool.invoke(arguments, ToolContext(self._db, request.id, peer))

    def inject(self, faults: Faults, draw: Callable[[], float] | None = None) -> None:
        """Serve tool calls with `faults` from now on (services/mcp_server/faults.py); `draw` gives uniform numbers in
        [0, 1) (default: `random.random`). Without faults the tools themselves serve again: nothing is checked per
        call, and calls with invalid params stay JSON-RPC errors either way."""
        self._tools = with_faults(self._registered, faults, draw) if faults.active else self._registered


_CAPABILITIES: dict[str, Any] = {"tools": {"listChanged": False}}  # only what is really served

# The members a 2026-07-28 result adds to the handshake era's (`resultType` always, the cache hints on lists), taken
# from the one rule in services/protocol.py, encoded once: `,"resultType":"complete"` and so on.
_COMPLETE = b"," + orjson.dumps(stateless_result({}))[1:-1]
_LISTED = b"," + orjson.dumps(stateless_result({}, listing=True))[1:-1]


def _stateless_body(body: bytes, listing: bool) -> bytes:
    """A handshake-era result response with the 2026-07-28 members added, without decoding it: every response this
    module encodes ends with its result object, then the envelope (`…,"result":{…}}`), so the members go in before
    the last two braces (after a comma unless the result is the empty object)."""
    members = _LISTED if listing else _COMPLETE
    if body.endswith(b"{}}"):
        members = members[1:]
    return body[:-2] + members + b"}}"


_RPC_ERROR = "rpc_error"
_NAME_NOT_STRING = "tools/call: params.name must be a string"
_ARGUMENTS_NOT_OBJECT = "tools/call: params.arguments must be an object"


async def _round_trip_later(reply: Reply[ToolResult], trip: RoundTrip, request: jsonrpc.Request) -> Answer:
    try:
        result = await reply  # type: ignore[misc]  # pending: a coroutine
    except (InputRequired, RequestRefused) as signal:
        return _round_trip_answer(signal, trip, request)
    return _stateless_call_answer(result, request)


async def _prompt_later(reply: Reply[dict[str, Any]], trip: RoundTrip, request: jsonrpc.Request) -> Answer:
    try:
        result = await reply  # type: ignore[misc]  # pending: a coroutine
    except (InputRequired, RequestRefused) as signal:
        return _round_trip_answer(signal, trip, request)
    except CatalogueError as ex:
        return jsonrpc.encode_error(request.id, ex.code, ex.message, ex.data), "", _RPC_ERROR
    return _with_result(request.id, orjson.dumps(stateless_result(result))), "", "ok"


def _round_trip_answer(signal: InputRequired | RequestRefused, trip: RoundTrip, request: jsonrpc.Request) -> Answer:
    """The InputRequiredResult for a question still open, or the JSON-RPC error for a refusal."""
    if isinstance(signal, InputRequired):
        label = request.params["name"] if request.method == "tools/call" else ""  # tool names only, as elsewhere
        return _with_result(request.id, orjson.dumps(trip.input_required(signal))), label, "ok"
    rejection = refusal(signal)
    return jsonrpc.encode_error(request.id, rejection.code, rejection.message, rejection.data), "", _RPC_ERROR


def _with_result(id_: jsonrpc.Id, encoded_result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + orjson.dumps(id_) + b',"result":' + encoded_result + b"}"


def _call_answer(result: ToolResult, request: jsonrpc.Request) -> Answer:
    return _encode_call(request.id, result, b""), request.params["name"], "tool_error" if result.is_error else "ok"


def _stateless_call_answer(result: ToolResult, request: jsonrpc.Request) -> Answer:
    body = _encode_call(request.id, result, _COMPLETE)
    return body, request.params["name"], "tool_error" if result.is_error else "ok"


def _encode_call(id_: jsonrpc.Id, result: ToolResult, members: bytes) -> bytes:
    """A tools/call response; `members` (empty, or the 2026-07-28 era's `_COMPLETE`) end its result object."""
    encoded = result.structured_json
    if encoded is not None and not result.is_error and len(result.content) == 1:
        # The common case, written without serializing the structured payload a second time.
        return b"".join(
            (
                b'{"jsonrpc":"2.0","id":',
                orjson.dumps(id_),
                b',"result":{"content":[{"type":"text","text":',
                orjson.dumps(result.content[0]["text"]),
                b'}],"structuredContent":',
                encoded,
                members,
                b"}}",
            )
        )
    body = jsonrpc.encode_result(id_, result.to_mcp())
    return _stateless_body(body, False) if members else body
