"""Servers for the outside-in hostile tests: the native server and the FastAPI baseline, one worker each, stateless
(the default) or in stateful mode (`MCP_STATEFUL=1`) on either session store (memory, or the session's PostgreSQL
cluster), serving the conformance pack beside the reference tools (its fixtures talk to the client and have a
resource to subscribe to). Each server starts on first use and serves the whole test session."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.support import ServerProcess, server_process

PACKS = {"MCP_TOOL_PACKS": "reference,conformance"}
STATEFUL_ENV = {**PACKS, "MCP_STATEFUL": "1"}
KINDS = ("native", "fastapi")
STORES = ("memory", "postgres")
STATELESS = "stateless"


class StatefulServers:
    """Started lazily, by (kind, store), and stopped at the end of the session."""

    def __init__(self, stack: contextlib.ExitStack, database_url: str, factory: pytest.TempPathFactory) -> None:
        self._stack = stack
        self._url = database_url
        self._factory = factory
        self._running: dict[tuple[str, str], ServerProcess] = {}

    def get(self, kind: str, store: str) -> ServerProcess:
        """`store`: the session store of a stateful server, or STATELESS (no sessions; tasks in the worker's memory)."""
        key = (kind, store)
        if key not in self._running:
            self._running[key] = self._stack.enter_context(
                server_process(
                    kind,
                    self._factory.mktemp(f"hostile-{kind}-{store}"),
                    database_url=self._url if store == "postgres" else None,
                    env=PACKS if store == STATELESS else STATEFUL_ENV,
                )
            )
        return self._running[key]


@pytest.fixture(scope="session")
def stateful_servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatefulServers]:
    with contextlib.ExitStack() as stack:
        yield StatefulServers(stack, database_url, tmp_path_factory)


@pytest.fixture(params=[(kind, store) for kind in KINDS for store in STORES], ids=lambda p: f"{p[0]}-{p[1]}")
def stateful(request: pytest.FixtureRequest, stateful_servers: StatefulServers) -> ServerProcess:
    """Each server kind on each session store."""
    kind, store = request.param
    return stateful_servers.get(kind, store)


@pytest.fixture(
    params=[(kind, mode) for kind in KINDS for mode in (STATELESS, *STORES)], ids=lambda p: f"{p[0]}-{p[1]}"
)
def any_mode(request: pytest.FixtureRequest, stateful_servers: StatefulServers) -> tuple[ServerProcess, str]:
    """Each server kind stateless and on each session store, with the mode's name."""
    kind, mode = request.param
    return stateful_servers.get(kind, mode), mode
