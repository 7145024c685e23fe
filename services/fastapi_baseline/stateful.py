"""The FastAPI baseline's optional stateful mode (`MCP_STATEFUL=1`): sessions in the handshake era, on the shared
session store (services/sessions.py: one worker's memory, or PostgreSQL for several workers and instances).

`initialize` opens a session and answers its id in `Mcp-Session-Id` (`<MCP_SLOT>-<random>` when a slot is set). Every
later handshake-era message names it: none is 400, an unknown or ended one 404 (the client then initializes again).
`DELETE /mcp` ends it; `GET /mcp` opens its standalone SSE stream, which carries `notifications/resources/updated` for
the resources it subscribed to. `logging/setLevel` sets the session's level, which filters what its tools log;
questions to the client (sampling, elicitation, roots) go only to a session whose client declared the capability.
The 2026-07-28 era has no sessions and ignores all of this.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.fastapi_baseline.errors import JsonRpcException
from services.fastapi_baseline.models import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    JsonRpcRequest,
    ReadResourceParams,
    SetLevelParams,
)
from services.fastapi_baseline.streaming import PRIMING_VERSIONS
from services.protocol import SERVED_VERSIONS, accepts_sse, era_of, unsupported_version
from services.sessions import (
    LEVEL_RANK,
    SESSION_HEADER,
    SESSION_REQUIRED,
    SESSION_UNKNOWN,
    STREAM_KEY,
    SUBSCRIPTIONS_FULL,
    Session,
    SessionEnded,
    SessionStore,
    StreamReplaced,
    subscription_refusal,
)

MAX_SESSION_ID_CHARS = 200
"""Longer than any id this server issues: refused without asking the store."""
KEEPALIVE_S = 15.0
"""A comment line on an idle standalone stream this often: it keeps proxies from closing it and finds a client that
left (the write fails)."""

SessionMethod = Callable[[SessionStore, Session, JsonRpcRequest], Awaitable[dict[str, Any]]]


async def session_of(store: SessionStore, session_id: str | None, id_: Any = None) -> Session:
    """The live session a message names; 400 when it names none, 404 when it is unknown or ended."""
    session_id = session_id.strip(" \t") if session_id else None  # optional whitespace around a field value
    if not session_id:
        raise JsonRpcException(INVALID_REQUEST, SESSION_REQUIRED, id_=id_, status_code=400)
    session = await store.get(session_id) if len(session_id) <= MAX_SESSION_ID_CHARS else None
    if session is None:
        raise JsonRpcException(INVALID_REQUEST, SESSION_UNKNOWN, id_=id_, status_code=404)
    return session


def _params(model: type[BaseModel], request: JsonRpcRequest, message: str) -> Any:
    try:
        return model.model_validate(request.params or {})
    except ValidationError:
        raise JsonRpcException(INVALID_PARAMS, message) from None


async def set_level(store: SessionStore, session: Session, request: JsonRpcRequest) -> dict[str, Any]:
    params = _params(SetLevelParams, request, "logging/setLevel: level must be one of " + ", ".join(LEVEL_RANK))
    await store.set_log_level(session.id, params.level)
    return {}


def _subscription_uri(request: JsonRpcRequest) -> str:
    """The params' uri, refused by the rule both servers share (services/sessions.py)."""
    params = _params(ReadResourceParams, request, str(subscription_refusal(request.method, None)))
    refused = subscription_refusal(request.method, params.uri)
    if refused is not None:
        raise JsonRpcException(INVALID_PARAMS, refused)
    uri: str = params.uri
    return uri


async def subscribe(store: SessionStore, session: Session, request: JsonRpcRequest) -> dict[str, Any]:
    if not await store.subscribe(session.id, _subscription_uri(request)):
        raise JsonRpcException(INVALID_PARAMS, SUBSCRIPTIONS_FULL)
    return {}


async def unsubscribe(store: SessionStore, session: Session, request: JsonRpcRequest) -> dict[str, Any]:
    await store.unsubscribe(session.id, _subscription_uri(request))
    return {}


SESSION_METHODS: dict[str, SessionMethod] = {
    "logging/setLevel": set_level,
    "resources/subscribe": subscribe,
    "resources/unsubscribe": unsubscribe,
}
"""Handshake-era methods that act on the session (answered here in stateful mode)."""


def stateful_capabilities(capabilities: dict[str, Any]) -> dict[str, Any]:
    """The handshake era's capabilities with sessions: resource subscriptions when there are resources."""
    if "resources" not in capabilities:
        return capabilities
    return {**capabilities, "resources": {**capabilities["resources"], "subscribe": True}}


async def open_stream(request: Request) -> Response:
    """`GET /mcp`: the session's standalone SSE stream (server notifications not tied to a request)."""
    _refuse_stateless_era(request)
    store: SessionStore = request.app.state.mcp.sessions
    session = await session_of(store, request.headers.get(SESSION_HEADER))
    if not accepts_sse(request.headers.get("accept", "")):
        raise JsonRpcException(
            INVALID_REQUEST, "Not Acceptable: Accept must include text/event-stream", status_code=406
        )
    inbox = await store.expect(session.id, STREAM_KEY)

    async def events() -> AsyncIterator[bytes]:
        numbers = itertools.count()
        try:
            if session.protocol_version in PRIMING_VERSIONS:
                yield format_sse_event(id=f"g{next(numbers)}", data_str="")
            while True:
                try:
                    message = await inbox.get(KEEPALIVE_S)
                except StreamReplaced:
                    return  # the session's newer GET stream serves it now
                except SessionEnded:
                    return  # DELETE (on any worker), its lifetime, or the store made room: at once
                except TimeoutError:
                    if await store.get(session.id) is None:
                        return  # the session ended (DELETE, on any worker)
                    yield format_sse_event(comment="keep-alive")
                    continue
                yield format_sse_event(event="message", id=f"g{next(numbers)}", data_str=to_json(message).decode())
        finally:
            inbox.close()

    return EventSourceResponse(events(), headers={"cache-control": "no-cache"})


async def end_session(request: Request) -> Response:
    """`DELETE /mcp`: the client ends its session."""
    _refuse_stateless_era(request)
    store: SessionStore = request.app.state.mcp.sessions
    session = await session_of(store, request.headers.get(SESSION_HEADER))
    await store.end(session.id)
    return Response(status_code=200)  # as the native server and the official SDKs answer


def _refuse_stateless_era(request: Request) -> None:
    """GET and DELETE speak the handshake era. A revision this server does not serve is refused as a POST's is (400,
    UNSUPPORTED_PROTOCOL_VERSION with `data.supported`, services/protocol.py). The 2026-07-28 era has no sessions
    and no standalone stream: its GET and DELETE are answered 405 with `Allow: POST`, as in stateless mode (the
    framework's 405, through errors.on_http_exception)."""
    version = request.headers.get("mcp-protocol-version")
    era = era_of(version, SERVED_VERSIONS)
    if era is None:
        assert version is not None  # an absent header is the handshake era
        rejection = unsupported_version(version)
        raise JsonRpcException(rejection.code, rejection.message, status_code=400, data=rejection.data)
    if era == "stateless":
        raise StarletteHTTPException(405)
