"""The tasks extension of MCP 2026-07-28 (`io.modelcontextprotocol/tasks`, SEP-2663), once for both servers.

A `tools/call` of a task-supporting tool, from a client whose request declares the extension in `_meta`'s
clientCapabilities, is answered at once with a `CreateTaskResult` (`resultType: "task"`) while the tool runs on in the
worker that took the call; the client polls `tasks/get` (the result or error inlined once terminal), answers the
tool's questions with `tasks/update` and may stop it with `tasks/cancel`. There is no `tasks/result` and no
`tasks/list` in this revision (both stay unknown methods).

Where the records live: with a database, in PostgreSQL (`mcp_tasks`, migration 0003), so `tasks/get`, `tasks/update`
and `tasks/cancel` work from any worker or instance; the worker running a task learns of a cancellation or an answer
by polling its row. Without one, in the worker's memory (one worker only: another worker does not know the task).

Bounds (`TaskLimits`): a task lives `ttl_ms` from its creation (its work is stopped then, its record answered as
unknown after); at most `max_running` tasks run per worker; at most `max_per_owner` records are kept per owner and
`max_stored` in all (per worker in memory, per database in PostgreSQL). At either of those two a finished record
goes first (the oldest), and creation is refused with SERVER_OVERLOADED, a text naming the limit, only when every
record it counts is unfinished. A result over `max_result_bytes` fails the task. Task ids are 192 random bits
(`secrets`). With authentication on, a task belongs to the token subject that created it (its record keeps a digest
of the subject, `owner_of`): tasks/get, tasks/update and tasks/cancel by any other subject are answered exactly as for
an unknown task id. Without authentication, the id is the only key:
whoever holds it may read, answer or cancel the task.

Boundary: this module knows the extension's wire shapes and a store; each server adapts it to its own request
handling (services/mcp_server/task_methods.py, services/fastapi_baseline/mcp.py) and supplies how a tool is run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import orjson

from services.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    META_CLIENT_CAPABILITIES,
    MISSING_CLIENT_CAPABILITY,
    SERVER_OVERLOADED,
)
from services.round_trips import check_answer, check_askable, refusal
from services.tools.context import (
    NO_DATABASE,
    Database,
    InputRequest,
    LogLevel,
    Peer,
    RequestRefused,
)

log = logging.getLogger("mcpstack.tasks")

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TASK_METHODS = ("tasks/get", "tasks/update", "tasks/cancel")
CAPABILITIES: dict[str, Any] = {"extensions": {TASKS_EXTENSION: {}}}
TERMINAL = frozenset(("completed", "failed", "cancelled"))
TaskSupport = Literal["forbidden", "optional", "required"]
TASK_ID_MAX_CHARS = 64  # ours are 32; anything longer is refused before any lookup
REQUIRED_DATA: dict[str, Any] = {"requiredCapabilities": CAPABILITIES}

_TASK_SUPPORT_ATTRIBUTE = "__mcp_task_support__"


class TaskError(Exception):
    """A refusal of a task request: the JSON-RPC error each server answers with (`message` is safe to show)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def supports_tasks(
    support: TaskSupport, *, input_first: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a tool function's task support, below its `@registry.tool()`: "optional" (a task when the client
    declares the extension, else an ordinary call) or "required" (a client without the extension is refused with
    MISSING_CLIENT_CAPABILITY). Undeclared tools are "forbidden": always ordinary calls.

    `input_first`: the tool's first questions belong to the request, not to the task: they are asked as
    multi-round-trip requests (an InputRequiredResult, services/round_trips.py), and the task is created once they
    are answered (`TaskService.start_after_input`). Without it, every question of a task is one of its inputRequests.
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, _TASK_SUPPORT_ATTRIBUTE, (support, input_first))
        return fn

    return mark


def task_support(fn: Callable[..., Any]) -> TaskSupport:
    support: TaskSupport = getattr(fn, _TASK_SUPPORT_ATTRIBUTE, ("forbidden", False))[0]
    return support


def input_first(fn: Callable[..., Any]) -> bool:
    """Whether the tool's first questions are the request's (`supports_tasks(..., input_first=True)`)."""
    first: bool = getattr(fn, _TASK_SUPPORT_ATTRIBUTE, ("forbidden", False))[1]
    return first


def serves_tasks(functions: Iterable[Callable[..., Any]]) -> bool:
    """Whether any of these tool functions supports tasks (else the extension is neither advertised nor routed)."""
    return any(task_support(fn) != "forbidden" for fn in functions)


def unshared_tasks(*, serves: bool, workers: int, database_url: str | None) -> str | None:
    """The one start-up rule of the extension, for both servers: tools that support tasks on several workers need a
    database (a task's record lives in the memory of the worker that created it otherwise, and tasks/get, tasks/update
    and tasks/cancel reach any worker). The one line to refuse the start with, or None."""
    if serves and workers > 1 and not database_url:
        return (
            f"tools that support tasks with {workers} workers need DATABASE_URL (task records are shared through "
            "PostgreSQL); without a database run one worker (--workers 1)"
        )
    return None


