"""Which assembly a report reads: a given one as is, ours re-synthesized when missing or older than the CDK app;
and the generated block of a markdown file replaced by `report --into`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra import contract
from scripts.cost import assembly
from scripts.cost.cli import BLOCK_BEGIN, BLOCK_END, EXIT_BAD_INPUT, app


def fake_assembly(root: Path, stage: str, mtime: float) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for unit in contract.STACK_UNITS:
        path = root / f"{contract.stack_name(stage, unit)}.template.json"
        path.write_text("{}")
        os.utime(path, (mtime, mtime))


def test_assembly_newer_than_the_app_is_current(tmp_path: Path) -> None:
    stage = assembly.stage_names()[0]
    fake_assembly(tmp_path, stage, assembly._app_mtime() + 60)
    assert assembly.is_current(tmp_path, stage)


def test_assembly_older_than_the_app_or_incomplete_is_stale(tmp_path: Path) -> None:
    stage = assembly.stage_names()[0]
    fake_assembly(tmp_path / "old", stage, assembly._app_mtime() - 60)
    assert not assembly.is_current(tmp_path / "old", stage)
    fake_assembly(tmp_path / "partial", stage, assembly._app_mtime() + 60)
    next((tmp_path / "partial").glob("*-Edge.template.json")).unlink()
    assert not assembly.is_current(tmp_path / "partial", stage)


def test_current_assembly_is_not_synthesized_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = assembly.stage_names()[0]
    monkeypatch.setenv("MCPSTACK_STATE_DIR", str(tmp_path))
    fake_assembly(assembly.default_dir(stage), stage, assembly._app_mtime() + 60)
    calls: list[str] = []
    monkeypatch.setattr(assembly, "synthesize", lambda s, out, **kw: calls.append(s))
    assert assembly.assembly_for(stage) == assembly.default_dir(stage)
    assert calls == []
    fake_assembly(assembly.default_dir(stage), stage, assembly._app_mtime() - 60)
    assembly.assembly_for(stage)
    assert calls == [stage]


def test_unknown_stage_is_refused_before_any_synth() -> None:
    with pytest.raises(assembly.SynthError, match="unknown stage"):
        assembly.assembly_for("no-such-stage")


def test_into_replaces_only_the_generated_block(assemblies: dict[str, Path], tmp_path: Path) -> None:
    name, path = next(iter(assemblies.items()))
    doc = tmp_path / "cost.md"
    doc.write_text(f"# Title\n\nhand-written\n\n{BLOCK_BEGIN}\nold\n{BLOCK_END}\n\nafter\n")
    result = CliRunner().invoke(app, ["report", "--stage", name, "--cdk-out", str(path), "--into", str(doc)])
    assert result.exit_code == 0, result.stderr
    text = doc.read_text()
    assert text.startswith("# Title\n\nhand-written\n\n") and text.endswith(f"{BLOCK_END}\n\nafter\n")
    assert "old" not in text and "| FastAPI fleet |" in text


def test_into_a_file_without_the_block_is_refused(assemblies: dict[str, Path], tmp_path: Path) -> None:
    name, path = next(iter(assemblies.items()))
    doc = tmp_path / "cost.md"
    doc.write_text("no block here\n")
    result = CliRunner().invoke(app, ["report", "--stage", name, "--cdk-out", str(path), "--into", str(doc)])
    assert result.exit_code == EXIT_BAD_INPUT and "no generated block" in result.stderr
    assert doc.read_text() == "no block here\n"
