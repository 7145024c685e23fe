"""Sessions of the optional stateful mode (`MCP_STATEFUL=1`), shared by both servers: the session records and the
relay that carries a message to whichever worker waits for it.

In stateful mode `initialize` opens a session: its id (`Mcp-Session-Id`, `<MCP_SLOT>-<random>` when a slot is set, so
a load balancer rule can keep a session on its slot during a cutover), the protocol version and the client's declared
capabilities. Every later request names it; DELETE ends it. A session outlives the connection that opened it and its
requests may land on any worker of any instance, so two things are shared:

- the record (`create`, `get`, `set_log_level`, `end`, resource subscriptions), and
- the relay: a tool waiting on worker A for the client's answer to a server-to-client request (sampling,
  elicitation, roots) `expect`s it under the request's id; the client POSTs its answer, which may reach worker B,
  whose `deliver` hands it over. `publish` does the same for the session's standalone (GET) stream, which carries
  `notifications/resources/updated`.

Two stores, one interface: `MemorySessionStore` (one worker, no database: everything in this process) and
`PostgresSessionStore` (any number of workers and instances: the records in tables, the relay through LISTEN/NOTIFY,
a message waiting for its worker in an unlogged table). `open_store` picks one. Nothing here knows HTTP or a server.

Both are bounded the same way: beyond their cap (MAX_MEMORY_SESSIONS, MAX_POSTGRES_SESSIONS) the oldest sessions are
forgotten, not new ones refused. A session that ends (DELETE, its lifetime, the cap) ends whatever waits on it, on
every worker, at once (`SessionEnded` from its inboxes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.round_trips import check_askable
from services.tools.context import CAPABILITY_OF, InputRequest, RequestRefused, ToolError

log = logging.getLogger("mcpstack.sessions")

SESSION_HEADER = "mcp-session-id"
STATEFUL_ENV = "MCP_STATEFUL"
SLOT_ENV = "MCP_SLOT"
STREAM_KEY = "stream"  # the relay key of a session's standalone (GET) stream

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""RFC 5424 severities as MCP names them, least severe first."""
LEVEL_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}


SESSION_REQUIRED = "Bad Request: Mcp-Session-Id header is required (initialize first)"
"""The 400 of a stateful server's request (other than initialize) without a session id, on both servers."""
SESSION_UNKNOWN = "Session not found: it ended or never existed; initialize a new one"
"""The 404 of a request naming a session the store does not know (ended, expired, forgotten or never opened)."""

MAX_MEMORY_SESSIONS = 10_000
"""The memory store forgets its oldest sessions beyond this many (clients that never DELETE theirs)."""
MAX_POSTGRES_SESSIONS = 100_000
"""The PostgreSQL store's live sessions: a session is forgotten once this many have been opened after it. One store
serves every worker of every instance on the database, hence ten times one worker's memory store; a row is small
(capabilities are bounded), so the table stays in the tens of megabytes. Forgotten, not refused: a client that floods
`initialize` pushes out old sessions (their clients get 404 and initialize again, as the transport specifies) rather
than locking every new client out until the oldest expire a day later, and the store heals as soon as it stops."""
SESSION_LIFETIME_S = 24 * 3600.0
"""A session not ended by its client ends this long after it began (the PostgreSQL store prunes it)."""
MESSAGE_LIFETIME_S = 600.0
"""A relayed message nobody claimed (its waiter gave up, its worker died) is pruned after this long."""
MAX_CAPABILITY_BYTES = 1_024
"""What a session keeps of one declared capability: a larger value is kept as `{}` (declared, details dropped)."""
MAX_SUBSCRIPTIONS_PER_SESSION = 100
"""A session's resource subscriptions: a client cannot grow a store (memory or table) without bound."""
MAX_SUBSCRIPTION_URI_CHARS = 2_048
"""The longest URI a session may subscribe to (longer would not fit PostgreSQL's index on the subscriptions)."""


class SessionConfigError(ValueError):
    """Stateful mode cannot work as configured: the message is the one line the operator sees."""


