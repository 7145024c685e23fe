"""`POST /mcp`: the HTTP rules of MCP's Streamable HTTP transport (stateless, JSON responses) around `McpService`.

The route reads what it needs from `Request.headers`, parses the body once with pydantic
(`TypeAdapter.validate_json`: JSON straight to the message model) and answers with bytes it serialized itself. The
OpenAPI document still describes the headers, the body and every response (`ROUTE_DOCS`), so `/docs` shows the same
contract as when FastAPI parsed the body from the signature.

The checks keep the order FastAPI's request handling gave them, so every answer, error paths included, is the
same byte for byte: a JSON body that does not parse is refused first (400, parse error), then Content-Type (415),
then Accept (406), then a body that is not a JSON-RPC message (400, invalid request), then `MCP-Protocol-Version`.
When pydantic's parser refuses a body, the standard library's parser decides on its UTF-8 text, as FastAPI's
`Request.json()` did except that UTF-16 and UTF-32 bodies are refused, as the native server refuses them: JSON over
HTTP is UTF-8 (RFC 8259, section 8.1, which lets a parser ignore a leading byte order mark, as this one does); those
are errors or rarities, never the hot path.
"""

from __future__ import annotations

import asyncio
import email.message
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from services.fastapi_baseline.errors import JSON, JsonRpcException, invalid_request
from services.fastapi_baseline.mcp import McpService
from services.fastapi_baseline.metrics import record
from services.fastapi_baseline.models import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    ErrorObject,
    JsonRpcClientResponse,
    JsonRpcError,
    JsonRpcMessage,
    JsonRpcRequest,
    JsonRpcSuccess,
)
from services.fastapi_baseline.security import Verdicts
from services.fastapi_baseline.stateful import SESSION_METHODS, session_of
from services.fastapi_baseline.streaming import (
    PRIMING_VERSIONS,
    STREAM,
    StreamPeer,
    ToolCallResponse,
    answer_problem,
    ours,
)
from services.protocol import (
    ECHO_METHOD_CHARS,
    HANDSHAKE_ONLY_METHODS,
    SERVED_VERSIONS,
    STATELESS_ERROR_STATUS,
    Rejection,
    accepts_json,
    accepts_sse,
    check_call_param_headers,
    check_stateless_request,
    era_of,
    is_json,
    may_exceed_double,
    stateless_result,
    strict_json,
    unsupported_version,
)
from services.sessions import LEVEL_RANK, SESSION_HEADER, Session, SessionStore
from services.tools.features import CACHEABLE_METHODS

MESSAGE: TypeAdapter[Any] = TypeAdapter(JsonRpcMessage)
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
"""2026-07-28: the level a request's `_meta` asks its log messages at (none are sent without it)."""
T = TypeVar("T")
log = logging.getLogger("mcpstack.fastapi")


def _parsed_as_json(content_type: str) -> bool:
    """The Content-Types whose body FastAPI decodes as JSON (`application/json`, `application/*+json`)."""
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


_json_body = Verdicts[str](_parsed_as_json)
_json_type = Verdicts[str](is_json)
_json_accepted = Verdicts[str](accepts_json)
_sse_accepted = Verdicts[str](accepts_sse)


def _decode(body: bytes) -> Any:
    """The JSON-RPC message in `body`; raises the parse error at once, returns an invalid request to raise later."""
    try:
        message = MESSAGE.validate_json(body)
    except ValidationError:
        pass
    else:
        if not may_exceed_double(body):  # pydantic reads 1e999 as inf, NaN as nan, 2^70 exactly: read again
            return message
    try:
        value = strict_json(body.decode("utf-8-sig"))  # UTF-8 (a BOM may be ignored), never UTF-16/32: RFC 8259, 8.1
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JsonRpcException(PARSE_ERROR, "Parse error: the body is not valid JSON", status_code=400) from None
    except Exception:  # nested too deep, an integer too long: as FastAPI answered them
        raise JsonRpcException(PARSE_ERROR, "There was an error parsing the body", status_code=400) from None
    try:
        return MESSAGE.validate_python(value, from_attributes=True)
    except ValidationError as ex:
        return invalid_request(ex.errors(include_url=False), value)


