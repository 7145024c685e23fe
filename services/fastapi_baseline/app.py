"""The FastAPI application: lifespan-managed asyncpg pool, routes, middleware and exception handlers.

The pool is asyncpg's own (`create_pool`, min = max = 4 per worker by default). Its `release` resets each
connection (`RESET ALL`, `UNLISTEN *`, … ) with one extra database round trip per checkout; that is the default a
FastAPI team runs, so the baseline keeps it (the native server's connection set skips it). A database that is down
at start is not fatal: the pool then opens connections on demand and `/ready` answers 503 until it is back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from services.fastapi_baseline import errors
from services.fastapi_baseline.mcp import McpService, router
from services.fastapi_baseline.metrics import HttpMetricsMiddleware, exposition
from services.fastapi_baseline.security import OriginHostMiddleware
from services.fastapi_baseline.settings import Settings
from services.tools.context import NO_DATABASE, Database
from services.tools.packs import load_packs

log = logging.getLogger("mcpstack.fastapi")

MCP_PATH = "/mcp"


async def open_pool(settings: Settings) -> Any:
    """An asyncpg pool; when the database is unreachable now, a lazy one (min_size 0) that connects on demand."""
    options: dict[str, Any] = {
        "max_size": settings.db_pool_size,
        "timeout": settings.db_connect_timeout_s,
        "command_timeout": 10.0,
    }
    try:
        return await asyncpg.create_pool(settings.database_url, min_size=settings.db_pool_size, **options)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as ex:
        log.warning("database not reachable at start (%s); connecting on demand", type(ex).__name__)
        return await asyncpg.create_pool(settings.database_url, min_size=0, **options)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    registry = load_packs(settings.tool_packs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings) if settings.database_url else None
        db: Database = pool if pool is not None else NO_DATABASE
        app.state.pool = pool
        app.state.mcp = McpService(registry, settings, db)
        try:
            yield
        finally:
            if pool is not None:
                await pool.close()

    app = FastAPI(
        title="mcpstack FastAPI baseline",
        version=settings.server_version,
        description="The reference MCP tools over Streamable HTTP (stateless, JSON responses), served by FastAPI.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.mcp_path = MCP_PATH
    app.include_router(router)
    errors.install(app)
    app.add_middleware(
        OriginHostMiddleware,
        mcp_path=MCP_PATH,
        allowed_hosts=settings.host_allow_list,
        allowed_origins=frozenset(settings.allowed_origins),
    )
    app.add_middleware(HttpMetricsMiddleware)

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
    async def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return app


app = create_app()
