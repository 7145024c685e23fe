"""Test helpers: raw HTTP over a socket (so malformed requests can be sent), free ports, and server processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from scripts.pgcluster import free_port

REPO = Path(__file__).resolve().parents[1]


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def read_reply(sock: socket.socket, buffer: bytearray, timeout_s: float = 10.0) -> HttpReply:
    """Read one HTTP/1.1 response (content-length framed) from `sock`, keeping leftovers in `buffer`."""
    sock.settimeout(timeout_s)
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response (got {bytes(buffer)!r})")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response body")
        rest += chunk
    buffer[:] = rest[length:]
    return HttpReply(status, headers, rest[:length])


def raw_request(port: int, data: bytes, *, timeout_s: float = 10.0) -> HttpReply:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(data)
        return read_reply(sock, bytearray(), timeout_s)


def build_request(
    body: bytes | dict[str, Any] | list[Any] | None = None,
    *,
    method: str = "POST",
    path: str = "/mcp",
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> bytes:
    payload = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
    merged = {"Host": host, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if headers:
        merged.update(headers)
    merged = {k: v for k, v in merged.items() if v is not None}
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in merged.items()]
    if payload or method == "POST":
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def post(port: int, body: Any, **kwargs: Any) -> HttpReply:
    return raw_request(port, build_request(body, **kwargs))


def rpc(port: int, method: str, params: dict[str, Any] | None = None, id_: Any = 1, **kwargs: Any) -> HttpReply:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return post(port, message, **kwargs)


def wait_healthy(port: int, proc: subprocess.Popen[bytes] | None = None, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {_output(proc)}")
        with contextlib.suppress(OSError):
            if raw_request(port, build_request(method="GET", path="/health"), timeout_s=1).status == 200:
                return
        time.sleep(0.02)
    raise TimeoutError(f"server on port {port} not healthy within {timeout_s} s")


def _output(proc: subprocess.Popen[bytes]) -> str:
    with contextlib.suppress(Exception):
        out, _ = proc.communicate(timeout=2)
        return out.decode(errors="replace")[-2000:]
    return ""


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    kind: str = "native"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)


def native_server(tmp_path: Path, **options: Any) -> contextlib.AbstractContextManager[ServerProcess]:
    """The native server (`mcpstack serve native`); options as for `server_process`."""
    return server_process("native", tmp_path, **options)


def fastapi_server(tmp_path: Path, **options: Any) -> contextlib.AbstractContextManager[ServerProcess]:
    """The FastAPI baseline under gunicorn (`mcpstack serve fastapi`)."""
    return server_process("fastapi", tmp_path, **options)


def sdk_server(tmp_path: Path, *, database_url: str | None) -> contextlib.AbstractContextManager[ServerProcess]:
    """The official SDK's MCPServer on uvicorn (`mcpstack serve sdk`)."""
    return server_process("sdk", tmp_path, database_url=database_url, workers=1)


@contextlib.contextmanager
def server_process(
    kind: str,
    tmp_path: Path,
    *,
    database_url: str | None,
    workers: int = 1,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Iterator[ServerProcess]:
    """`mcpstack serve <kind>` on a free port, healthy before it is yielded, stopped with SIGTERM afterwards."""
    port = free_port()
    log_path = tmp_path / f"{kind}-{port}.log"
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MCP_", "PROMETHEUS_", "WEB_CONCURRENCY")) and k != "DATABASE_URL"
    }
    if database_url:
        full_env["DATABASE_URL"] = database_url
    full_env.update(env or {})
    cmd = [
        sys.executable,
        "-m",
        "scripts.cli",
        "serve",
        kind,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(args or []),
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, port, log_path, kind)
    try:
        wait_healthy(port, proc, timeout_s=30)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