async def mcp_endpoint(request: Request) -> Response:
    """One JSON-RPC message per POST. Requests are answered with one JSON-RPC response; notifications and client
    responses are acknowledged with 202 and no body."""
    headers = request.headers
    body = await request.body()
    content_type = headers.get("content-type")
    message: Any = None
    if body and content_type is not None and _json_body(content_type):
        message = _decode(body)
    if not _json_type(content_type or ""):
        raise JsonRpcException(
            INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json", status_code=415
        )
    accept = headers.get("accept")
    if accept is not None and not _json_accepted(accept):
        raise JsonRpcException(INVALID_REQUEST, "Not Acceptable: Accept must include application/json", status_code=406)
    if message is None:  # an empty body
        raise JsonRpcException(PARSE_ERROR, "Parse error: the body is not valid JSON", status_code=400)
    if type(message) is JsonRpcException:
        raise message
    version = headers.get("mcp-protocol-version")
    is_request = type(message) is JsonRpcRequest
    era = era_of(version, SERVED_VERSIONS)
    if era is None:
        assert version is not None  # an absent header is the handshake era
        raise _rejected(unsupported_version(version), message.id if is_request else None)
    service: McpService = request.app.state.mcp
    sessions = service.sessions
    session: Session | None = None
    if sessions is not None and era != "stateless" and not (is_request and message.method == "initialize"):
        session = await session_of(sessions, headers.get(SESSION_HEADER), message.id if is_request else None)
    if not is_request:
        if type(message) is JsonRpcClientResponse:
            await _answered(sessions, session, message)
        elif message.method == CANCELLED and era != "stateless":
            _cancel(session, headers, message.params)
        return Response(status_code=202)
    method = message.method
    stateless = era == "stateless"
    if stateless:
        rejection = check_stateless_request(
            method,
            message.params,
            version_header=version or "",
            method_header=headers.get("mcp-method"),
            name_header=headers.get("mcp-name"),
        ) or check_call_param_headers(service.param_headers, message.params, headers.get)
        if rejection is not None:
            record("unknown", "", "rpc_error", 0.0)
            raise _rejected(rejection, message.id)
    handler = None if stateless and method in HANDSHAKE_ONLY_METHODS else service.era_methods(era).get(method)
    if session is not None and sessions is not None and method in SESSION_METHODS:
        handler = functools.partial(SESSION_METHODS[method], sessions, session)
    if handler is None:
        record("unknown", "", "rpc_error", 0.0)
        raise JsonRpcException(
            METHOD_NOT_FOUND,
            f"Method not found: {method[:ECHO_METHOD_CHARS]}",
            id_=message.id,
            status_code=404 if stateless else 200,
        )
    started = time.perf_counter()
    tool = service.tool_label(message)
    if tool in service.context_tools and accept is not None and _sse_accepted(accept):
        if stateless:
            return _call_streaming_stateless(handler, message, tool, started)
        return await _call_streaming(service, message, tool, version, started, session, headers)
    try:
        if tool in service.async_tools and not stateless:
            result = await _cancellable(handler(message), session, headers, message.id)
        else:
            result = await handler(message)
    except JsonRpcException as ex:
        record(method, tool, "rpc_error", time.perf_counter() - started)
        ex.id = message.id
        if stateless:
            ex.status_code = STATELESS_ERROR_STATUS.get(ex.code, ex.status_code)
        raise
    record(method, tool, "tool_error" if result.get("isError") else "ok", time.perf_counter() - started)
    if stateless:
        result = stateless_result(result, listing=method in CACHEABLE_METHODS)
    elif sessions is not None and method == "initialize":
        opened = await sessions.create(
            protocol_version=result["protocolVersion"],
            client_capabilities=(message.params or {}).get("capabilities") or {},
            slot=service.settings.slot,
        )
        body = to_json({"jsonrpc": "2.0", "id": message.id, "result": result})
        return Response(body, media_type=JSON, headers={SESSION_HEADER: opened.id})
    return Response(to_json({"jsonrpc": "2.0", "id": message.id, "result": result}), media_type=JSON)


async def _answered(sessions: SessionStore | None, session: Session | None, message: JsonRpcClientResponse) -> None:
    """A client's answer to a server-to-client request: handed to the tool that waits for it, on whichever worker.

    Without sessions an answer cannot reach anyone: accepted and dropped (202). With one, an answer no request of
    the session awaits (answered already, given up, or never sent) is refused with the reason (400, as the native
    server does), as is a malformed answer to a request that waits (whose tool is told as well)."""
    id_ = message.id
    answer = {"result": message.result} if message.error is None else {"error": message.error}
    delivered = False
    if sessions is not None and session is not None and isinstance(id_, str):
        delivered = await sessions.deliver(session.id, id_, answer)
    if delivered:
        problem = answer_problem(message.result, message.error)
        if problem is not None:
            raise JsonRpcException(INVALID_REQUEST, f"Invalid response: {problem}", status_code=400)
    elif ours(id_):
        raise JsonRpcException(
            INVALID_REQUEST,
            f"Invalid response: no request with id {id_} is waiting for an answer (answered already, or given up)",
            status_code=400,
        )
    elif session is not None:
        raise JsonRpcException(
            INVALID_REQUEST,
            "Invalid response: no request of this session awaits an answer with this id",
            status_code=400,
        )


