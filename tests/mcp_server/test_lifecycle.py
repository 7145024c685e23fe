"""Process lifecycle under bounded load on 127.0.0.1: drain on SIGTERM, database restarts, worker crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from scripts.pgcluster import Cluster
from tests.faults import assert_recovered_within_5_s, assert_sigterm_loses_nothing, database_restart_under_load
from tests.support import native_server, rpc, wait_healthy


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def test_sigterm_under_load_loses_no_in_flight_request(database_url: str, tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=database_url, workers=2, env={"MCP_DRAIN_TIMEOUT_S": "10"}) as server:
        assert_sigterm_loses_nothing(server, stop_within_s=10)


def test_database_restart_under_load_is_survived_and_service_resumes_within_5_s(
    pg_cluster: Cluster, database_url: str, tmp_path: Path
) -> None:
    with native_server(tmp_path, database_url=database_url, workers=1) as server:
        outcome = database_restart_under_load(server, pg_cluster)
    assert_recovered_within_5_s(outcome)


def test_a_killed_worker_is_replaced(database_url: str, tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=database_url, workers=2) as server:
        before = _children(server.proc.pid)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        after: list[int] = []
        while time.monotonic() < deadline:
            after = _children(server.proc.pid)
            if len(after) == 2 and before[0] not in after:
                break
            time.sleep(0.05)
        assert len(after) == 2 and before[0] not in after
        wait_healthy(server.port)
        for i in range(20):
            assert rpc(server.port, "ping", id_=i).status == 200


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=None, workers=2) as server:
        workers = _children(server.proc.pid)
        assert len(workers) == 2
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        alive = workers
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in workers if _is_running(pid)]
            time.sleep(0.05)
        assert alive == []


def _is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_each_worker_listens_with_the_full_backlog_not_the_event_loops_default_of_100(tmp_path: Path) -> None:
    with native_server(tmp_path, database_url=None, workers=2) as server:
        # For a listening socket, ss shows the backlog as Send-Q.
        out = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True, check=True)
        backlogs = [line.split()[2] for line in out.stdout.splitlines()]
    assert backlogs == ["4096", "4096"]


def test_a_busy_port_fails_at_start_with_one_clear_line(tmp_path: Path) -> None:
    import socket
    import sys

    from tests.support import REPO

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "serve", "native", "--port", str(port), "--workers", "1"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"MCPSTACK_STATE_DIR": str(tmp_path)},
        )
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_supervisors_address_probe_refuses_connections_instead_of_taking_them_and_resetting_them() -> None:
    """With SO_REUSEPORT the supervisor checks the address with a bind-only socket and closes it; a client that
    connects before the workers listen is refused (and retries), never accepted into a backlog that is then reset."""
    import socket

    from services.mcp_server.worker import make_socket

    probe = make_socket("127.0.0.1", 0, reuse_port=True, listen=False)
    try:
        port = probe.getsockname()[1]
        with socket.socket() as client:
            client.settimeout(5)
            try:
                client.connect(("127.0.0.1", port))
                outcome = "accepted"
            except ConnectionRefusedError:
                outcome = "refused"
    finally:
        probe.close()
    assert outcome == "refused"
