"""Session fixtures: one throwaway PostgreSQL cluster (migrated, seeded) and one native server for read-only tests."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.pgcluster import Cluster
from services.tools import schema
from tests.support import ServerProcess, native_server

# The CDK CLI synth of every stage, shared by tests/infra and tests/cost (one synth per stage per session).
pytest_plugins = ["tests.synth_fixtures"]


async def _prepare(url: str) -> None:
    conn: Any = await schema.connect(url)
    try:
        await schema.migrate(conn)
        await schema.seed(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A project-owned cluster in a temporary directory, started, migrated and seeded; destroyed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="mcpstack-test-pg-", dir="/tmp"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    cluster.init()
    cluster.start()
    asyncio.run(_prepare(cluster.url))
    try:
        yield cluster
    finally:
        cluster.destroy()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(pg_cluster: Cluster) -> str:
    return pg_cluster.url


@pytest.fixture(scope="session")
def native(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The native server (one worker) on a free port, backed by the session cluster."""
    with native_server(tmp_path_factory.mktemp("native"), database_url=database_url) as server:
        yield server
