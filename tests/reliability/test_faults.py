"""Faults under load, on both servers: each scenario drives bounded load on 127.0.0.1, injects one fault, and
measures requests sent and failed and the time until full service (the first of a run of successful calls after the
fault is lifted). Nothing is raced: each step waits for the state it needs (PostgreSQL accepting again, a worker
replaced), however long the machine takes, and the figures are measured from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from scripts.cutover.model import Slot
from scripts.pgcluster import Cluster
from tests.faults import assert_sigterm_loses_nothing, lookup_call, mixed_call
from tests.loadgen import LoadResult, run_load
from tests.reliability.conftest import SERVERS
from tests.reliability.form import FORM, probe, record
from tests.support import ServerProcess, build_request, raw_request, rpc, server_process

FULL_SERVICE_RUN = 20  # successful calls in a row that count as full service


def _server(
    kind: str, tmp_path: Path, database_url: str, **options: Any
) -> contextlib.AbstractContextManager[ServerProcess]:
    return server_process(kind, tmp_path, database_url=database_url, **options)


def _load_figures(result: LoadResult) -> dict[str, Any]:
    return {
        "sent": result.sent,
        "answered": result.answered,
        "lost": result.lost,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "tool_errors": result.tool_errors,
        "tool_ok": result.tool_ok,
    }


def _full_service_after(ok_times: list[float], since: float) -> float | None:
    """Seconds from `since` to the first of FULL_SERVICE_RUN successes in a row (ok_times are success times)."""
    after = [t for t in ok_times if t >= since]
    return round(after[0] - since, 3) if len(after) >= FULL_SERVICE_RUN else None


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found = [pid]
    for child_pid in _children(pid):
        found.extend(_tree(child_pid))
    return found


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


async def _until(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what} not within {timeout_s} s")
        await asyncio.sleep(0.05)
    return time.monotonic()


async def _load_around(
    port: int,
    make_message: Callable[[int], dict[str, object]],
    fault: Callable[[], Any],
    *,
    connections: int = 4,
    before_s: float = 1.0,
    after_s: float = 6.0,
) -> tuple[LoadResult, Any, float]:
    """Load on `port` from `before_s` before the fault until `after_s` after it returned (the fault runs in a
    thread, as long as it takes); returns the load's counts, what the fault returned, and when it returned."""
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(port, make_message, connections=connections, duration_s=600, stop=stop))
    await asyncio.sleep(before_s)
    outcome = await asyncio.to_thread(fault)
    lifted = time.monotonic()
    await asyncio.sleep(after_s)
    stop.set()
    return await load, outcome, lifted


def _ready(port: int) -> int:
    return raw_request(port, build_request(method="GET", path="/ready")).status


@pytest.mark.long_form
@pytest.mark.parametrize("kind", SERVERS)
def test_postgresql_stopped_and_restarted_under_load_is_survived(
    kind: str, pg_cluster: Cluster, tmp_path: Path
) -> None:
    with _server(kind, tmp_path, pg_cluster.url) as server:

        def outage() -> tuple[float, int]:
            stopping = time.monotonic()
            pg_cluster.stop(mode="immediate")
            time.sleep(1.0)
            ready = _ready(server.port)
            pg_cluster.start()  # however long the machine takes: measured from when it is back, not raced
            return stopping, ready

        with probe(server.port) as served:
            result, (stopping, ready_during), back = asyncio.run(_load_around(server.port, lookup_call, outage))
        after = rpc(server.port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 3}}).json()
        full = _full_service_after(result.ok_times, back)
        record(
            "faults",
            kind,
            "PostgreSQL stopped and restarted",
            {
                **_load_figures(result),
                "outage_s": round(back - stopping, 2),
                "full_service_s": full,
                "ready_during_outage": ready_during,
                "ready_after": _ready(server.port),
            },
        )
        assert server.proc.poll() is None
        assert ready_during == 503
        assert result.lost == 0 and set(result.statuses) == {200}  # outage answers are isError results, not 5xx
        assert result.tool_errors > 0  # the outage was seen
        assert full is not None and full < 5.0, f"full service {full} s after PostgreSQL was back"
        assert not after["result"].get("isError")
        assert served.calls > 0 and served.failures == 0, served.first_failure  # echo needs no database


