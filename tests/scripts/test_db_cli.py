"""`mcpstack db …` from the outside: one clear line on failure, a working local cluster lifecycle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return base | {"MCPSTACK_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"} | extra


def test_missing_postgresql_binaries_give_one_clear_line(tmp_path: Path) -> None:
    proc = _cli("db", "up", env=_env(tmp_path, PG_BIN=str(tmp_path / "nowhere")))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "apt-get install postgresql" in proc.stderr


def test_db_url_without_a_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    proc = _cli("db", "url", env=_env(tmp_path))
    assert proc.returncode == 1
    assert "mcpstack db up" in proc.stderr


def test_db_url_prefers_database_url(tmp_path: Path) -> None:
    proc = _cli("db", "url", env=_env(tmp_path, DATABASE_URL="postgresql://u@db.example:5432/x"))
    assert proc.stdout.strip() == "postgresql://u@db.example:5432/x"


def test_status_of_a_stopped_cluster_exits_3(tmp_path: Path) -> None:
    proc = _cli("db", "status", env=_env(tmp_path))
    assert proc.returncode == 3
    assert "stopped" in proc.stderr
