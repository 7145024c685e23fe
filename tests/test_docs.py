"""The README and docs/ tell the truth about the tree: every repository path, `mcpstack` command and make target they
name in code exists, and every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from scripts.cli import build_app
from tests.support import REPO

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
# A code span naming a file or folder of the repository starts with one of these.
TOP_LEVEL = ("services/", "scripts/", "tests/", "infra/", "docs/", "examples/", ".ci/")
TOP_FILES = {"Makefile", "pyproject.toml", "requirements.lock", "package.json", "package-lock.json", "cdk.json"}


def _code(text: str) -> list[str]:
    """Inline code spans and fenced blocks: where a document names commands and paths."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return fenced + inline


def _repo_paths(doc: Path) -> set[str]:
    found = set()
    for span in _code(doc.read_text()):
        for token in re.findall(r"[\w./-]+", span):
            if token.startswith(TOP_LEVEL) or token in TOP_FILES:
                found.add(token.rstrip(".,;:"))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_repository_path_named_in_code_exists(doc: Path) -> None:
    missing = sorted(p for p in _repo_paths(doc) if not (REPO / p).exists())
    assert missing == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", doc.read_text())
    local = [link.split("#", 1)[0] for link in links if not link.startswith(("http://", "https://", "#", "mailto:"))]
    assert sorted(link for link in local if not (doc.parent / link).exists()) == []


def _command_tree() -> dict[str, Any]:
    """`mcpstack`'s commands by name: a group maps to its own such dict, a command to its option names (None for a
    command that hands its arguments to a parser of its own: `serve native`, whose flags its --help test checks)."""

    def tree(command: Any) -> Any:
        subcommands = getattr(command, "commands", None)
        if subcommands is not None:
            return {name: tree(sub) for name, sub in subcommands.items()}
        if command.context_settings.get("ignore_unknown_options"):
            return None
        return {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]} | {"--help"}

    commands = tree(typer.main.get_command(build_app()))
    assert commands
    return commands


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_mcpstack_command_and_option_named_in_code_exists(doc: Path) -> None:
    commands = _command_tree()
    unknown = []
    for span in _code(doc.read_text()):
        for line in span.splitlines():
            for words, rest in re.findall(r"\bmcpstack((?: [a-z][a-z-]*)+)([^#|;`]*)", line):
                node: Any = commands
                named = []
                for word in words.split():
                    if not isinstance(node, dict):
                        break
                    if word not in node:
                        unknown.append(" ".join([*named, word]))
                        node = None
                        break
                    named.append(word)
                    node = node[word]
                if isinstance(node, set):
                    options = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest)
                    unknown += [f"{' '.join(named)} {o}" for o in options if o not in node]
    assert unknown == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_make_target_named_in_code_exists(doc: Path) -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), flags=re.M))
    named = {t for span in _code(doc.read_text()) for t in re.findall(r"\bmake ([a-z][\w-]*)", span)}
    assert sorted(named - targets) == []


# A document outside the repository, cited as if it were in it: the design folder, outside documents by number
# ("seed 002", "the seed's table"), or the protocol design under a bare name instead of docs/protocol.md.
OUTSIDE = re.compile(
    r"shared/(design|seeds)|\bseeds?/\d|\bseed 00\d|\bseed (post|claim|ratio)|\bthe seed(s|'s)\b"
    r"|(?<![\w/])protocol\.md",
    re.I,
)
CITING = [
    "README.md",
    "docs/*.md",
    "scripts/**/*.py",
    "services/**/*.py",
    "services/**/*.sql",
    "infra/**/*.py",
    "tests/**/*.py",
    "tests/**/*.json",
]
GENERATED = {"docs/benchmarks.md"}  # written by scripts/bench/report.py, which is checked instead


def test_nothing_cites_a_document_outside_the_repository() -> None:
    files = {p for pattern in CITING for p in REPO.glob(pattern)} - {REPO / g for g in GENERATED}
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}"
        for path in sorted(files)
        if path != Path(__file__)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []
