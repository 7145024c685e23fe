"""What a tool sees of its surroundings: a database handle and the errors it may raise.

`Database` is the slice of asyncpg's API the tools use; an `asyncpg.Pool` satisfies it, and so does the native
server's fixed connection set. Tools never import a server.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol


class Database(Protocol):
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...


class ToolError(Exception):
    """A business-rule failure: the message goes to the model as an `isError` result, so make it actionable."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now (raised by connection sets when failing fast)."""


class _NoDatabase:
    async def _fail(self, *_: Any, **__: Any) -> Any:
        raise DatabaseUnavailable("no database is configured for this server")

    fetch = fetchrow = fetchval = execute = _fail


class ToolContext(NamedTuple):
    """Passed to a tool that declares a parameter annotated `ToolContext` (it does not appear in the schema)."""

    db: Database
    request_id: str | int | None = None


NO_DATABASE: Database = _NoDatabase()
