"""The tool registry: a decorator turns a typed Python function into an MCP tool.

The decorator derives `inputSchema` from the parameters (types, defaults, docstring `Args:`) unless the tool declares
one (`input_schema=`, a hand-written JSON Schema 2020-12 object, checked against the parameters), `outputSchema` from
the return annotation, compiles a validator once, and wraps the function so every outcome is a `ToolResult`:
validation, database, timeout and business-rule failures become `isError` results whose text helps the caller
correct itself; nothing internal (traceback, SQL) leaves this module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson
from typing_extensions import get_type_hints

from services.protocol import param_headers
from services.tools import deadlines
from services.tools.context import DatabaseUnavailable, InputRequired, RequestRefused, ToolContext, ToolError
from services.tools.prompts import PromptRegistry
from services.tools.reply import Reply
from services.tools.resources import ResourceRegistry
from services.tools.typeschema import JsonSchema, is_object_type, parse_docstring, schema_for
from services.tools.validate import ValidationError, compile_schema

log = logging.getLogger("mcpstack.tools")

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
DEFAULT_TIMEOUT_S = 10.0

# Raised by a tool's peer (services/tools/context.py) to end the request with something other than the tool's result
# (an InputRequiredResult, a JSON-RPC error): the MCP layer answers them, so they pass through unconverted.
PEER_SIGNALS = (InputRequired, RequestRefused)

Shape = Literal["object", "wrapped", "text", "passthrough", "free"]


class ToolResult(NamedTuple):
    """An MCP `CallToolResult`: content blocks, optional structured content, and the error flag.

    `structured_json` is `structured` already encoded (the text block carries the same JSON), so the protocol layer
    can write it without serializing the payload a second time. A named tuple: one is made per call.
    """

    content: tuple[dict[str, Any], ...]
    structured: Any = None
    is_error: bool = False
    structured_json: bytes | None = None

    @classmethod
    def text(cls, text: str, *, is_error: bool = False) -> ToolResult:
        return cls(({"type": "text", "text": text},), None, is_error)

    @classmethod
    def json(cls, structured: Any) -> ToolResult:
        encoded = orjson.dumps(structured)
        return cls(({"type": "text", "text": encoded.decode()},), structured, False, encoded)

    def to_mcp(self) -> dict[str, Any]:
        result: dict[str, Any] = {"content": list(self.content)}
        if self.structured is not None:
            result["structuredContent"] = self.structured
        if self.is_error:
            result["isError"] = True
        return result


@dataclass(frozen=True, slots=True)
class Tool:
    """One registered tool: its MCP descriptor, compiled validator and the wrapped function."""

    name: str
    description: str
    input_schema: JsonSchema
    output_schema: JsonSchema | None
    fn: Callable[..., Any]
    is_async: bool
    context_param: str | None
    shape: Shape
    timeout_s: float
    title: str | None = None
    annotations: dict[str, Any] | None = None
    validator: Callable[[Any], Any] = field(repr=False, default=lambda data: data)
    explicit_schema: bool = False  # `input_schema=` given: arguments are checked by `validator` alone

    def descriptor(self) -> dict[str, Any]:
        """The entry for `tools/list`."""
        entry: dict[str, Any] = {"name": self.name}
        if self.title:
            entry["title"] = self.title
        entry["description"] = self.description
        entry["inputSchema"] = self.input_schema
        if self.output_schema is not None:
            entry["outputSchema"] = self.output_schema
        if self.annotations:
            entry["annotations"] = self.annotations
        return entry

    def invoke(self, arguments: Any, ctx: ToolContext | None) -> Reply[ToolResult]:
        """Validate and run; sync tools answer directly (no task, no await), async tools return a coroutine."""
        try:
            kwargs = self.validator({} if arguments is None else arguments)
        except ValidationError as ex:
            where = f"argument {ex.path!r} " if ex.path else ""
            return ToolResult.text(
                f"Invalid arguments for tool '{self.name}': {where}{ex.message}. "
                "The tool's inputSchema (tools/list) describes the accepted arguments.",
                is_error=True,
            )
        if self.context_param is not None:
            kwargs[self.context_param] = ctx  # the validator returned a fresh dict
        if self.is_async:
            return self._run_async(kwargs)
        try:
            return self._convert(self.fn(**kwargs))
        except PEER_SIGNALS:
            raise
        except Exception as failure:  # not `ex`: mypyc gives a name one type per function
            return self._failure(failure)

    async def _run_async(self, kwargs: dict[str, Any]) -> ToolResult:
        # One look-up of the running loop for both: on CPython 3.11 each `get_running_loop()` (and so a
        # `current_task()` without its loop) is a getpid() system call.
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        watch = deadlines.keeper(loop)
        watch.watch(task, self.timeout_s)
        try:
            value = await self.fn(**kwargs)
        except asyncio.CancelledError:
            if watch.forget(task):  # cancelled by its deadline, not by the server shutting down
                task.uncancel()
                return self._failure(TimeoutError())
            raise
        except PEER_SIGNALS:
            watch.forget(task)
            raise
        except Exception as ex:
            watch.forget(task)
            return self._failure(ex)
        watch.forget(task)
        try:
            return self._convert(value)
        except Exception as ex:
            return self._failure(ex)

    def _convert(self, value: Any) -> ToolResult:
        shape = self.shape
        if shape == "object":
            if type(value) is not dict and dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            return ToolResult.json(value)
        if shape == "wrapped":
            return ToolResult.json({"result": value})
        if shape == "text":
            return ToolResult.text(value)
        if shape == "passthrough":
            if not isinstance(value, ToolResult):
                raise TypeError(f"tool {self.name} is annotated to return ToolResult but returned {type(value)}")
            return value
        if isinstance(value, str):
            return ToolResult.text(value)
        if isinstance(value, dict):
            return ToolResult.json(value)
        return ToolResult.text(orjson.dumps(value).decode())

    def _failure(self, ex: Exception) -> ToolResult:
        return ToolResult.text(failure_text(self.name, self.timeout_s, ex), is_error=True)


def failure_text(tool: str, timeout_s: float, ex: BaseException) -> str:
    """The one mapping from an exception raised while running a tool to the text the caller sees."""
    if isinstance(ex, ToolError):
        return str(ex)
    if isinstance(ex, TimeoutError):
        return f"Tool '{tool}' did not finish within {timeout_s:g} s and was cancelled. Retry, or narrow the request."
    # asyncpg is looked up, not imported: a server without a database never loads it (cold start), and an
    # asyncpg exception can only exist once asyncpg has been imported.
    pg: Any = sys.modules.get("asyncpg")
    unavailable: tuple[type[BaseException], ...] = (DatabaseUnavailable, OSError)
    if pg is not None:
        unavailable += (pg.PostgresConnectionError, pg.InterfaceError, pg.CannotConnectNowError)
    if isinstance(ex, unavailable):
        log.warning("tool %s: database unavailable: %s", tool, ex)
        return f"Tool '{tool}' could not reach its database; nothing was changed. Retry in a few seconds."
    if pg is not None and isinstance(ex, pg.QueryCanceledError):
        return f"Tool '{tool}' took too long in the database and was cancelled. Retry, or narrow the request."
    log.error("tool %s failed", tool, exc_info=ex)
    return f"Tool '{tool}' failed with an internal error (logged on the server). Retry later or try another tool."


class ToolRegistry:
    """An ordered set of tools. `tools/list` lists them in registration order (deterministic).

    A catalogue (a tool pack, an app) may also carry resources and prompts (services/tools/resources.py, prompts.py):
    `resources` and `prompts` hold them, and `include` takes all three from another registry."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self.resources = ResourceRegistry()
        self.prompts = PromptRegistry()
        self.resource = self.resources.resource  # the decorators, beside `tool`
        self.prompt = self.prompts.prompt

    def tool(
        self,
        name: str | None = None,
        *,
        title: str | None = None,
        description: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        annotations: dict[str, Any] | None = None,
        input_schema: JsonSchema | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as a tool (the function itself is returned unchanged)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(
                build_tool(
                    fn,
                    name=name,
                    title=title,
                    description=description,
                    timeout_s=timeout_s,
                    annotations=annotations,
                    input_schema=input_schema,
                )
            )
            return fn

        return register

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool

    def include(self, other: ToolRegistry) -> None:
        for tool in other:
            self.add(tool)
        self.resources.include(other.resources)
        self.prompts.include(other.prompts)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)


