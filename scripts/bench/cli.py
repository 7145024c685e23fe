"""`mcpstack bench`: run the benchmark and publish its results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console

from scripts.state import REPO_ROOT, state_dir

console = Console(stderr=True)


def bench(
    quick: Annotated[bool, typer.Option(help="Seconds per point, no conclusions: keeps the harness working.")] = False,
    out: Annotated[Path | None, typer.Option(help="Directory for results.json and charts.")] = None,
    report_only: Annotated[bool, typer.Option(help="Regenerate the page from an existing results.json.")] = False,
    peers: Annotated[
        bool,
        typer.Option(
            "--peers",
            help="Opt in: after the usual phases, also check and measure FastMCP and the official TypeScript SDK "
            "(echo and get_customer: req/s, CPU per request, open loop at their own and at equal rates, idle memory, "
            "cold start; FastMCP's pinned venv is installed under .state/peers on first use, about 90 s). "
            "Without it the run, its results and its duration are unchanged.",
        ),
    ] = False,
) -> None:
    """Measure native, FastAPI (as deployed, tuned, one worker), the official SDK server and nginx side by side."""
    from scripts.bench import report
    from scripts.bench.peers import PeerCheckError, PeerSetupError
    from scripts.bench.run import FULL, QUICK, run_bench

    plan = QUICK if quick else FULL
    out_dir = out or (state_dir() / "bench-quick" if quick else REPO_ROOT / "docs" / "benchmarks")
    if report_only:
        results = _read_results(out_dir / "results.json")
    else:
        try:  # before anything is measured
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as ex:
            _fail(f"cannot use {out_dir} as the output folder: {ex.strerror}")
        try:
            results = run_bench(plan, out_dir, console, with_peers=peers)
        except (PeerSetupError, PeerCheckError) as ex:
            console.print(f"[red]peers: {ex}[/]")
            raise typer.Exit(1) from None
    page = out_dir / "benchmarks.md" if quick or out else REPO_ROOT / "docs" / "benchmarks.md"
    chart_dir = "benchmarks" if page.parent != out_dir else "."
    try:
        report.charts(results, out_dir)
        page.write_text(report.markdown(results, chart_dir))
    except OSError as ex:
        _fail(f"cannot write the report to {ex.filename or out_dir}: {ex.strerror}")
    for t in report.targets(results):
        mark = "—" if t.passed is None else ("[green]met[/]" if t.passed else "[red]missed[/]")
        value = "—" if t.value is None else f"{t.value:.2f}"
        console.print(f"{t.name}: {value} ({t.goal}) {mark}")
    console.print(f"results: {out_dir / 'results.json'}; page: {page}")


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _read_results(path: Path) -> dict[str, Any]:
    """A results file for --report-only, checked against scripts/bench/results.schema.json (else one line, exit 2)."""
    import jsonschema  # type: ignore[import-untyped]  # a dev dependency, as matplotlib for the charts

    try:
        results = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        _fail(f"no benchmark results at {path}: run `mcpstack bench` first (--report-only only redraws them)")
    except OSError as ex:
        _fail(f"cannot read benchmark results {path}: {ex.strerror}")
    except orjson.JSONDecodeError as ex:
        _fail(f"benchmark results {path} are not valid JSON: {ex}")
    schema = orjson.loads((Path(__file__).parent / "results.schema.json").read_bytes())
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(results))
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "the top level"
        _fail(f"benchmark results {path} do not match scripts/bench/results.schema.json at {where}: {problem.message}")
    checked: dict[str, Any] = results
    return checked
