"""MCP methods for the handshake era (2025-11-25, 2025-06-18, 2025-03-26), served statelessly.

Input: a decoded JSON-RPC request. Output: the response bytes as a `Reply` (services/tools/reply.py): ready at once for
initialize, ping, tools/list and synchronous tools, which never touch the event loop; pending for tools that do I/O.
Every request is counted in the metrics here, in one place (`_counted`), whichever form its answer takes. Results that
never change (initialize, the first tools/list page) are encoded once at start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from services.mcp_server import jsonrpc
from services.mcp_server.catalogue_methods import CatalogueMethods
from services.mcp_server.faults import Faults, Invocable, with_faults
from services.mcp_server.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from services.mcp_server.metrics import Metrics
from services.protocol import ECHO_TOOL_CHARS, HANDSHAKE_VERSIONS, InvalidCursor, decode_cursor, encode_cursor
from services.tools.context import Database, ToolContext
from services.tools.registry import ToolRegistry, ToolResult
from services.tools.reply import Reply, then

# A method's answer to one request: the response bytes, then the tool label ("" unless tools/call) and the outcome
# label ("ok", "tool_error" for an isError result, "rpc_error") the request counts under in the metrics. A plain
# tuple: one is made per request, and a named tuple costs several times as much to create.
Answer = tuple[bytes, str, str]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    name: str
    version: str
    protocol_versions: tuple[str, ...] = HANDSHAKE_VERSIONS  # newest first
    instructions: str | None = None
    page_size: int = 50


class McpMethods:
    def __init__(self, *, registry: ToolRegistry, info: ServerInfo, db: Database, metrics: Metrics) -> None:
        self._registry = registry
        self._registered: dict[str, Invocable] = {tool.name: tool for tool in registry}
        self._tools = self._registered
        self._info = info
        self._db = db
        self._metrics = metrics
        self._supported = frozenset(info.protocol_versions)
        # Resources, prompts and completion (catalogue_methods.py): routed and advertised only when registered.
        self._catalogue = CatalogueMethods(registry, page_size=info.page_size)
        self._capabilities: dict[str, Any] = {"tools": {"listChanged": False}, **self._catalogue.capabilities}
        self._initialize = {v: orjson.dumps(self._initialize_result(v)) for v in info.protocol_versions}
        descriptors = [tool.descriptor() for tool in registry]
        self._pages = [descriptors[i : i + info.page_size] for i in range(0, len(descriptors), info.page_size)] or [[]]
        self._first_page = orjson.dumps(self._list_page(0))
        self._routes: dict[str, Callable[[jsonrpc.Request], Reply[Answer]]] = {
            "initialize": self._on_initialize,
            "ping": self._on_ping,
            "tools/list": self._on_tools_list,
            "tools/call": self._on_tools_call,
        }
        self._routes.update(self._catalogue.routes)

    @property
    def supported_versions(self) -> tuple[str, ...]:
        return self._info.protocol_versions

    def is_supported(self, version: str) -> bool:
        return version in self._supported

    def handle(self, request: jsonrpc.Request) -> Reply[bytes]:
        started = time.perf_counter()
        method = request.method
        route = self._routes.get(method)
        answer: Reply[Answer]
        try:
            if route is None:
                method = "unknown"  # client-chosen names never become metric labels
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {request.method[:100]}")
            answer = route(request)
        except RpcError as ex:
            answer = jsonrpc.encode_error(request.id, ex.code, ex.message, ex.data), "", "rpc_error"
        return then(answer, self._counted, (method, started))

    def _counted(self, answer: Answer, timing: tuple[str, float]) -> bytes:
        """The one place a request is counted in the metrics, once its answer is known."""
        body, tool, outcome = answer
        method, started = timing
        self._metrics.record(method, tool, outcome, time.perf_counter() - started)
        return body

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def _initialize_result(self, version: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": self._capabilities,
            "serverInfo": {"name": self._info.name, "version": self._info.version},
        }
        if self._info.instructions:
            result["instructions"] = self._info.instructions
        return result

    def _on_initialize(self, request: jsonrpc.Request) -> Answer:
        params = request.params or {}
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise RpcError(INVALID_PARAMS, "initialize: params.protocolVersion (string) is required")
        version = requested if requested in self._supported else self._info.protocol_versions[0]
        return _with_result(request.id, self._initialize[version]), "", "ok"

    def _on_ping(self, request: jsonrpc.Request) -> Answer:
        return _with_result(request.id, b"{}"), "", "ok"

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
        params = request.params
        if params is None:
            raise RpcError(INVALID_PARAMS, "tools/call: params with a tool name are required")
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call: params.name must be a string")
        tool = self._tools.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name[:ECHO_TOOL_CHARS]}")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "tools/call: params.arguments must be an object")
        outcome = tool.invoke(arguments, ToolContext(self._db, request.id) if tool.context_param else None)
        return then(outcome, _call_answer, request)

    def inject(self, faults: Faults, draw: Callable[[], float] | None = None) -> None:
        """Serve tool calls with `faults` from now on (services/mcp_server/faults.py); `draw` gives uniform numbers in
        [0, 1) (default: `random.random`). Without faults the tools themselves serve again: nothing is checked per
        call, and calls with invalid params stay JSON-RPC errors either way."""
        self._tools = with_faults(self._registered, faults, draw) if faults.active else self._registered


def _with_result(id_: jsonrpc.Id, encoded_result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + orjson.dumps(id_) + b',"result":' + encoded_result + b"}"


def _call_answer(result: ToolResult, request: jsonrpc.Request) -> Answer:
    return _encode_call(request.id, result), request.params["name"], "tool_error" if result.is_error else "ok"


def _encode_call(id_: jsonrpc.Id, result: ToolResult) -> bytes:
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
                b"}}",
            )
        )
    return jsonrpc.encode_result(id_, result.to_mcp())
