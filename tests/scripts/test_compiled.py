"""The compiled hot path's build and its guard (scripts/compiled.py, services/compiled.py): a compiled module is
imported only while every source it was built from is unchanged; otherwise, and whenever the build is missing,
malformed or for another interpreter, the process runs the pure modules and says why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from scripts import compiled as build_script
from services import compiled

REPO = Path(build_script.REPO_ROOT)
_PROBE = (
    "import services.compiled as c, services.tools.reply as r, services.tools.validate as v; "
    "print(c.STATUS); print(r.__file__); print(v.__file__)"
)


def _probe(root: Path, **env: str) -> list[str]:
    """STATUS and where reply (compiled in the test's build) and validate (never compiled there) came from, in a
    fresh interpreter whose `services` is the tree at `root`."""
    clean = {k: v for k, v in os.environ.items() if k != "MCPSTACK_COMPILED"} | {"MCPSTACK_COMPILED": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=root,
        env=clean | {"PYTHONPATH": str(root), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def _copy_tree(tmp: Path) -> Path:
    root = tmp / "tree"
    shutil.copytree(REPO / "services", root / "services", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_guarded_sources_are_the_compiled_modules_and_the_services_modules_they_import() -> None:
    guarded = build_script.sources()
    assert set(build_script.MODULES) <= set(guarded)
    # registry imports the tool context; the transport imports the protocol rules: a change there can change what
    # mypyc assumed, so they guard the build too
    assert "services/tools/context.py" in guarded and "services/__init__.py" in guarded
    assert not [rel for rel in guarded if rel.startswith(("services/fastapi_baseline/", "services/sdk_reference/"))]


@pytest.mark.slow
def test_built_module_is_imported_compiled_and_an_edited_source_falls_back_to_pure(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    manifest = build_script.build(root, modules=("services/tools/reply.py",))  # one small module: seconds, not a minute
    assert "services.tools.reply" in manifest["modules"]  # type: ignore[operator]
    # each source's size and mtime as built, so a process's start need not hash them again
    assert manifest["stats"] == [compiled.stat_key(str(root / rel)) for rel in manifest["sources"]]  # type: ignore[attr-defined]

    status, reply_file, validate_file = _probe(root)
    assert status == "compiled: 1 modules (mypyc)"
    assert reply_file.endswith(EXTENSION_SUFFIXES[0]) and validate_file.endswith(".py")

    status, reply_file, _ = _probe(root, MCPSTACK_COMPILED="0")  # opt-in: anything but 1 is pure
    assert status == "pure: the compiled build is opt-in (MCPSTACK_COMPILED=1)" and reply_file.endswith("reply.py")

    source = root / "services" / "tools" / "reply.py"  # a developer's edit after the build
    source.write_text(source.read_text() + "\n# an edit after the build\n")
    status, reply_file, _ = _probe(root)
    assert status.startswith("pure: a source changed since the compiled build")
    assert reply_file.endswith("reply.py")

    build_script.build(root, modules=("services/tools/reply.py",))  # rebuilt: compiled again
    assert _probe(root)[1].endswith(EXTENSION_SUFFIXES[0])


def _manifest(tmp: Path, **fields: object) -> Path:
    build = tmp / "compiled"
    build.mkdir()
    (build / "m.so").write_bytes(b"")
    (tmp / "a.py").write_text("x = 1\n")
    manifest = {
        "format": compiled.FORMAT,
        "ext_suffix": EXTENSION_SUFFIXES[0],
        "modules": {"pkg.a": "m.so"},
        "sources": ["a.py"],
        "sources_sha256": compiled.source_digest(["a.py"], str(tmp)),
    } | fields
    (build / compiled.MANIFEST).write_text(json.dumps(manifest))
    return build


def test_a_matching_manifest_maps_its_modules_to_their_compiled_files(tmp_path: Path) -> None:
    files, status = compiled.check(str(_manifest(tmp_path)), str(tmp_path))
    assert files == {"pkg.a": str(tmp_path / "compiled" / "m.so")} and status == "compiled: 1 modules (mypyc)"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"ext_suffix": ".cpython-312-x86_64-linux-gnu.so"}, "pure: compiled build is for .cpython-312"),
        ({"format": 0}, "pure: compiled build of another format"),
        ({"modules": {"pkg.a": "missing.so"}}, "pure: compiled build incomplete"),
        ({"sources": ["gone.py"]}, "pure: a source of the compiled build is missing"),
        ({"sources_sha256": "0" * 64}, "pure: a source changed since the compiled build"),
        ({"modules": ["not", "a", "map"]}, "pure: compiled build manifest malformed"),
    ],
)
def test_a_build_that_does_not_match_runs_pure_and_says_why(
    tmp_path: Path, fields: dict[str, object], why: str
) -> None:
    files, status = compiled.check(str(_manifest(tmp_path, **fields)), str(tmp_path))
    assert files is None and status.startswith(why)


def test_sources_with_their_built_size_and_mtime_are_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _manifest(tmp_path)
    manifest = json.loads((build / compiled.MANIFEST).read_text())
    manifest["stats"] = [compiled.stat_key(str(tmp_path / "a.py"))]
    (build / compiled.MANIFEST).write_text(json.dumps(manifest))

    def no_hash(*_args: object) -> str:
        raise AssertionError("hashed a source whose size and mtime are unchanged")

    with monkeypatch.context() as patch:
        patch.setattr(compiled, "source_digest", no_hash)
        assert compiled.check(str(build), str(tmp_path))[1] == "compiled: 1 modules (mypyc)"

    source = tmp_path / "a.py"
    os.utime(source, ns=(0, source.stat().st_mtime_ns + 1_000_000_000))  # touched, same bytes: hashed, still compiled
    assert compiled.check(str(build), str(tmp_path))[1] == "compiled: 1 modules (mypyc)"
    source.write_text("x = 2\n")  # same size, new bytes: the hash says so
    files, status = compiled.check(str(build), str(tmp_path))
    assert files is None and status.startswith("pure: a source changed since the compiled build")


def test_no_build_or_an_unreadable_manifest_runs_pure(tmp_path: Path) -> None:
    assert compiled.check(str(tmp_path / "none"), str(tmp_path)) == (
        None,
        "pure: no compiled build (make compiled builds one)",
    )
    (tmp_path / compiled.MANIFEST).write_text("{not json")
    files, status = compiled.check(str(tmp_path), str(tmp_path))
    assert files is None and status.startswith("pure: unreadable compiled build")