def stateful_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether `MCP_STATEFUL` asks for sessions (1/true/yes); stateless is the default."""
    raw = (os.environ if env is None else env).get(STATEFUL_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise SessionConfigError(f"{STATEFUL_ENV}={raw!r} must be 1 or 0")


def current_slot(env: Mapping[str, str] | None = None) -> str:
    """The release slot this server runs in (`MCP_SLOT`: blue/green), or ""."""
    slot = (os.environ if env is None else env).get(SLOT_ENV, "").strip()
    if slot and not (slot.isascii() and slot.replace("-", "").isalnum()):
        raise SessionConfigError(f"{SLOT_ENV}={slot!r} must be letters, digits and '-'")
    return slot


def new_session_id(slot: str = "") -> str:
    """An unguessable session id (192 random bits, URL-safe: visible ASCII as the transport requires), prefixed with
    the slot when there is one."""
    token = secrets.token_urlsafe(24)
    return f"{slot}-{token}" if slot else token


def kept_capabilities(declared: Mapping[str, Any]) -> dict[str, Any]:
    """What a session keeps of the capabilities its client declared at initialize: the ones the server asks about
    (CAPABILITY_OF, services/tools/context.py), each at most MAX_CAPABILITY_BYTES encoded. A client cannot make every
    session it opens hold a megabyte (10,000 such sessions in the memory store would be gigabytes). A value JSON
    cannot carry back (an integer beyond 64 bits) is kept as `{}` too."""
    import orjson

    kept: dict[str, Any] = {}
    for name in sorted(set(CAPABILITY_OF.values())):
        value = declared.get(name)
        if isinstance(value, dict):
            try:
                small = len(orjson.dumps(value)) <= MAX_CAPABILITY_BYTES
            except TypeError:  # orjson.JSONEncodeError
                small = False
            kept[name] = value if small else {}
    return kept


def subscription_refusal(method: str, uri: Any) -> str | None:
    """Why `resources/subscribe` or `resources/unsubscribe` refuses this `params.uri` (-32602), or None: the one
    rule both servers apply before the store is asked."""
    if not isinstance(uri, str) or not uri:
        return f"{method}: params.uri must be a resource URI"
    if len(uri) > MAX_SUBSCRIPTION_URI_CHARS:
        return f"{method}: params.uri is longer than {MAX_SUBSCRIPTION_URI_CHARS} characters"
    return None


def ask_session(requests: Mapping[str, InputRequest], session: Session) -> None:
    """Whether a tool may put these questions to the client of `session` (handshake era, stateful mode): the one rule
    of every era and path (services/round_trips.py, `check_askable`: a method a client answers, whose capability the
    client declared, here at initialize). The handshake era has no error for a missing client capability, so its
    refusal reaches the tool as a ToolError with the same text, and the call answers it as an `isError` result, as
    every other question that cannot be put in that era (no session, a closed stream, no answer)."""
    try:
        check_askable(requests, session.client_capabilities, declared_in="this session's initialize")
    except RequestRefused as refused:
        raise ToolError(refused.message) from None


ENDED_BEFORE_ANSWER = "The session ended (DELETE, its lifetime, or the store made room) before the client answered {}."
"""A tool's question whose session ends: its answer could no longer arrive (404), so the wait ends at once."""
LEFT_BEFORE_ANSWER = (
    "The client's connection closed before it answered {}; streams are not resumable here, so nothing could carry "
    "this request's response any more."
)
"""A tool's question whose request stream closed: the tool goes on (a closed connection is not a cancellation in the
handshake era), but its wait ends, and with it the slot the request holds."""


SUBSCRIPTIONS_FULL = (
    f"resources/subscribe: this session has {MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions already, the most it may "
    "hold; unsubscribe from one first"
)


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    protocol_version: str
    client_capabilities: Mapping[str, Any] = field(default_factory=dict)
    log_level: str | None = None  # None: the client set no level; every message goes out

    def declares(self, capability: str) -> bool:
        """Whether the client declared `capability` (e.g. "sampling") at initialize."""
        return isinstance(self.client_capabilities.get(capability), dict)

    def logs(self, level: str) -> bool:
        """Whether a message at `level` goes to this client (at or above the level it set)."""
        return self.log_level is None or LEVEL_RANK.get(level, 0) >= LEVEL_RANK.get(self.log_level, 0)


class StreamReplaced(Exception):
    """The session opened a newer GET stream on this worker: this one ends (its messages go to the newer one)."""


class SessionEnded(Exception):
    """The session ended while this waited on it: DELETE (on any worker), its lifetime, or the store forgetting it to
    make room. Nothing of it can reach its client any more: a question's answer would be refused (404), a stream has
    nobody to serve."""


_REPLACED: dict[str, Any] = {}  # the marker `replace` queues; compared by identity
_ENDED: dict[str, Any] = {}  # the marker `end` queues