@pytest.mark.long_form
@pytest.mark.parametrize("kind", SERVERS)
def test_slow_postgresql_makes_tool_deadlines_fire_and_service_resumes(
    kind: str, pg_cluster: Cluster, tmp_path: Path
) -> None:
    """A lock on the customers table for longer than get_customer's 5 s deadline: the calls end as isError results
    when their deadline fires (never a hang or a 5xx), and service resumes when the lock goes."""
    hold_s = 7.0
    with _server(kind, tmp_path, pg_cluster.url) as server:

        def lock() -> None:
            async def hold() -> None:
                conn = await asyncpg.connect(pg_cluster.url)
                try:
                    async with conn.transaction():
                        await conn.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
                        await asyncio.sleep(hold_s)
                finally:
                    await conn.close()

            asyncio.run(hold())

        result, _, released = asyncio.run(_load_around(server.port, lookup_call, lock))
        full = _full_service_after(result.ok_times, released)
        record(
            "faults",
            kind,
            "PostgreSQL slow (table locked 7 s, deadline 5 s)",
            {**_load_figures(result), "full_service_s": full},
        )
        assert server.proc.poll() is None
        assert result.lost == 0 and set(result.statuses) == {200}
        assert result.tool_errors >= 4  # each of the 4 clients' calls hit the deadline
        assert full is not None and full < 5.0


@pytest.mark.parametrize("kind", SERVERS)
def test_a_worker_killed_with_sigkill_is_replaced_and_service_resumes(
    kind: str, database_url: str, tmp_path: Path
) -> None:
    with _server(kind, tmp_path, database_url, workers=2) as server:
        workers = _children(server.proc.pid)
        assert len(workers) == 2

        def kill() -> tuple[int, float]:
            victim = workers[0]
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            deadline = killed + 20
            while time.monotonic() < deadline:
                now = _children(server.proc.pid)
                if len(now) == 2 and victim not in now:
                    return victim, time.monotonic() - killed
                time.sleep(0.05)
            raise AssertionError("the killed worker was not replaced within 20 s")

        with probe(server.port) as served:
            result, (_, replaced_s), _ = asyncio.run(
                _load_around(server.port, mixed_call, kill, connections=8, after_s=2.0)
            )
        fresh = [rpc(server.port, "tools/call", {"name": "echo", "arguments": {"message": "m"}}) for _ in range(20)]
        record(
            "faults",
            kind,
            "worker killed with SIGKILL",
            {
                **_load_figures(result),
                "replaced_s": round(replaced_s, 2),
                "probe": served.figures(),
                "note": "requests in flight on the killed worker are lost with it (counted in lost)",
            },
        )
        assert server.proc.poll() is None
        assert all(r.status == 200 for r in fresh)
        assert result.lost <= 8  # at most the requests in flight on the killed worker's connections
        assert set(result.statuses) <= {200}


@pytest.mark.long_form
@pytest.mark.parametrize("kind", SERVERS)
def test_sigterm_under_load_fails_no_request_in_flight(kind: str, database_url: str, tmp_path: Path) -> None:
    with _server(kind, tmp_path, database_url) as server:
        result, stopped_s = assert_sigterm_loses_nothing(server, stop_within_s=25.0)
    record("faults", kind, "SIGTERM under load", {**_load_figures(result), "stopped_s": round(stopped_s, 2)})


