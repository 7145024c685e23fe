"""One behaviour suite for every server: session-scoped server processes and the `server` fixture over them.

`server` runs a test against the native server and the FastAPI baseline (the servers that must behave the same);
`any_server` adds the official SDK's MCPServer where a test applies to it too. A behaviour the SDK does not share is
marked in the test with the reason and which behaviour the spec requires, never skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ServerProcess, fastapi_server, sdk_server

SERVERS = ["native", "fastapi"]
ALL_SERVERS = [*SERVERS, "sdk"]


@pytest.fixture(scope="session")
def fastapi(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The FastAPI baseline under gunicorn with one uvicorn worker, backed by the session cluster."""
    with fastapi_server(tmp_path_factory.mktemp("fastapi"), database_url=database_url) as server:
        yield server


@pytest.fixture(scope="session")
def sdk(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The official SDK's MCPServer (stateless, JSON responses) on uvicorn, backed by the session cluster."""
    with sdk_server(tmp_path_factory.mktemp("sdk"), database_url=database_url) as server:
        yield server


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> ServerProcess:
    process: ServerProcess = request.getfixturevalue(request.param)
    return process


@pytest.fixture(params=ALL_SERVERS)
def any_server(request: pytest.FixtureRequest) -> ServerProcess:
    process: ServerProcess = request.getfixturevalue(request.param)
    return process
