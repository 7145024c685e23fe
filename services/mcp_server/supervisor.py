"""The process supervisor: one worker per core (or as configured), restarted when it dies, drained on SIGTERM.

With `reuse_port` each worker binds its own SO_REUSEPORT socket and the kernel spreads connections across them;
without it the supervisor binds one socket that all workers accept from.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
import traceback

from services import compiled
from services.mcp_server.config import ServerConfig
from services.mcp_server.worker import make_socket, run_worker
from services.tools.registry import ToolRegistry

log = logging.getLogger("mcpstack.supervisor")

_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP}
_CRASH_WINDOW_S = 2.0
_CRASH_LIMIT = 5


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _private_dir(prefix: str) -> str:
    """A new directory only this user can read (what tempfile.mkdtemp does, without its imports on the start path)."""
    base = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108  (random name, created exclusively, mode 0700)
    while True:
        path = os.path.join(base, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def _remove_dir(path: str) -> None:
    """Remove the flat directory `path` and the files in it."""
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in list(entries):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _spawn(config: ServerConfig, registry: ToolRegistry, shared: socket.socket | None, metrics_dir: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        sock = shared if shared is not None else make_socket(config.host, config.port, reuse_port=True)
        run_worker(config, registry, sock, metrics_dir, supervisor_pid=os.getppid())
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def run(config: ServerConfig, registry: ToolRegistry) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code."""
    configure_logging(config.log_level)
    try:
        # With reuse_port the probe only binds: a listening probe would take connections into its backlog and reset
        # them when it closes, before the workers' own sockets listen. It never sets SO_REUSEPORT itself, so an
        # address another server already listens on (with SO_REUSEPORT, as ours do) is refused here rather than
        # shared with it.
        probe = make_socket(config.host, config.port, reuse_port=False, listen=not config.reuse_port)
    except OSError as ex:
        log.error("cannot listen on %s:%d: %s", config.host, config.port, ex.strerror or ex)
        return 2
    shared: socket.socket | None = None
    if config.reuse_port:
        probe.close()  # each worker binds and listens on its own
    else:
        shared = probe
    metrics_dir = _private_dir("mcpstack-metrics-")
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    workers: dict[int, float] = {}  # pid -> start time
    crashes: list[float] = []
    for _ in range(config.workers):
        workers[_spawn(config, registry, shared, metrics_dir)] = time.monotonic()
    log.info(
        "supervisor %d: %d worker(s) on http://%s:%d%s; %s",
        os.getpid(),
        config.workers,
        config.host,
        config.port,
        config.mcp_path,
        compiled.STATUS,  # which build of the hot modules the workers run (services/compiled.py)
    )
    stopping = False
    deadline = float("inf")
    exit_code = 0
    try:
        while workers:
            info = signal.sigtimedwait(list(_SIGNALS), 0.5)
            if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT) and not stopping:
                stopping = True
                deadline = time.monotonic() + config.drain_timeout_s + 5.0
                log.info("supervisor: draining %d worker(s)", len(workers))
                for pid in workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                started = workers.pop(pid, None)
                if started is None or stopping:
                    continue
                log.warning("worker %d exited (status %d); restarting", pid, status)
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < _CRASH_WINDOW_S * _CRASH_LIMIT]
                if now - started < _CRASH_WINDOW_S:
                    crashes.append(now)
                if len(crashes) >= _CRASH_LIMIT:
                    log.error("workers keep crashing at start; giving up")
                    stopping, exit_code = True, 1
                    for other in workers:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(other, signal.SIGTERM)
                    deadline = time.monotonic() + config.drain_timeout_s + 5.0
                    continue
                workers[_spawn(config, registry, shared, metrics_dir)] = now
            if stopping and time.monotonic() > deadline:
                for pid in workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
    finally:
        _remove_dir(metrics_dir)
        if shared is not None:
            shared.close()
    log.info("supervisor %d stopped", os.getpid())
    return exit_code