async def _call_streaming(
    service: McpService,
    message: JsonRpcRequest,
    tool: str,
    version: str | None,
    started: float,
    session: Session | None,
    headers: Any,
) -> Response:
    """A tools/call whose tool may talk to the client: JSON if it answers before it sends anything, else SSE."""
    meta = (message.params or {}).get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    peer = StreamPeer(
        progress_token=token if isinstance(token, (str, int)) and not isinstance(token, bool) else None,
        session=session,
        store=service.sessions,
        priming=(version if session is None else session.protocol_version) in PRIMING_VERSIONS,
    )

    async def run() -> tuple[int, bytes]:
        return await _answer(
            _cancellable(service.call_tool(message, peer), session, headers, message.id), message, tool, peer, started
        )

    return ToolCallResponse(run, peer)


def _call_streaming_stateless(
    handler: Callable[[JsonRpcRequest], Awaitable[dict[str, Any]]], message: JsonRpcRequest, tool: str, started: float
) -> Response:
    """2026-07-28: the same lazy SSE answer for progress and logs (no priming event: no stream is ever resumed in this
    era; logs only at `_meta`'s level, else none). Questions stay multi-round-trip requests (services/round_trips.py),
    and a client that leaves cancels its request."""
    meta = (message.params or {}).get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    level = meta.get(META_LOG_LEVEL) if isinstance(meta, dict) else None
    peer = StreamPeer(
        progress_token=token if isinstance(token, (str, int)) and not isinstance(token, bool) else None,
        session=None,
        store=None,
        priming=False,
        log_floor=LEVEL_RANK.get(level) if isinstance(level, str) else None,
        cancel_on_disconnect=True,
    )

    async def run() -> tuple[int, bytes]:
        reset = STREAM.set(peer)
        try:
            return await _answer(handler(message), message, tool, peer, started, stateless=True)
        finally:
            STREAM.reset(reset)

    return ToolCallResponse(run, peer)


async def _answer(
    work: Awaitable[dict[str, Any]],
    message: JsonRpcRequest,
    tool: str,
    peer: StreamPeer,
    started: float,
    *,
    stateless: bool = False,
) -> tuple[int, bytes]:
    """A streamable tools/call's HTTP status and JSON-RPC response."""
    try:
        result = await work
    except JsonRpcException as ex:
        record("tools/call", tool, "rpc_error", time.perf_counter() - started)
        status = STATELESS_ERROR_STATUS.get(ex.code, ex.status_code) if stateless else ex.status_code
        return status, _error_body(message.id, ErrorObject(code=ex.code, message=ex.message, data=ex.data))
    except Exception as ex:
        if not peer.started:
            raise  # answered as any other failure (500, errors.py)
        log.error("unhandled error in tools/call %s", tool, exc_info=ex)
        return 200, _error_body(message.id, ErrorObject(code=INTERNAL_ERROR, message="Internal error"))
    record("tools/call", tool, "tool_error" if result.get("isError") else "ok", time.perf_counter() - started)
    if stateless:
        result = stateless_result(result)
    return 200, to_json({"jsonrpc": "2.0", "id": message.id, "result": result})


REQUEST_CANCELLED = -32800
"""The error a request cancelled by `notifications/cancelled` ends with (the native server's too): the HTTP exchange
must end with something, and the client, which cancelled it, ignores it."""
CANCELLED = "notifications/cancelled"

# The handshake era's tool calls that may wait on I/O while they run on this worker, by (session id, request id): the
# task and the request's headers (who sent it is read from them only when a cancellation names it, off the hot path).
# None marks an id in flight twice (ambiguous: neither is cancelled).
_running: dict[tuple[str | None, Any], tuple[asyncio.Task[Any], Any] | None] = {}
_cancelling: set[asyncio.Task[Any]] = set()
# With a database: publishes a cancellation of a call that does not run on this worker to every worker
# (services/cancellation.py; set by the app's lifespan, `relay_cancellations`). None without one.
_relay: Callable[[str], None] | None = None