class Inbox:
    """Where messages for one (session, key) arrive on the worker that waits for them. `close` when done."""

    __slots__ = ("_closer", "_queue", "key", "session_id")

    def __init__(self, session_id: str, key: str, closer: Any) -> None:
        self.session_id = session_id
        self.key = key
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._closer = closer

    def put(self, message: dict[str, Any]) -> None:
        self._queue.put_nowait(message)

    async def get(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next message; TimeoutError when none arrives within `timeout_s`, StreamReplaced once a newer stream of
        the session took this one's place, SessionEnded once the session ended."""
        message = await asyncio.wait_for(self._queue.get(), timeout_s)
        if message is _REPLACED:
            raise StreamReplaced
        if message is _ENDED:
            raise SessionEnded
        return message

    def replace(self) -> None:
        self._queue.put_nowait(_REPLACED)

    def end(self) -> None:
        self._queue.put_nowait(_ENDED)

    def close(self) -> None:
        self._closer(self)


class SessionStore:
    """The interface both servers use, and the in-process relay both stores share: inboxes on this worker, keyed by
    (session id, key). Subclasses keep the records and carry messages between workers."""

    def __init__(self) -> None:
        self._inboxes: dict[tuple[str, str], Inbox] = {}
        self._open: dict[str, set[Inbox]] = {}  # session id -> its inboxes open on this worker (answered ones too)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- records ---------------------------------------------------------------------------------------------------

    async def create(self, *, protocol_version: str, client_capabilities: Mapping[str, Any], slot: str = "") -> Session:
        raise NotImplementedError

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id; None when it is unknown or ended."""
        raise NotImplementedError

    async def set_log_level(self, session_id: str, level: str) -> None:
        raise NotImplementedError

    async def end(self, session_id: str) -> bool:
        """End a session (DELETE); False when it was unknown or already ended."""
        raise NotImplementedError

    async def subscribe(self, session_id: str, uri: str) -> bool:
        """Subscribe the session to `uri`; False (nothing changed) when it already holds
        MAX_SUBSCRIPTIONS_PER_SESSION others."""
        raise NotImplementedError

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        raise NotImplementedError

    async def subscribers(self, uri: str) -> list[str]:
        """The live sessions subscribed to `uri`."""
        raise NotImplementedError

    # -- relay -----------------------------------------------------------------------------------------------------

    async def expect(self, session_id: str, key: str) -> Inbox:
        """Wait here for messages to (session, key): the answer to a server-to-client request whose id is `key`, or
        STREAM_KEY for the session's GET stream. Register before sending the request, so the answer cannot race it.
        A session's newer GET stream on this worker ends the older one (StreamReplaced): otherwise the older stream
        would stay open and receive nothing, also after the newer one closed."""
        inbox = Inbox(session_id, key, self._forget)
        older = self._inboxes.get((session_id, key))
        if older is not None and key == STREAM_KEY:
            older.replace()
        self._inboxes[(session_id, key)] = inbox
        self._open.setdefault(session_id, set()).add(inbox)
        return inbox

    def _forget(self, inbox: Inbox) -> None:
        if self._inboxes.get((inbox.session_id, inbox.key)) is inbox:
            del self._inboxes[(inbox.session_id, inbox.key)]
        held = self._open.get(inbox.session_id)
        if held is not None:
            held.discard(inbox)
            if not held:
                del self._open[inbox.session_id]

    def _ended(self, session_id: str) -> None:
        """The session ended: whatever waits on it on this worker (a tool's question, its GET stream) stops now,
        instead of at its timeout (SessionEnded)."""
        for inbox in self._open.pop(session_id, ()):
            inbox.end()

    async def deliver(self, session_id: str, key: str, message: dict[str, Any]) -> bool:
        """Hand the client's answer to the worker that `expect`s it; False when nothing waits for it (an unknown id,
        or one already answered)."""
        raise NotImplementedError

    async def publish(self, session_id: str, message: dict[str, Any]) -> None:
        """Send a notification to the session's standalone stream, if one is open somewhere (else it is dropped)."""
        raise NotImplementedError

    async def resource_updated(self, uri: str) -> int:
        """Tell every session subscribed to `uri` that it changed (`notifications/resources/updated` on its stream);
        the number of sessions told."""
        sessions = await self.subscribers(uri)
        message = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}
        for session_id in sessions:
            await self.publish(session_id, message)
        return len(sessions)

    def _local(self, session_id: str, key: str, message: dict[str, Any]) -> bool:
        # An answer is taken once: its inbox stops listening; a stream's inbox stays until closed.
        inbox = (
            self._inboxes.get((session_id, key)) if key == STREAM_KEY else self._inboxes.pop((session_id, key), None)
        )
        if inbox is None:
            return False
        inbox.put(message)
        return True