def build_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    annotations: dict[str, Any] | None = None,
    input_schema: JsonSchema | None = None,
) -> Tool:
    tool_name = name or fn.__name__
    if not TOOL_NAME.match(tool_name):
        raise ValueError(f"tool name {tool_name!r} must match {TOOL_NAME.pattern}")
    if timeout_s <= 0:
        raise ValueError(f"tool {tool_name}: timeout_s must be positive")
    summary, arg_docs = parse_docstring(fn.__doc__)
    hints = get_type_hints(fn, include_extras=True)
    properties: dict[str, JsonSchema] = {}
    required: list[str] = []
    context_param: str | None = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"tool {tool_name}: parameter {param.name} must be a plain named parameter")
        hint = hints.get(param.name)
        if hint is None:
            raise TypeError(f"tool {tool_name}: parameter {param.name} needs a type annotation")
        if hint is ToolContext:
            context_param = param.name
            continue
        schema = schema_for(hint, closed_objects=True)
        if param.name in arg_docs and "description" not in schema:
            schema["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            schema["default"] = param.default
        properties[param.name] = schema
    explicit = input_schema is not None
    if input_schema is None:
        input_schema = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = required
        input_schema["additionalProperties"] = False
    else:
        _check_explicit_schema(tool_name, input_schema, properties, required)

    returns = hints.get("return", Any)
    output_schema: JsonSchema | None
    shape: Shape
    if returns is ToolResult:
        output_schema, shape = None, "passthrough"
    elif returns is str:
        output_schema, shape = None, "text"
    elif is_object_type(returns):
        output_schema, shape = schema_for(returns, closed_objects=False), "object"
    elif returns in (Any, dict, None, type(None)) or getattr(returns, "__origin__", None) is dict:
        output_schema, shape = None, "free"
    else:
        inner = schema_for(returns, closed_objects=False)
        output_schema = {"type": "object", "properties": {"result": inner}, "required": ["result"]}
        shape = "wrapped"

    text = (description or summary).strip()
    if not text:
        raise TypeError(f"tool {tool_name}: give it a docstring or a description (the model reads it)")
    return Tool(
        name=tool_name,
        title=title,
        description=text,
        input_schema=input_schema,
        output_schema=output_schema,
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        context_param=context_param,
        shape=shape,
        timeout_s=timeout_s,
        annotations=annotations,
        validator=_validator(tool_name, input_schema),
        explicit_schema=explicit,
    )


def _validator(tool: str, input_schema: JsonSchema) -> Callable[[Any], Any]:
    """The compiled argument check; also refuses an inputSchema whose `x-mcp-header` annotations break the transport's
    rules (services/protocol.py), which every conforming client would drop the tool for."""
    try:
        param_headers(input_schema)
        return compile_schema(input_schema)
    except (ValueError, TypeError) as ex:
        raise ValueError(f"tool {tool}: inputSchema: {ex}") from None


def _check_explicit_schema(
    tool: str, schema: JsonSchema, parameters: dict[str, JsonSchema], required: list[str]
) -> None:
    """A declared inputSchema must describe the function: an object whose properties are exactly its parameters,
    closed (`additionalProperties: false`, else an unknown argument would reach the function), and requiring every
    parameter that has no default."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ValueError(f"tool {tool}: inputSchema must be a JSON Schema object with type 'object'")
    declared = schema.get("properties", {})
    if not isinstance(declared, dict) or set(declared) != set(parameters):
        raise ValueError(
            f"tool {tool}: inputSchema properties {sorted(declared)} must be the function's parameters "
            f"{sorted(parameters)}"
        )
    if schema.get("additionalProperties") is not False:
        raise ValueError(f"tool {tool}: inputSchema must set additionalProperties to false")
    missing = [name for name in required if name not in schema.get("required", [])]
    if missing:
        raise ValueError(f"tool {tool}: parameters without a default must be required in inputSchema: {missing}")