def relay_cancellations(publish: Callable[[str], None] | None) -> None:
    global _relay
    _relay = publish


def _scope(session_id: str | None, headers: Any) -> str | None:
    return session_id if session_id is not None else _caller(headers)


def _caller(headers: Any) -> str | None:
    """Without sessions request ids are unique per client only: the client is told apart by its Authorization header
    when it sends one."""
    return headers.get("authorization")  # type: ignore[no-any-return]


async def _cancellable(work: Awaitable[T], session: Session | None, headers: Any, id_: Any) -> T:
    """Run a tool call that `notifications/cancelled` of the same caller may cancel (on this worker); a cancelled one
    ends with a REQUEST_CANCELLED error."""
    task = asyncio.current_task()
    key = (None if session is None else session.id, id_)
    entry = None if task is None else (task, headers)
    _running[key] = None if key in _running else entry
    try:
        return await work
    except asyncio.CancelledError:
        if task is None or task not in _cancelling:
            raise
        task.uncancel()
        raise JsonRpcException(REQUEST_CANCELLED, "Request cancelled by the client") from None
    finally:
        if _running.get(key) is entry:
            del _running[key]
        if task is not None:
            _cancelling.discard(task)


def _cancel(session: Session | None, headers: Any, params: Any) -> None:
    """`notifications/cancelled`: cancel the caller's named request if it runs here; if it does not, and a database
    is configured, tell every worker (`_relay`, services/cancellation.py). A tool answered already is left alone, and
    without a database so is one running on another worker: cancellation is advisory."""
    if type(params) is not dict or type(params.get("requestId")) not in (str, int):
        return  # a request id is a string or an integer: anything else names no request
    key = (None if session is None else session.id, params["requestId"])
    if key not in _running:
        if _relay is not None:  # perhaps on another worker: tell them all
            from services.cancellation import cancel_key

            _relay(cancel_key(_scope(session.id if session else None, headers), key[1]))
        return
    entry = _running[key]
    if entry is None:
        return
    task, sent_with = entry
    if session is None and _caller(sent_with) != _caller(headers):
        return  # another client's request with the same id
    _stop(task)


def cancel_relayed(relayed: str) -> None:
    """A cancellation another worker published (services/cancellation.py): the call running here under that key."""
    from services.cancellation import cancel_key

    for (session_id, id_), entry in list(_running.items()):
        if entry is not None and cancel_key(_scope(session_id, entry[1]), id_) == relayed:
            _stop(entry[0])


def _stop(task: asyncio.Task[Any]) -> None:
    if not task.done():
        _cancelling.add(task)
        task.cancel()


def _error_body(id_: Any, error: ErrorObject) -> bytes:
    return JsonRpcError(id=id_, error=error).model_dump_json().encode()


def _rejected(rejection: Rejection, id_: Any) -> JsonRpcException:
    return JsonRpcException(rejection.code, rejection.message, id_=id_, status_code=400, data=rejection.data)


def _error_doc(description: str) -> dict[str, Any]:
    return {"model": JsonRpcError, "description": description}


def _header_doc(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": description}


# The route's OpenAPI: what FastAPI derived from the signature before the body was parsed in the route.
MESSAGE_SCHEMA = MESSAGE.json_schema(ref_template="#/components/schemas/{model}")
MESSAGE_DEFINITIONS: dict[str, Any] = MESSAGE_SCHEMA.pop("$defs")
ROUTE_DOCS: dict[str, Any] = {
    "summary": "MCP Streamable HTTP endpoint (stateless, JSON responses)",
    "tags": ["MCP"],
    "response_class": Response,
    "responses": {
        200: {"model": JsonRpcSuccess, "description": "The JSON-RPC response (errors of a method included)"},
        202: {"description": "Notification or client response accepted (empty body)"},
        400: _error_doc("Parse error, invalid request or unsupported protocol version"),
        406: _error_doc("Not Acceptable: Accept must include application/json"),
        413: _error_doc("Content Too Large"),
        415: _error_doc("Unsupported Media Type: Content-Type must be application/json"),
    },
    "openapi_extra": {
        "parameters": [
            _header_doc("content-type", "Must be application/json."),
            _header_doc("accept", "If present, must include application/json."),
            _header_doc("mcp-protocol-version", f"If present, one of {', '.join(SERVED_VERSIONS)}."),
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {**MESSAGE_SCHEMA}}}},
    },
}
