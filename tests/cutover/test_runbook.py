"""docs/runbook.md, docs/deploy.md and README.md name only commands that exist: every `mcpstack …` line of their
code blocks parses against the real CLI (subcommands, options and their values), so a renamed command or option
fails here, not in an operator's hands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from scripts.cli import build_app
from scripts.state import REPO_ROOT

RUNBOOK = REPO_ROOT / "docs" / "runbook.md"
# The other documents an operator follows to the cutover: every command they name must exist too.
DOCS = (RUNBOOK, REPO_ROOT / "docs" / "deploy.md", REPO_ROOT / "README.md")


def runbook_commands(path: Path = RUNBOOK) -> list[list[str]]:
    """The arguments of every command line starting with `mcpstack` inside the document's fenced code blocks
    (diagrams left out); `status | promote | abort` shorthand stands for one command per alternative."""
    commands, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"\s*(?:\$\s+)?(?:\.venv/bin/)?mcpstack\s+(.*)", line) if fenced else None
        if match is None or "\u2500" in line:
            continue
        args = shlex.split(match.group(1).split("#", 1)[0])
        if "|" in args:
            first = args.index("|") - 1
            alternatives = [a for a in args[first:] if a != "|"]
            commands += [[*args[:first], alternative] for alternative in alternatives]
        else:
            commands.append(args)
    return commands


def _parse(args: list[str]) -> Any:
    """Resolve the subcommand path and parse the leaf's options and arguments without running it: the CLI's own parser
    raises a usage error on an unknown command, option or value."""
    command: Any = typer.main.get_command(build_app())
    ctx = command.make_context("mcpstack", list(args))
    while hasattr(command, "resolve_command"):
        # The subcommand's name is kept apart from its arguments (`_protected_args`).
        remaining = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        name, command, rest = command.resolve_command(ctx, remaining)
        ctx = command.make_context(name, rest, parent=ctx)
    return command


def test_runbook_names_the_cutover_verbs_it_documents() -> None:
    used = {" ".join(args[:2]) for args in runbook_commands()}
    for verb in ("plan", "start", "status", "promote", "abort", "rollback"):
        assert f"cutover {verb}" in used
    assert {"stack up", "stack down", "stack status", "stack faults"} <= used


@pytest.mark.parametrize(
    ("doc", "args"),
    [(doc.name, args) for doc in DOCS for args in runbook_commands(doc)],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_every_documented_command_parses_against_the_cli(doc: str, args: list[str]) -> None:
    try:
        _parse(args)
    except Exception as ex:  # the CLI's (vendored) click UsageError
        message = ex.format_message() if hasattr(ex, "format_message") else repr(ex)
        pytest.fail(f"`mcpstack {' '.join(args)}` in {doc}: {message}")
