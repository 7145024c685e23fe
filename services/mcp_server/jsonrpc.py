"""JSON-RPC 2.0 envelopes: decode one message, encode responses, and the named error codes.

Deliberately not MCP-aware and not HTTP-aware: it classifies bytes into a request, a notification, a response or an
error, and turns results and errors into bytes. The error codes come from services/protocol.py (one table for both
servers).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

# The error codes (JSON-RPC 2.0 and MCP), written once for both servers in services/protocol.py.
from services.protocol import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_CLIENT_CAPABILITY,
    PARSE_ERROR,
    SERVER_OVERLOADED,
    UNSUPPORTED_PROTOCOL_VERSION,
    strict_json,
)

__all__ = [
    "HEADER_MISMATCH",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MISSING_CLIENT_CAPABILITY",
    "PARSE_ERROR",
    "SERVER_OVERLOADED",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "ClientResponse",
    "Id",
    "Invalid",
    "Notification",
    "Request",
    "RpcError",
    "decode",
    "encode_error",
    "encode_result",
]

# A request id. An integer too wide for 64 bits is carried as its exact JSON text (`_classify_exactly`); it is in the
# type, not cast to int, because a compiled build checks the declared type where the id is read.
Id = str | int | orjson.Fragment


class RpcError(Exception):
    """Raised by method handlers; becomes a JSON-RPC error response. `message` must be safe to show a client."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


# Immutable and cheap to create (one per request): named tuples rather than frozen dataclasses.
class Request(NamedTuple):
    id: Id
    method: str
    params: Any


class Notification(NamedTuple):
    method: str
    params: Any


class ClientResponse(NamedTuple):
    """A response or error sent by the client to a server-initiated request."""

    id: Id | None


class Invalid(NamedTuple):
    """Not a usable message: `code` is PARSE_ERROR or INVALID_REQUEST; `id` is echoed when it could be read."""

    code: int
    message: str
    id: Id | None = None


Message = Request | Notification | ClientResponse | Invalid


def decode(body: bytes) -> Message:
    """Classify one HTTP body. Batches (arrays) are not accepted: from 2025-06-18 a body is one message."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Invalid(PARSE_ERROR, "Parse error: the body is not valid JSON")
    if type(obj) is not dict:
        if type(obj) is list:
            return Invalid(INVALID_REQUEST, "Invalid Request: batches are not supported; send one message per POST")
        return Invalid(INVALID_REQUEST, "Invalid Request: a JSON-RPC message must be a JSON object")
    try:
        return classify(obj)
    except _WideNumber:  # an id orjson read as a float: an integer beyond 64 bits, or a real float
        return _classify_exactly(body)


def classify(obj: dict[str, Any]) -> Message:
    raw_id = obj.get("id", _ABSENT)
    id_ok = raw_id is _ABSENT or (type(raw_id) is str) or (type(raw_id) is int) or _not_wide(raw_id)
    echo_id = raw_id if id_ok and raw_id is not _ABSENT else None
    if obj.get("jsonrpc") != "2.0":
        return Invalid(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', echo_id)
    method = obj.get("method", _ABSENT)
    if method is _ABSENT:
        if ("result" in obj) != ("error" in obj) and (raw_id is None or id_ok):
            return ClientResponse(echo_id)
        return Invalid(INVALID_REQUEST, 'Invalid Request: "method" is required', echo_id)
    if type(method) is not str:  # an empty name is a method like any other: unknown, so -32601 for a request
        return Invalid(INVALID_REQUEST, 'Invalid Request: "method" must be a string', echo_id)
    params = obj.get("params")
    if params is not None and type(params) is not dict:
        if raw_id is _ABSENT:
            return Invalid(INVALID_REQUEST, 'Invalid Request: "params" must be an object')
        return Invalid(INVALID_REQUEST, 'Invalid Request: "params" must be an object', echo_id)
    if raw_id is _ABSENT:
        return Notification(method, params)
    if not id_ok:
        return Invalid(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
    return Request(raw_id, method, params)


_ABSENT: Any = object()


class _WideNumber(Exception):
    """A float id from orjson, which reads an integer beyond 64 bits as a float: the body is read again exactly."""


def _not_wide(raw_id: Any) -> bool:
    """Asked only of an id that is neither absent, a string nor an int (never on the common path): True for the
    exact text `_classify_exactly` puts in place of a long integer."""
    if type(raw_id) is float:
        raise _WideNumber
    return type(raw_id) is orjson.Fragment


def _classify_exactly(body: bytes) -> Message:
    """A message whose id orjson read as a float, read again with the standard library, whose integers are exact.

    JSON-RPC allows any number as an id; an integer id is echoed exactly as it came, however long (carried as its
    JSON text, which orjson writes verbatim, so every encoder of a response handles it). A real float id stays an
    invalid request, as before. orjson has already accepted the body, so only its numbers can read differently; the
    other numbers are read by the one rule (services/protocol.py, strict_json: beyond 64 bits, the nearest double), as
    orjson read them."""
    try:
        obj = strict_json(body)
    except (ValueError, RecursionError):
        return Invalid(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
    raw_id = obj.get("id") if type(obj) is dict else None
    if type(raw_id) is not int:
        return Invalid(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer')
    # The exact digits, standing for the int (no `cast`: a compiled build checks a cast at run time).
    obj["id"] = orjson.Fragment(str(raw_id).encode())
    return classify(obj)


def encode_result(id_: Id, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": id_, "result": result})


def encode_error(id_: Id | None, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": id_, "error": error})
