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
import sys
import time
from typing import TYPE_CHECKING

from services.mcp_server.config import ServerConfig
from services.mcp_server.database import ConnectionSet
from services.mcp_server.faults import FaultsFile
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics, SnapshotShare, exposition, merge
from services.mcp_server.streams import Peers
from services.mcp_server.transport import INTERNAL_ERROR, OVERLOADED, McpEndpoint
from services.mcp_server.wire import HttpRequest, Response, WireServer
from services.protocol import param_headers_by_tool
from services.tools.context import NO_DATABASE
from services.tools.registry import ToolRegistry
from services.tools.reply import Reply

if TYPE_CHECKING:
    from services.cancellation import CancelRelay
    from services.mcp_server.guard import Guard
    from services.sessions import SessionStore

log = logging.getLogger("mcpstack.worker")

TICK_S = 1.0
_PAST_THE_SECOND_S = 0.002  # a timer may fire a little early; the tick must land in the new second
LISTEN_BACKLOG = 4096
DRAIN_TICK_S = 0.05


def make_socket(host: str, port: int, *, reuse_port: bool, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port, listening unless `listen` is False (a bind-only probe of the address)."""
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
    if listen:
        sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


class Worker:
    """The parts of one worker, assembled from the configuration: database handle, metrics, MCP methods, endpoint and
    wire server. `serve` below runs it: listen, sweep once a second, drain, close."""

    def __init__(self, config: ServerConfig, registry: ToolRegistry, *, metrics_dir: str | None) -> None:
        self.config = config
        self.db = _database(config)
        self.metrics = Metrics()
        self.share = SnapshotShare(metrics_dir, f"worker-{os.getpid()}")
        # Stateful mode (off by default): the session store; its module is imported only then.
        self.sessions = _session_store(config)
        self.methods = McpMethods(
            registry=registry,
            info=ServerInfo(
                name=config.server_name,
                version=config.server_version,
                instructions=config.instructions,
                page_size=config.page_size,
            ),
            db=self.db if self.db is not None else NO_DATABASE,
            metrics=self.metrics,
            peers=Peers(store=self.sessions),
        )
        stateful = None
        if self.sessions is not None:
            from services.mcp_server.stateful import Stateful

            stateful = Stateful(methods=self.methods, store=self.sessions, slot=config.slot)
        guard = _guard(config)
        if guard is not None:
            self.methods.caller_of = guard.caller_of  # a requestState and a task are bound to the token's subject
        endpoint = McpEndpoint(
            methods=self.methods,
            mcp_path=config.mcp_path,
            allowed_hosts=config.host_allow_list,
            allowed_origins=frozenset(o.lower() for o in config.allowed_origins),
            ready=self.ready,
            metrics_text=self.metrics_text,
            metrics_allow_remote=config.metrics_allow_remote,
            guard=guard,
            guard_routes=guard.routes if guard is not None else None,
            stateful=stateful,
            param_headers=param_headers_by_tool((tool.name, tool.input_schema) for tool in registry),
        )
        if stateful is not None:
            stateful.endpoint = endpoint  # notifications/cancelled of a session reach the endpoint's running calls
        self.relay = _cancel_relay(config, endpoint)
        self.wire = WireServer(endpoint, config.limits, overloaded=OVERLOADED, internal_error=INTERNAL_ERROR)
        self._connecting: asyncio.Task[None] | None = None
        self.faults = FaultsFile(config.faults_file) if config.faults_file else None
        self._check_faults()  # before the first request
        if config.modules_at_first_request_file:
            _record_modules_at_first_request(self.wire, config.modules_at_first_request_file)

    def _check_faults(self) -> None:
        if self.faults is not None and (changed := self.faults.poll()) is not None:
            self.methods.inject(changed)

    async def ready(self) -> bool:
        return True if self.db is None else await self.db.ping()

    def _count_connections(self) -> None:
        self.metrics.gauges["in_flight_requests"] = self.wire.in_flight
        self.metrics.gauges["open_connections"] = len(self.wire.connections)

    def metrics_text(self) -> bytes:
        self._count_connections()
        return exposition(merge([self.metrics.snapshot(), *self.share.others()]))

    async def listen(self, sock: socket.socket) -> asyncio.Server:
        """Listen, then connect to the database in the background: tools that need no database answer at once (cold
        start), and a database that is down at boot does not hold up /health (`/ready` says whether it is up)."""
        loop = asyncio.get_running_loop()
        if self.sessions is not None:
            await self.sessions.start()  # before the first request: a session must be recorded when it is opened
        self.wire.tick(loop.time())
        server = await loop.create_server(self.wire.protocol_factory, sock=sock, backlog=LISTEN_BACKLOG)  # default: 100
        if self.db is not None or self.relay is not None:
            self._connecting = asyncio.create_task(self._connect())
        return server

    async def _connect(self) -> None:
        """The connection set first, then the cancellation relay's LISTEN connection: the relay is advisory and
        nothing waits for it, so it neither adds a thread of its own to the driver's import (one import, shared:
        services/pgdriver.py) nor a connection to the ones a worker's first answers wait for."""
        if self.db is not None:
            await self.db.start()
        if self.relay is not None:
            self.relay.start()

    async def sweep(self) -> None:
        """Once a second, just after the wall clock's second changes (so the `Date` header is never a second behind):
        advance the wire's clock, close idle and stalled connections, re-read the faults file if it changed, publish
        metrics."""
        loop = asyncio.get_running_loop()
        wire = self.wire
        while True:
            await asyncio.sleep(DRAIN_TICK_S if wire.draining else _next_second_s())
            wire.tick(loop.time())
            self._check_faults()
            if not wire.draining:
                self._count_connections()
                self.share.publish(self.metrics.snapshot())

    async def drain(self, server: asyncio.Server) -> None:
        """Stop accepting, let in-flight work finish within the drain time, then close what is left."""
        log.info("worker %d draining (up to %.1f s)", os.getpid(), self.config.drain_timeout_s)
        server.close()
        wire = self.wire
        wire.start_draining(asyncio.get_running_loop().time())
        try:
            await asyncio.wait_for(wire.drained.wait(), self.config.drain_timeout_s)
        except TimeoutError:
            log.warning("drain time over: closing %d connection(s) with work in progress", len(wire.connections))
            wire.close_all()

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()  # first: a start still under way must not start the relay after it closed
        self.share.withdraw()
        if self.sessions is not None:
            await self.sessions.close()
        if self.relay is not None:
            await self.relay.close()
        if self.db is not None:
            await self.db.close()


