"""The tasks extension on the FastAPI baseline's 2026-07-28 methods: tasks/get, tasks/update, tasks/cancel, and
tools/call of task-supporting tools (services/tasks.py has the extension itself, shared with the native server).

Only a catalogue with a task-supporting tool gets these methods (`TaskMethods.for_registry`); tools/call of every other
tool goes to the handler it had. A task's tool runs through the service's own `run` (pydantic arguments, timeout,
failure texts), with the task's peer. With authentication on, a task and the requestState of its first questions
are bound to the token's subject (`CALLER`, services/fastapi_baseline/auth.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from services.fastapi_baseline.auth import CALLER
from services.fastapi_baseline.errors import JsonRpcException
from services.fastapi_baseline.models import INVALID_PARAMS, JsonRpcId, JsonRpcRequest
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
from services.tools.context import Database, InputRequired, Peer, RequestRefused
from services.tools.registry import Tool, ToolRegistry

Result = dict[str, Any]
Handler = Callable[[JsonRpcRequest], Awaitable[Result]]
Run = Callable[[Tool, dict[str, Any], JsonRpcId, Peer, Mapping[str, Any] | None], Awaitable[Result]]


class TaskMethods:
    def __init__(
        self,
        registry: ToolRegistry,
        db: Database,
        run: Run,
        signer: RequestStateSigner,
        service: TaskService | None = None,
    ) -> None:
        self._tools = {tool.name: tool for tool in registry if task_support(tool.fn) != "forbidden"}
        self._run = run
        self._signer = signer  # the requestState of an `input_first` tool's questions (services/round_trips.py)
        self.service = service or TaskService.for_database(db)
        self.capabilities: Result = CAPABILITIES

    @classmethod
    def for_registry(
        cls, registry: ToolRegistry, db: Database, run: Run, signer: RequestStateSigner
    ) -> TaskMethods | None:
        """The extension's methods when some tool supports tasks, else None (nothing advertised, nothing routed)."""
        return cls(registry, db, run, signer) if serves_tasks(tool.fn for tool in registry) else None

    def methods(self, tools_call: Handler) -> dict[str, Handler]:
        """tasks/* and a tools/call that hands every call of a tool without task support to `tools_call`."""

        async def call_tool(request: JsonRpcRequest) -> Result:
            params = request.params
            name = params.get("name") if isinstance(params, dict) else None
            tool = self._tools.get(name) if isinstance(name, str) else None
            if tool is None or not self._wants_task(tool, params):
                return await tools_call(request)
            assert isinstance(params, dict)
            arguments = params.get("arguments")
            if arguments is not None and not isinstance(arguments, dict):
                raise JsonRpcException(
                    INVALID_PARAMS, "tools/call: params need a string name and an object of arguments"
                )
            capabilities = client_capabilities(params)
            caller = CALLER.get()

            async def execution(peer: Peer) -> Result:
                return await self._run(tool, arguments or {}, request.id, peer, capabilities)

            if not input_first(tool.fn):
                return await _refused_as_error(self.service.start(execution, capabilities, caller))
            try:
                trip = RoundTrip(
                    self._signer,
                    method="tools/call",
                    target=tool.name,
                    arguments=arguments,
                    params=params,
                    caller=caller,
                )
                return await _refused_as_error(
                    self.service.start_after_input(execution, trip.peer, capabilities, caller)
                )
            except RoundTripRefused as ex:
                rejected = ex.rejection
            except InputRequired as signal:  # the request's own questions, before any task
                return trip.input_required(signal)
            except RequestRefused as signal:
                rejected = refusal(signal)
            raise JsonRpcException(rejected.code, rejected.message, data=rejected.data)

        handlers: dict[str, Handler] = {"tools/call": call_tool}
        for method in TASK_METHODS:
            handlers[method] = self._handler(method)
        return handlers

    def _wants_task(self, tool: Tool, params: Any) -> bool:
        try:
            return self.service.wants_task(task_support(tool.fn), params)
        except TaskError as ex:
            raise JsonRpcException(ex.code, ex.message, data=ex.data) from None

    def _handler(self, method: str) -> Handler:
        answer = self.service.handler(method)

        async def handler(request: JsonRpcRequest) -> Result:
            try:
                pending = answer(request.params, CALLER.get())
            except TaskError as ex:
                raise JsonRpcException(ex.code, ex.message, data=ex.data) from None
            return await _refused_as_error(pending)

        return handler


async def _refused_as_error(pending: Awaitable[Result]) -> Result:
    try:
        return await pending
    except TaskError as ex:
        raise JsonRpcException(ex.code, ex.message, data=ex.data) from None
