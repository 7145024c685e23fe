"""The README and docs/ tell the truth about the tree: every repository path, `mcpstack` command and make target they
name in code exists, and every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from infra.config import STAGES
from scripts.cli import build_app
from scripts.cost.workload import PRESETS
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


def _variant_rows(text: str) -> dict[str, list[str]]:
    """The first table row per fleet label in `text`, as its cells."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] in ("FastAPI fleet", "native fleet"):
            rows.setdefault(cells[0], cells)
    return rows


def test_readme_cost_table_quotes_the_generated_cost_report() -> None:
    """README's cost table is copied from docs/cost.md's generated block: the same instances, count reason, monthly
    total, cost per million calls and saving."""
    cost = (REPO / "docs" / "cost.md").read_text()
    block = cost.split("<!-- generated by `mcpstack cost report --into`: begin -->", 1)[1]
    generated = _variant_rows(block)
    readme_text = (REPO / "README.md").read_text()
    readme = _variant_rows(readme_text.split("\nCost: ", 1)[1])
    assert set(readme) == set(generated) == {"FastAPI fleet", "native fleet"}
    for label, (_, instances, set_by, _dedicated, _shared, monthly, per_million, saving) in generated.items():
        _, shown_instances, shown_monthly, shown_per_million, shown_saving = readme[label]
        assert shown_instances.replace("×", "x") == f"{instances} ({set_by})", label
        assert (shown_monthly, shown_per_million, shown_saving) == (monthly, per_million, saving), label


def _command_lines(doc: Path) -> list[str]:
    """Each `mcpstack ...` command line a document shows whole in a code block (an inline span may name a command
    or an option in prose): no placeholder (<stage>), alternatives (a | b), optional parts ([--refresh]), elisions
    or --help (the option test covers those)."""
    lines = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", doc.read_text(), flags=re.S):
        for line in block.splitlines():
            found = re.match(r"\s*(?:\S*/)?mcpstack\s+(.*)", line)
            if found:
                command = found.group(1).split(" #", 1)[0].strip()
                if not re.search(r"[|<>\[\]…]|\.\.\.|--help", command):
                    lines.append(command)
    return lines


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_mcpstack_command_line_parses_with_the_cli(doc: Path) -> None:
    """Each whole command line is parsed by the command it names, as the shell would pass it: option values of the
    right type and choice, no missing required option, no stray argument."""
    import shlex

    root = typer.main.get_command(build_app())
    refused = []
    for command in _command_lines(doc):
        args = shlex.split(command)
        node: Any = root
        named = []
        while getattr(node, "commands", None) is not None and args and args[0] in node.commands:
            named.append(args[0])
            node = node.commands[args.pop(0)]
        if getattr(node, "commands", None) is not None or node.context_settings.get("ignore_unknown_options"):
            continue  # a group named alone, or `serve native` (its own parser, checked by its --help test)
        try:
            params = node.make_context(" ".join(named), list(args), resilient_parsing=False).params
        except typer.Exit:
            continue
        except Exception as ex:  # Typer's own click: a usage error has format_message, anything else is a bug
            refused.append(f"mcpstack {command}: {ex.format_message() if hasattr(ex, 'format_message') else ex!r}")
            continue
        # Values the parser takes as any string but the command checks when it runs: a stage of the CDK app (cost,
        # and the cutover on AWS), a workload preset.
        if named[0] == "cost" or params.get("target") == "aws":
            if params.get("stage") not in (None, *STAGES):
                refused.append(f"mcpstack {command}: no stage {params['stage']!r}")
            if params.get("workload") not in (None, *PRESETS) and not (REPO / params["workload"]).is_file():
                refused.append(f"mcpstack {command}: no workload {params['workload']!r}")
    assert refused == []
