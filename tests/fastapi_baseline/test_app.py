"""The FastAPI baseline's deployment settings and its metrics across gunicorn workers (docs: tests/behaviour)."""

from __future__ import annotations

from pathlib import Path

from infra.config import EdgeConfig
from services.fastapi_baseline import gunicorn_conf
from services.fastapi_baseline.gunicorn_conf import worker_count
from services.fastapi_baseline.settings import DRAIN_TIMEOUT_S, KEEPALIVE_TIMEOUT_S, Settings
from tests.support import build_request, fastapi_server, raw_request, rpc


def _get(port: int, path: str) -> tuple[int, bytes]:
    reply = raw_request(port, build_request(method="GET", path=path))
    return reply.status, reply.body


def test_worker_count_is_gunicorns_2_cores_plus_1_and_tuned_is_one_per_core() -> None:
    assert [worker_count(c, tuned=False) for c in (1, 2, 4)] == [3, 5, 9]
    assert [worker_count(c, tuned=True) for c in (1, 2, 4)] == [1, 2, 4]


def test_gunicorn_keeps_connections_longer_than_the_alb_and_drains() -> None:
    # The values infra/timeouts.py checks against each stage's ALB idle timeout and deregistration delay.
    assert (gunicorn_conf.keepalive, gunicorn_conf.graceful_timeout) == (KEEPALIVE_TIMEOUT_S, DRAIN_TIMEOUT_S)
    assert gunicorn_conf.keepalive > EdgeConfig().idle_timeout_s
    assert 0 < gunicorn_conf.graceful_timeout < EdgeConfig().deregistration_delay_s
    assert gunicorn_conf.worker_class.endswith("UvicornWorker")


def test_host_allow_list_applies_only_when_bound_to_localhost() -> None:
    assert "localhost" in Settings(bind_host="127.0.0.1").host_allow_list
    assert Settings(bind_host="0.0.0.0").host_allow_list == frozenset()
    assert Settings(bind_host="0.0.0.0", allowed_hosts=("Api.Example.com",)).host_allow_list == {"api.example.com"}


def test_metrics_count_requests_of_every_worker(database_url: str, tmp_path: Path) -> None:
    with fastapi_server(tmp_path, database_url=database_url, workers=2) as server:
        for i in range(40):
            assert rpc(server.port, "tools/call", {"name": "echo", "arguments": {"message": str(i)}}).status == 200
        status, body = _get(server.port, "/metrics")
    assert status == 200
    line = next(
        ln for ln in body.decode().splitlines() if ln.startswith('mcp_requests_total{method="tools/call",outcome="ok"')
    )
    assert float(line.rsplit(" ", 1)[1]) == 40.0
