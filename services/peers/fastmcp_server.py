"""The benchmark's FastMCP peer: the echo tool and the indexed database read `get_customer` on FastMCP.

Runs only in its own venv (`.state/peers/fastmcp-venv`, from `services/peers/fastmcp-requirements.txt`, created by
`mcpstack bench --peers`), never in the project's: it imports nothing from mcpstack, and mcpstack imports nothing from
it. Written the way FastMCP's documentation shows for a remote server ("Self-Hosted Remote MCP", gofastmcp.com/
deployment/http): decorated tools with typed signatures and typed results (FastMCP derives the schemas and the
structured result), the asyncpg pool in the server's lifespan read through `Context.lifespan_context`, and the ASGI
app from `http_app(stateless_http=True, json_response=True)` served by uvicorn (with `--workers` on a multi-core box).
Tool semantics, SQL and texts are those of the reference catalogue (`services/tools/catalogue.py`).
"""
# mypy: disable-error-code="import-not-found,untyped-decorator,misc,unused-ignore"

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from typing_extensions import TypedDict

POOL_SIZE = 4  # per worker, as the other servers
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_PATTERN = "mcpstack-payload-0123456789abcdefghijklmnopqrstuvwxyz;"

_CUSTOMER_SQL = """
SELECT c.id, c.name, c.email, c.tier, c.country,
       COALESCE((SELECT json_agg(json_build_object('id', o.id, 'status', o.status, 'total_cents', o.total_cents,
                                                   'created_at', to_char(o.created_at AT TIME ZONE 'UTC',
                                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
                   FROM (SELECT * FROM orders WHERE customer_id = c.id ORDER BY created_at DESC LIMIT $2) o),
                '[]'::json)::text AS recent_orders
  FROM customers c WHERE c.id = $1
"""


class EchoResult(TypedDict):
    message: str
    payload: str
    payload_bytes: int


class Order(TypedDict):
    id: int
    status: str
    total_cents: int
    created_at: str


class CustomerResult(TypedDict):
    id: int
    name: str
    email: str
    tier: str
    country: str
    recent_orders: list[Order]


@asynccontextmanager
async def lifespan(server: FastMCP[Any]) -> AsyncIterator[dict[str, Any]]:
    url = os.environ.get("DATABASE_URL")
    pool = await asyncpg.create_pool(url, min_size=POOL_SIZE, max_size=POOL_SIZE) if url else None
    try:
        yield {"pool": pool}
    finally:
        if pool is not None:
            await pool.close()


mcp: FastMCP[Any] = FastMCP("mcpstack-peer-fastmcp", lifespan=lifespan)


@mcp.tool(title="Echo", annotations=READ_ONLY)
def echo(
    message: Annotated[str, Field(max_length=4096, description="Text to echo back unchanged.")],
    payload_bytes: Annotated[int, Field(ge=0, le=65536, description="Size of the filler payload in bytes.")] = 512,
) -> EchoResult:
    """Echo a message back with a deterministic payload of the requested size (an external-API-sized answer)."""
    payload = (_PATTERN * (payload_bytes // len(_PATTERN) + 1))[:payload_bytes]
    return {"message": message, "payload": payload, "payload_bytes": payload_bytes}


@mcp.tool(title="Customer lookup", annotations=READ_ONLY, timeout=5.0)
async def get_customer(
    customer_id: Annotated[int, Field(ge=1, description="The customer's numeric id (seed data: 1 to 10000).")],
    ctx: Context,
    recent_orders: Annotated[int, Field(ge=0, le=50, description="How many of the newest orders to include.")] = 5,
) -> CustomerResult:
    """Look up a customer by id with their most recent orders (an indexed database read)."""
    pool = ctx.lifespan_context["pool"]
    if pool is None:
        raise ToolError("get_customer failed: no database configured")
    row = await pool.fetchrow(_CUSTOMER_SQL, customer_id, recent_orders)
    if row is None:
        raise ToolError(f"No customer with id {customer_id}. Customer ids are positive integers; check the id.")
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "tier": row["tier"],
        "country": row["country"],
        "recent_orders": json.loads(row["recent_orders"]),
    }


app = mcp.http_app(stateless_http=True, json_response=True)