def client_capabilities(params: Any) -> Mapping[str, Any]:
    """The capabilities a 2026-07-28 request declares (`params._meta`), or none."""
    try:
        declared = params["_meta"][META_CLIENT_CAPABILITIES]
    except (KeyError, TypeError):
        return {}
    return declared if isinstance(declared, dict) else {}


def declares_tasks(params: Any) -> bool:
    extensions = client_capabilities(params).get("extensions")
    return isinstance(extensions, dict) and TASKS_EXTENSION in extensions


def _missing_extension(method: str) -> TaskError:
    return TaskError(
        MISSING_CLIENT_CAPABILITY,
        f"{method} needs the client capability extensions[{TASKS_EXTENSION!r}] in params._meta "
        "io.modelcontextprotocol/clientCapabilities",
        REQUIRED_DATA,
    )


def _unknown_task(method: str) -> TaskError:
    return TaskError(INVALID_PARAMS, f"{method}: no such task (unknown taskId, or the task has expired)")


def owner_of(caller: str | None) -> str | None:
    """What a task record keeps of its creator: a SHA-256 digest of the token's subject (fixed size, and the subject
    itself is not stored), or None without authentication. Tasks are matched on it exactly: a task created without
    authentication is unknown to every subject, and the reverse."""
    if caller is None:
        return None
    digest = hashlib.sha256(b"mcpstack/task-owner:" + caller.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def iso8601(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


CapReached = Literal["owner", "stored"]
"""Which bound refused a new record: the owner's `max_per_owner`, or the `max_stored` ceiling."""


@dataclass(frozen=True, slots=True)
class TaskLimits:
    """The bounds of one server's tasks (module docstring; docs/tasks.md says the rule).

    `max_per_owner` bounds each authenticated subject's records (tasks without an owner, created without
    authentication, have no per-owner bound: there is no identity to bound them by; the ceiling holds them).
    `max_stored` is the ceiling of all records: per database in PostgreSQL, where 10,000 rows of results up to
    `max_result_bytes` stay under 2.5 GiB, and `MEMORY_LIMITS` for a worker's memory."""

    ttl_ms: int = 3_600_000
    poll_interval_ms: int = 1_000
    max_running: int = 32
    max_per_owner: int = 1_000
    max_stored: int = 10_000
    max_result_bytes: int = 262_144

    def __post_init__(self) -> None:
        for name in ("ttl_ms", "poll_interval_ms", "max_running", "max_per_owner", "max_stored", "max_result_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TaskLimits.{name} must be positive")
        if self.max_running > self.max_stored:
            raise ValueError("TaskLimits.max_running must not exceed max_stored")

    def full(self, limit: CapReached) -> str:
        """The SERVER_OVERLOADED text for a creation refused at `limit`."""
        if limit == "owner":
            return (
                f"You have {self.max_per_owner} tasks kept on this server, its limit per user, and none of them has "
                "finished; retry once one has (finished tasks make room, oldest first)."
            )
        return (
            f"This server keeps at most {self.max_stored} tasks in all, and none of them has finished; retry once "
            "one has (finished tasks make room, oldest first)."
        )


MEMORY_LIMITS = TaskLimits(max_stored=1_000)
"""A worker's memory keeps fewer records than a database (results up to 256 KiB each: at most 256 MiB)."""


@dataclass(slots=True)
class TaskRecord:
    """One task as stored: its status, times (epoch seconds) and what tasks/get inlines."""

    task_id: str
    status: str
    created_at: float
    updated_at: float
    ttl_ms: int
    status_message: str | None = None
    owner: str | None = None  # owner_of(the creator's subject); None without authentication
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, Any] = field(default_factory=dict)  # key -> {"method", "params"}, outstanding only
    input_responses: dict[str, Any] = field(default_factory=dict)  # key -> answer, delivered but not yet taken

    def expired(self, now: float) -> bool:
        return now >= self.created_at + self.ttl_ms / 1000

    def task(self, poll_interval_ms: int) -> dict[str, Any]:
        """The `Task` members (CreateTaskResult, and the base of tasks/get's DetailedTask)."""
        wire: dict[str, Any] = {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": iso8601(self.created_at),
            "lastUpdatedAt": iso8601(self.updated_at),
            "ttlMs": self.ttl_ms,
            "pollIntervalMs": poll_interval_ms,
        }
        if self.status_message is not None:
            wire["statusMessage"] = self.status_message
        return wire

    def detailed(self, poll_interval_ms: int) -> dict[str, Any]:
        wire = self.task(poll_interval_ms)
        if self.status == "completed":
            wire["result"] = self.result
        elif self.status == "failed":
            wire["error"] = self.error
        elif self.status == "input_required":
            wire["inputRequests"] = dict(self.input_requests)  # a snapshot: the record changes on
        return wire


class TaskStore(Protocol):
    """Where task records live. Every change but `create` is conditional on the task not being terminal, so a late
    finish never overwrites a cancellation (and the reverse)."""

    shared: bool  # visible to other workers and instances

    async def create(self, task_id: str, owner: str | None, limits: TaskLimits) -> TaskRecord | CapReached:
        """A new working task of `owner`, or the bound that refused it. At `limits.max_per_owner` records of `owner`
        (an owner only: None has no such bound) the owner's oldest finished record is dropped to make room, at
        `limits.max_stored` in all the oldest finished one of anyone's; the bound is reached when there is none."""
        ...

    async def get(self, task_id: str, owner: str | None) -> TaskRecord | None:
        """The task, or None if unknown, expired or another owner's."""
        ...

    async def finish(
        self, task_id: str, status: str, *, result: Any = None, error: Any = None, message: str | None = None
    ) -> None: ...

    async def cancel(self, task_id: str, owner: str | None) -> bool | None:
        """None for an unknown task (or another owner's), True if this cancelled it, False if it had ended already."""
        ...

    async def ask(self, task_id: str, requests: dict[str, Any]) -> None:
        """Add outstanding input requests; the task becomes input_required."""
        ...

    async def respond(self, task_id: str, responses: dict[str, Any], owner: str | None) -> bool:
        """Deliver answers to outstanding requests (others are ignored); False for an unknown task (or another
        owner's). The task is working again once none is outstanding."""
        ...

    async def take(self, task_id: str, keys: Iterable[str]) -> dict[str, Any] | None:
        """The delivered answers among `keys`, removed from the record; None once the task has ended or gone."""
        ...

    async def cancelled_among(self, task_ids: list[str]) -> set[str]:
        """Which of these tasks have been cancelled (or have gone)."""
        ...


class MemoryTaskStore:
    """Records in this worker's memory, in a dict; expired ones are dropped when met and before each creation."""

    shared = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._records: dict[str, TaskRecord] = {}  # in creation order: the first finished one met is the oldest
        self._owned_by: dict[str | None, int] = {}  # how many records each owner has (the per-owner count's index)
        self._clock = clock

    def _drop(self, task_id: str) -> None:
        owner = self._records.pop(task_id).owner
        left = self._owned_by[owner] - 1
        if left:
            self._owned_by[owner] = left
        else:
            del self._owned_by[owner]

    def _live(self, task_id: str) -> TaskRecord | None:
        record = self._records.get(task_id)
        if record is not None and record.expired(self._clock()):
            self._drop(task_id)
            return None
        return record

    def _active(self, task_id: str) -> TaskRecord | None:
        record = self._live(task_id)
        return record if record is not None and record.status not in TERMINAL else None

    def _owned(self, task_id: str, owner: str | None) -> TaskRecord | None:
        record = self._live(task_id)
        return record if record is not None and record.owner == owner else None

    async def create(self, task_id: str, owner: str | None, limits: TaskLimits) -> TaskRecord | CapReached:
        now = self._clock()
        mine = owner is not None and self._owned_by.get(owner, 0) >= limits.max_per_owner
        if mine or len(self._records) >= limits.max_stored:
            for expired in [r.task_id for r in self._records.values() if r.expired(now)]:
                self._drop(expired)
            full = owner is not None and self._owned_by.get(owner, 0) >= limits.max_per_owner
            if full and not self._drop_oldest_finished(owner):
                return "owner"
            if len(self._records) >= limits.max_stored and not self._drop_oldest_finished(None, anyone=True):
                return "stored"
        record = TaskRecord(task_id, "working", now, now, limits.ttl_ms, owner=owner)
        self._records[task_id] = record
        self._owned_by[owner] = self._owned_by.get(owner, 0) + 1
        return record

    def _drop_oldest_finished(self, owner: str | None, *, anyone: bool = False) -> bool:
        for record in self._records.values():
            if record.status in TERMINAL and (anyone or record.owner == owner):
                self._drop(record.task_id)
                return True
        return False

    async def get(self, task_id: str, owner: str | None) -> TaskRecord | None:
        return self._owned(task_id, owner)

    async def finish(
        self, task_id: str, status: str, *, result: Any = None, error: Any = None, message: str | None = None
    ) -> None:
        record = self._active(task_id)
        if record is None:
            return
        record.status, record.result, record.error, record.status_message = status, result, error, message
        record.input_requests, record.input_responses = {}, {}
        record.updated_at = self._clock()

    async def cancel(self, task_id: str, owner: str | None) -> bool | None:
        record = self._owned(task_id, owner)
        if record is None:
            return None
        if record.status in TERMINAL:
            return False
        await self.finish(task_id, "cancelled", message="Cancelled by the client (tasks/cancel).")
        return True

    async def ask(self, task_id: str, requests: dict[str, Any]) -> None:
        record = self._active(task_id)
        if record is not None:
            record.input_requests.update(requests)
            record.status, record.updated_at = "input_required", self._clock()

    async def respond(self, task_id: str, responses: dict[str, Any], owner: str | None) -> bool:
        record = self._owned(task_id, owner)
        if record is None:
            return False
        if record.status in TERMINAL:
            return True
        answered = [key for key in responses if key in record.input_requests]
        for key in answered:
            record.input_responses[key] = responses[key]
            del record.input_requests[key]
        if answered:
            record.updated_at = self._clock()
            if not record.input_requests:
                record.status = "working"
        return True

    async def take(self, task_id: str, keys: Iterable[str]) -> dict[str, Any] | None:
        record = self._active(task_id)
        if record is None:
            return None
        return {key: record.input_responses.pop(key) for key in keys if key in record.input_responses}

    async def cancelled_among(self, task_ids: list[str]) -> set[str]:
        return {task_id for task_id in task_ids if self._active(task_id) is None}


_COLUMNS = (
    "task_id, status, extract(epoch FROM created_at)::float8 AS created_at, "
    "extract(epoch FROM updated_at)::float8 AS updated_at, ttl_ms, status_message, owner, result::text AS result, "
    "error::text AS error, input_requests::text AS input_requests"
)


_COUNTS_SQL = (
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM mcp_tasks WHERE owner = $1::text LIMIT $2::bigint) o) AS mine, "
    "(SELECT count(*) FROM (SELECT 1 FROM mcp_tasks LIMIT $3::bigint) a) AS everyone"
)
_FINISHED = "status IN ('completed', 'failed', 'cancelled')"
# The oldest finished record (of one owner: mcp_tasks_owner; of anyone: mcp_tasks_finished, migration 0005), dropped
# to make room; SKIP LOCKED: a record another creation is dropping at that instant is not waited for.
_DROP_OWNERS_OLDEST_FINISHED = (
    "DELETE FROM mcp_tasks WHERE task_id = (SELECT task_id FROM mcp_tasks WHERE owner = $1::text AND "
    f"{_FINISHED} ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING task_id"
)
_DROP_OLDEST_FINISHED = (
    f"DELETE FROM mcp_tasks WHERE task_id = (SELECT task_id FROM mcp_tasks WHERE {_FINISHED} ORDER BY created_at "
    "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING task_id"
)


