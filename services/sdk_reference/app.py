"""The reference tools on the official SDK's `MCPServer`, stateless with JSON responses (no sessions, no SSE).

Each catalogue tool is registered through a thin wrapper with the tool's own signature minus its `ToolContext`
parameter, so the SDK derives the input schema and validates the arguments itself (its own behaviour is the point of
this reference). Failures are raised as the SDK's `ToolError` carrying the shared `failure_text`. The asyncpg pool
lives in the ASGI lifespan, not in the SDK server's lifespan, which stateless mode runs once per request.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from typing_extensions import get_type_hints

from services.tools.context import NO_DATABASE, Database, ToolContext
from services.tools.packs import load_packs
from services.tools.registry import Tool, ToolRegistry, failure_text

log = logging.getLogger("mcpstack.sdk")

POOL_SIZE = 4


@dataclass
class DatabaseHolder:
    db: Database = NO_DATABASE


def sdk_function(tool: Tool, holder: DatabaseHolder) -> Callable[..., Any]:
    """A function the SDK can register: the tool's parameters without its ToolContext, same annotations."""
    signature = inspect.signature(tool.fn)
    hints = get_type_hints(tool.fn, include_extras=True)
    params = [
        p.replace(annotation=hints[p.name]) for p in signature.parameters.values() if p.name != tool.context_param
    ]
    returns = hints.get("return", Any)

    def with_context(kwargs: dict[str, Any]) -> dict[str, Any]:
        if tool.context_param is not None:
            kwargs[tool.context_param] = ToolContext(holder.db)
        return kwargs

    wrapper: Callable[..., Any]
    if tool.is_async:

        async def run_async(**kwargs: Any) -> Any:
            try:
                async with asyncio.timeout(tool.timeout_s):
                    return await tool.fn(**with_context(kwargs))
            except Exception as ex:
                raise ToolError(failure_text(tool.name, tool.timeout_s, ex)) from ex

        wrapper = run_async
    else:

        def run_sync(**kwargs: Any) -> Any:
            try:
                return tool.fn(**with_context(kwargs))
            except Exception as ex:
                raise ToolError(failure_text(tool.name, tool.timeout_s, ex)) from ex

        wrapper = run_sync
    functools.update_wrapper(wrapper, tool.fn, assigned=("__module__", "__doc__"), updated=())
    wrapper.__name__ = wrapper.__qualname__ = tool.name
    wrapper.__signature__ = signature.replace(parameters=params, return_annotation=returns)  # type: ignore[union-attr]
    wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    return wrapper


def build_server(registry: ToolRegistry, holder: DatabaseHolder) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(name="mcpstack-sdk", version="0.1.0")
    for tool in registry:
        server.add_tool(
            sdk_function(tool, holder),
            name=tool.name,
            title=tool.title,
            description=tool.description,
            annotations=ToolAnnotations(**tool.annotations) if tool.annotations else None,
        )

    @server.custom_route("/health", methods=["GET"])  # type: ignore[untyped-decorator]
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @server.custom_route("/ready", methods=["GET"])  # type: ignore[untyped-decorator]
    async def ready(request: Request) -> Response:
        try:
            ok = await holder.db.fetchval("SELECT 1", timeout=1.0) == 1
        except Exception:
            ok = False
        if ok:
            return JSONResponse({"status": "ready", "database": "ok"})
        return JSONResponse({"status": "not ready", "database": "unavailable"}, status_code=503)

    return server


async def _open_pool(url: str) -> Any:
    options: dict[str, Any] = {"max_size": POOL_SIZE, "timeout": 2.0}
    try:
        return await asyncpg.create_pool(url, min_size=POOL_SIZE, **options)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as ex:
        log.warning("database not reachable at start (%s); connecting on demand", type(ex).__name__)
        return await asyncpg.create_pool(url, min_size=0, **options)


def create_app() -> Starlette:
    """The ASGI app (uvicorn factory): env DATABASE_URL, MCP_HOST (for the SDK's DNS-rebinding defaults)."""
    holder = DatabaseHolder()
    server = build_server(load_packs(("reference",)), holder)
    inner = server.streamable_http_app(
        stateless_http=True, json_response=True, host=os.environ.get("MCP_HOST", "127.0.0.1")
    )
    url = os.environ.get("DATABASE_URL")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await _open_pool(url) if url else None
        if pool is not None:
            holder.db = pool
        try:
            async with inner.router.lifespan_context(inner):
                yield
        finally:
            if pool is not None:
                await pool.close()

    return Starlette(routes=[Mount("/", app=inner)], lifespan=lifespan)
