"""The reference tools both servers serve, mirroring the workload of the cost post ("Conduit vs FastAPI"): database
queries, document search, external-API-sized payloads, notifications, and pure computation."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated, Any, Literal, NotRequired

import orjson
from typing_extensions import TypedDict

from services.tools.constraints import Ge, Le, MaxLen, MinLen
from services.tools.context import ToolContext, ToolError
from services.tools.registry import ToolRegistry

catalogue = ToolRegistry()

READ_ONLY = {"readOnlyHint": True, "openWorldHint": False}
# No per-query client timeout (a timer per query): the tool's deadline bounds each call, and the native server's
# connections carry a server-side statement_timeout.


class EchoResult(TypedDict):
    message: str
    payload: str
    payload_bytes: int


@lru_cache(maxsize=64)
def _payload(size: int) -> str:
    pattern = "mcpstack-payload-0123456789abcdefghijklmnopqrstuvwxyz;"
    return (pattern * (size // len(pattern) + 1))[:size]


@catalogue.tool(title="Echo", annotations=READ_ONLY)
def echo(
    message: Annotated[str, MaxLen(4096)],
    payload_bytes: Annotated[int, Ge(0), Le(65536)] = 512,
) -> EchoResult:
    """Echo a message back with a deterministic payload of the requested size (an external-API-sized answer).

    Args:
        message: Text to echo back unchanged.
        payload_bytes: Size of the filler payload in bytes (512 to 2048 is typical).
    """
    return {"message": message, "payload": _payload(payload_bytes), "payload_bytes": payload_bytes}


class HashResult(TypedDict):
    sha256: str
    rounds: int


@catalogue.tool(title="Hash chain", annotations=READ_ONLY)
def hash_chain(
    text: Annotated[str, MaxLen(4096)],
    rounds: Annotated[int, Ge(1), Le(10000)] = 200,
) -> HashResult:
    """Pure computation: SHA-256 applied `rounds` times to the text (a CPU-bound tool with no I/O).

    Args:
        text: Input text.
        rounds: How many times to apply SHA-256.
    """
    digest = text.encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return {"sha256": digest.hex(), "rounds": rounds}


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


_CUSTOMER_SQL = """
SELECT c.id, c.name, c.email, c.tier, c.country,
       COALESCE((SELECT json_agg(json_build_object('id', o.id, 'status', o.status, 'total_cents', o.total_cents,
                                                   'created_at', to_char(o.created_at AT TIME ZONE 'UTC',
                                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
                   FROM (SELECT * FROM orders WHERE customer_id = c.id ORDER BY created_at DESC LIMIT $2) o),
                '[]'::json)::text AS recent_orders
  FROM customers c WHERE c.id = $1
"""


@catalogue.tool(title="Customer lookup", annotations=READ_ONLY, timeout_s=5.0)
async def get_customer(
    ctx: ToolContext,
    customer_id: Annotated[int, Ge(1)],
    recent_orders: Annotated[int, Ge(0), Le(50)] = 5,
) -> CustomerResult:
    """Look up a customer by id with their most recent orders (an indexed database read).

    Args:
        customer_id: The customer's numeric id (seed data has ids 1 to 10000).
        recent_orders: How many of the newest orders to include.
    """
    row = await ctx.db.fetchrow(_CUSTOMER_SQL, customer_id, recent_orders)
    if row is None:
        raise ToolError(f"No customer with id {customer_id}. Customer ids are positive integers; check the id.")
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "tier": row["tier"],
        "country": row["country"],
        "recent_orders": orjson.loads(row["recent_orders"]),
    }


class SearchHit(TypedDict):
    id: int
    title: str
    snippet: str
    rank: float


class SearchResult(TypedDict):
    query: str
    results: list[SearchHit]


# Ranked by PostgreSQL's ts_rank; at most 2,000 matches are ranked (the newest), so a common word costs about what a
# rare one does. The function and why: services/tools/migrations/0002_search_bounded_candidates.sql.
_SEARCH_SQL = "SELECT id, title, snippet, rank FROM search_documents_ranked($1, $2)"


@catalogue.tool(title="Document search", annotations=READ_ONLY, timeout_s=5.0)
async def search_documents(
    ctx: ToolContext,
    query: Annotated[str, MinLen(1), MaxLen(256)],
    limit: Annotated[int, Ge(1), Le(50)] = 5,
) -> SearchResult:
    """Full-text search over the document store (PostgreSQL full-text search, ranked).

    Args:
        query: Search words; quotes for phrases, `-word` to exclude, `or` between alternatives.
        limit: Maximum number of results.
    """
    rows = await ctx.db.fetch(_SEARCH_SQL, query, limit)
    hits: list[SearchHit] = [
        {"id": r["id"], "title": r["title"], "snippet": r["snippet"], "rank": round(r["rank"], 6)} for r in rows
    ]
    return {"query": query, "results": hits}


class NotificationResult(TypedDict):
    notification_id: int
    status: Literal["queued", "duplicate"]
    idempotency_key: str
    channel: NotRequired[str]


_NOTIFY_SQL = """
WITH inserted AS (
    INSERT INTO notification_outbox (idempotency_key, customer_id, channel, message)
    SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM customers WHERE id = $2)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, customer_id, channel, message, true AS fresh
)
SELECT id, customer_id, channel, message, fresh FROM inserted
UNION ALL
SELECT id, customer_id, channel, message, false FROM notification_outbox WHERE idempotency_key = $1
LIMIT 1
"""

_EXISTING_NOTIFICATION_SQL = (
    "SELECT id, customer_id, channel, message, false AS fresh FROM notification_outbox WHERE idempotency_key = $1"
)


@catalogue.tool(
    title="Send notification",
    annotations={"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True, "openWorldHint": True},
    timeout_s=5.0,
)
async def send_notification(
    ctx: ToolContext,
    customer_id: Annotated[int, Ge(1)],
    channel: Literal["email", "sms", "push"],
    message: Annotated[str, MinLen(1), MaxLen(2000)],
    idempotency_key: Annotated[str, MinLen(8), MaxLen(128)],
) -> NotificationResult:
    """Queue a notification to a customer (a database write to the outbox). Retrying with the same idempotency_key
    never sends twice: the second call answers status "duplicate" with the first call's notification id.

    Args:
        customer_id: The customer to notify.
        channel: Delivery channel.
        message: The notification text.
        idempotency_key: A unique key per intended notification (e.g. a UUID); reuse it when retrying.
    """
    row: Any = await ctx.db.fetchrow(_NOTIFY_SQL, idempotency_key, customer_id, channel, message)
    if row is None:
        # A concurrent call with the same key inserted its row after this statement's snapshot was taken (the
        # conflict skipped the insert, and the statement cannot see the row): read it in a new statement.
        row = await ctx.db.fetchrow(_EXISTING_NOTIFICATION_SQL, idempotency_key)
    if row is None:
        raise ToolError(f"No customer with id {customer_id}; nothing was queued. Check the customer id.")
    if not row["fresh"] and (
        row["customer_id"] != customer_id or row["channel"] != channel or row["message"] != message
    ):
        raise ToolError(
            f"idempotency_key {idempotency_key!r} was already used for a different notification; "
            "use a new key for a new notification."
        )
    return {
        "notification_id": row["id"],
        "status": "queued" if row["fresh"] else "duplicate",
        "idempotency_key": idempotency_key,
        "channel": channel,
    }