def _record(row: Any) -> TaskRecord:
    return TaskRecord(
        task_id=row["task_id"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        ttl_ms=row["ttl_ms"],
        status_message=row["status_message"],
        owner=row["owner"],
        result=None if row["result"] is None else orjson.loads(row["result"]),
        error=None if row["error"] is None else orjson.loads(row["error"]),
        input_requests=orjson.loads(row["input_requests"]),
    )


class PostgresTaskStore:
    """Records in the `mcp_tasks` table (migration 0003; 0004 adds `owner`), shared by every worker and instance on
    the database. Times are the database's (`now()`), so instances with skewed clocks agree on expiry."""

    shared = True

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, task_id: str, owner: str | None, limits: TaskLimits) -> TaskRecord | CapReached:
        db = self._db
        await db.execute("DELETE FROM mcp_tasks WHERE expires_at <= now()")
        # Both counts in one statement, each scan stopping at its bound (a count costs at most its bound's rows, never
        # the whole table): the owner's through mcp_tasks_owner (migration 0005; `owner = NULL` matches nothing: tasks
        # without an owner have no per-owner bound), all records through the primary key or the table, as cheaper.
        counts = await db.fetchrow(_COUNTS_SQL, owner, limits.max_per_owner, limits.max_stored)
        if counts["mine"] >= limits.max_per_owner and await db.fetchval(_DROP_OWNERS_OLDEST_FINISHED, owner) is None:
            return "owner"
        if counts["everyone"] >= limits.max_stored and await db.fetchval(_DROP_OLDEST_FINISHED) is None:
            return "stored"
        # Creations racing on other workers may each pass the counts above: a bound can be passed by as many records
        # as creations were under way at that instant, never more.
        row = await db.fetchrow(
            "INSERT INTO mcp_tasks (task_id, status, created_at, updated_at, expires_at, ttl_ms, owner) "
            "VALUES ($1, 'working', now(), now(), now() + make_interval(secs => $2::bigint / 1000.0), $2::bigint, "
            f"$3::text) RETURNING {_COLUMNS}",
            task_id,
            limits.ttl_ms,
            owner,
        )
        return _record(row)

    async def get(self, task_id: str, owner: str | None) -> TaskRecord | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM mcp_tasks WHERE task_id = $1 AND expires_at > now() "
            "AND owner IS NOT DISTINCT FROM $2::text",
            task_id,
            owner,
        )
        return None if row is None else _record(row)

    async def finish(
        self, task_id: str, status: str, *, result: Any = None, error: Any = None, message: str | None = None
    ) -> None:
        await self._db.execute(
            "UPDATE mcp_tasks SET status = $2, result = $3::jsonb, error = $4::jsonb, status_message = $5, "
            "input_requests = '{}', input_responses = '{}', updated_at = now() "
            "WHERE task_id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')",
            task_id,
            status,
            None if result is None else orjson.dumps(result).decode(),
            None if error is None else orjson.dumps(error).decode(),
            message,
        )

    async def cancel(self, task_id: str, owner: str | None) -> bool | None:
        row = await self._db.fetchrow(
            "WITH target AS (SELECT task_id, status FROM mcp_tasks WHERE task_id = $1 AND expires_at > now() "
            "AND owner IS NOT DISTINCT FROM $3::text FOR UPDATE), "
            "done AS (UPDATE mcp_tasks t SET status = 'cancelled', status_message = $2, "
            "input_requests = '{}', input_responses = '{}', updated_at = now() FROM target "
            "WHERE t.task_id = target.task_id AND target.status NOT IN ('completed', 'failed', 'cancelled') "
            "RETURNING t.task_id) SELECT (SELECT count(*) FROM done) AS cancelled FROM target",
            task_id,
            "Cancelled by the client (tasks/cancel).",
            owner,
        )
        return None if row is None else bool(row["cancelled"])

    async def ask(self, task_id: str, requests: dict[str, Any]) -> None:
        await self._db.execute(
            "UPDATE mcp_tasks SET input_requests = input_requests || $2::jsonb, status = 'input_required', "
            "updated_at = now() WHERE task_id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')",
            task_id,
            orjson.dumps(requests).decode(),
        )

    async def respond(self, task_id: str, responses: dict[str, Any], owner: str | None) -> bool:
        # Only answers to outstanding keys are kept (jsonb_object_agg over the keys both objects have); the row is
        # locked by the UPDATE, so two answers to different keys arriving at once on two workers both count.
        row = await self._db.fetchrow(
            "WITH target AS (SELECT task_id, status, input_requests FROM mcp_tasks "
            "WHERE task_id = $1 AND expires_at > now() AND owner IS NOT DISTINCT FROM $3::text FOR UPDATE), "
            "answered AS (SELECT coalesce(jsonb_object_agg(r.key, r.value), '{}') AS answers "
            "FROM target, jsonb_each($2::jsonb) r WHERE target.input_requests ? r.key), "
            "done AS (UPDATE mcp_tasks t SET input_responses = t.input_responses || answered.answers, "
            "input_requests = t.input_requests - ARRAY(SELECT jsonb_object_keys(answered.answers)), "
            "status = CASE WHEN (t.input_requests - ARRAY(SELECT jsonb_object_keys(answered.answers))) = '{}' "
            "THEN 'working' ELSE t.status END, updated_at = now() FROM target, answered "
            "WHERE t.task_id = target.task_id AND target.status = 'input_required' AND answered.answers <> '{}' "
            "RETURNING t.task_id) SELECT (SELECT count(*) FROM done) AS changed FROM target",
            task_id,
            orjson.dumps(responses).decode(),
            owner,
        )
        return row is not None

    async def take(self, task_id: str, keys: Iterable[str]) -> dict[str, Any] | None:
        wanted = list(keys)
        row = await self._db.fetchrow(
            "WITH target AS (SELECT task_id, input_responses FROM mcp_tasks WHERE task_id = $1 "
            "AND status NOT IN ('completed', 'failed', 'cancelled') AND expires_at > now() FOR UPDATE), "
            "done AS (UPDATE mcp_tasks t SET input_responses = t.input_responses - $2::text[] FROM target "
            "WHERE t.task_id = target.task_id AND target.input_responses ?| $2::text[] RETURNING t.task_id) "
            "SELECT (SELECT jsonb_object_agg(r.key, r.value) FROM jsonb_each(target.input_responses) r "
            "WHERE r.key = ANY($2::text[]))::text AS answers, (SELECT count(*) FROM done) AS changed FROM target",
            task_id,
            wanted,
        )
        if row is None:
            return None
        return {} if row["answers"] is None else orjson.loads(row["answers"])

    async def cancelled_among(self, task_ids: list[str]) -> set[str]:
        rows = await self._db.fetch(
            "SELECT task_id FROM mcp_tasks WHERE task_id = ANY($1::text[]) "
            "AND status NOT IN ('completed', 'failed', 'cancelled') AND expires_at > now()",
            task_ids,
        )
        return set(task_ids) - {row["task_id"] for row in rows}


