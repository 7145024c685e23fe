"""From the results file to the published page: the cost post's table with our measurements, the targets, and charts.

Every ratio is against the FastAPI baseline as the repository ships it: the same behaviour written the way a skilled
FastAPI team would (`services/fastapi_baseline`), never a heavier form of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The table of the cost post, "The Real Cost of Slow AI Infrastructure: Conduit vs FastAPI" (Conduit vs FastAPI on a
# c5.xlarge, wrk with 1,000 connections): claims, not measurements.
COST_POST = {
    "p50_ms": (8.0, 87.0),
    "p95_ms": (15.0, 210.0),
    "throughput_rps": (8200.0, 1200.0),
    "memory_kb_per_connection": (12.0, 380.0),
    "cold_start_s": (0.3, 2.8),
}


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    value: float | None
    passed: bool | None


def _throughput(results: dict[str, Any], server: str, workload: str, scope: str) -> dict[str, Any] | None:
    for row in results["throughput"]:
        if (row["server"], row["workload"], row["scope"]) == (server, workload, scope):
            return dict(row)
    return None


def _rps(results: dict[str, Any], server: str, workload: str, scope: str) -> float | None:
    row = _throughput(results, server, workload, scope)
    return float(row["median_rps"]) if row else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _memory(results: dict[str, Any], server: str) -> float | None:
    rows = [r for r in results["memory"] if r["server"] == server]
    if not rows:
        return None
    largest = max(rows, key=lambda r: r["connections"])
    return float(largest["bytes_per_connection"])


def _cold(results: dict[str, Any], server: str) -> float | None:
    for row in results["cold_start"]:
        if row["server"] == server:
            return float(row["median_s"])
    return None


def _latency(results: dict[str, Any], server: str, fraction: float | None = None) -> dict[str, Any] | None:
    rows = [r for r in results["latency"] if r["server"] == server]
    if fraction is not None:
        rows = [r for r in rows if abs(r["fraction"] - fraction) < 1e-9]
    return dict(rows[-1]) if rows else None


def native_at_fastapi_half(results: dict[str, Any]) -> dict[str, Any] | None:
    """The native server's open-loop run closest to 50 % of FastAPI-as-deployed's saturation rate."""
    native = [r for r in results["latency"] if r["server"] == "native"]
    fastapi = _rps(results, "fastapi-deployed", "get_customer", "whole-box")
    if not native or fastapi is None:
        return None
    return dict(min(native, key=lambda r: abs(r["rate"] - 0.5 * fastapi)))


def targets(results: dict[str, Any]) -> list[Target]:
    def check(name: str, goal: str, value: float | None, ok: bool | None) -> Target:
        return Target(name, goal, value, None if value is None else ok)

    per_core = _ratio(
        _rps(results, "native-1", "echo_1024", "per-core"), _rps(results, "fastapi-1", "echo_1024", "per-core")
    )
    vs_nginx = _ratio(
        _rps(results, "native-1", "echo_1024", "per-core"), _rps(results, "nginx-1", "echo_1024", "per-core")
    )
    db_box = _ratio(
        _rps(results, "native", "get_customer", "whole-box"),
        _rps(results, "fastapi-deployed", "get_customer", "whole-box"),
    )
    vs_sdk = _ratio(_rps(results, "native-1", "echo_1024", "per-core"), _rps(results, "sdk-1", "echo_1024", "per-core"))
    # The peers (`--peers` only) from their own interleaved per-core runs, native-1 measured in the same session.
    peers = {"throughput": (results.get("peers") or {}).get("throughput", [])}
    native_in_peers = _rps(peers, "native-1", "echo_1024", "per-core")
    vs_fastmcp = _ratio(native_in_peers, _rps(peers, "fastmcp-1", "echo_1024", "per-core"))
    vs_ts_sdk = _ratio(native_in_peers, _rps(peers, "ts-sdk-1", "echo_1024", "per-core"))
    tail = native_own_tail_p99(results["latency"], up_to_fraction=TAIL_UP_TO_FRACTION)
    mem_native, mem_fastapi = _memory(results, "native"), _memory(results, "fastapi-deployed")
    cold_native, cold_fastapi = _cold(results, "native"), _cold(results, "fastapi-deployed")
    half = native_at_fastapi_half(results)
    p99 = half["p99_us"] / 1000 if half else None
    equal = equal_rate_p99(results["latency"], "native", "fastapi-deployed")
    worst = max((a / b for a, b in equal.values()), default=None)
    mem_ratio = _ratio(mem_fastapi, mem_native)
    cold_ratio = _ratio(cold_fastapi, cold_native)
    return [
        check(
            "per-core, echo 1 KB",
            "native ≥ 12 × the fair FastAPI baseline (1 worker each, pinned)",
            per_core,
            per_core is not None and per_core >= 12,
        ),
        check(
            "HTTP ceiling",
            "native ≥ 0.5 × nginx return 200 (pinned)",
            vs_nginx,
            vs_nginx is not None and vs_nginx >= 0.5,
        ),
        check(
            "database tool, whole box",
            "native ≥ 7 × the fair FastAPI baseline as deployed (get_customer)",
            db_box,
            db_box is not None and db_box >= 7,
        ),
        check(
            "official SDK server",
            "native ≥ 100 × the official Python SDK (pinned, echo 1 KB)",
            vs_sdk,
            vs_sdk is not None and vs_sdk >= 100,
        ),
        check(
            "FastMCP",
            "native ≥ 100 × FastMCP (pinned, echo 1 KB; `--peers`)",
            vs_fastmcp,
            vs_fastmcp is not None and vs_fastmcp >= 100,
        ),
        check(
            "TypeScript SDK",
            "native ≥ 30 × the TypeScript SDK (pinned, echo 1 KB; `--peers`)",
            vs_ts_sdk,
            vs_ts_sdk is not None and vs_ts_sdk >= 30,
        ),
        check(
            "idle memory per connection",
            "native ≤ 2 KB",
            mem_native / 1024 if mem_native is not None else None,
            mem_native is not None and mem_native <= 2048,
        ),
        check("idle memory vs FastAPI", "≥ 5 × less", mem_ratio, mem_ratio is not None and mem_ratio >= 5),
        check("cold start", "native ≤ 0.1 s", cold_native, cold_native is not None and cold_native <= 0.1),
        check("cold start vs FastAPI", "≥ 4 × faster", cold_ratio, cold_ratio is not None and cold_ratio >= 4),
        check("open-loop p99 at 50 % of FastAPI's saturation", "native p99 ≤ 2 ms", p99, p99 is not None and p99 <= 2),
        check(
            "native tail, open loop",
            f"native p99 ≤ {TAIL_P99_MS:g} ms at every fraction up to {TAIL_UP_TO_FRACTION:.0%} of its own saturation "
            "(get_customer; worst p99 ms)",
            tail,
            tail is not None and tail <= TAIL_P99_MS,
        ),
        check(
            "open loop at equal arrival rates",
            "native p99 ≤ FastAPI's at every rate FastAPI was run at (worst native ÷ FastAPI p99)",
            worst,
            worst is not None and worst <= 1,
        ),
    ]


TAIL_P99_MS = 5.0
TAIL_UP_TO_FRACTION = 0.75


def native_own_tail_p99(rows: list[dict[str, Any]], *, up_to_fraction: float) -> float | None:
    """The worst p99 (ms) of native's open-loop runs at fractions of its own saturation up to `up_to_fraction`."""
    own = [
        r["p99_us"] / 1000
        for r in rows
        if r["server"] == "native" and _basis(r) == "own" and r["fraction"] <= up_to_fraction + 1e-9
    ]
    return max(own) if own else None


