"""The servers under the official conformance suite: each with the conformance fixture pack, no database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ServerProcess, server_process

PACKS = {"MCP_TOOL_PACKS": "reference,conformance"}


@pytest.fixture(scope="session", params=["native", "fastapi"])
def conformance_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`mcpstack serve <kind>` with one worker; the fixture tools need no database."""
    kind: str = request.param
    with server_process(kind, tmp_path_factory.mktemp(f"conformance-{kind}"), database_url=None, env=PACKS) as server:
        yield server
