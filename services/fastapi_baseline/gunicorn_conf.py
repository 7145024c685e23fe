"""Gunicorn settings: the FastAPI baseline deployed the way FastAPI services are commonly deployed.

`gunicorn -c python:services.fastapi_baseline.gunicorn_conf services.fastapi_baseline.app:app`

- Workers: 2 x cores + 1 by default, the starting point gunicorn's documentation gives ("How Many Workers?",
  https://docs.gunicorn.org/en/stable/design.html#how-many-workers); the documented "tuned" setting is one worker per
  core (`MCPSTACK_GUNICORN_TUNED=1`, or `mcpstack serve fastapi --tuned`): an async worker never blocks on I/O, so
  the extra processes only add memory and context switches. `WEB_CONCURRENCY` overrides both.
- Keep-alive 75 s: above the ALB's 60 s idle timeout, so the load balancer (not the server) closes idle connections
  and never sends a request on a connection the server is closing (`settings.KEEPALIVE_TIMEOUT_S`; the CDK app checks
  it against each stage's idle timeout, infra/timeouts.py).
- SIGTERM: the master stops accepting and tells each worker to stop; uvicorn finishes in-flight requests and closes
  idle connections; `graceful_timeout` (20 s, within the ALB's deregistration delay) bounds the drain. The worker
  class is uvicorn's `UvicornWorker` with a drain grace for idle keep-alive connections (`worker.py`).
- Metrics: `PROMETHEUS_MULTIPROC_DIR` is created here, before the workers import prometheus_client.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from services.fastapi_baseline.settings import DRAIN_TIMEOUT_S, WORKERS_ENV, keepalive_s


def worker_count(cores: int, *, tuned: bool) -> int:
    """2 x cores + 1 (gunicorn's "How Many Workers?"), or one per core when tuned."""
    return cores if tuned else 2 * cores + 1


_cores = os.cpu_count() or 1
_tuned = os.environ.get("MCPSTACK_GUNICORN_TUNED", "") in ("1", "true", "yes")

wsgi_app = "services.fastapi_baseline.app:app"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8080")]
workers = int(os.environ.get("WEB_CONCURRENCY") or worker_count(_cores, tuned=_tuned))
worker_class = "services.fastapi_baseline.worker.DrainingUvicornWorker"  # uvicorn.workers.UvicornWorker + drain fix
keepalive = keepalive_s()  # native: the same variable
graceful_timeout = DRAIN_TIMEOUT_S
timeout = 30
accesslog = None
errorlog = "-"
loglevel = os.environ.get("MCP_LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

_owned_metrics_dir: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _owned_metrics_dir = tempfile.mkdtemp(prefix="mcpstack-fastapi-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _owned_metrics_dir


def on_starting(server: Any) -> None:
    """Stateful mode, or tools that support tasks, with several workers need the database to share sessions or task
    records: refuse to start otherwise, with one line (services/sessions.py and services/tasks.py decide)."""
    from services.fastapi_baseline.settings import Settings
    from services.sessions import SessionConfigError, open_store, stateful_enabled
    from services.tasks import serves_tasks, unshared_tasks
    from services.tools.packs import load_packs

    database_url = os.environ.get("DATABASE_URL") or None
    try:
        if stateful_enabled():
            open_store(database_url=database_url, workers=server.cfg.workers)
    except SessionConfigError as ex:
        sys.stderr.write(f"error: {ex}\n")
        sys.exit(2)
    registry = load_packs(Settings.from_env(os.environ).tool_packs)
    refused = unshared_tasks(
        serves=serves_tasks(tool.fn for tool in registry), workers=server.cfg.workers, database_url=database_url
    )
    if refused is not None:
        sys.stderr.write(f"error: {refused}\n")
        sys.exit(2)


def post_fork(server: Any, worker: Any) -> None:
    os.environ[WORKERS_ENV] = str(server.cfg.workers)  # before the worker imports the app


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _owned_metrics_dir is not None:
        shutil.rmtree(_owned_metrics_dir, ignore_errors=True)


control_socket_disable = True  # several servers may run side by side (tests, benchmarks)
