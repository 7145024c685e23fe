"""The tasks extension on the native server's 2026-07-28 routes: tasks/get, tasks/update, tasks/cancel, and
tools/call of task-supporting tools (services/tasks.py has the extension itself).

Only a catalogue with a task-supporting tool gets these routes (`TaskMethods.for_registry`); tools/call of every
other tool goes straight to the route it had, so the default catalogue's calls never pass through here. A refusal
known before any await is raised (`RpcError`, so its HTTP status follows the code); one found after it (a store
lookup) is answered as a JSON-RPC error in the response body, as catalogue_methods.py does for async resources.

With authentication on, a task and the requestState of its first questions are bound to the token's subject
(`caller`, read while the route runs, before any await); without it, `caller` answers None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.mcp_server import jsonrpc
from services.mcp_server.jsonrpc import INVALID_PARAMS, RpcError
from services.request_state import RequestStateSigner
from services.round_trips import RoundTrip, RoundTripRefused, refusal
from services.tasks import (
    CAPABILITIES,
    TASK_METHODS,
    TaskError,
    TaskService,
    client_capabilities,
    input_first,
    serves_tasks,
    task_support,
)
from services.tools.context import Database, InputRequired, Peer, RequestRefused, ToolContext
from services.tools.registry import Tool, ToolRegistry
from services.tools.reply import Reply, pending

Answer = tuple[bytes, str, str]  # as services/mcp_server/methods.py: the bytes, the tool label, the outcome label
Route = Callable[[jsonrpc.Request], Reply[Answer]]


Caller = Callable[[], "str | None"]  # the authenticated subject of the request being routed, None without auth


def _nobody() -> str | None:
    return None


class TaskMethods:
    def __init__(
        self,
        registry: ToolRegistry,
        db: Database,
        signer: RequestStateSigner,
        caller: Caller = _nobody,
        service: TaskService | None = None,
    ) -> None:
        self._tools = {tool.name: tool for tool in registry if task_support(tool.fn) != "forbidden"}
        self._db = db
        self._signer = signer  # the requestState of an `input_first` tool's questions (services/round_trips.py)
        self._caller = caller
        self.service = service or TaskService.for_database(db)
        self.capabilities: dict[str, Any] = CAPABILITIES

    @classmethod
    def for_registry(
        cls, registry: ToolRegistry, db: Database, signer: RequestStateSigner, caller: Caller = _nobody
    ) -> TaskMethods | None:
        """The extension's routes when some tool supports tasks, else None (nothing advertised, nothing routed)."""
        return cls(registry, db, signer, caller) if serves_tasks(tool.fn for tool in registry) else None

    def routes(self, tools_call: Route) -> dict[str, Route]:
        """tasks/* and a tools/call that hands every call of a tool without task support to `tools_call`."""

        def on_tools_call(request: jsonrpc.Request) -> Reply[Answer]:
            params = request.params
            name = params.get("name") if type(params) is dict else None
            tool = self._tools.get(name) if type(name) is str else None
            if tool is None:
                return tools_call(request)
            try:
                as_task = self.service.wants_task(task_support(tool.fn), params)
            except TaskError as ex:
                raise RpcError(ex.code, ex.message, ex.data) from None
            if not as_task:
                return tools_call(request)
            arguments = params.get("arguments")
            if arguments is not None and type(arguments) is not dict:
                raise RpcError(INVALID_PARAMS, "tools/call: params.arguments must be an object")
            caller = self._caller()
            if input_first(tool.fn):
                try:
                    trip = RoundTrip(
                        self._signer,
                        method="tools/call",
                        target=tool.name,
                        arguments=arguments,
                        params=params,
                        caller=caller,
                    )
                except RoundTripRefused as ex:
                    raise RpcError(*ex.rejection) from None
                return self._create(request, tool, arguments, caller, trip)
            return self._create(request, tool, arguments, caller)

        routes: dict[str, Route] = {"tools/call": on_tools_call}
        for method in TASK_METHODS:
            routes[method] = self._method_route(method)
        return routes

    async def _create(
        self,
        request: jsonrpc.Request,
        tool: Tool,
        arguments: dict[str, Any] | None,
        caller: str | None,
        trip: RoundTrip | None = None,
    ) -> Answer:
        capabilities = client_capabilities(request.params)
        db, id_ = self._db, request.id

        async def execution(peer: Peer) -> dict[str, Any]:
            reply = tool.invoke(arguments, ToolContext(db, id_, peer, capabilities))
            result = await reply if pending(reply) else reply
            return result.to_mcp()

        try:
            if trip is None:
                created = await self.service.start(execution, capabilities, caller)
            else:
                created = await self.service.start_after_input(execution, trip.peer, capabilities, caller)
        except TaskError as ex:
            return jsonrpc.encode_error(id_, ex.code, ex.message, ex.data), tool.name, "rpc_error"
        except InputRequired as signal:  # the request's own questions, before any task (trip is set)
            assert trip is not None
            return jsonrpc.encode_result(id_, trip.input_required(signal)), tool.name, "ok"
        except RequestRefused as signal:
            refused = refusal(signal)
            return jsonrpc.encode_error(id_, refused.code, refused.message, refused.data), tool.name, "rpc_error"
        return jsonrpc.encode_result(id_, created), tool.name, "ok"

    def _method_route(self, method: str) -> Route:
        handler = self.service.handler(method)

        def route(request: jsonrpc.Request) -> Reply[Answer]:
            try:
                result = handler(request.params, self._caller())
            except TaskError as ex:
                raise RpcError(ex.code, ex.message, ex.data) from None
            return _answered(result, request.id)

        return route


async def _answered(result: Any, id_: jsonrpc.Id) -> Answer:
    try:
        value = await result
    except TaskError as ex:
        return jsonrpc.encode_error(id_, ex.code, ex.message, ex.data), "", "rpc_error"
    return jsonrpc.encode_result(id_, value), "", "ok"
