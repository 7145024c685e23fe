"""Both servers with the conformance pack (its fixtures include a tool with `x-mcp-header` parameters), no database:
one process each for the module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ServerProcess, server_process

PACKS = {"MCP_TOOL_PACKS": "reference,conformance"}


@pytest.fixture(scope="package", params=["native", "fastapi"])
def packed_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    kind: str = request.param
    with server_process(kind, tmp_path_factory.mktemp(f"details-{kind}"), database_url=None, env=PACKS) as server:
        yield server