def _basis(row: dict[str, Any]) -> str:
    return str(row.get("basis", "own"))


def equal_rate_p99(rows: list[dict[str, Any]], server: str, reference: str) -> dict[float, tuple[float, float]]:
    """p99 of `server` and of `reference` (µs) at each rate both were run at: the runs of `server` whose rate was
    taken from `reference`'s saturation, paired with `reference`'s own runs at the same fraction."""
    own = {round(r["rate"], 3): r["p99_us"] for r in rows if r["server"] == reference and _basis(r) == "own"}
    out: dict[float, tuple[float, float]] = {}
    for r in rows:
        if r["server"] == server and _basis(r) == reference and round(r["rate"], 3) in own:
            out[r["rate"]] = (float(r["p99_us"]), float(own[round(r["rate"], 3)]))
    return dict(sorted(out.items()))


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


LITTLE_TOLERANCE = 0.2


def littles_law_holds(concurrency: float, connections: int) -> bool:
    """λW within the tolerance of the number of connections a closed-loop run keeps busy."""
    return abs(concurrency - connections) <= LITTLE_TOLERANCE * connections


def checks_section(checks: dict[str, Any]) -> list[str]:
    """Correctness checks of the run: failed requests, and answers against the golden fixtures and native."""
    lines = ["## Checks", ""]
    if "non_2xx_total" in checks:
        lines.append(f"- Non-2xx responses over all throughput runs: {checks['non_2xx_total']}.")
    for name, cases in (checks.get("responses_vs_golden") or {}).items():
        same_json = sum(c["same_json"] for c in cases.values())
        same_content = sum(c["same_content"] for c in cases.values())
        lines.append(
            f"- {name} against the {len(cases)} golden fixtures (`tests/behaviour/golden`): identical JSON "
            f"{same_json}/{len(cases)}, same content (structured result, error flag, tool names) "
            f"{same_content}/{len(cases)}."
        )
    for name, cases in (checks.get("responses_vs_native") or {}).items():
        if name == "native":
            continue
        same_bytes = sum(c["same_bytes"] for c in cases.values())
        lines.append(f"- {name} against native on the benchmark's bodies: identical bytes {same_bytes}/{len(cases)}.")
    return [*lines, ""]


