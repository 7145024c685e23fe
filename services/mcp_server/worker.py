"""One worker process: an event loop (uvloop) serving the MCP endpoint on a listening socket until told to stop.

On SIGTERM it stops accepting, lets in-flight requests finish (their responses say `Connection: close`), gives idle
keep-alive connections a short grace to send one last request, and exits when all are done or the drain time ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket

from services.mcp_server.config import ServerConfig
from services.mcp_server.database import ConnectionSet
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics, SnapshotShare, exposition, merge
from services.mcp_server.transport import INTERNAL_ERROR, OVERLOADED, McpEndpoint
from services.mcp_server.wire import WireServer
from services.tools.context import NO_DATABASE
from services.tools.registry import ToolRegistry

log = logging.getLogger("mcpstack.worker")

TICK_S = 1.0
LISTEN_BACKLOG = 4096
DRAIN_TICK_S = 0.05


def make_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


async def serve(
    config: ServerConfig,
    registry: ToolRegistry,
    sock: socket.socket,
    *,
    metrics_dir: str | None = None,
    started: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    db = None
    if config.database_url:
        db = ConnectionSet(
            config.database_url,
            size=config.db_pool_size,
            connect_timeout_s=config.db_connect_timeout_s,
            retry_interval_s=config.db_retry_interval_s,
        )
        # Connect in the background: tools that need no database answer at once (cold start), and a database
        # that is down at boot does not hold up /health.
        connecting = asyncio.create_task(db.start())
    metrics = Metrics()
    share = SnapshotShare(metrics_dir, f"worker-{os.getpid()}")
    methods = McpMethods(
        registry=registry,
        info=ServerInfo(
            name=config.server_name,
            version=config.server_version,
            protocol_versions=("2025-11-25", "2025-06-18", "2025-03-26"),
            instructions=config.instructions,
            page_size=config.page_size,
        ),
        db=db if db is not None else NO_DATABASE,
        metrics=metrics,
    )

    async def ready() -> bool:
        return True if db is None else await db.ping()

    wire: WireServer

    def metrics_text() -> bytes:
        metrics.gauges["in_flight_requests"] = wire.in_flight
        metrics.gauges["open_connections"] = len(wire.connections)
        return exposition(merge([metrics.snapshot(), *share.others()]))

    endpoint = McpEndpoint(
        methods=methods,
        mcp_path=config.mcp_path,
        allowed_hosts=config.host_allow_list,
        allowed_origins=frozenset(o.lower() for o in config.allowed_origins),
        ready=ready,
        metrics_text=metrics_text,
    )
    wire = WireServer(endpoint, config.limits, overloaded=OVERLOADED, internal_error=INTERNAL_ERROR)
    wire.now = loop.time()
    server = await loop.create_server(wire.protocol_factory, sock=sock, backlog=LISTEN_BACKLOG)  # default: 100
    stop = stop or asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(DRAIN_TICK_S if wire.draining else TICK_S)
            wire.tick(loop.time())
            if not wire.draining:
                metrics.gauges["in_flight_requests"] = wire.in_flight
                metrics.gauges["open_connections"] = len(wire.connections)
                share.publish(metrics.snapshot())

    tick_task = asyncio.create_task(ticker())
    if started is not None:
        started.set()
    log.info("worker %d serving on %s:%d", os.getpid(), config.host, config.port)
    await stop.wait()

    log.info("worker %d draining (up to %.1f s)", os.getpid(), config.drain_timeout_s)
    server.close()
    wire.start_draining(loop.time())
    try:
        await asyncio.wait_for(wire.drained.wait(), config.drain_timeout_s)
    except TimeoutError:
        log.warning("drain time over: closing %d connection(s) with work in progress", len(wire.connections))
        for conn in list(wire.connections):
            conn._close()
    tick_task.cancel()
    share.withdraw()
    if db is not None:
        connecting.cancel()
        await db.close()
    log.info("worker %d stopped", os.getpid())


def die_with_supervisor(supervisor_pid: int) -> None:
    """PR_SET_PDEATHSIG: the kernel sends this worker SIGTERM (drain) when its supervisor dies."""
    import ctypes  # here, not at the top: the worker sets this once it serves, off the cold-start path

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    if os.getppid() != supervisor_pid:  # the supervisor died before the request was in place
        os.kill(os.getpid(), signal.SIGTERM)


def run_worker(
    config: ServerConfig,
    registry: ToolRegistry,
    sock: socket.socket,
    metrics_dir: str | None,
    *,
    supervisor_pid: int | None = None,
) -> None:
    import uvloop

    async def main() -> None:
        started = asyncio.Event()

        async def bind_to_supervisor() -> None:
            await started.wait()
            if supervisor_pid is not None:
                die_with_supervisor(supervisor_pid)

        guard = asyncio.create_task(bind_to_supervisor())
        try:
            await serve(config, registry, sock, metrics_dir=metrics_dir, started=started)
        finally:
            guard.cancel()

    uvloop.run(main())