Execution = Callable[[Peer], Coroutine[Any, Any, dict[str, Any]]]
"""How a server runs the task's tool: given the task's peer, the `CallToolResult` as a dict (tool errors included,
as `isError` results). A `RequestRefused` it lets through (the tools' PEER_SIGNALS) fails the task with the JSON-RPC
error a refusal is answered with."""


class TaskService:
    """The extension for one worker: creates tasks and runs them, and answers tasks/get, tasks/update, tasks/cancel.

    Results are plain dicts in the 2026-07-28 form (`resultType` included); refusals are `TaskError`s."""

    def __init__(
        self,
        store: TaskStore,
        limits: TaskLimits | None = None,
        *,
        answer_poll_s: float = 0.05,
        cancel_poll_s: float = 0.25,
    ) -> None:
        self.store = store
        self.limits = limits or TaskLimits()
        self._answer_poll_s = answer_poll_s
        self._cancel_poll_s = cancel_poll_s
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancelling: set[str] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._starting = 0  # tasks admitted whose record is being stored

    @classmethod
    def for_database(cls, db: Database, limits: TaskLimits | None = None) -> TaskService:
        """PostgreSQL when the server has a database, else this worker's memory."""
        if db is NO_DATABASE:
            return cls(MemoryTaskStore(), limits or MEMORY_LIMITS)
        return cls(PostgresTaskStore(db), limits, answer_poll_s=0.2)

    @property
    def running(self) -> int:
        return len(self._running)

    def wants_task(self, support: TaskSupport, params: Any) -> bool:
        """Whether this tools/call becomes a task: the tool supports tasks and the request declares the extension. A
        tool that requires tasks, called without the extension, is refused (MISSING_CLIENT_CAPABILITY)."""
        if support == "forbidden":
            return False
        if declares_tasks(params):
            return True
        if support == "required":
            raise TaskError(
                MISSING_CLIENT_CAPABILITY,
                "This tool runs only as a task: declare the client capability extensions"
                f"[{TASKS_EXTENSION!r}] in params._meta io.modelcontextprotocol/clientCapabilities",
                REQUIRED_DATA,
            )
        return False

    def _admit(self) -> None:
        """Refuse a task beyond `max_running` (counting those being created: the record is stored first)."""
        if len(self._running) + self._starting >= self.limits.max_running:
            raise TaskError(
                SERVER_OVERLOADED,
                f"This server is running its limit of {self.limits.max_running} tasks; retry once some have finished.",
            )

    async def _create(self, owner: str | None) -> dict[str, Any]:
        """A stored working task's `CreateTaskResult` (so a tasks/get right after it finds the task, on any worker
        sharing the store)."""
        limits = self.limits
        task_id = secrets.token_urlsafe(24)
        record = await _reached(self.store.create(task_id, owner, limits))
        if not isinstance(record, TaskRecord):
            raise TaskError(SERVER_OVERLOADED, limits.full(record))
        return {"resultType": "task", **record.task(limits.poll_interval_ms)}

    def _launch(self, task_id: str, work: Awaitable[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        runner = loop.create_task(self._run(task_id, work), name=f"task {task_id}")
        self._running[task_id] = runner
        runner.add_done_callback(lambda _: self._forget(task_id))
        if self.store.shared and self._watcher is None:
            self._watcher = loop.create_task(self._watch_cancellations())

    def _forget(self, task_id: str) -> None:
        self._running.pop(task_id, None)
        self._cancelling.discard(task_id)

    async def start(
        self, execution: Execution, capabilities: Mapping[str, Any], caller: str | None = None
    ) -> dict[str, Any]:
        """Create a task of `caller` (the authenticated subject, None without authentication), start `execution` in
        it, and answer the `CreateTaskResult` once the record is stored."""
        self._admit()
        self._starting += 1
        try:
            created = await self._create(owner_of(caller))
        finally:
            self._starting -= 1
        task_id = created["taskId"]
        self._launch(task_id, execution(TaskPeer(self, task_id, capabilities)))
        return created

    async def start_after_input(
        self, execution: Execution, asks: Peer, capabilities: Mapping[str, Any], caller: str | None = None
    ) -> dict[str, Any]:
        """Run a tool whose first questions belong to the request (`input_first`): they go to `asks` (the request's
        multi-round-trip peer), and once one has its answers the task is created and answered with while the tool
        runs on in it. Until then the tool is the request's: what it raises (InputRequired for questions still open,
        RequestRefused) comes out of here for the server to answer. A tool that ends without asking answers with a
        task too, already completed."""
        self._admit()
        loop = asyncio.get_running_loop()
        owner = owner_of(caller)
        peer = EscalatingPeer(self, asks, capabilities, loop.create_future(), owner)
        work = loop.create_task(execution(peer))
        self._starting += 1
        try:
            await asyncio.wait((peer.announced, work), return_when=asyncio.FIRST_COMPLETED)
            if peer.announced.done():
                created = peer.announced.result()  # a TaskError if it could not be stored
            else:
                work.result()  # raises what the tool raised before its task existed
                created = await self._create(owner)
        except BaseException:  # refused, or the request went away before the task existed: so does the work
            work.cancel()
            raise
        finally:
            self._starting -= 1
        self._launch(created["taskId"], work)
        return created

    async def _run(self, task_id: str, work: Awaitable[dict[str, Any]]) -> None:
        store, limits = self.store, self.limits
        try:
            async with asyncio.timeout(limits.ttl_ms / 1000):
                result = await work
        except asyncio.CancelledError:
            if task_id in self._cancelling:  # tasks/cancel: the store says cancelled already
                return
            await _quietly(
                store.finish(task_id, "failed", error=_error(INTERNAL_ERROR, STOPPED), message=STOPPED), task_id
            )
            raise
        except TimeoutError:
            message = f"The task did not finish within its ttlMs ({limits.ttl_ms} ms) and was stopped."
            await _quietly(
                store.finish(task_id, "failed", error=_error(INTERNAL_ERROR, message), message=message), task_id
            )
            return
        except RequestRefused as ex:  # the call itself was refused (round_trips.refusal has the error)
            refused = refusal(ex)
            error = _error(refused.code, refused.message)
            if refused.data is not None:
                error["data"] = refused.data
            await _quietly(store.finish(task_id, "failed", error=error, message=refused.message), task_id)
            return
        except Exception:
            log.exception("task %s failed", task_id)
            message = "The task failed with an internal error (logged on the server)."
            await _quietly(
                store.finish(task_id, "failed", error=_error(INTERNAL_ERROR, message), message=message), task_id
            )
            return
        size = len(orjson.dumps(result))
        if size > limits.max_result_bytes:
            message = f"The task's result is {size} bytes, over this server's limit of {limits.max_result_bytes} bytes."
            await _quietly(
                store.finish(task_id, "failed", error=_error(INTERNAL_ERROR, message), message=message), task_id
            )
            return
        await _quietly(store.finish(task_id, "completed", result=result), task_id)

    async def _watch_cancellations(self) -> None:
        """With a shared store, a tasks/cancel may arrive at another worker: poll the rows of the tasks running here
        and stop those cancelled there. Ends when none runs."""
        try:
            while self._running:
                await asyncio.sleep(self._cancel_poll_s)
                ids = list(self._running)
                try:
                    gone = await self.store.cancelled_among(ids)
                except Exception as ex:  # the database is away: try again next round
                    log.warning("tasks: cannot check for cancellations: %s", ex)
                    continue
                for task_id in gone:
                    self._stop(task_id)
        finally:
            self._watcher = None

    def _stop(self, task_id: str) -> None:
        runner = self._running.get(task_id)
        if runner is not None and not runner.done():
            self._cancelling.add(task_id)
            runner.cancel()

    # -- the methods ---------------------------------------------------------------------------------------------

    # Each method checks its params at once (a refusal raised before any await) and returns the store's work to await.

    # `caller` is the request's authenticated subject (None without authentication): another subject's task is
    # answered exactly as an unknown one (the same error, after the same store lookup).

    def get(self, params: Any, caller: str | None = None) -> Awaitable[dict[str, Any]]:
        return self._get(_task_id("tasks/get", params), owner_of(caller))

    async def _get(self, task_id: str, owner: str | None) -> dict[str, Any]:
        record = await _reached(self.store.get(task_id, owner))
        if record is None:
            raise _unknown_task("tasks/get")
        return {"resultType": "complete", **record.detailed(self.limits.poll_interval_ms)}

    def update(self, params: Any, caller: str | None = None) -> Awaitable[dict[str, Any]]:
        task_id = _task_id("tasks/update", params)
        responses = params.get("inputResponses")
        if not isinstance(responses, dict):
            raise TaskError(INVALID_PARAMS, "tasks/update: params.inputResponses must be an object")
        return self._update(task_id, responses, owner_of(caller))

    async def _update(self, task_id: str, responses: dict[str, Any], owner: str | None) -> dict[str, Any]:
        if responses:
            # An answer must fit its question, by the rule a multi-round-trip request's answers meet (check_answer):
            # the tool never sees one that does not (one store read; an answer to a key not asked is ignored below).
            record = await _reached(self.store.get(task_id, owner))
            if record is None:
                raise _unknown_task("tasks/update")
            for key, question in record.input_requests.items():
                if key in responses:
                    _check_task_answer(key, question, responses[key])
        if not await _reached(self.store.respond(task_id, responses, owner)):
            raise _unknown_task("tasks/update")
        return {"resultType": "complete"}

    def cancel(self, params: Any, caller: str | None = None) -> Awaitable[dict[str, Any]]:
        return self._cancel(_task_id("tasks/cancel", params), owner_of(caller))

    async def _cancel(self, task_id: str, owner: str | None) -> dict[str, Any]:
        cancelled = await _reached(self.store.cancel(task_id, owner))
        if cancelled is None:
            raise _unknown_task("tasks/cancel")
        if cancelled:
            self._stop(task_id)
        return {"resultType": "complete"}

    def handler(self, method: str) -> Callable[[Any, str | None], Awaitable[dict[str, Any]]]:
        """The method's function of (params, caller): raises `TaskError` for bad params at once, else returns what to
        await."""
        return {"tasks/get": self.get, "tasks/update": self.update, "tasks/cancel": self.cancel}[method]


STOPPED = "The server running this task stopped before it finished."


T = TypeVar("T")


async def _reached(change: Awaitable[T]) -> T:
    """A store operation a request waits for: a store that cannot be reached (the database is down or restarting) is
    INTERNAL_ERROR with a message saying so, never a traceback."""
    try:
        return await change
    except (TaskError, asyncio.CancelledError):
        raise
    except Exception as ex:
        log.warning("tasks: the task store cannot be reached: %s", ex)
        raise TaskError(INTERNAL_ERROR, "The task store cannot be reached right now; retry in a few seconds.") from None


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


async def _quietly(change: Awaitable[None], task_id: str) -> None:
    """A record change that must not raise out of a finished task (the store may be away; the TTL ends it then)."""
    try:
        await change
    except Exception as ex:
        log.warning("task %s: cannot record its end: %s", task_id, ex)


def _check_task_answer(key: str, question: Any, answer: Any) -> None:
    """TaskError (INVALID_PARAMS, check_answer's text) when `answer` does not fit the stored question at `key`."""
    if not isinstance(question, dict):
        return
    try:
        check_answer(key, InputRequest(str(question.get("method")), question.get("params") or {}), answer)
    except RequestRefused as ex:
        refused = refusal(ex)
        raise TaskError(refused.code, refused.message, refused.data) from None


def _task_id(method: str, params: Any) -> str:
    """The request's taskId, after the extension gate; a hostile one (not a string, too long) is refused before any
    lookup, as an unknown task."""
    if not declares_tasks(params):
        raise _missing_extension(method)
    task_id = params.get("taskId")
    if not isinstance(task_id, str):
        raise TaskError(INVALID_PARAMS, f"{method}: params.taskId must be a string")
    if not 0 < len(task_id) <= TASK_ID_MAX_CHARS:
        raise _unknown_task(method)
    return task_id


class TaskPeer:
    """The client as a task's tool sees it: questions become the task's `inputRequests` (status input_required)
    until `tasks/update` answers them all; progress and log notifications are not delivered for tasks (the
    extension defines none), so they are dropped."""

    def __init__(self, service: TaskService, task_id: str, capabilities: Mapping[str, Any]) -> None:
        self._service = service
        self._task_id = task_id
        self._capabilities = capabilities
        self._asked = 0

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        return None

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        check_askable(requests, self._capabilities, declared_in="the request that started the task")
        # Keys unique over the task's life (the extension requires it): the tool's name, numbered per question.
        keys: dict[str, str] = {}
        for name in requests:
            self._asked += 1
            keys[f"{name}-{self._asked}"] = name
        store = self._service.store
        await store.ask(
            self._task_id,
            {
                key: {"method": requests[name].method, "params": dict(requests[name].params)}
                for key, name in keys.items()
            },
        )
        answers: dict[str, Any] = {}
        while len(answers) < len(keys):
            taken = await store.take(self._task_id, [key for key in keys if key not in answers])
            if taken is None:  # cancelled (this coroutine is being stopped) or gone: wait for the end
                await asyncio.sleep(self._service._answer_poll_s)
                continue
            answers.update(taken)
            if len(answers) < len(keys):
                await asyncio.sleep(self._service._answer_poll_s)
        return {name: answers[key] for key, name in keys.items()}

    @property
    def round_state(self) -> str | None:
        return None


class EscalatingPeer:
    """The peer of an `input_first` tool: its questions go to the request's multi-round-trip peer until one has its
    answers; then the task is created (`announced` gets its CreateTaskResult) and later questions are the task's."""

    def __init__(
        self,
        service: TaskService,
        asks: Peer,
        capabilities: Mapping[str, Any],
        announced: asyncio.Future[dict[str, Any]],
        owner: str | None = None,
    ) -> None:
        self._service = service
        self._owner = owner
        self._asks = asks
        self._capabilities = capabilities
        self._task: TaskPeer | None = None
        self.announced = announced

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self._task is None:
            await self._asks.progress(progress, total, message)

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        if self._task is None:
            await self._asks.log(level, data, logger)

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        if self._task is not None:
            return await self._task.ask(requests, state)
        answers = await self._asks.ask(requests, state)  # InputRequired while the request still lacks answers
        try:
            created = await self._service._create(self._owner)
        except TaskError as ex:
            self.announced.set_exception(ex)
            raise asyncio.CancelledError from None  # the request is answered with the error; the work stops
        self._task = TaskPeer(self._service, created["taskId"], self._capabilities)
        self.announced.set_result(created)
        return answers

    @property
    def round_state(self) -> str | None:
        return self._asks.round_state if self._task is None else None
