"""The MCP methods behind `POST /mcp` (the route is `endpoint.py`): initialize, ping, tools/list, tools/call, and the
catalogue's resources, prompts and completion when it registers any.

Tools come from the shared registry; their arguments are validated by pydantic models built from the tool functions'
signatures. Synchronous tools run inline on the event loop: the catalogue's are pure computation of microseconds to a
few milliseconds, and a thread pool would only add a hand-off (the GIL serialises them anyway). Async tools run under
their own timeout. Every tool failure becomes an `isError` result whose text comes from the shared
`failure_text`, so both servers say the same thing. Resources, prompts and completion: params parsed by pydantic
models, then answered by the shared `Features` (services/tools/features.py), whose refusals (`CatalogueError`) carry
the same codes and texts as the native server's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from services.fastapi_baseline.auth import CALLER
from services.fastapi_baseline.errors import JsonRpcException
from services.fastapi_baseline.models import (
    INVALID_PARAMS,
    CallToolParams,
    CompleteParams,
    GetPromptParams,
    InitializeParams,
    JsonRpcId,
    JsonRpcRequest,
    ListToolsParams,
    PaginatedParams,
    ReadResourceParams,
    SetLevelParams,
    arguments_model,
)
from services.fastapi_baseline.settings import Settings
from services.fastapi_baseline.streaming import STREAM
from services.fastapi_baseline.task_methods import TaskMethods
from services.protocol import (
    ECHO_TOOL_CHARS,
    HANDSHAKE_VERSIONS,
    INITIALIZE_PARAMS_INVALID,
    LATEST_HANDSHAKE_VERSION,
    Era,
    InvalidCursor,
    decode_cursor,
    discover_result,
    encode_cursor,
    param_headers_by_tool,
)
from services.request_state import default_signer
from services.round_trips import RoundTrip, RoundTripRefused, refusal
from services.sessions import LEVEL_RANK, SessionStore
from services.tools.context import NO_PEER, Database, InputRequired, Peer, RequestRefused, ToolContext
from services.tools.features import (
    COMPLETE_PARAMS_INVALID,
    GET_PROMPT_PARAMS_INVALID,
    READ_PARAMS_INVALID,
    CatalogueError,
    Features,
    cursor_type_error,
)
from services.tools.registry import PEER_SIGNALS, Tool, ToolRegistry, ToolResult, failure_text
from services.tools.reply import Reply, pending

Result = dict[str, Any]


class McpService:
    """The MCP methods of one worker: initialize (or server/discover), ping, tools/list, tools/call, and the catalogue's
    resources, prompts and completion methods when it registers any."""

    def __init__(self, registry: ToolRegistry, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.tools = {tool.name: tool for tool in registry}
        self.param_headers = param_headers_by_tool((tool.name, tool.input_schema) for tool in registry)  # x-mcp-header
        # Tools that may talk to the client while they run (they take a ToolContext): only these can need a stream.
        self.context_tools = frozenset(tool.name for tool in registry if tool.context_param is not None)
        # Tools that may wait on I/O (async): only these can be cancelled by notifications/cancelled.
        self.async_tools = frozenset(tool.name for tool in registry if tool.is_async)
        # Sessions (MCP_STATEFUL=1; services/sessions.py): set by the app once its store has started.
        self.sessions: SessionStore | None = None
        self.argument_models = {tool.name: arguments_model(tool) for tool in registry}
        descriptors = [tool.descriptor() for tool in registry]
        size = settings.page_size
        self.pages = [descriptors[i : i + size] for i in range(0, len(descriptors), size)] or [[]]
        # Resources, prompts and completion: served, and advertised, only when the catalogue registers some.
        self.features = Features(registry.resources, registry.prompts, page_size=size)
        self.capabilities: Result = {"tools": {"listChanged": False}, **self.features.capabilities}
        # The handshake era serves logging/setLevel (tools log over the request's SSE stream).
        self.handshake_capabilities: Result = {**self.capabilities, "logging": {}}
        catalogue: dict[str, Callable[[JsonRpcRequest], Any]] = {
            "resources/list": self.list_resources,
            "resources/templates/list": self.list_resource_templates,
            "resources/read": self.read_resource,
            "prompts/list": self.list_prompts,
            "prompts/get": self.get_prompt,
            "completion/complete": self.complete,
        }
        served = {method: catalogue[method] for method in self.features.methods}
        self.methods: dict[str, Callable[[JsonRpcRequest], Any]] = {
            "initialize": self.initialize,
            "ping": self.ping,
            "logging/setLevel": self.set_level,
            "tools/list": self.list_tools,
            "tools/call": self.call_tool,
            **served,
        }
        # The stateless era (2026-07-28) has server/discover instead of initialize and ping, and answers an unknown
        # resource with INVALID_PARAMS (SEP-2164).
        self.stateless_methods: dict[str, Callable[[JsonRpcRequest], Any]] = {
            "server/discover": self.discover,
            "tools/list": self.list_tools,
            "tools/call": self.call_tool_stateless,
            **served,
        }
        self.signer = default_signer()  # the requestState of multi-round-trip calls (services/request_state.py)
        if "resources/read" in served:
            self.stateless_methods["resources/read"] = self.read_resource_stateless
        # Prompts that take a ToolContext may ask the client first (prompts/get is a multi-round-trip method too).
        self.context_prompts = frozenset(p.name for p in registry.prompts if p.context_param is not None)
        if self.context_prompts:
            self.stateless_methods["prompts/get"] = self.get_prompt_stateless
        # The tasks extension (task_methods.py): 2026-07-28 only, routed and advertised when a tool supports tasks.
        self.tasks = TaskMethods.for_registry(registry, db, self._run, self.signer)
        if self.tasks is not None:
            self.stateless_methods.update(self.tasks.methods(self.stateless_methods["tools/call"]))

    def era_methods(self, era: Era) -> dict[str, Callable[[JsonRpcRequest], Any]]:
        return self.stateless_methods if era == "stateless" else self.methods

    def tool_label(self, request: JsonRpcRequest) -> str:
        """The tool name as a metrics label: only names of served tools (clients choose the rest)."""
        if request.method != "tools/call" or request.params is None:
            return ""
        name = request.params.get("name")
        return name if isinstance(name, str) and name in self.tools else ""

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def initialize(self, request: JsonRpcRequest) -> Result:
        params = _params(InitializeParams, request, INITIALIZE_PARAMS_INVALID)
        requested = params.protocolVersion
        return {
            "protocolVersion": requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE_VERSION,
            "capabilities": self.handshake_capabilities,
            "serverInfo": {"name": self.settings.server_name, "version": self.settings.server_version},
        }

    async def discover(self, request: JsonRpcRequest) -> Result:
        return discover_result(
            capabilities=self.capabilities if self.tasks is None else {**self.capabilities, **self.tasks.capabilities},
            server_name=self.settings.server_name,
            server_version=self.settings.server_version,
        )

    async def ping(self, request: JsonRpcRequest) -> Result:
        return {}

    async def set_level(self, request: JsonRpcRequest) -> Result:
        """`logging/setLevel`. Stateless, no later request can be tied to this one, so every level is sent on a
        request's stream (what a client that asks for a stream accepts)."""
        params = _params(SetLevelParams, request, "logging/setLevel: level must be one of " + ", ".join(LEVEL_RANK))
        del params
        return {}

    # -- tools ---------------------------------------------------------------------------------------------------

    async def list_tools(self, request: JsonRpcRequest) -> Result:
        params = _params(ListToolsParams, request, "tools/list: cursor must be a string from a previous nextCursor")
        index = 0 if params.cursor is None else _page_index(params.cursor, len(self.pages))
        page: Result = {"tools": self.pages[index]}
        if index + 1 < len(self.pages):
            page["nextCursor"] = encode_cursor("tools", index + 1)
        return page

    async def call_tool_stateless(self, request: JsonRpcRequest) -> Result:
        """2026-07-28: a tool that takes a ToolContext may ask the client; its peer answers from the request's
        `inputResponses` and signed `requestState`, and a question still open ends the call with an
        InputRequiredResult (services/round_trips.py, shared with the native server)."""
        params = request.params or {}
        name = params.get("name")
        if not (isinstance(name, str) and name in self.tools and self.tools[name].context_param is not None):
            return await self.call_tool(request)
        try:
            trip = RoundTrip(
                self.signer,
                method="tools/call",
                target=name,
                arguments=params.get("arguments"),
                params=params,
                inner=STREAM.get(),  # notifications (progress, log) on the request's SSE stream, if it has one
                caller=CALLER.get(),  # with authentication on, the state is bound to the token's subject
            )
            return await self.call_tool(request, trip.peer, trip.capabilities)
        except RoundTripRefused as ex:
            refused = ex.rejection
        except InputRequired as signal:
            return trip.input_required(signal)
        except RequestRefused as signal:
            refused = refusal(signal)
        raise JsonRpcException(refused.code, refused.message, data=refused.data)

    async def call_tool(
        self, request: JsonRpcRequest, peer: Peer = NO_PEER, capabilities: Mapping[str, Any] | None = None
    ) -> Result:
        if request.params is None:
            raise JsonRpcException(INVALID_PARAMS, "tools/call: params with a tool name are required")
        params = _params(CallToolParams, request, "tools/call: params need a string name and an object of arguments")
        tool = self.tools.get(params.name)
        if tool is None:
            raise JsonRpcException(INVALID_PARAMS, f"Unknown tool: {params.name[:ECHO_TOOL_CHARS]}")
        return await self._run(tool, params.arguments or {}, request.id, peer, capabilities)

    async def _run(
        self,
        tool: Tool,
        arguments: dict[str, Any],
        request_id: JsonRpcId,
        peer: Peer,
        capabilities: Mapping[str, Any] | None = None,
    ) -> Result:
        try:
            kwargs = dict(self.argument_models[tool.name].model_validate(arguments))
        except ValidationError as ex:
            return _error_result(_invalid_arguments(tool.name, ex))
        if tool.context_param is not None:
            kwargs[tool.context_param] = ToolContext(self.db, request_id, peer, capabilities)
        try:
            if tool.is_async:
                async with asyncio.timeout(tool.timeout_s):
                    value = await tool.fn(**kwargs)
            else:
                value = tool.fn(**kwargs)
            return _success_result(tool, value)
        except PEER_SIGNALS:  # the peer ends the request (an InputRequiredResult, a refusal): call_tool_stateless
            raise
        except Exception as ex:
            return _error_result(failure_text(tool.name, tool.timeout_s, ex))

    # -- resources, prompts, completion ---------------------------------------------------------------------------

    async def list_resources(self, request: JsonRpcRequest) -> Result:
        params = _params(PaginatedParams, request, cursor_type_error(request.method))
        return _answer(self.features.list_resources, params.cursor)

    async def list_resource_templates(self, request: JsonRpcRequest) -> Result:
        params = _params(PaginatedParams, request, cursor_type_error(request.method))
        return _answer(self.features.list_resource_templates, params.cursor)

    async def list_prompts(self, request: JsonRpcRequest) -> Result:
        params = _params(PaginatedParams, request, cursor_type_error(request.method))
        return _answer(self.features.list_prompts, params.cursor)

    async def read_resource(self, request: JsonRpcRequest) -> Result:
        params = _params(ReadResourceParams, request, READ_PARAMS_INVALID)
        return await _awaited(self.features.read_resource, params.uri, stateless=False)

    async def read_resource_stateless(self, request: JsonRpcRequest) -> Result:
        params = _params(ReadResourceParams, request, READ_PARAMS_INVALID)
        return await _awaited(self.features.read_resource, params.uri, stateless=True)

    async def get_prompt(self, request: JsonRpcRequest, ctx: ToolContext | None = None) -> Result:
        params = _params(GetPromptParams, request, GET_PROMPT_PARAMS_INVALID)
        return await _awaited(self.features.get_prompt, params.name, params.arguments, ctx)

    async def get_prompt_stateless(self, request: JsonRpcRequest) -> Result:
        """2026-07-28: a prompt that takes a ToolContext may ask the client first, as a tool may
        (`call_tool_stateless`)."""
        params = request.params or {}
        name = params.get("name")
        if not (isinstance(name, str) and name in self.context_prompts):
            return await self.get_prompt(request)
        try:
            trip = RoundTrip(
                self.signer,
                method="prompts/get",
                target=name,
                arguments=params.get("arguments"),
                params=params,
                caller=CALLER.get(),
            )
            return await self.get_prompt(request, ToolContext(self.db, request.id, trip.peer, trip.capabilities))
        except RoundTripRefused as ex:
            refused = ex.rejection
        except InputRequired as signal:
            return trip.input_required(signal)
        except RequestRefused as signal:
            refused = refusal(signal)
        raise JsonRpcException(refused.code, refused.message, data=refused.data)

    async def complete(self, request: JsonRpcRequest) -> Result:
        params = _params(CompleteParams, request, COMPLETE_PARAMS_INVALID)
        context = None if params.context is None else params.context.model_dump()
        return _answer(self.features.complete, params.ref.model_dump(), params.argument.model_dump(), context)


