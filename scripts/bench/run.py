"""`mcpstack bench`: measure every server side by side on one machine and write the results file.

Phases: a throwaway PostgreSQL with the seed data; ceilings (pgbench -S, nginx return 200); saturation throughput
with wrk (per core pinned, and on the whole box), interleaved repetitions and medians, server CPU µs per request from
/proc; open-loop latency at constant rates (coordinated omission corrected); idle keep-alive memory; cold start;
response checks against the other servers. Everything targets 127.0.0.1 and is bounded in time.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scripts.bench import openloop, peers, targets, workloads
from scripts.bench.memory import measure_idle_memory, raise_fd_limit
from scripts.bench.proc import busiest_share, cpu_seconds, cpu_seconds_by_process
from scripts.bench.targets import PEER_TARGETS, TARGETS, Running, running
from scripts.bench.wrk import run_wrk
from scripts.pgcluster import Cluster
from scripts.state import REPO_ROOT
from services import compiled

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Plan:
    """How long and how often: the full run and `--quick` differ only here."""

    mode: str
    wrk_s: float
    warmup_s: float
    repetitions: int
    connections: int
    pinned_workloads: tuple[str, ...]
    box_workloads: tuple[str, ...]
    openloop_s: float
    openloop_fractions: tuple[float, ...]
    memory_connections: tuple[int, ...]
    cold_starts: int
    pgbench_s: int


# Five short interleaved repetitions rather than three long ones: on shared machines the noise comes in bursts,
# and the median of five shrugs off two bad runs.
FULL = Plan(
    "full",
    3.0,
    1.0,
    5,
    64,
    ("echo_512", "echo_1024", "echo_2048", "hash_chain"),
    ("echo_1024", "get_customer", "search_documents", "send_notification", "mix"),
    8.0,
    (0.25, 0.5, 0.75, 0.9),
    (2000, 8000),
    11,  # cold starts: each takes half a second, and the spread from run to run here is ±20 %
    10,
)
QUICK = Plan("quick", 1.0, 1.0, 1, 32, ("echo_1024",), ("echo_1024", "get_customer"), 2.0, (0.5,), (200,), 1, 2)


class Bench:
    def __init__(self, plan: Plan, workdir: Path, *, peer_versions: dict[str, str] | None = None) -> None:
        self.plan = plan
        self.workdir = workdir
        self.with_peers = peer_versions is not None
        self.results: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "mode": plan.mode,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "plan": asdict(plan),
            "environment": environment(),
            "servers": {
                t.name: {"label": t.label, "kind": t.kind, "workers": t.workers, "pinned": t.pinned}
                for t in TARGETS.values()
            },
            "throughput": [],
            "latency": [],
            "memory": [],
            "cold_start": [],
            "ceilings": {},
            "checks": {},
            "workloads": {},
        }
        self.workloads = dict(workloads.ALL)
        if peer_versions is not None:  # `--peers` only: without it the results have no "peers" key at all
            self.results["peers"] = {
                "versions": peer_versions,
                "servers": {
                    t.name: {"label": t.label, "kind": t.kind, "workers": t.workers, "pinned": t.pinned}
                    for t in PEER_TARGETS.values()
                },
                "throughput": [],
                "latency": [],
                "memory": [],
                "cold_start": [],
                "checks": {},
            }
        self.database_url = ""

    def draw_search_mix(self) -> None:
        """The document-search workload from the seed corpus's term frequencies (needs the seeded database)."""

        async def vocabulary() -> list[tuple[str, int]]:
            from services.tools import schema

            conn: Any = await schema.connect(self.database_url)
            try:
                return [(r["word"], int(r["ndoc"])) for r in await conn.fetch(workloads.VOCABULARY_SQL)]
            finally:
                await conn.close()

        search, record = workloads.search_mix(asyncio.run(vocabulary()))
        self.workloads = workloads.with_search_mix(search)
        self.results["workloads"]["search_documents"] = record

    # -- phases -------------------------------------------------------------------------------------------------------

    def run(self, progress: Progress) -> dict[str, Any]:
        phases: list[tuple[str, Callable[[], None]]] = [
            ("pgbench -S ceiling", self.pgbench),
            ("per-core throughput (pinned)", self.pinned_throughput),
            ("whole-box throughput", self.box_throughput),
            ("open-loop latency", self.latency),
            ("idle keep-alive memory", self.memory),
            ("cold start", self.cold_start),
            ("response checks", self.response_checks),
        ]
        if self.with_peers:  # after every default phase, so those run exactly as without `--peers`
            phases += [
                ("peers: official client check", self.peers_check),
                ("peers: per-core throughput (pinned)", self.peers_pinned_throughput),
                ("peers: whole-box throughput", self.peers_box_throughput),
                ("peers: open-loop latency", self.peers_latency),
                ("peers: idle keep-alive memory", self.peers_memory),
                ("peers: cold start", self.peers_cold_start),
            ]
        task = progress.add_task("benchmark", total=len(phases))
        for label, phase in phases:
            progress.update(task, description=label)
            phase()
            progress.advance(task)
        self.results["environment"]["load_avg_end"] = list(os.getloadavg())
        return self.results

    def pgbench(self) -> None:
        url = self.database_url
        port = url.rsplit(":", 1)[1].split("/")[0]
        pgbench = shutil.which("pgbench") or str(Path(_pg_bin_dir()) / "pgbench")
        base = [pgbench, "-h", "127.0.0.1", "-p", port, "-U", "mcpstack"]
        subprocess.run([*base, "-i", "-q", "-s", "10", "mcpstack"], check=True, capture_output=True, timeout=300)
        proc = subprocess.run(
            [*base, "-S", "-M", "prepared", "-c", "16", "-j", "2", "-T", str(self.plan.pgbench_s), "mcpstack"],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        tps = next(float(line.split("=")[1].split()[0]) for line in proc.stdout.splitlines() if line.startswith("tps"))
        self.results["ceilings"]["pgbench_select_tps"] = tps

    def _saturate(self, server: Running, workload: str, *, pinned: bool) -> dict[str, Any]:
        w = self.workloads[workload]
        if server.target.kind == "nginx":
            script = self.workdir / "nginx.lua"
            w.lua(script)
        else:
            script = w.lua(self.workdir / f"{workload}.lua")
        cpu = targets.LOAD_CPU if pinned else None
        run_wrk(server.url, script, connections=self.plan.connections, duration_s=self.plan.warmup_s, cpu=cpu)
        before = cpu_seconds(server.proc.pid)
        result = run_wrk(server.url, script, connections=self.plan.connections, duration_s=self.plan.wrk_s, cpu=cpu)
        used = cpu_seconds(server.proc.pid) - before
        return {
            "rps": result.rps,
            "requests": result.requests,
            "cpu_us_per_request": used / result.requests * 1e6 if result.requests else None,
            "non_2xx": result.non_2xx,
            "socket_errors": result.socket_errors,
            "latency_avg_ms": result.latency_avg_s * 1000,
            # Little's law: connections ≈ throughput × mean latency in a closed loop.
            "littles_law_concurrency": result.rps * result.latency_avg_s,
        }

    def _interleaved(
        self,
        names: list[str],
        work: list[str],
        *,
        pinned: bool,
        scope: str,
        into: list[dict[str, Any]] | None = None,
    ) -> None:
        rows = self.results["throughput"] if into is None else into
        with contextlib.ExitStack() as stack:
            servers = {
                n: stack.enter_context(running(TARGETS.get(n) or PEER_TARGETS[n], self.database_url)) for n in names
            }
            for workload in work:
                reps: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
                for _ in range(self.plan.repetitions):
                    for name in names:  # A B C, A B C, …: interleaved so drift hits every server alike
                        if servers[name].target.kind == "nginx" and workload != "echo_1024":
                            continue
                        reps[name].append(self._saturate(servers[name], workload, pinned=pinned))
                for name, runs in reps.items():
                    if runs:
                        rows.append(_summary(name, workload, scope, self.plan, runs))

    def pinned_throughput(self) -> None:
        self._interleaved(
            ["native-1", "fastapi-1", "sdk-1", "nginx-1"],
            list(self.plan.pinned_workloads),
            pinned=True,
            scope="per-core",
        )

    def box_throughput(self) -> None:
        self._interleaved(
            ["native", "fastapi-deployed", "fastapi-tuned"],
            list(self.plan.box_workloads),
            pinned=False,
            scope="whole-box",
        )

    def latency(self) -> None:
        """Open-loop sweeps at fractions of each server's own saturation, and native also at FastAPI-as-deployed's
        rates: both servers at equal arrival rates, for the latency-vs-offered-load chart."""
        saturation = _saturation(self.results["throughput"], "get_customer")
        if "native" not in saturation or "fastapi-deployed" not in saturation:
            return
        plan = {
            "native": self._rates(saturation, "native") + self._rates(saturation, "native", basis="fastapi-deployed"),
            "fastapi-deployed": self._rates(saturation, "fastapi-deployed"),
        }
        for name, rates in plan.items():
            self._openloop(TARGETS[name], rates, into=self.results["latency"])

    def _rates(self, saturation: dict[str, float], server: str, *, basis: str | None = None) -> list[dict[str, Any]]:
        """The plan's fractions of `basis`'s saturation rate (the server's own by default), as open-loop runs."""
        base = saturation[basis or server]
        return [
            {"rate": f * base, "fraction": f * base / saturation[server], "basis": basis or "own"}
            for f in self.plan.openloop_fractions
        ]

    def _openloop(self, target: targets.Target, rates: list[dict[str, Any]], *, into: list[dict[str, Any]]) -> None:
        workload = "get_customer"
        with running(target, self.database_url) as server:
            for point in rates:
                before = cpu_seconds_by_process(server.proc.pid)
                result = openloop.run_openloop(
                    server.port,
                    self.workloads[workload].raw_requests(server.port),
                    rate=point["rate"],
                    duration_s=self.plan.openloop_s,
                    connections=256,
                    warmup_s=min(1.0, self.plan.openloop_s / 4),
                    cpu=None,
                    workdir=self.workdir,
                )
                after = cpu_seconds_by_process(server.proc.pid)
                # Server CPU per request at this rate (against the closed loop's, where requests batch per wake-up),
                # and how evenly the server's processes shared the work (one worker per core: 0.5 is even).
                used = sum(after.values()) - sum(before.get(p, 0.0) for p in after)
                sent = result["sent"]
                result["cpu_us_per_request"] = used / sent * 1e6 if sent else None
                result["busiest_process_cpu_share"] = busiest_share(before, after)
                into.append({"server": target.name, "workload": workload, **point, **result})

    def memory(self) -> None:
        raise_fd_limit(max(self.plan.memory_connections) + 2000)
        for name in ("native", "fastapi-deployed"):
            for n in self.plan.memory_connections:
                with running(TARGETS[name], self.database_url) as server:
                    result = measure_idle_memory(server.proc.pid, server.port, n)
                    self.results["memory"].append({"server": name, **asdict(result)})

    def cold_start(self) -> None:
        for name in ("native", "fastapi-deployed", "sdk-1"):
            samples = []
            for _ in range(self.plan.cold_starts):
                with running(TARGETS[name], self.database_url) as server:
                    samples.append(server.started_s)
            self.results["cold_start"].append(
                {"server": name, "samples_s": samples, "median_s": statistics.median(samples)}
            )

    # -- the opt-in peers (`--peers`): the same measurements, written under results["peers"] ---------------------

    def peers_check(self) -> None:
        """Before any load on a peer: the official client's answers from each peer against the native server's."""
        self.results["peers"]["checks"] = peers.check_peers(self.database_url)

    def peers_pinned_throughput(self) -> None:
        self._interleaved(
            ["native-1", "fastapi-1", "fastmcp-1", "ts-sdk-1"],
            list(peers.PEER_WORKLOADS),
            pinned=True,
            scope="per-core",
            into=self.results["peers"]["throughput"],
        )

    def peers_box_throughput(self) -> None:
        self._interleaved(
            ["native", "fastapi-deployed", "fastmcp", "ts-sdk"],
            list(peers.PEER_WORKLOADS),
            pinned=False,
            scope="whole-box",
            into=self.results["peers"]["throughput"],
        )

    def peers_latency(self) -> None:
        """Each peer open loop on get_customer at the plan's fractions of its own saturation; then every server
        (native, FastAPI as deployed, the peers) at the same arrival rates: the fractions of the slowest one's."""
        saturation = _saturation(self.results["peers"]["throughput"], "get_customer")
        into = self.results["peers"]["latency"]
        for name in ("fastmcp", "ts-sdk"):
            self._openloop(PEER_TARGETS[name], self._rates(saturation, name), into=into)
        slowest = min(saturation, key=lambda n: saturation[n])
        for name in ("native", "fastapi-deployed", "fastmcp", "ts-sdk"):
            self._openloop(
                TARGETS.get(name) or PEER_TARGETS[name], self._rates(saturation, name, basis=slowest), into=into
            )

    def peers_memory(self) -> None:
        """Idle keep-alive memory of each peer as deployed on the box, measured like the servers'."""
        raise_fd_limit(max(self.plan.memory_connections) + 2000)
        for name in ("fastmcp", "ts-sdk"):
            for n in self.plan.memory_connections:
                with running(PEER_TARGETS[name], self.database_url) as server:
                    result = measure_idle_memory(server.proc.pid, server.port, n)
                    self.results["peers"]["memory"].append({"server": name, **asdict(result)})

    def peers_cold_start(self) -> None:
        """Spawn → first 200 on a real tools/call, each peer as deployed on the box, median of the plan's starts."""
        for name in ("fastmcp", "ts-sdk"):
            samples = []
            for _ in range(self.plan.cold_starts):
                with running(PEER_TARGETS[name], self.database_url) as server:
                    samples.append(server.started_s)
            self.results["peers"]["cold_start"].append(
                {"server": name, "samples_s": samples, "median_s": statistics.median(samples)}
            )

    def response_checks(self) -> None:
        """The same request gets the same answer from every server (parsed JSON; byte equality is recorded)."""
        bodies = {
            "echo_1024": workloads.ECHO_1K.bodies[0],
            "get_customer": workloads.READ.bodies[0],
            "search_documents": workloads.SEARCH.bodies[0],
            "hash_chain": workloads.CPU.bodies[0],
        }
        golden = _golden_cases()
        answers: dict[str, dict[str, bytes]] = {}
        golden_checks: dict[str, dict[str, dict[str, bool]]] = {}
        for name in ("native", "fastapi-deployed", "sdk-1"):
            with running(TARGETS[name], self.database_url) as server:
                answers[name] = {k: _post(server.port, b) for k, b in bodies.items()}
                golden_checks[name] = {
                    case: _against_golden(orjson.loads(_post(server.port, orjson.dumps(pair["request"]))), pair)
                    for case, pair in golden.items()
                }
        self.results["checks"]["responses_vs_golden"] = golden_checks
        reference = answers["native"]
        checks: dict[str, Any] = {}
        for name, got in answers.items():
            checks[name] = {
                k: {
                    "same_json": orjson.loads(v) == orjson.loads(reference[k]),
                    "same_bytes": v == reference[k],
                    "same_structured_content": _structured(v) == _structured(reference[k]),
                }
                for k, v in got.items()
            }
        self.results["checks"]["responses_vs_native"] = checks
        self.results["checks"]["non_2xx_total"] = sum(
            run["non_2xx"] for row in self.results["throughput"] for run in row["runs"]
        )


def _saturation(rows: list[dict[str, Any]], workload: str) -> dict[str, float]:
    """Median whole-box req/s of each server on `workload` (the rate open-loop fractions are taken of)."""
    return {r["server"]: r["median_rps"] for r in rows if r["scope"] == "whole-box" and r["workload"] == workload}


def _post(port: int, body: bytes) -> bytes:
    """One POST /mcp over a fresh connection; returns the response body."""
    import socket

    request = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    return rest[:length]


GOLDEN_DIR = REPO_ROOT / "tests" / "behaviour" / "golden"


def _golden_cases() -> dict[str, dict[str, Any]]:
    """The recorded request/response pairs the test suite holds every server to (empty outside a checkout)."""
    return {path.stem: orjson.loads(path.read_bytes()) for path in sorted(GOLDEN_DIR.glob("*.json"))}


def _against_golden(got: dict[str, Any], pair: dict[str, Any]) -> dict[str, bool]:
    """`same_json`: the whole response; `same_content`: what the spec fixes (the structured result and error flag
    of a tool call, the tool names of a list), which a server's formatting choices may not change."""
    want = pair["response"]
    got_result, want_result = got.get("result") or {}, want.get("result") or {}
    method = pair["request"]["method"]
    if method == "tools/call":
        same_content = bool(got_result.get("isError")) == bool(want_result.get("isError")) and got_result.get(
            "structuredContent"
        ) == want_result.get("structuredContent")
    elif method == "tools/list":
        same_content = [t.get("name") for t in got_result.get("tools", [])] == [t["name"] for t in want_result["tools"]]
    else:
        same_content = got == want
    return {"same_json": got == want, "same_content": same_content}


def _structured(body: bytes) -> Any:
    return orjson.loads(body).get("result", {}).get("structuredContent")


def _summary(name: str, workload: str, scope: str, plan: Plan, runs: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [r["cpu_us_per_request"] for r in runs if r["cpu_us_per_request"] is not None]
    return {
        "server": name,
        "workload": workload,
        "scope": scope,
        "connections": plan.connections,
        "runs": runs,
        "median_rps": statistics.median(r["rps"] for r in runs),
        "median_cpu_us_per_request": statistics.median(cpu) if cpu else None,
    }


def _pg_bin_dir() -> str:
    from scripts.pgcluster import find_bin_dir

    return str(find_bin_dir())


def environment() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    # Which build of CPython matters as much as its version: a statically linked PGO/LTO build (Debian's, Amazon
    # Linux's) runs Python code about 1.4x faster here than a shared-library build without PGO (pyenv's default).
    versions: dict[str, str] = {
        "python": platform.python_version(),
        "python_executable": os.path.realpath(sys.executable),
        "python_build": " ".join(platform.python_build()) + ", " + platform.python_compiler(),
    }
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("uvloop", "httptools", "orjson", "asyncpg", "fastapi", "uvicorn", "gunicorn", "pydantic", "mcp"):
        with contextlib.suppress(PackageNotFoundError):
            versions[pkg] = version(pkg)
    # Which build of the native server's hot modules its processes run, compiled or pure (services/compiled.py).
    versions["native_build"] = compiled.decide()[1]  # the servers inherit this environment
    for tool, flag in (("nginx", "-v"), ("wrk", "-v"), ("pgbench", "--version")):
        path = shutil.which(tool)
        if path:
            out = subprocess.run([path, flag], capture_output=True, text=True, check=False)
            versions[tool] = (
                (out.stdout or out.stderr).strip().splitlines()[0][:80] if (out.stdout or out.stderr) else ""
            )
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "git_sha": sha,
        "versions": versions,
        "load_avg_start": list(os.getloadavg()),
    }


@contextlib.contextmanager
def bench_database(console: Console) -> Iterator[str]:
    """A throwaway PostgreSQL cluster with the seed data, removed afterwards."""
    from scripts.db import prepare

    root = Path(tempfile.mkdtemp(prefix="mcpstack-bench-pg-", dir="/tmp"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    with console.status("starting a throwaway PostgreSQL with the seed data…"):
        cluster.init()
        cluster.start()
        asyncio.run(prepare(cluster.url, seed=True))
    try:
        yield cluster.url
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def run_bench(plan: Plan, out_dir: Path, console: Console, *, with_peers: bool = False) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    # The peers' runtimes are installed (or found) before anything is measured: a missing one fails in seconds.
    peer_versions = peers.setup(console) if with_peers else None
    # Byte-compile the project as an installed package would be: with PYTHONDONTWRITEBYTECODE set (as on these
    # machines) every server start would otherwise compile its own modules again, for all servers alike.
    for package in ("services", "scripts"):
        compileall.compile_dir(str(REPO_ROOT / package), quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="mcpstack-bench-"))
    bench = Bench(plan, workdir, peer_versions=peer_versions)
    with bench_database(console) as url:
        bench.database_url = url
        bench.draw_search_mix()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            results = bench.run(progress)
    (out_dir / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    shutil.rmtree(workdir, ignore_errors=True)
    return results
