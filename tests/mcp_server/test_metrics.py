"""Worker metrics: counted per worker, shared through snapshot files, summed at scrape time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services.mcp_server.metrics import Metrics, SnapshotShare, exposition, merge
from services.mcp_server.supervisor import _private_dir, _remove_dir


def _counted(n: int) -> Metrics:
    metrics = Metrics()
    for _ in range(n):
        metrics.record("tools/call", "echo", "ok", 0.0004)
    return metrics


def test_a_scrape_sums_its_own_counts_with_the_other_workers_snapshots(tmp_path: Path) -> None:
    first, second = SnapshotShare(str(tmp_path), "worker-1"), SnapshotShare(str(tmp_path), "worker-2")
    first.publish(_counted(3).snapshot())
    others = list(second.others())
    assert len(others) == 1
    text = exposition(merge([_counted(2).snapshot(), *others])).decode()
    assert 'mcp_requests_total{method="tools/call",outcome="ok",tool="echo"} 5.0' in text
    assert 'mcp_request_duration_seconds_bucket{le="0.0005",method="tools/call"} 5.0' in text


def test_a_worker_never_reads_its_own_snapshot_and_a_withdrawn_one_is_gone(tmp_path: Path) -> None:
    share = SnapshotShare(str(tmp_path), "worker-1")
    share.publish(_counted(1).snapshot())
    assert list(share.others()) == []
    share.withdraw()
    assert os.listdir(tmp_path) == []


def test_a_torn_or_foreign_file_in_the_directory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "worker-9.json").write_bytes(b'{"requests": [')
    (tmp_path / "notes.txt").write_text("not a snapshot")
    assert list(SnapshotShare(str(tmp_path), "worker-1").others()) == []


def test_the_supervisors_metrics_directory_is_private_and_removed_with_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    path = _private_dir("mcpstack-metrics-")
    assert os.path.dirname(path) == str(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    SnapshotShare(path, "worker-1").publish(_counted(1).snapshot())
    _remove_dir(path)
    assert not os.path.exists(path)
