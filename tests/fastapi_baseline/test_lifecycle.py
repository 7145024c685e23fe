"""The FastAPI baseline under gunicorn, under bounded load on 127.0.0.1: drain on SIGTERM, database restarts."""

from __future__ import annotations

from pathlib import Path

from scripts.pgcluster import Cluster
from tests.faults import assert_recovered_within_5_s, assert_sigterm_loses_nothing, database_restart_under_load
from tests.support import fastapi_server


def test_sigterm_under_load_loses_no_in_flight_request(database_url: str, tmp_path: Path) -> None:
    with fastapi_server(tmp_path, database_url=database_url, workers=2) as server:
        assert_sigterm_loses_nothing(server, stop_within_s=20)  # gunicorn's graceful_timeout


def test_database_restart_under_load_is_survived_and_service_resumes_within_5_s(
    pg_cluster: Cluster, database_url: str, tmp_path: Path
) -> None:
    with fastapi_server(tmp_path, database_url=database_url, workers=1) as server:
        outcome = database_restart_under_load(server, pg_cluster)
    assert_recovered_within_5_s(outcome)