def _answer(method: Callable[..., Result], *args: Any) -> Result:
    """A catalogue answer, its refusal raised as the JSON-RPC error it names."""
    try:
        return method(*args)
    except CatalogueError as ex:
        raise JsonRpcException(ex.code, ex.message, data=ex.data) from None


async def _awaited(method: Callable[..., Reply[Result]], *args: Any, **kwargs: Any) -> Result:
    """A catalogue answer that may wait for a registered coroutine; refusals raised as JSON-RPC errors."""
    try:
        reply = method(*args, **kwargs)
        return await reply if pending(reply) else reply
    except CatalogueError as ex:
        raise JsonRpcException(ex.code, ex.message, data=ex.data) from None


def _params(model: type[BaseModel], request: JsonRpcRequest, message: str) -> Any:
    try:
        return model.model_validate(request.params or {})
    except ValidationError:
        raise JsonRpcException(INVALID_PARAMS, message) from None


def _page_index(cursor: str, pages: int) -> int:
    try:
        return decode_cursor("tools", cursor, pages)
    except InvalidCursor:
        raise JsonRpcException(INVALID_PARAMS, "tools/list: invalid cursor") from None


def _invalid_arguments(tool: str, ex: ValidationError) -> str:
    first = ex.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    where = f"argument {loc!r} " if loc else ""
    return (
        f"Invalid arguments for tool '{tool}': {where}{first['msg'].lower()}. "
        "The tool's inputSchema (tools/list) describes the accepted arguments."
    )


def _text(structured: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": to_json(structured).decode()}]


def _success_result(tool: Tool, value: Any) -> Result:
    if tool.shape == "object":
        return {"content": _text(value), "structuredContent": value}
    if tool.shape == "wrapped":
        return {"content": _text({"result": value}), "structuredContent": {"result": value}}
    if isinstance(value, ToolResult):
        return value.to_mcp()
    if isinstance(value, str):
        return {"content": [{"type": "text", "text": value}]}
    if isinstance(value, dict):
        return {"content": _text(value), "structuredContent": value}
    return {"content": _text(value)}


def _error_result(text: str) -> Result:
    return {"content": [{"type": "text", "text": text}], "isError": True}