class MemorySessionStore(SessionStore):
    """Everything in this process: correct with one worker and no database (a session's requests cannot land on
    another process). Bounded: beyond MAX_MEMORY_SESSIONS the oldest sessions are forgotten."""

    def __init__(self, *, max_sessions: int = MAX_MEMORY_SESSIONS) -> None:
        super().__init__()
        self._sessions: dict[str, Session] = {}  # insertion order: oldest first
        self._subscriptions: dict[str, set[str]] = {}  # uri -> session ids
        self._subscribed: dict[str, set[str]] = {}  # session id -> uris
        self._max_sessions = max_sessions

    async def create(self, *, protocol_version: str, client_capabilities: Mapping[str, Any], slot: str = "") -> Session:
        session = Session(new_session_id(slot), protocol_version, kept_capabilities(client_capabilities))
        while len(self._sessions) >= self._max_sessions:
            await self.end(next(iter(self._sessions)))
        self._sessions[session.id] = session
        return session

    async def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def set_log_level(self, session_id: str, level: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions[session_id] = replace(session, log_level=level)

    async def end(self, session_id: str) -> bool:
        if self._sessions.pop(session_id, None) is None:
            return False
        for uri in self._subscribed.pop(session_id, ()):
            self._drop_subscriber(uri, session_id)
        self._ended(session_id)
        return True

    async def subscribe(self, session_id: str, uri: str) -> bool:
        if session_id not in self._sessions:  # ended meanwhile: nothing to keep
            return True
        uris = self._subscribed.setdefault(session_id, set())
        if uri not in uris and len(uris) >= MAX_SUBSCRIPTIONS_PER_SESSION:
            return False
        uris.add(uri)
        self._subscriptions.setdefault(uri, set()).add(session_id)
        return True

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        self._subscribed.get(session_id, set()).discard(uri)
        self._drop_subscriber(uri, session_id)

    def _drop_subscriber(self, uri: str, session_id: str) -> None:
        ids = self._subscriptions.get(uri)
        if ids is not None:
            ids.discard(session_id)
            if not ids:
                del self._subscriptions[uri]

    async def subscribers(self, uri: str) -> list[str]:
        return sorted(self._subscriptions.get(uri, ()))

    async def deliver(self, session_id: str, key: str, message: dict[str, Any]) -> bool:
        return key != STREAM_KEY and self._local(session_id, key, message)

    async def publish(self, session_id: str, message: dict[str, Any]) -> None:
        self._local(session_id, STREAM_KEY, message)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS mcp_sessions (
    id text PRIMARY KEY,
    protocol_version text NOT NULL,
    client_capabilities jsonb NOT NULL,
    log_level text,
    created_at timestamptz NOT NULL DEFAULT now(),
    seq bigserial NOT NULL
);
-- Tables made before the cap lack its column; the DEFAULT numbers old servers' inserts during a cutover as well.
ALTER TABLE mcp_sessions ADD COLUMN IF NOT EXISTS seq bigserial NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS mcp_sessions_seq ON mcp_sessions (seq);
CREATE INDEX IF NOT EXISTS mcp_sessions_created ON mcp_sessions (created_at);
CREATE TABLE IF NOT EXISTS mcp_session_subscriptions (
    session_id text NOT NULL REFERENCES mcp_sessions (id) ON DELETE CASCADE,
    uri text NOT NULL,
    PRIMARY KEY (uri, session_id)
);
CREATE INDEX IF NOT EXISTS mcp_session_subscriptions_session ON mcp_session_subscriptions (session_id);
CREATE UNLOGGED TABLE IF NOT EXISTS mcp_session_waits (
    session_id text NOT NULL,
    key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, key)
);
CREATE UNLOGGED TABLE IF NOT EXISTS mcp_session_messages (
    id bigserial PRIMARY KEY,
    session_id text NOT NULL,
    key text NOT NULL,
    message jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
_CHANNEL = "mcp_session_relay"
_SCHEMA_LOCK = 0x6D6370_5345  # pg_advisory_xact_lock key: one worker creates the tables at a time

# One round trip each. A delivery claims the wait (so an answer is taken once), stores the message and notifies every
# listener with "<row id> <session id> <key>"; the worker holding the inbox takes the row.
_DELIVER = """
WITH w AS (DELETE FROM mcp_session_waits WHERE session_id = $1 AND key = $2 RETURNING 1),
     m AS (INSERT INTO mcp_session_messages (session_id, key, message) SELECT $1, $2, $3::jsonb FROM w RETURNING id)
SELECT pg_notify($4, id::text || ' ' || $1 || ' ' || $2) FROM m
"""
_ENDED_PREFIX = "ended "  # a relay payload "ended <session id>": the session is gone, on every worker
# A new session pushes out the one opened MAX_POSTGRES_SESSIONS sessions before it: one index probe on `seq`, never
# a count of the table. Numbers lost to failed inserts leave a session behind now and then; the prune (below), every
# so many writes, takes whatever is past the cap or the lifetime with an index range scan of each.
_CREATE = """
WITH added AS (
    INSERT INTO mcp_sessions (id, protocol_version, client_capabilities) VALUES ($1, $2, $3::jsonb) RETURNING seq
), forgotten AS (
    DELETE FROM mcp_sessions WHERE seq = (SELECT seq FROM added) - $4 RETURNING id
)
SELECT pg_notify($5, $6 || id) FROM forgotten
"""
_END = """
WITH gone AS (DELETE FROM mcp_sessions WHERE id = $1 RETURNING id)
SELECT pg_notify($2, $3 || id) FROM gone
"""
_PRUNE_SESSIONS = """
WITH gone AS (
    DELETE FROM mcp_sessions
    WHERE created_at < now() - make_interval(secs => $1) OR seq <= (SELECT max(seq) FROM mcp_sessions) - $2
    RETURNING id
)
SELECT pg_notify($3, $4 || id) FROM gone
"""
_PUBLISH = """
WITH m AS (INSERT INTO mcp_session_messages (session_id, key, message) VALUES ($1, $2, $3::jsonb) RETURNING id)
SELECT pg_notify($4, id::text || ' ' || $1 || ' ' || $2) FROM m
"""

# Subscribed when inserted now or already there; refused (false) when the session holds its limit of others.
_SUBSCRIBE = """
WITH added AS (
    INSERT INTO mcp_session_subscriptions (session_id, uri)
    SELECT id, $2 FROM mcp_sessions
    WHERE id = $1 AND (SELECT count(*) FROM mcp_session_subscriptions WHERE session_id = $1) < $3
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM added)
    OR EXISTS (SELECT 1 FROM mcp_session_subscriptions WHERE session_id = $1 AND uri = $2)
"""


class PostgresSessionStore(SessionStore):
    """Records in PostgreSQL and the relay through LISTEN/NOTIFY: any worker of any instance sharing the database
    serves any session. Its own connections (one listening, a small pool for queries), apart from the tools'. At most
    `max_sessions` live sessions (each `create` forgets the one opened that many before it), and a session's end is
    relayed to every worker ("ended <id>")."""

    def __init__(self, database_url: str, *, pool_size: int = 2, max_sessions: int = MAX_POSTGRES_SESSIONS) -> None:
        super().__init__()
        self._url = database_url
        self._pool_size = pool_size
        self._max_sessions = max_sessions
        self._pool: Any = None
        self._listener: Any = None
        self._claims: set[asyncio.Task[None]] = set()
        self._prune_every = 200
        self._writes = 0

    async def start(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(self._url, min_size=1, max_size=self._pool_size)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            await conn.execute(_SCHEMA)
        await self._prune()
        self._listener = await asyncpg.connect(self._url)
        await self._listener.add_listener(_CHANNEL, self._notified)

    async def close(self) -> None:
        for task in list(self._claims):
            task.cancel()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.close()

    async def _prune(self) -> None:
        await self._pool.fetch(_PRUNE_SESSIONS, SESSION_LIFETIME_S, self._max_sessions, _CHANNEL, _ENDED_PREFIX)
        for table in ("mcp_session_waits", "mcp_session_messages"):
            await self._pool.execute(
                f"DELETE FROM {table} WHERE created_at < now() - make_interval(secs => $1)",  # a constant table name
                MESSAGE_LIFETIME_S,
            )

    async def _wrote(self) -> None:
        self._writes += 1
        if self._writes % self._prune_every == 0:
            await self._prune()

    # -- records ---------------------------------------------------------------------------------------------------

    async def create(self, *, protocol_version: str, client_capabilities: Mapping[str, Any], slot: str = "") -> Session:
        import orjson

        session = Session(new_session_id(slot), protocol_version, kept_capabilities(client_capabilities))
        await self._pool.fetch(
            _CREATE,
            session.id,
            protocol_version,
            orjson.dumps(session.client_capabilities).decode(),
            self._max_sessions,
            _CHANNEL,
            _ENDED_PREFIX,
        )
        await self._wrote()
        return session

    async def get(self, session_id: str) -> Session | None:
        import orjson

        row = await self._pool.fetchrow(
            "SELECT protocol_version, client_capabilities::text AS caps, log_level FROM mcp_sessions WHERE id = $1",
            session_id,
        )
        if row is None:
            return None
        return Session(session_id, row["protocol_version"], orjson.loads(row["caps"]), row["log_level"])

    async def set_log_level(self, session_id: str, level: str) -> None:
        await self._pool.execute("UPDATE mcp_sessions SET log_level = $2 WHERE id = $1", session_id, level)

    async def end(self, session_id: str) -> bool:
        return bool(await self._pool.fetch(_END, session_id, _CHANNEL, _ENDED_PREFIX))

    async def subscribe(self, session_id: str, uri: str) -> bool:
        return bool(await self._pool.fetchval(_SUBSCRIBE, session_id, uri, MAX_SUBSCRIPTIONS_PER_SESSION))

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        await self._pool.execute(
            "DELETE FROM mcp_session_subscriptions WHERE session_id = $1 AND uri = $2", session_id, uri
        )

    async def subscribers(self, uri: str) -> list[str]:
        rows = await self._pool.fetch(
            "SELECT session_id FROM mcp_session_subscriptions WHERE uri = $1 ORDER BY session_id", uri
        )
        return [row["session_id"] for row in rows]

    # -- relay -----------------------------------------------------------------------------------------------------

    async def expect(self, session_id: str, key: str) -> Inbox:
        inbox = await super().expect(session_id, key)
        if key != STREAM_KEY:
            await self._pool.execute(
                "INSERT INTO mcp_session_waits (session_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                session_id,
                key,
            )
        return inbox

    def _forget(self, inbox: Inbox) -> None:
        super()._forget(inbox)
        if inbox.key != STREAM_KEY and self._pool is not None:
            # An answer that never came leaves its wait behind: drop it, in the background (close is synchronous).
            self._claim(self._drop_wait(inbox.session_id, inbox.key))

    async def _drop_wait(self, session_id: str, key: str) -> None:
        await self._pool.execute("DELETE FROM mcp_session_waits WHERE session_id = $1 AND key = $2", session_id, key)

    async def deliver(self, session_id: str, key: str, message: dict[str, Any]) -> bool:
        import orjson

        if key == STREAM_KEY:
            return False
        rows = await self._pool.fetch(_DELIVER, session_id, key, orjson.dumps(message).decode(), _CHANNEL)
        await self._wrote()
        return bool(rows)

    async def publish(self, session_id: str, message: dict[str, Any]) -> None:
        import orjson

        await self._pool.fetch(_PUBLISH, session_id, STREAM_KEY, orjson.dumps(message).decode(), _CHANNEL)
        await self._wrote()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(_ENDED_PREFIX):  # (a server without this line finds no inbox for it: it ignores it)
            self._ended(payload[len(_ENDED_PREFIX) :])
            return
        row_id, _, rest = payload.partition(" ")
        session_id, _, key = rest.partition(" ")
        if (session_id, key) in self._inboxes:  # this worker waits for it: take the row
            self._claim(self._take(int(row_id), session_id, key))

    def _claim(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._claims.add(task)
        task.add_done_callback(self._claims.discard)

    async def _take(self, row_id: int, session_id: str, key: str) -> None:
        import orjson

        try:
            raw = await self._pool.fetchval(
                "DELETE FROM mcp_session_messages WHERE id = $1 RETURNING message::text", row_id
            )
        except Exception:
            log.exception("session relay: could not take message %d", row_id)
            return
        if raw is not None:
            self._local(session_id, key, orjson.loads(raw))


def open_store(*, database_url: str | None, workers: int) -> SessionStore:
    """The store for a server with `workers` processes: PostgreSQL when a database is configured, else memory, which
    is correct only with one worker (SessionConfigError otherwise)."""
    if database_url:
        return PostgresSessionStore(database_url)
    if workers > 1:
        raise SessionConfigError(
            f"{STATEFUL_ENV}=1 with {workers} workers needs DATABASE_URL (sessions are shared through PostgreSQL); "
            "without a database run one worker"
        )
    return MemorySessionStore()
