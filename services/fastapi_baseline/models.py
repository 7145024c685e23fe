"""Pydantic models: the JSON-RPC envelope, the MCP method parameters, and one arguments model per tool.

The tool argument models are built from the shared registry (each tool function's signature, without its
`ToolContext` parameter), so the baseline serves exactly the catalogue's tools with the same constraints.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import get_type_hints

from services.protocol import (  # the one table of error codes, re-exported for the baseline's modules
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from services.tools.registry import Tool
from services.tools.validate import ValidationError as SchemaViolation

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "UNSUPPORTED_PROTOCOL_VERSION",
]

JsonRpcId = StrictInt | StrictStr


class JsonRpcRequest(BaseModel):
    """A request: the client waits for a response with the same id."""

    model_config = ConfigDict(extra="allow")

    jsonrpc: Literal["2.0"]
    id: JsonRpcId
    method: StrictStr  # an empty name is a method like any other: unknown, so -32601 for a request
    params: dict[str, Any] | None = None


class JsonRpcNotification(BaseModel):
    """A notification: no id, nothing to answer."""

    model_config = ConfigDict(extra="allow")

    jsonrpc: Literal["2.0"]
    method: StrictStr  # an empty name is a method like any other: unknown, so -32601 for a request
    params: dict[str, Any] | None = None


class JsonRpcClientResponse(BaseModel):
    """A client's response to a server-initiated request (this server sends none, so it is acknowledged only)."""

    model_config = ConfigDict(extra="allow")

    jsonrpc: Literal["2.0"]
    id: JsonRpcId | None
    result: Any = None
    error: dict[str, Any] | None = None


def _message_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "method" in value:
            return "request" if "id" in value else "notification"
        if ("result" in value) != ("error" in value):
            return "response"
    return "request"  # validation then says what a request is missing


JsonRpcMessage = Annotated[
    Annotated[JsonRpcRequest, Tag("request")]
    | Annotated[JsonRpcNotification, Tag("notification")]
    | Annotated[JsonRpcClientResponse, Tag("response")],
    Discriminator(_message_kind),
]


class ErrorObject(BaseModel):
    code: int
    message: str
    data: Annotated[Any, Field(exclude_if=lambda v: v is None)] = None


class JsonRpcSuccess(BaseModel):
    jsonrpc: Literal["2.0"] = "2.0"
    id: JsonRpcId
    result: dict[str, Any]


class JsonRpcError(BaseModel):
    jsonrpc: Literal["2.0"] = "2.0"
    id: JsonRpcId | None
    error: ErrorObject


# -- MCP method parameters -------------------------------------------------------------------------------------------

_PARAMS = ConfigDict(extra="allow", strict=True)


class InitializeParams(BaseModel):
    model_config = _PARAMS

    protocolVersion: str
    capabilities: dict[str, Any]
    clientInfo: dict[str, Any]


class ListToolsParams(BaseModel):
    model_config = _PARAMS

    cursor: str | None = None


class SetLevelParams(BaseModel):
    model_config = _PARAMS

    level: Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class PaginatedParams(BaseModel):
    """The params of resources/list, resources/templates/list and prompts/list."""

    model_config = _PARAMS

    cursor: str | None = None


class CallToolParams(BaseModel):
    model_config = _PARAMS

    name: str
    arguments: dict[str, Any] | None = None


class ReadResourceParams(BaseModel):
    model_config = _PARAMS

    uri: str


class GetPromptParams(BaseModel):
    model_config = _PARAMS

    name: str
    arguments: dict[str, Any] | None = None  # strings; the shared check says which one is not


class PromptReference(BaseModel):
    model_config = _PARAMS

    type: Literal["ref/prompt"]
    name: str


class ResourceTemplateReference(BaseModel):
    model_config = _PARAMS

    type: Literal["ref/resource"]
    uri: str


class CompletionArgument(BaseModel):
    model_config = _PARAMS

    name: str
    value: str


class CompletionContext(BaseModel):
    model_config = _PARAMS

    arguments: dict[str, str] | None = None


class CompleteParams(BaseModel):
    model_config = _PARAMS

    ref: Annotated[PromptReference | ResourceTemplateReference, Field(discriminator="type")]
    argument: CompletionArgument
    context: CompletionContext | None = None


# -- tool arguments --------------------------------------------------------------------------------------------------

# Strict like JSON Schema: "5" is not an integer, true is not a number; unknown arguments are refused.
_ARGUMENTS = ConfigDict(strict=True, extra="forbid")


def arguments_model(tool: Tool) -> type[BaseModel]:
    """A pydantic model of the tool's arguments, from its function signature (the ToolContext is injected later)."""
    hints = get_type_hints(tool.fn, include_extras=True)
    fields: dict[str, Any] = {}
    for param in inspect.signature(tool.fn).parameters.values():
        if param.name == tool.context_param:
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (Any if tool.explicit_schema else hints[param.name], default)
    if tool.explicit_schema:  # a declared inputSchema (JSON Schema 2020-12) says more than the signature can
        return create_model(f"{tool.name}_arguments", __validators__={"declared": _declared_schema(tool)}, **fields)
    model: type[BaseModel] = create_model(f"{tool.name}_arguments", __config__=_ARGUMENTS, **fields)
    return model


def _declared_schema(tool: Tool) -> Any:
    """The check of a tool that declares its inputSchema: the schema's validator (services/tools/validate.py, the one
    the native server runs), before pydantic takes the fields as it leaves them."""

    def check(cls: type[BaseModel], data: Any) -> Any:
        try:
            return tool.validator(data)
        except SchemaViolation as ex:
            text = (f"argument {ex.path!r} " if ex.path else "") + ex.message
            raise PydanticCustomError("invalid_arguments", "{text}", {"text": text}) from None

    return model_validator(mode="before")(check)