def _record_modules_at_first_request(wire: WireServer, path: str) -> None:
    """Write the names of the modules loaded once the first request has been handled (before its response is sent),
    one per line; a module still being imported (by another thread) is marked `(importing)`. The first request goes
    through a wrapper that then steps aside: later requests never see it, and without the setting it never exists."""
    handler = wire.handler

    def first(request: HttpRequest) -> Reply[Response]:
        wire.handler = handler
        try:
            return handler(request)
        finally:
            lines = []
            for name, module in list(sys.modules.items()):  # one step under the GIL: a safe copy
                spec = getattr(module, "__spec__", None)
                importing = getattr(spec, "_initializing", False)
                lines.append(f"{name} (importing)" if importing else name)
            with open(path + ".tmp", "w") as out:
                out.write("\n".join(sorted(lines)) + "\n")
            os.replace(path + ".tmp", path)

    wire.handler = first


def _guard(config: ServerConfig) -> Guard | None:
    """Authentication and the tool-call rate limit, when configured; their modules are imported only then."""
    if config.auth is None and config.rate_limit is None:
        return None
    from services.mcp_server.guard import build_guard
    from services.ratelimit import RateLimitSettings

    return build_guard(config.auth, config.rate_limit or RateLimitSettings())


def _cancel_relay(config: ServerConfig, endpoint: McpEndpoint) -> CancelRelay | None:
    """With a database, notifications/cancelled reach a call on another worker (services/cancellation.py)."""
    if not config.database_url:
        return None
    from services.cancellation import CancelRelay

    relay = CancelRelay(config.database_url, endpoint.cancel_relayed)
    endpoint.relay = relay.publish
    return relay


def _session_store(config: ServerConfig) -> SessionStore | None:
    if not config.stateful:
        return None
    from services.sessions import open_store

    return open_store(database_url=config.database_url, workers=config.workers)


def _next_second_s() -> float:
    return TICK_S - time.time() % TICK_S + _PAST_THE_SECOND_S


def _database(config: ServerConfig) -> ConnectionSet | None:
    if not config.database_url:
        return None
    return ConnectionSet(
        config.database_url,
        size=config.db_pool_size,
        connect_timeout_s=config.db_connect_timeout_s,
        retry_interval_s=config.db_retry_interval_s,
    )


async def serve(
    config: ServerConfig,
    registry: ToolRegistry,
    sock: socket.socket,
    *,
    metrics_dir: str | None = None,
    started: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve on `sock` until `stop` is set (or SIGTERM/SIGINT arrives), then drain and close."""
    worker = Worker(config, registry, metrics_dir=metrics_dir)
    server = await worker.listen(sock)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sweeper = asyncio.create_task(worker.sweep())
    if started is not None:
        started.set()
    log.info("worker %d serving on %s:%d", os.getpid(), config.host, config.port)
    await stop.wait()
    await worker.drain(server)
    sweeper.cancel()
    await worker.close()
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
