"""`mcpstack release build` (scripts/release.py): the artifact's contents, its immutability, and clear failures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bootstrap.bootstrap import MANIFEST_NAME, RELEASE_FORMAT, requirements_name
from infra.contract import SERVERS
from infra.synth import REPO
from scripts.release import ReleaseError, build_release, requirements_text, wheel_name_version


def test_wheel_file_names_give_name_and_version() -> None:
    assert wheel_name_version("orjson-3.13.0-cp311-cp311-manylinux_2_17_x86_64.whl") == ("orjson", "3.13.0")
    with pytest.raises(ReleaseError):
        wheel_name_version("orjson-3.13.0.tar.gz")


def test_requirements_pin_every_wheel_with_its_hash_and_the_servers_extra(tmp_path: Path) -> None:
    wheel = tmp_path / "mcpstack-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    digest = hashlib.sha256(b"wheel bytes").hexdigest()
    assert requirements_text([wheel], project="mcpstack", extra="baseline") == (
        f"mcpstack[baseline]==0.1.0 --hash=sha256:{digest}\n"
    )


def test_built_release_holds_hashed_requirements_for_both_servers(built_release: Path) -> None:
    manifest = json.loads((built_release / MANIFEST_NAME).read_text())
    assert manifest["format"] == RELEASE_FORMAT
    assert manifest["id"] == built_release.name
    assert set(manifest["servers"]) == set(SERVERS)
    for server in SERVERS:
        lines = (built_release / requirements_name(server)).read_text().splitlines()
        assert lines and all(" --hash=sha256:" in line and "==" in line for line in lines)
        for line in lines:
            name = line.split("==")[0].split("[")[0]
            assert any(w.name.startswith(name + "-") for w in (built_release / "wheels").iterdir()), name
    for relative, digest in manifest["files"].items():
        assert hashlib.sha256((built_release / relative).read_bytes()).hexdigest() == digest, relative
    fastapi = (built_release / requirements_name("fastapi")).read_text()
    native = (built_release / requirements_name("native")).read_text()
    assert "gunicorn==" in fastapi and "gunicorn==" not in native


def test_a_built_release_is_never_rebuilt(built_release: Path) -> None:
    before = (built_release / MANIFEST_NAME).stat().st_mtime_ns
    commit = json.loads((built_release / MANIFEST_NAME).read_text())["commit"]
    path, built = build_release(REPO, commit, built_release.parent)
    assert (path, built) == (built_release, False)
    assert (built_release / MANIFEST_NAME).stat().st_mtime_ns == before


def test_unknown_commit_is_one_clear_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "release", "build", "--commit", "no-such-rev", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith("error: ")
    ]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
