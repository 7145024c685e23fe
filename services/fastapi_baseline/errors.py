"""The one place where failures become HTTP responses: JSON-RPC error bodies with named codes, no internal text."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.fastapi_baseline.models import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorObject,
    JsonRpcError,
    JsonRpcId,
)
from services.protocol import STATELESS_VERSION

log = logging.getLogger("mcpstack.fastapi")

JSON = "application/json"


class JsonRpcException(Exception):
    """Raised anywhere below the route; `message` must be safe to show a client."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        id_: JsonRpcId | None = None,
        status_code: int = 200,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id_
        self.status_code = status_code
        self.data = data
        self.headers = headers


def error_response(
    status_code: int,
    code: int,
    message: str,
    id_: JsonRpcId | None = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = JsonRpcError(id=id_, error=ErrorObject(code=code, message=message, data=data)).model_dump_json()
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


def _readable_id(body: Any) -> JsonRpcId | None:
    if isinstance(body, dict):
        value = body.get("id")
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


async def on_json_rpc_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JsonRpcException)
    return error_response(exc.status_code, exc.code, exc.message, exc.id, exc.data, exc.headers)


def invalid_request(errors: list[Any], body: Any) -> JsonRpcException:
    """A body that is JSON but not one JSON-RPC message (400, -32600), from pydantic's errors: the first one's
    location and message, and the request's id when it can be read."""
    if isinstance(body, list):
        return JsonRpcException(
            INVALID_REQUEST, "Invalid Request: batches are not supported; send one message per POST", status_code=400
        )
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if not isinstance(part, int) or part)
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return JsonRpcException(
        INVALID_REQUEST, f"Invalid Request: {detail}"[:200], id_=_readable_id(body), status_code=400
    )


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Framework-raised HTTP errors (404, 405, 413, unreadable body) get JSON-RPC bodies on every path, as the native
    server answers them: a client that reaches a wrong path still reads an error it can parse."""
    assert isinstance(exc, StarletteHTTPException)
    code = PARSE_ERROR if exc.status_code == 400 else INVALID_REQUEST
    headers, message = exc.headers, str(exc.detail)
    if exc.status_code == 405:  # Starlette's Allow names only the methods of the path's first route (POST)
        allowed = allowed_methods(request)
        headers = {**(headers or {}), "Allow": allowed}
        if request.url.path == request.app.state.mcp_path:  # the native server's text
            message = (
                "Method not allowed: use POST" if allowed == "POST" else "Method not allowed: use POST, GET or DELETE"
            )
    return error_response(exc.status_code, code, message, headers=headers)


def allowed_methods(request: Request) -> str:
    """The 405's `Allow`: every method served on the path, as the native server lists them; only POST for a request
    of the 2026-07-28 era, which has no sessions and no standalone stream in either mode."""
    path = request.url.path
    if path == request.app.state.mcp_path and request.headers.get("mcp-protocol-version") == STATELESS_VERSION:
        return "POST"
    served = {
        method
        for route in request.app.routes
        if getattr(route, "path", None) == path
        for method in getattr(route, "methods", None) or ()
    }
    return ", ".join(method for method in ("GET", "POST", "DELETE") if method in served)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(500, INTERNAL_ERROR, "Internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(JsonRpcException, on_json_rpc_exception)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unexpected)
