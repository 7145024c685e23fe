"""The servers under the official conformance suite: each with the conformance fixture pack, no database."""

from __future__ import annotations

import dataclasses
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


STATEFUL_KINDS = ["native", "fastapi"]
"""The servers also run under the suite in stateful mode (MCP_STATEFUL=1): the handshake era's sampling, elicitation
and subscription scenarios need sessions."""


@pytest.fixture(scope="session", params=STATEFUL_KINDS)
def stateful_conformance_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`mcpstack serve <kind>` in stateful mode with one worker (sessions in memory); its kind reads
    `<kind>-stateful`, which names its expected-failures file."""
    kind: str = request.param
    env = {**PACKS, "MCP_STATEFUL": "1", "MCP_SLOT": "blue"}
    with server_process(kind, tmp_path_factory.mktemp(f"conformance-{kind}-stateful"), database_url=None, env=env) as s:
        yield dataclasses.replace(s, kind=f"{kind}-stateful")
