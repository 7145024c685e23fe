"""The FastAPI application: lifespan-managed asyncpg pool, routes, middleware and exception handlers.

The pool is asyncpg's own (`create_pool`, min = max = 4 per worker by default). Its release policy is the native
server's: a connection goes straight back to the pool. asyncpg's default `reset` costs one more database round trip
per checkout (`RESET ALL`, `UNLISTEN *`, `CLOSE ALL`, advisory unlocks) to undo session state these tools never
set; with `reset=keep_session` asyncpg still rolls back a transaction left open (and forgets local listener
callbacks), without the round trip. A database that is down at start is not fatal: the pool then opens connections
on demand and `/ready` answers 503 until it is back.

FastAPI's built-in OpenTelemetry instrumentation is switched off: the service exports Prometheus metrics
(`metrics.py`), like the native server, and an unconfigured instrumentation still looks up its providers on every
request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from services import protocol
from services.cancellation import CancelRelay
from services.fastapi_baseline import auth, endpoint, errors
from services.fastapi_baseline.endpoint import MESSAGE_DEFINITIONS, ROUTE_DOCS, mcp_endpoint
from services.fastapi_baseline.mcp import McpService
from services.fastapi_baseline.metrics import exposition
from services.fastapi_baseline.security import OriginHostMiddleware
from services.fastapi_baseline.settings import WORKERS_ENV, Settings
from services.fastapi_baseline.stateful import end_session, open_stream, stateful_capabilities
from services.sessions import SessionStore, open_store
from services.tools.context import NO_DATABASE, Database
from services.tools.packs import load_packs

log = logging.getLogger("mcpstack.fastapi")

MCP_PATH = "/mcp"


async def keep_session(connection: Any) -> None:
    """asyncpg's `reset` hook: nothing to undo beyond what asyncpg always does (see the module docstring)."""


async def open_pool(settings: Settings) -> Any:
    """An asyncpg pool; when the database is unreachable now, a lazy one (min_size 0) that connects on demand."""
    options: dict[str, Any] = {
        "max_size": settings.db_pool_size,
        "timeout": settings.db_connect_timeout_s,
        "command_timeout": 10.0,
        "reset": keep_session,
    }
    try:
        return await asyncpg.create_pool(settings.database_url, min_size=settings.db_pool_size, **options)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as ex:
        log.warning("database not reachable at start (%s); connecting on demand", type(ex).__name__)
        return await asyncpg.create_pool(settings.database_url, min_size=0, **options)


def worker_processes() -> int:
    """How many worker processes serve this app (gunicorn_conf.py tells each worker; 1 outside gunicorn)."""
    return int(os.environ.get(WORKERS_ENV) or 1)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    registry = load_packs(settings.tool_packs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings) if settings.database_url else None
        db: Database = pool if pool is not None else NO_DATABASE
        app.state.pool = pool
        app.state.mcp = service = McpService(registry, settings, db)
        relay = None
        if settings.database_url:  # notifications/cancelled reach a call on another worker (services/cancellation.py)
            relay = CancelRelay(settings.database_url, endpoint.cancel_relayed)
            relay.start()
            endpoint.relay_cancellations(relay.publish)
        store: SessionStore | None = None
        if settings.stateful:
            store = open_store(database_url=settings.database_url, workers=worker_processes())
            await store.start()
            service.sessions = store
            service.handshake_capabilities = stateful_capabilities(service.handshake_capabilities)
        try:
            yield
        finally:
            if store is not None:
                await store.close()
            if relay is not None:
                endpoint.relay_cancellations(None)
                await relay.close()
            if pool is not None:
                await pool.close()

    app = FastAPI(
        title="mcpstack FastAPI baseline",
        version=settings.server_version,
        description="The reference MCP tools over Streamable HTTP (stateless, JSON responses), served by FastAPI.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.mcp_path = MCP_PATH
    app.post(MCP_PATH, **ROUTE_DOCS)(mcp_endpoint)
    if settings.stateful:  # stateless: GET and DELETE stay 405, as the transport asks of a server without sessions
        app.get(MCP_PATH, summary="The session's standalone SSE stream", tags=["MCP"])(open_stream)
        app.delete(MCP_PATH, summary="End the session", tags=["MCP"], status_code=200)(end_session)
    errors.install(app)
    auth.install(app, mcp_path=MCP_PATH, max_body_bytes=settings.max_body_bytes)  # inside the Host/Origin checks
    app.add_middleware(
        OriginHostMiddleware,
        mcp_path=MCP_PATH,
        allowed_hosts=settings.host_allow_list,
        allowed_origins=frozenset(settings.allowed_origins),
    )

    def openapi() -> dict[str, Any]:
        """FastAPI's document, plus the JSON-RPC message models the route's body schema refers to."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(MESSAGE_DEFINITIONS)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: the database answers")
    async def ready(request: Request) -> Response:
        pool = request.app.state.pool
        try:
            ok = pool is not None and await pool.fetchval("SELECT 1", timeout=1.0) == 1
        except Exception:
            ok = False
        if ok:
            return JSONResponse({"status": "ready", "database": "ok"})
        return JSONResponse({"status": "not ready", "database": "unavailable"}, status_code=503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        peer = request.client.host if request.client is not None else None
        if not settings.metrics_allow_remote and not protocol.loopback_peer(peer):
            raise HTTPException(status_code=404)  # the same answer as a path that does not exist
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return app


app = create_app()
