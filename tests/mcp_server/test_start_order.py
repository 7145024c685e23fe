"""The order of a native worker's start with a database: it listens first, then opens its connection set, and only
then the cancellation relay's LISTEN connection; the database driver is imported once however many parts ask for it
at the same moment (services/pgdriver.py); and what a worker's start leaves unimported. Orders, counts and module
lists, with fakes for the database parts: no timing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

import pytest

from services import pgdriver
from services.mcp_server.config import load_config
from services.mcp_server.worker import Worker, make_socket
from services.tools.packs import load_packs
from tests.support import REPO

WAIT_S = 5.0


class _FakeConnectionSet:
    """Records its start, and finishes it only when the test says so."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.began = asyncio.Event()
        self.finish = asyncio.Event()

    async def start(self) -> None:
        self.events.append("connection set: start")
        self.began.set()
        await self.finish.wait()
        self.events.append("connection set: connected")

    async def close(self) -> None:
        self.events.append("connection set: close")


class _FakeRelay:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.started = asyncio.Event()

    def start(self) -> None:
        self.events.append("relay: start")
        self.started.set()

    async def close(self) -> None:
        self.events.append("relay: close")


def _worker_with_fakes(events: list[str]) -> tuple[Worker, _FakeConnectionSet, _FakeRelay]:
    config = load_config(env={}, database_url="postgresql://nobody@127.0.0.1:9/none")
    worker = Worker(config, load_packs(config.tool_packs), metrics_dir=None)
    assert worker.db is not None and worker.relay is not None  # a database URL gives a worker both parts
    db, relay = _FakeConnectionSet(events), _FakeRelay(events)
    parts: Any = worker
    parts.db, parts.relay = db, relay
    return worker, db, relay


def test_a_worker_listens_before_it_connects_and_opens_the_relay_after_its_connection_set() -> None:
    events: list[str] = []

    async def main() -> None:
        worker, db, relay = _worker_with_fakes(events)
        server = await worker.listen(make_socket("127.0.0.1", 0, reuse_port=False))
        events.append("listening" if server.is_serving() else "not serving")
        await asyncio.wait_for(db.began.wait(), WAIT_S)
        assert not relay.started.is_set()  # the relay waits for the connection set, however long it takes
        db.finish.set()
        await asyncio.wait_for(relay.started.wait(), WAIT_S)
        server.close()
        await worker.close()

    asyncio.run(main())
    assert events[:4] == ["listening", "connection set: start", "connection set: connected", "relay: start"]


def test_a_worker_closed_while_connecting_never_opens_the_relay() -> None:
    events: list[str] = []

    async def main() -> None:
        worker, db, _ = _worker_with_fakes(events)
        server = await worker.listen(make_socket("127.0.0.1", 0, reuse_port=False))
        await asyncio.wait_for(db.began.wait(), WAIT_S)
        server.close()
        await worker.close()
        db.finish.set()  # too late: the start was cancelled
        await asyncio.sleep(0)

    asyncio.run(main())
    assert "relay: start" not in events
    assert "connection set: connected" not in events


@pytest.fixture
def fake_import(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], threading.Event, object]:
    """pgdriver's import replaced by one that blocks until the test releases it; returns (calls, release, module)."""
    calls: list[str] = []
    release = threading.Event()
    module = object()

    def blocking_import(name: str) -> object:
        calls.append(name)
        if not release.wait(WAIT_S):
            raise TimeoutError("the test never released the import")
        return module

    monkeypatch.delitem(sys.modules, "asyncpg", raising=False)
    monkeypatch.setattr(pgdriver, "_asyncpg", None)
    monkeypatch.setattr(pgdriver, "_loading", None)
    monkeypatch.setattr(pgdriver.importlib, "import_module", blocking_import)
    return calls, release, module


def test_callers_that_ask_for_the_driver_at_once_share_one_import(
    fake_import: tuple[list[str], threading.Event, object],
) -> None:
    calls, release, module = fake_import

    async def main() -> list[Any]:
        async def release_once_all_wait() -> None:
            await asyncio.sleep(0)  # the three callers below have each reached their await by now
            release.set()

        *loaded, _ = await asyncio.gather(*(pgdriver.driver() for _ in range(3)), release_once_all_wait())
        return loaded

    assert asyncio.run(main()) == [module, module, module]
    assert calls == ["asyncpg"]


def test_a_failed_driver_import_is_tried_again_by_the_next_caller(
    fake_import: tuple[list[str], threading.Event, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, release, module = fake_import
    failures = [ImportError("no asyncpg here")]
    succeed = pgdriver.importlib.import_module

    def fail_once(name: str) -> object:
        if failures:
            calls.append(name)
            raise failures.pop()
        return succeed(name)

    monkeypatch.setattr(pgdriver.importlib, "import_module", fail_once)
    release.set()

    async def main() -> object:
        with pytest.raises(ImportError, match="no asyncpg here"):
            await pgdriver.driver()
        return await pgdriver.driver()

    assert asyncio.run(main()) is module
    assert calls == ["asyncpg", "asyncpg"]


# What the native server's start needs no part of: loaded only when a request (or a schema with a $ref) asks.
NOT_AT_START = ("urllib.parse", "ipaddress")
_START = """
import sys
from services.mcp_server import __main__
from services.mcp_server.config import load_config
from services.mcp_server.worker import Worker
from services.tools.packs import load_packs

config = load_config(env={}, database_url="postgresql://nobody@127.0.0.1:9/none")
Worker(config, load_packs(config.tool_packs), metrics_dir=None)
print(" ".join(name for name in sys.argv[1:] if name in sys.modules))
"""


def test_a_worker_built_with_the_reference_tools_has_not_imported_urllib() -> None:
    """urllib.parse (and the ipaddress module it imports) served only the schema validator's $ref fragments."""
    done = subprocess.run(
        [sys.executable, "-c", _START, *NOT_AT_START], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == []
