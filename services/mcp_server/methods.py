"""MCP methods for the handshake era (2025-11-25, 2025-06-18, 2025-03-26), served statelessly.

Input: a decoded JSON-RPC request and the `MCP-Protocol-Version` the client sent. Output: the response bytes, either
directly (initialize, ping, tools/list and synchronous tools never touch the event loop) or as an awaitable for tools
that do I/O. Results that never change (initialize, the first tools/list page) are encoded once at start.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from services.mcp_server import jsonrpc
from services.mcp_server.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from services.mcp_server.metrics import Metrics
from services.tools.context import Database, ToolContext
from services.tools.registry import ToolRegistry, ToolResult

Reply = bytes | Awaitable[bytes]

HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")  # newest first


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
        self._tools = {tool.name: tool for tool in registry}
        self._info = info
        self._db = db
        self._metrics = metrics
        self._supported = frozenset(info.protocol_versions)
        self._initialize = {v: orjson.dumps(self._initialize_result(v)) for v in info.protocol_versions}
        descriptors = [tool.descriptor() for tool in registry]
        self._pages = [descriptors[i : i + info.page_size] for i in range(0, len(descriptors), info.page_size)] or [[]]
        self._first_page = orjson.dumps(self._list_page(0))
        self._routes: dict[str, Callable[[jsonrpc.Request], Reply]] = {
            "initialize": self._on_initialize,
            "ping": self._on_ping,
            "tools/list": self._on_tools_list,
            "tools/call": self._on_tools_call,
        }

    @property
    def supported_versions(self) -> tuple[str, ...]:
        return self._info.protocol_versions

    def is_supported(self, version: str) -> bool:
        return version in self._supported

    def handle(self, request: jsonrpc.Request) -> Reply:
        route = self._routes.get(request.method)
        started = time.perf_counter()
        if route is None:
            self._metrics.record("unknown", "", "rpc_error", 0.0)  # client-chosen names never become labels
            return jsonrpc.encode_error(request.id, METHOD_NOT_FOUND, f"Method not found: {request.method[:100]}")
        try:
            reply = route(request)
        except RpcError as ex:
            self._metrics.record(request.method, "", "rpc_error", time.perf_counter() - started)
            return jsonrpc.encode_error(request.id, ex.code, ex.message, ex.data)
        if type(reply) is bytes:
            if request.method != "tools/call":
                self._metrics.record(request.method, "", "ok", time.perf_counter() - started)
            return reply
        return reply

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def _initialize_result(self, version: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self._info.name, "version": self._info.version},
        }
        if self._info.instructions:
            result["instructions"] = self._info.instructions
        return result

    def _on_initialize(self, request: jsonrpc.Request) -> bytes:
        params = request.params or {}
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise RpcError(INVALID_PARAMS, "initialize: params.protocolVersion (string) is required")
        version = requested if requested in self._supported else self._info.protocol_versions[0]
        return _with_result(request.id, self._initialize[version])

    def _on_ping(self, request: jsonrpc.Request) -> bytes:
        return _with_result(request.id, b"{}")

    # -- tools ---------------------------------------------------------------------------------------------------

    def _list_page(self, index: int) -> dict[str, Any]:
        page: dict[str, Any] = {"tools": self._pages[index]}
        if index + 1 < len(self._pages):
            page["nextCursor"] = base64.urlsafe_b64encode(f"tools:{index + 1}".encode()).decode()
        return page

    def _on_tools_list(self, request: jsonrpc.Request) -> bytes:
        cursor = (request.params or {}).get("cursor")
        if cursor is None:
            return _with_result(request.id, self._first_page)
        if not isinstance(cursor, str):
            raise RpcError(INVALID_PARAMS, "tools/list: cursor must be a string from a previous nextCursor")
        try:
            kind, _, raw_index = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").partition(":")
            index = int(raw_index)
        except (ValueError, UnicodeError, binascii.Error):
            raise RpcError(INVALID_PARAMS, "tools/list: invalid cursor") from None
        if kind != "tools" or not 0 <= index < len(self._pages):
            raise RpcError(INVALID_PARAMS, "tools/list: invalid cursor")
        return _with_result(request.id, orjson.dumps(self._list_page(index)))

    def _on_tools_call(self, request: jsonrpc.Request) -> Reply:
        params = request.params
        if params is None:
            raise RpcError(INVALID_PARAMS, "tools/call: params with a tool name are required")
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call: params.name must be a string")
        tool = self._tools.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name[:128]}")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "tools/call: params.arguments must be an object")
        started = time.perf_counter()
        outcome = tool.invoke(arguments, ToolContext(self._db, request.id) if tool.context_param else None)
        if isinstance(outcome, ToolResult):
            self._metrics.record(
                "tools/call", name, "tool_error" if outcome.is_error else "ok", time.perf_counter() - started
            )
            return _encode_call(request.id, outcome)
        return self._finish_call(request.id, name, started, outcome)

    async def _finish_call(self, id_: jsonrpc.Id, name: str, started: float, pending: Awaitable[ToolResult]) -> bytes:
        result = await pending
        self._metrics.record(
            "tools/call", name, "tool_error" if result.is_error else "ok", time.perf_counter() - started
        )
        return _encode_call(id_, result)


def _with_result(id_: jsonrpc.Id, encoded_result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + orjson.dumps(id_) + b',"result":' + encoded_result + b"}"


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
