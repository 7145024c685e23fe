"""The two servers under hostile input: native and the FastAPI baseline, one worker each, backed by the session
cluster, with short request and keep-alive timeouts so the tests that wait for them stay short."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.form import FORM
from tests.support import ServerProcess, server_process

SERVERS = ("native", "fastapi")
REQUEST_TIMEOUT_S = 2.0
KEEPALIVE_TIMEOUT_S = 3.0
TIMEOUTS = {"MCP_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S), "MCP_KEEPALIVE_TIMEOUT_S": str(KEEPALIVE_TIMEOUT_S)}


@pytest.fixture(scope="session")
def hostile_servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    """Both servers at once (a test compares their answers), started once for the reliability suite."""
    with (
        server_process("native", tmp_path_factory.mktemp("rel-native"), database_url=database_url, env=TIMEOUTS) as a,
        server_process("fastapi", tmp_path_factory.mktemp("rel-fastapi"), database_url=database_url, env=TIMEOUTS) as b,
    ):
        yield {"native": a, "fastapi": b}


@pytest.fixture(params=SERVERS)
def hostile_server(request: pytest.FixtureRequest, hostile_servers: dict[str, ServerProcess]) -> ServerProcess:
    return hostile_servers[request.param]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "long_form: a reliability scenario run by `make soak` only (its short cousin runs in make test)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The short form (make test) leaves out the scenarios marked long_form: deselected, and said so, not skipped.
    PostgreSQL restarts and SIGTERM under load stay covered in make test by tests/*/test_lifecycle.py."""
    if FORM.long:
        return
    deselected = [item for item in items if item.get_closest_marker("long_form")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("long_form")]