@pytest.mark.parametrize("kind", SERVERS)
def test_the_connection_limit_reached_is_survived_and_service_resumes(
    kind: str, database_url: str, tmp_path: Path
) -> None:
    """The server's processes get a 256 file-descriptor limit; 600 connections exhaust it. The server survives,
    answers what it accepted without a 5xx, and serves new clients again once the flood is gone."""
    import socket

    with _server(kind, tmp_path, database_url) as server:
        for pid in _tree(server.proc.pid):
            subprocess.run(["prlimit", "--nofile=256:256", f"--pid={pid}"], check=True)
        flood: list[socket.socket] = []
        for _ in range(600):
            with contextlib.suppress(OSError):
                flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
        statuses: list[int] = []
        for sock in flood[:: len(flood) // 20 or 1]:
            try:
                sock.sendall(build_request({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
                sock.settimeout(2)
                head = sock.recv(64)
                statuses.append(int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0)
            except OSError:
                statuses.append(0)  # reset: accepted over the limit and dropped
        released = time.monotonic()
        for sock in flood:
            sock.close()
        full_s = None
        while time.monotonic() - released < 15:
            with contextlib.suppress(OSError):
                if rpc(server.port, "tools/call", {"name": "echo", "arguments": {"message": "m"}}).status == 200:
                    full_s = time.monotonic() - released
                    break
            time.sleep(0.05)
        record(
            "faults",
            kind,
            "connection limit reached (256 fds, 600 connections)",
            {
                "connections_opened": len(flood),
                "sampled": len(statuses),
                "answered_200": statuses.count(200),
                "dropped": statuses.count(0),
                "full_service_s": None if full_s is None else round(full_s, 3),
            },
        )
        assert server.proc.poll() is None
        assert all(s in (0, 200, 503) for s in statuses), statuses
        assert full_s is not None and full_s < 5.0


@contextlib.contextmanager
def _small_filesystem(size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` mounted on a new directory (the machine runs the tests as root), unmounted after."""
    mount_point = Path(tempfile.mkdtemp(prefix="mcpstack-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=1777", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as out:
        while True:
            out.write(b"\0" * 4096)
            out.flush()
    return filler


def _requests_total(port: int) -> float:
    text = raw_request(port, build_request(method="GET", path="/metrics")).body.decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("mcp_requests_total{"))


@pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting the small filesystem needs root (the test machines run as root)"
)
@pytest.mark.parametrize("kind", SERVERS)
def test_a_full_disk_for_the_metrics_snapshots_is_survived(kind: str, database_url: str, tmp_path: Path) -> None:
    """The server's temporary directory (metrics snapshots) on a 256 KiB tmpfs, filled up under load: requests are
    still answered, the request timeout still cuts a stalled connection, and requests are counted again once space
    is freed."""
    import socket

    from tests.reliability.conftest import REQUEST_TIMEOUT_S, TIMEOUTS

    with (
        _small_filesystem(256) as small,
        _server(kind, tmp_path, database_url, env={**TIMEOUTS, "TMPDIR": str(small)}) as server,
    ):
        filler = _fill(small)

        def full_for_a_while() -> tuple[int, float]:
            stalled = socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT_S + 5)
            started = time.monotonic()
            stalled.sendall(b"POST /mcp HTTP/1.1\r\n")
            head = stalled.recv(64)
            stalled.close()
            return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0, time.monotonic() - started

        with probe(server.port) as served:
            result, (stalled_status, stalled_s), _ = asyncio.run(
                _load_around(server.port, mixed_call, full_for_a_while, after_s=2.0)
            )
        metrics_status = raw_request(server.port, build_request(method="GET", path="/metrics")).status
        filler.unlink()
        freed = time.monotonic()
        counted_s = None
        while time.monotonic() - freed < 10 and counted_s is None:
            total = _requests_total(server.port)
            for _ in range(10):
                rpc(server.port, "tools/call", {"name": "echo", "arguments": {"message": "m"}})
            if _requests_total(server.port) >= total + 10:  # requests are counted again
                counted_s = time.monotonic() - freed
        record(
            "faults",
            kind,
            "disk full for the metrics snapshots (256 KiB tmpfs)",
            {
                **_load_figures(result),
                "stalled_connection_status": stalled_status,
                "stalled_connection_cut_s": round(stalled_s, 2),
                "metrics_status_while_full": metrics_status,
                "metrics_counted_again_s": None if counted_s is None else round(counted_s, 2),
                "probe": served.figures(),
            },
        )
        assert server.proc.poll() is None
        assert result.lost == 0 and set(result.statuses) == {200} and result.tool_errors == 0
        assert served.failures == 0, served.first_failure
        assert stalled_status == 408 and stalled_s < REQUEST_TIMEOUT_S + 3
        assert metrics_status == 200
        assert counted_s is not None


@pytest.mark.parametrize("kind", SERVERS)
def test_the_idempotent_write_under_client_retries_writes_each_notification_once(
    kind: str, database_url: str, tmp_path: Path
) -> None:
    """Each notification is sent four times with one idempotency key: two at once, one abandoned mid-flight (the
    client closes without reading), one after. The outbox holds exactly one row per key, and every answer names
    the same notification."""
    keys = [f"rel-{kind}-{uuid.uuid4()}" for _ in range(200 if FORM.long else 30)]

    def call(key: str, i: int) -> bytes:
        arguments = {"customer_id": 1 + i % 100, "channel": "email", "message": f"retry {i}", "idempotency_key": key}
        return build_request(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "send_notification", "arguments": arguments},
            }
        )

    async def send(port: int, data: bytes, *, abandon: bool = False) -> int | None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(data)
            await writer.drain()
            if abandon:
                return None
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            )
            result = orjson.loads(await reader.readexactly(length))["result"]
            assert not result.get("isError"), result["content"][0]["text"]
            return int(result["structuredContent"]["notification_id"])
        finally:
            writer.close()

    async def scenario(port: int) -> list[set[int]]:
        ids: list[set[int]] = []
        for i, key in enumerate(keys):
            data = call(key, i)
            first = await asyncio.gather(send(port, data), send(port, data), send(port, data, abandon=True))
            last = await send(port, data)
            ids.append({n for n in (*first, last) if n is not None})
        return ids

    async def rows() -> dict[str, int]:
        conn = await asyncpg.connect(database_url)
        try:
            found = await conn.fetch(
                "SELECT idempotency_key, count(*) AS n FROM notification_outbox WHERE idempotency_key = ANY($1) "
                "GROUP BY idempotency_key",
                keys,
            )
        finally:
            await conn.close()
        return {r["idempotency_key"]: r["n"] for r in found}

    with _server(kind, tmp_path, database_url) as server:
        ids = asyncio.run(scenario(server.port))
    counts = asyncio.run(rows())
    record(
        "faults",
        kind,
        "idempotent write under client retries",
        {
            "keys": len(keys),
            "calls": 4 * len(keys),
            "outbox_rows": sum(counts.values()),
            "keys_written_twice": sum(1 for n in counts.values() if n > 1),
        },
    )
    assert all(len(s) == 1 for s in ids), "retries of one key answered with different notifications"
    assert counts == {key: 1 for key in keys}


@pytest.mark.long_form
def test_haproxy_taking_a_backend_out_during_a_cutover_fails_no_request(database_url: str, tmp_path: Path) -> None:
    """Blue (FastAPI) and green (native) behind HAProxy, under load: the weights move 100/0 → 50/50 → 0/100, blue
    is put in maintenance, then stopped with SIGTERM. Every request is answered with 200."""
    from scripts.cutover.haproxy import HaproxyConfig, HaproxyProcess, HaproxyRouter, RuntimeApi, render_config
    from scripts.pgcluster import free_port

    for slot in ("blue", "green"):
        (tmp_path / slot).mkdir()
    with (
        _server("fastapi", tmp_path / "blue", database_url) as blue,
        _server("native", tmp_path / "green", database_url) as green,
    ):
        socket_path = tmp_path / "haproxy.sock"
        config = HaproxyConfig(
            bind_port=free_port(),
            stats_port=free_port(),
            socket_path=socket_path,
            slot_ports={"blue": blue.port, "green": green.port},
            weights_pct={"blue": 100, "green": 0},
        )
        config_path = tmp_path / "haproxy.cfg"
        config_path.write_text(render_config(config))
        haproxy = HaproxyProcess(config_path, tmp_path / "haproxy.pid")
        haproxy.start()
        try:
            router = HaproxyRouter(RuntimeApi(socket_path))
            deadline = time.monotonic() + 20
            while not all(router.target_health(s).healthy for s in ("blue", "green")):
                assert time.monotonic() < deadline, "HAProxy did not see both servers healthy"
                time.sleep(0.2)

            def cutover() -> None:
                steps: list[dict[Slot, int]] = [{"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
                for weights in steps:
                    router.write_weights(weights)
                    time.sleep(1.0)
                router.api.command("set server mcp/blue state maint")
                time.sleep(0.5)
                blue.stop()

            result, _, _ = asyncio.run(
                _load_around(config.bind_port, mixed_call, cutover, connections=8, before_s=1.5, after_s=2.0)
            )
        finally:
            haproxy.stop()
    record("faults", "both", "HAProxy takes a backend out during a cutover", _load_figures(result))
    assert result.sent > 100
    assert result.lost == 0 and set(result.statuses) == {200} and result.tool_errors == 0
