"""`python -m scripts.reliability`: run the reliability suite (tests/reliability) and publish its figures.

`run` runs the suite against both servers (the long form by default: at least 100,000 generated hostile requests
per server, every fault scenario, a soak of both servers side by side) with its results going to a JSON file, then
`render` writes docs/reliability.md from that file. Only 127.0.0.1; every scenario is bounded and stops by itself.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "reliability" / "results.json"
DOC = REPO / "docs" / "reliability.md"
SERVERS = ("native", "fastapi")
TITLES = {"native": "native", "fastapi": "FastAPI baseline"}

app = typer.Typer(add_completion=False, help=__doc__)
console = Console(stderr=True)


def _commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


@app.command()
def run(
    form: Annotated[str, typer.Option(help="long (make soak) or short (what make test runs)")] = "long",
    minutes: Annotated[float | None, typer.Option(help="soak minutes (default: 10 long, 0.1 short)")] = None,
    examples: Annotated[int | None, typer.Option(help="hypothesis examples per family and server")] = None,
    seed: Annotated[int, typer.Option(help="hypothesis seed (reproducible runs)")] = 20261130,
    results: Annotated[Path, typer.Option(help="results JSON")] = RESULTS,
    doc: Annotated[Path, typer.Option(help="the page to write")] = DOC,
) -> None:
    """Run the suite, then write the page."""
    if form not in ("short", "long"):
        console.print(f"[red]--form must be short or long, not {form!r}[/red]")
        raise typer.Exit(2)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.unlink(missing_ok=True)
    meta = {
        "form": form,
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "seed": seed,
        "load_average_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "overrides": {k: v for k, v in (("minutes", minutes), ("examples", examples)) if v is not None},
    }
    env = {
        **os.environ,
        "MCPSTACK_RELIABILITY": form,
        "MCPSTACK_RELIABILITY_SEED": str(seed),
        "MCPSTACK_RELIABILITY_RESULTS": str(results),
    }
    if minutes is not None:
        env["MCPSTACK_RELIABILITY_SOAK_MINUTES"] = str(minutes)
    if examples is not None:
        env["MCPSTACK_RELIABILITY_EXAMPLES"] = str(examples)
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "1500"]
    if form == "long":
        # Two sessions at once, each with its own PostgreSQL and servers: the soak (both servers side by side) for
        # its minutes, and beside it the hostile input and the faults. Sequential, they would not fit in 20 minutes.
        sessions = [
            [*pytest, "tests/reliability/test_soak.py"],
            [*pytest, "tests/reliability", "--ignore=tests/reliability/test_soak.py"],
        ]
    else:
        sessions = [[*pytest, "tests/reliability"]]
    started = time.monotonic()
    with console.status(f"reliability suite, {form} form ({len(sessions)} pytest session(s) on tests/reliability)"):
        procs = [subprocess.Popen(cmd, cwd=REPO, env=env) for cmd in sessions]
        codes = [p.wait() for p in procs]
    meta["seconds"] = round(time.monotonic() - started)
    meta["pytest_exit_code"] = max(codes)
    meta["soak_beside_the_rest"] = form == "long"
    data: dict[str, Any] = orjson.loads(results.read_bytes()) if results.exists() else {}
    data["meta"] = meta
    results.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    doc.write_text(render_page(data))
    console.print(f"wrote {doc} from {results} ({meta['seconds']} s, pytest exit {meta['pytest_exit_code']})")
    if meta["pytest_exit_code"] != 0:
        raise typer.Exit(1)


@app.command()
def render(
    results: Annotated[Path, typer.Option(help="results JSON")] = RESULTS,
    doc: Annotated[Path, typer.Option(help="the page to write")] = DOC,
) -> None:
    """Write the page from an existing results file."""
    if not results.exists():
        console.print(f"[red]no results at {results}: run `python -m scripts.reliability run` first[/red]")
        raise typer.Exit(2)
    doc.write_text(render_page(orjson.loads(results.read_bytes())))
    console.print(f"wrote {doc}")


def _cell(figures: dict[str, Any] | None, *keys: str) -> str:
    if figures is None:
        return "—"
    parts = []
    for key in keys:
        value = figures.get(key)
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts)


def render_page(data: dict[str, Any]) -> str:
    meta = data.get("meta", {})
    form = meta.get("form", "?")
    hostile = data.get("hostile", {})
    faults = data.get("faults", {})
    soak = data.get("soak", {})
    lines = ["# Reliability: hostile input, faults and long load", ""]
    overrides = meta.get("overrides") or {}
    if form != "long" or overrides:
        how = ", ".join(f"--{k} {v}" for k, v in overrides.items())
        lines += [
            f"> **Short run** ({form} form{', ' + how if how else ''}), not the full `make soak`: these figures show "
            "that every scenario runs and passes; the long form's (100,000+ generated requests, a 10-minute soak of "
            "each server) replace them when `make soak` is run.",
            "",
        ]
    lines += [
        f"Generated by `scripts/reliability.py` from `docs/reliability/results.json`: {form} form, started "
        f"{meta.get('started', '?')} at commit `{meta.get('commit', '?')}`, hypothesis seed {meta.get('seed', '?')}, "
        f"{meta.get('cores', '?')} cores, load average {meta.get('load_average_at_start', 0):.1f} at start, "
        f"{meta.get('seconds', '?')} s, pytest exit code {meta.get('pytest_exit_code', '?')}. Both servers ran on "
        "127.0.0.1 with one worker each unless stated, against the project's own PostgreSQL.",
        "",
        "## Summary",
        "",
        "| | " + " | ".join(TITLES[s] for s in SERVERS) + " |",
        "|---|---|---|",
    ]

    def total(server: str, key: str) -> int:
        return sum(int(f.get(key, 0)) for f in hostile.get(server, {}).values() if isinstance(f.get(key), int))

    def probe_failures(server: str) -> int:
        scenarios = [*hostile.get(server, {}).values()]
        scenarios += [f for name, f in faults.get(server, {}).items() if "SIGKILL" not in name]
        return sum(int(f["probe"]["failures"]) for f in scenarios if "probe" in f)

    def killed(server: str) -> str:
        figures = next((f for name, f in faults.get(server, {}).items() if "SIGKILL" in name), None)
        if figures is None:
            return "—"
        return f"{figures.get('lost', 0)} requests, {figures.get('probe', {}).get('failures', 0)} probe calls"

    def lost(server: str) -> int:
        return sum(int(f.get("lost", 0)) for name, f in faults.get(server, {}).items() if "SIGKILL" not in name) + int(
            soak.get(server, {}).get("constant mixed load", {}).get("failed", 0)
        )

    def failures(server: str) -> int:
        return sum(len(f.get("failures", [])) for f in hostile.get(server, {}).values())

    rows: list[tuple[str, Callable[[str], str]]] = [
        ("hostile requests sent (generated cases)", lambda s: str(total(s, "sent"))),
        ("hostile cases with a wrong answer (5xx, invalid HTTP or JSON-RPC, leak, hang)", lambda s: str(failures(s))),
        ("probe calls failed during hostile input and faults (SIGKILL aside)", lambda s: str(probe_failures(s))),
        ("in flight on the SIGKILLed worker, lost with it", killed),
        ("fault scenarios run", lambda s: str(len(faults.get(s, {})))),
        ("requests lost (faults except in-flight on a SIGKILLed worker, and the soak)", lambda s: str(lost(s))),
    ]
    for label, value in rows:
        lines.append(f"| {label} | " + " | ".join(value(s) for s in SERVERS) + " |")
    lines += ["", "## Hostile input, per family", ""]
    lines += [
        "Every case is written on its own connection; every answer must be valid HTTP/1.1 (parsed by httptools), "
        "never a 5xx, a JSON-RPC error or result object where a body is due, with no traceback, file path, "
        "exception class or library name the request did not contain; a stream holding N requests may get at most "
        "N answers (request smuggling), a well-framed request must get one. A probe client calls a tool every 20 ms "
        "beside each family.",
        "",
        "| family | " + " | ".join(TITLES[s] for s in SERVERS) + " |",
        "|---|---|---|",
    ]
    families = sorted({name for s in SERVERS for name in hostile.get(s, {})})
    for name in families:
        cells = [
            _cell(hostile.get(s, {}).get(name), "sent", "statuses", "probe")
            if "sent" in hostile.get(s, {}).get(name, {})
            else _cell(hostile.get(s, {}).get(name), *[k for k in hostile.get(s, {}).get(name, {}) if k != "probe"])
            for s in SERVERS
        ]
        lines.append(f"| {name} | " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    lines += ["", "## Faults under load", ""]
    lines += [
        "Full service: seconds from the fault's end (PostgreSQL accepting again, the lock released, the flood "
        "closed, space freed) to the first of 20 successful calls in a row.",
        "",
        "| fault | " + " | ".join(TITLES[s] for s in SERVERS) + " |",
        "|---|---|---|",
    ]
    for name in sorted({n for s in (*SERVERS, "both") for n in faults.get(s, {})}):
        if name in faults.get("both", {}):
            cell = _cell(faults["both"][name], *faults["both"][name].keys())
            lines.append(f"| {name} | {cell} (both servers behind one HAProxy) | |")
            continue
        cells = [_cell(faults.get(s, {}).get(name), *faults.get(s, {}).get(name, {}).keys()) for s in SERVERS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Soak", ""]
    lines += [
        "Both servers at once, each with 8 paced connections at 40 requests/s (mixed tools: echo, get_customer, "
        "search_documents, hash_chain); latency from the intended send time; RSS and open descriptors of each "
        "server's process tree sampled, slope (least squares) after the first fifth."
        + (
            " In this run the soak ran beside the hostile input and the faults (two sessions at once, to fit the "
            "long form in 20 minutes on 2 cores): its latency windows include that contention, and the machine's "
            "other work; the failures and the slopes are the claim, the latencies describe the machine."
            if meta.get("soak_beside_the_rest")
            else ""
        ),
        "",
        "| | " + " | ".join(TITLES[s] for s in SERVERS) + " |",
        "|---|---|---|",
    ]
    keys = [
        "seconds",
        "sent",
        "failed",
        "rate_per_s",
        "rss_mib_first_last",
        "rss_mib_per_min",
        "fds_first_last",
        "fds_per_min",
    ]
    for key in keys:
        values = [str(soak.get(s, {}).get("constant mixed load", {}).get(key, "—")) for s in SERVERS]
        lines.append(f"| {key.replace('_', ' ')} | " + " | ".join(values) + " |")
    windows = [soak.get(s, {}).get("constant mixed load", {}).get("latency_windows", []) for s in SERVERS]
    for i in range(max((len(w) for w in windows), default=0)):
        values = [f"p50 {w[i]['p50_ms']} ms, p99 {w[i]['p99_ms']} ms" if i < len(w) else "—" for w in windows]
        lines.append(f"| latency, window {i + 1} of {max(len(w) for w in windows)} | " + " | ".join(values) + " |")
    lines += [
        "",
        "## How to reproduce",
        "",
        "`make soak` (long form, under 20 minutes: both soaks run at once, one server per core) or "
        "`python -m scripts.reliability run --form short` (what `make test` runs, plus this page). The hypothesis "
        "seed is in the header; `--seed` changes it. The suite is `tests/reliability/`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