def peers_section(peers: dict[str, Any]) -> list[str]:
    """The opt-in peers (`mcpstack bench --peers`): FastMCP and the official TypeScript SDK beside native and FastAPI,
    from the same interleaved runs; absent from the page when the run had no peers."""
    lines = [
        "## Peers: FastMCP and the official TypeScript SDK",
        "",
        "Measured only with `mcpstack bench --peers`, in their own interleaved runs (the rows for native and FastAPI "
        "here come from those runs, not from the tables above). Stateless, JSON responses, as each documents it.",
        "",
        "| server | workload | scope | req/s (median) | server CPU µs/request |",
        "|---|---|---|---|---|",
    ]
    labels = peers.get("servers", {})
    for r in peers["throughput"]:
        label = labels.get(r["server"], {}).get("label", r["server"])
        lines.append(
            f"| {label} | {r['workload']} | {r['scope']} | {_fmt(r['median_rps'], 0)} "
            f"| {_fmt(r['median_cpu_us_per_request'], 0)} |"
        )
    if peers["latency"]:
        lines += ["", "| server | fraction of own saturation | rate req/s | p50 ms | p99 ms | p99.9 ms | errors |"]
        lines.append("|---|---|---|---|---|---|---|")
        for r in peers["latency"]:
            if _basis(r) != "own":
                continue
            lines.append(
                f"| {r['server']} | {r['fraction']:.2f} | {_fmt(r['rate'], 0)} | {_fmt(r['p50_us'] / 1000, 2)} "
                f"| {_fmt(r['p99_us'] / 1000, 2)} | {_fmt(r['p999_us'] / 1000, 2)} | {r['errors'] + r['non_2xx']} |"
            )
    if peers["latency"]:
        lines += equal_rates_table(peers["latency"], title="All servers at the same arrival rates (the slowest's)")
    if peers.get("memory"):
        lines += ["", "| server | idle connections | opened | ΔRSS MB | bytes/connection | sample alive |"]
        lines.append("|---|---|---|---|---|---|")
        for r in peers["memory"]:
            lines.append(
                f"| {r['server']} | {r['connections']} | {r['opened']} | {r['delta_rss_bytes'] / 2**20:.1f} "
                f"| {_fmt(r['bytes_per_connection'], 0)} | {r['sample_alive']}/{r['sample_size']} |"
            )
    if peers.get("cold_start"):
        lines += ["", "| server | cold start, median s | samples |", "|---|---|---|"]
        for r in peers["cold_start"]:
            lines.append(f"| {r['server']} | {r['median_s']:.3f} | {', '.join(f'{x:.3f}' for x in r['samples_s'])} |")
    checks = peers.get("checks", {})
    for name, rows in (checks.get("vs_native") or {}).items():
        same = sum(bool(row["same_structured_content"] and row["same_text_json"]) for row in rows.values())
        lines.append("")
        lines.append(
            f"- {name} with the official Python client against native: same structured result and text "
            f"{same}/{len(rows)} tools."
        )
    for name, sizes in (checks.get("response_bytes") or {}).items():
        lines.append(f"- Response bytes, {name}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + ".")
    if peers.get("versions"):
        lines.append("- Peer versions: " + ", ".join(f"{k} {v}" for k, v in peers["versions"].items()) + ".")
    return [*lines, ""]


def equal_rates_table(rows: list[dict[str, Any]], *, title: str) -> list[str]:
    """p50/p99 of every server at each rate they were all offered (runs whose basis is another server)."""
    equal = [r for r in rows if _basis(r) != "own"]
    if not equal:
        return []
    rates = sorted({round(r["rate"]) for r in equal})
    # A server's own sweep meets the others at their shared rates (FastAPI's own fractions are native's rates).
    at_rates = [r for r in rows if round(r["rate"]) in rates]
    servers = sorted({r["server"] for r in at_rates})
    cell: dict[tuple[str, int], dict[str, Any]] = {}
    for r in at_rates:
        cell.setdefault((r["server"], round(r["rate"])), r)
    lines = ["", f"{title}: p50 / p99 ms (errors), open loop on `get_customer`.", ""]
    lines.append("| offered req/s | " + " | ".join(servers) + " |")
    lines.append("|---|" + "---|" * len(servers))
    for rate in rates:
        row = [f"{rate:,}"]
        for server in servers:
            run = cell.get((server, rate))
            row.append(
                "—"
                if run is None
                else f"{run['p50_us'] / 1000:.2f} / {run['p99_us'] / 1000:.2f} ({run['errors'] + run['non_2xx']})"
            )
        lines.append("| " + " | ".join(row) + " |")
    return lines


def search_mix_line(record: dict[str, Any] | None) -> list[str]:
    """What the document-search workload asked (drawn at run time from the corpus's term frequencies)."""
    if not record:
        return []
    n = len(record["queries"])
    return [
        "",
        f"`search_documents` queries: {n} ({record['distinct_terms']} distinct terms of "
        f"{record['vocabulary_terms']:,}), "
        f"{record['method']} (seed {record['seed']}, limit {record['limit']}): {record['queries_over_2000_matches']} "
        f"match more than 2,000 documents (the tool ranks the newest 2,000), {record['queries_at_most_10_matches']} at "
        f"most 10; median {record['median_documents_matching']:,} matching documents. The queries are in the results "
        "file.",
    ]


def cost_post_table(results: dict[str, Any]) -> list[list[str]]:
    """Rows of the cost post's table: metric, its claim (Conduit / FastAPI), our measurement (native / FastAPI)."""
    half = native_at_fastapi_half(results)
    fastapi_half = _latency(results, "fastapi-deployed", 0.5)
    native_rps = _rps(results, "native", "get_customer", "whole-box")
    fastapi_rps = _rps(results, "fastapi-deployed", "get_customer", "whole-box")
    mem_native, mem_fastapi = _memory(results, "native"), _memory(results, "fastapi-deployed")
    rows = [
        (
            "p50 latency (ms)",
            "p50_ms",
            half["p50_us"] / 1000 if half else None,
            fastapi_half["p50_us"] / 1000 if fastapi_half else None,
            False,
        ),
        (
            "p95 latency (ms)",
            "p95_ms",
            half["p95_us"] / 1000 if half else None,
            fastapi_half["p95_us"] / 1000 if fastapi_half else None,
            False,
        ),
        ("throughput (req/s)", "throughput_rps", native_rps, fastapi_rps, True),
        (
            "memory per connection (KB)",
            "memory_kb_per_connection",
            mem_native / 1024 if mem_native else None,
            mem_fastapi / 1024 if mem_fastapi else None,
            False,
        ),
        ("cold start (s)", "cold_start_s", _cold(results, "native"), _cold(results, "fastapi-deployed"), False),
    ]
    table = []
    for label, key, ours_native, ours_fastapi, higher_is_better in rows:
        digits = {"cold_start_s": 3, "throughput_rps": 0}.get(key, 2)
        post_a, post_b = COST_POST[key]
        post_ratio = post_a / post_b if higher_is_better else post_b / post_a
        ours_ratio = None
        if ours_native and ours_fastapi:
            ours_ratio = ours_native / ours_fastapi if higher_is_better else ours_fastapi / ours_native
        table.append(
            [
                label,
                f"{post_a:g} vs {post_b:g}",
                f"{post_ratio:.1f}×",
                f"{_fmt(ours_native, digits)} vs {_fmt(ours_fastapi, digits)}",
                f"{_fmt(ours_ratio)}×",
            ]
        )
    return table


def _save(fig: Any, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    paths = [stem.with_suffix(f".{ext}") for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths


def charts(results: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    rows = [r for r in results["throughput"] if r["workload"] in ("echo_1024", "get_customer")]
    if rows:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        labels = [f"{r['server']}\n{r['workload']} ({r['scope']})" for r in rows]
        ax.barh(labels, [r["median_rps"] for r in rows], color="#3b7dd8")
        ax.set_xlabel("requests per second (median)")
        ax.set_title("Saturation throughput (wrk, closed loop)")
        ax.invert_yaxis()
        written += _save(fig, out_dir / "throughput")
    lat = results["latency"]
    if lat:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for server in sorted({r["server"] for r in lat}):
            pts = sorted((r["rate"], r["p99_us"] / 1000) for r in lat if r["server"] == server)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{server} p99")
        ax.set_xlabel("offered load (requests per second, constant rate)")
        ax.set_ylabel("p99 latency (ms, from intended send time)")
        ax.set_yscale("log")
        ax.set_title("Open-loop latency, get_customer")
        ax.legend()
        written += _save(fig, out_dir / "latency")
    peers = results.get("peers")
    # The --peers phase runs native and FastAPI again, in its own session: those points keep their own series.
    main = {r["server"] for r in lat}
    lat_all = (
        lat + [r | {"server": f"{r['server']} (peers phase)"} if r["server"] in main else r for r in peers["latency"]]
        if peers
        else lat
    )
    if lat_all:
        written += _latency_vs_load(plt, lat_all, out_dir / "latency_vs_load")
    if peers and peers["throughput"]:
        rows = peers["throughput"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.5 + 0.32 * len(rows)), sharey=True)
        labels = [f"{r['server']} · {r['workload']} ({r['scope']})" for r in rows]
        left.barh(labels, [r["median_rps"] for r in rows], color="#3b7dd8")
        left.set_xscale("log")
        left.set_xlabel("requests per second (median, log scale)")
        right.barh(labels, [r["median_cpu_us_per_request"] or 0 for r in rows], color="#d98c3b")
        right.set_xscale("log")
        right.set_xlabel("server CPU µs per request (median, log scale)")
        left.invert_yaxis()
        fig.suptitle("Peers beside native and FastAPI: saturation throughput and CPU per request (wrk, closed loop)")
        written += _save(fig, out_dir / "peers_throughput")
    footprint = _footprint(results)
    if footprint:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        names = list(footprint)
        left.barh(names, [footprint[n][0] or 0 for n in names], color="#3b7dd8")
        left.set_xlabel("idle keep-alive memory (KB per connection, largest N)")
        right.barh(names, [footprint[n][1] or 0 for n in names], color="#d98c3b")
        right.set_xlabel("cold start, spawn → first 200 (s, median)")
        left.invert_yaxis()
        right.invert_yaxis()
        fig.suptitle("Footprint: idle memory per connection and cold start")
        written += _save(fig, out_dir / "footprint")
    return written


def _footprint(results: dict[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    """Per server: idle KB per connection (at the largest N measured) and median cold start, peers included."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for source in (results, results.get("peers") or {}):
        for name in dict.fromkeys(r["server"] for r in [*source.get("memory", []), *source.get("cold_start", [])]):
            memory = [r for r in source.get("memory", []) if r["server"] == name]
            cold = [r for r in source.get("cold_start", []) if r["server"] == name]
            kb = max(memory, key=lambda r: r["connections"])["bytes_per_connection"] / 1024 if memory else None
            out[name] = (kb, cold[0]["median_s"] if cold else None)
    return out


def _latency_vs_load(plt: Any, rows: list[dict[str, Any]], stem: Path) -> list[Path]:
    """p50 and p99 against the offered arrival rate, every server on one axis: where two servers were run at the same
    rates (native at FastAPI's, every server at the slowest peer's) their points line up vertically."""
    fig, ax = plt.subplots(figsize=(9, 5))
    colors = {"native": "#1f6fd1", "fastapi-deployed": "#d9534f", "fastmcp": "#8e44ad", "ts-sdk": "#2e8b57"}
    for server in sorted({r["server"] for r in rows}):
        points: dict[float, dict[str, Any]] = {}
        for r in rows:
            if r["server"] == server:
                points.setdefault(round(r["rate"], 3), r)  # the same rate run twice (two bases): the first
        pts = sorted(points.items())
        color = colors.get(server.split(" ")[0])
        xs = [p[0] for p in pts]
        again = server.endswith("(peers phase)")
        p99_style = {"marker": "s", "ls": ":"} if again else {"marker": "o"}
        ax.plot(xs, [p[1]["p99_us"] / 1000 for p in pts], color=color, label=f"{server} p99", **p99_style)
        if not again:
            ax.plot(xs, [p[1]["p50_us"] / 1000 for p in pts], marker=".", ls="--", color=color, label=f"{server} p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests per second, constant arrival rate; log scale)")
    ax.set_ylabel("latency from intended send time (ms, log scale)")
    ax.set_title("Latency vs offered load, get_customer (open loop, equal arrival rates line up)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return list(_save(fig, stem))


def markdown(results: dict[str, Any], chart_dir: str) -> str:
    env = results["environment"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `mcpstack bench` ({results['mode']} run) on {results['generated_at']}, git "
        f"`{env['git_sha'][:12]}`. Do not edit by hand: run `make bench` again.",
        "",
        f"Machine: {env['cpu_model']}, {env['cores']} cores, {env['memory_gb']} GB, Linux {env['kernel']}; "
        f"Python {env['versions'].get('python', '?')} at `{env['versions'].get('python_executable', '?')}`; "
        f"load average at start {', '.join(f'{x:.2f}' for x in env['load_avg_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in env.get('load_avg_end', []))}. Timings on shared machines are noisy: read "
        "the ratios, measured side by side in one run.",
        "",
        "## The cost post's table, measured",
        "",
        'The claims are those of "The Real Cost of Slow AI Infrastructure: Conduit vs FastAPI" (Conduit Team). '
        "FastAPI here is the fair baseline: the same behaviour and the same response bytes as the native server, "
        "written the way a skilled FastAPI team ships it (`services/fastapi_baseline`; where its time goes: "
        "[where-the-time-goes.md](where-the-time-goes.md#the-fastapi-baseline)).",
        "",
        "Latency rows: open loop at a constant rate of 50 % of FastAPI-as-deployed's saturation on `get_customer`, "
        "measured from the intended send time. Throughput: `get_customer` on the whole box. Memory: idle keep-alive "
        "connections. Cold start: spawn → first 200 on a real `tools/call`, median.",
        "",
        "| metric | the post's claim (Conduit vs FastAPI) | the post's ratio "
        "| measured (native vs FastAPI as deployed) | our ratio |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cost_post_table(results)]
    lines += ["", "## Targets", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    for t in targets(results):
        met = "—" if t.passed is None else ("yes" if t.passed else "**no**")
        digits = 3 if t.value is not None and t.value < 1 else 2  # 0.104 s must not read as 0.10
        lines.append(f"| {t.name} | {t.goal} | {_fmt(t.value, digits)} | {met} |")
    lines += [
        "",
        "What limits the targets the native server misses, from profiles (perf, py-spy, strace, in-process timings): "
        "[where-the-time-goes.md](where-the-time-goes.md).",
    ]
    lines += [
        "",
        "## Throughput (wrk, closed loop)",
        "",
        "| server | workload | scope | connections | req/s (median) | server CPU µs/request | non-2xx | "
        "Little's law L = λW |",
        "|---|---|---|---|---|---|---|---|",
    ]
    off: list[str] = []
    for r in results["throughput"]:
        non_2xx = sum(run["non_2xx"] for run in r["runs"])
        little = sum(run["littles_law_concurrency"] for run in r["runs"]) / len(r["runs"])
        holds = littles_law_holds(little, r["connections"])
        if not holds:
            off.append(f"{r['server']} {r['workload']}")
        lines.append(
            f"| {r['server']} | {r['workload']} | {r['scope']} | {r['connections']} | "
            f"{_fmt(r['median_rps'], 0)} | {_fmt(r['median_cpu_us_per_request'])} | {non_2xx} | "
            f"{_fmt(little)}{'' if holds else ' **off**'} |"
        )
    lines += [
        "",
        f"Little's law check (closed loop: λW, wrk's req/s × its mean latency, should equal the number of "
        f"connections within {LITTLE_TOLERANCE:.0%}): holds for {len(results['throughput']) - len(off)} of "
        f"{len(results['throughput'])} rows"
        + (
            "; off: " + ", ".join(off) + ". For the rows that are off, read req/s and CPU, not the mean latency "
            "(see [where-the-time-goes.md](where-the-time-goes.md#littles-law))."
            if off
            else "."
        ),
    ]
    lines += search_mix_line(results.get("workloads", {}).get("search_documents"))
    ceilings = results["ceilings"]
    lines += ["", f"Database ceiling: `pgbench -S` {_fmt(ceilings.get('pgbench_select_tps'), 0)} transactions/s.", ""]
    if results["latency"]:
        lines += [
            "## Open-loop latency (constant arrival rate, coordinated omission corrected)",
            "",
            "| server | rate from | fraction of own saturation | offered req/s | achieved req/s | p50 ms | p95 ms | "
            "p99 ms | p99.9 ms | errors | server CPU µs/request | busiest process's CPU share |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results["latency"]:
            basis = "own saturation" if _basis(r) == "own" else f"{_basis(r)}'s saturation"
            lines.append(
                f"| {r['server']} | {basis} | {r['fraction']:.2f} | {_fmt(r['rate'], 0)} "
                f"| {_fmt(r['achieved_rate'], 0)} "
                f"| {r['p50_us'] / 1000:.2f} | {r['p95_us'] / 1000:.2f} | {r['p99_us'] / 1000:.2f} | "
                f"{r['p999_us'] / 1000:.2f} | {r['errors'] + r['non_2xx']} | {_fmt(r.get('cpu_us_per_request'), 0)} "
                f"| {_fmt(r.get('busiest_process_cpu_share'), 2)} |"
            )
        lines += [
            "",
            "Server CPU per request counts the warm-up's requests too (the whole run ÷ requests sent). The busiest "
            "process's share of the server's CPU shows how evenly the workers split the load (even is 1 ÷ workers: "
            "0.50 for native's, 0.20 for FastAPI as deployed with 5): the generator sends on its connections in "
            "round robin, so that the split of connections over workers (the kernel's SO_REUSEPORT hash for native, "
            "accept races for gunicorn) sees the load spread over connections as a load balancer spreads it.",
        ]
        lines += equal_rates_table(results["latency"], title="Native and FastAPI as deployed at equal arrival rates")
        lines += ["", f"![latency vs offered load]({chart_dir}/latency_vs_load.svg)", ""]
    if results["memory"]:
        lines += [
            "## Idle keep-alive memory",
            "",
            "| server | connections | opened | ΔRSS MB | bytes/connection | sample alive |",
            "|---|---|---|---|---|---|",
        ]
        for r in results["memory"]:
            lines.append(
                f"| {r['server']} | {r['connections']} | {r['opened']} | {r['delta_rss_bytes'] / 2**20:.1f} "
                f"| {_fmt(r['bytes_per_connection'], 0)} | {r['sample_alive']}/{r['sample_size']} |"
            )
        lines.append("")
    if results["cold_start"]:
        lines += ["## Cold start", "", "| server | median s | samples |", "|---|---|---|"]
        for r in results["cold_start"]:
            lines.append(f"| {r['server']} | {r['median_s']:.3f} | {', '.join(f'{s:.3f}' for s in r['samples_s'])} |")
        lines.append("")
    lines += checks_section(results.get("checks", {}))
    if "peers" in results:
        lines += peers_section(results["peers"])
    lines += [
        "## Charts",
        "",
        f"![throughput]({chart_dir}/throughput.png)",
        "",
        f"![latency]({chart_dir}/latency.png)",
        "",
        f"![latency vs offered load]({chart_dir}/latency_vs_load.png)",
        "",
    ]
    lines += [f"![footprint]({chart_dir}/footprint.png)", ""]
    if "peers" in results:
        lines += [f"![peers throughput]({chart_dir}/peers_throughput.png)", ""]
    lines += [
        "## Method",
        "",
        "- Servers start the way production runs them (`mcpstack serve native|fastapi|sdk`; nginx with "
        "`return 200`), each on a free port of 127.0.0.1, against one throwaway PostgreSQL with the seed data.",
        "- Per-core runs pin the server to CPU 0 (`taskset`) and wrk to CPU 1; whole-box runs pin nothing.",
        "- Repetitions are interleaved (A B C, A B C, …) after a warm-up; the table shows medians. Server CPU "
        "µs per request is the utime+stime delta of the server's process tree from /proc ÷ requests.",
        "- Open-loop latency comes from `scripts/bench/openloop.c`: requests scheduled at a constant rate, "
        "latency from the intended send time into a log-linear histogram (≈1.6 % precision). Each server runs at "
        "fractions of its own saturation; native also at FastAPI-as-deployed's rates, and with `--peers` every "
        "server at the slowest one's, so the latency-vs-offered-load chart compares them at equal arrival rates.",
        "- `search_documents` draws its words at run time from the seed corpus: Zipf's law over the index terms "
        "ranked by document frequency, a fixed seed; the draw is recorded in the results file (`workloads`).",
        "- Memory: N keep-alive connections, one request each, left idle; ΔRSS of the server's process tree ÷ "
        "N; a sample of connections is checked alive afterwards.",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".",
        "",
    ]
    return "\n".join(lines)
