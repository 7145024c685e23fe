"""`mcpstack stack up | down | status | faults`: the whole local stack with one command — the project's PostgreSQL,
blue and green servers on their own ports, and HAProxy in front (the local stand-in for the ALB).

Everything lives in `<state dir>/stack/` (stack.json, pid files, logs, the HAProxy config and admin socket). Loopback
only. The initial weights come from the cutover's stored state when there is one: the cutover owns the weights.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from scripts.cutover.haproxy import (
    HaproxyConfig,
    HaproxyError,
    HaproxyProcess,
    HaproxyRouter,
    RuntimeApi,
    process_alive,
    render_config,
    validate,
)
from scripts.cutover.local import FileStore, http_call
from scripts.cutover.model import SLOTS, Slot
from scripts.state import REPO_ROOT, state_dir

app = typer.Typer(help="The local stack: PostgreSQL, blue and green servers, HAProxy.", no_args_is_help=True)
console = Console(stderr=True)

ServerKind = Literal["fastapi", "native"]


class StackError(RuntimeError):
    pass


def stack_dir() -> Path:
    return state_dir() / "stack"


def cutover_dir(stage: str) -> Path:
    return state_dir() / "cutover" / stage


@dataclass(frozen=True)
class StackSpec:
    port: int
    stats_port: int
    blue_port: int
    green_port: int
    blue_kind: ServerKind
    green_kind: ServerKind
    workers: int
    stage: str = "local"

    @property
    def slot_ports(self) -> dict[Slot, int]:
        return {"blue": self.blue_port, "green": self.green_port}

    def kind(self, slot: Slot) -> ServerKind:
        return self.blue_kind if slot == "blue" else self.green_kind


@dataclass(frozen=True)
class StackFiles:
    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "stack.json"

    @property
    def haproxy_config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def haproxy_pid(self) -> Path:
        return self.root / "haproxy.pid"

    @property
    def admin_socket(self) -> Path:
        return self.root / "haproxy.sock"

    def server_pid(self, slot: Slot) -> Path:
        return self.root / f"{slot}.pid"

    def server_log(self, slot: Slot) -> Path:
        return self.root / f"{slot}.log"

    def faults(self, slot: Slot) -> Path:
        """The fault-injection file the slot's server re-reads (absent: no faults)."""
        return self.root / f"{slot}-faults.json"

    def haproxy(self) -> HaproxyProcess:
        return HaproxyProcess(self.haproxy_config, self.haproxy_pid)

    def api(self) -> RuntimeApi:
        return RuntimeApi(self.admin_socket)


def files() -> StackFiles:
    return StackFiles(stack_dir())


def load_spec() -> StackSpec:
    try:
        raw = json.loads(files().spec.read_text())
        return StackSpec(**raw)
    except FileNotFoundError:
        raise StackError("the local stack is not up (run `mcpstack stack up`)") from None
    except (OSError, ValueError, TypeError) as ex:
        raise StackError(f"{files().spec}: {ex}") from ex


def _read_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


def _healthy(port: int) -> bool:
    with contextlib.suppress(OSError):
        return http_call(port, "GET", "/health", timeout_s=1)[0] == 200
    return False


def _wait(predicate: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise StackError(f"{what} not ready within {timeout_s:.0f} s")


def start_server(spec: StackSpec, slot: Slot, database_url: str | None) -> int:
    f = files()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "PROMETHEUS_", "WEB_CONCURRENCY"))}
    if database_url:
        env["DATABASE_URL"] = database_url
    env["MCP_FAULTS"] = str(f.faults(slot))  # read by servers that support fault injection; absent file = none
    cmd = [
        sys.executable, "-m", "scripts.cli", "serve", spec.kind(slot),
        "--host", "127.0.0.1", "--port", str(spec.slot_ports[slot]), "--workers", str(spec.workers),
    ]  # fmt: skip
    with open(f.server_log(slot), "ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    f.server_pid(slot).write_text(str(proc.pid))
    try:
        _wait(lambda: proc.poll() is None and _healthy(spec.slot_ports[slot]), f"{slot} ({spec.kind(slot)})", 60)
    except StackError:
        if proc.poll() is not None:
            raise StackError(
                f"{slot} ({spec.kind(slot)}) exited with {proc.returncode}; see {f.server_log(slot)}"
            ) from None
        raise
    return proc.pid


def _ours(pid: int) -> bool:
    """A stale pid file must not stop someone else's process: the pid must still be one of our servers."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read()
    except OSError:
        return False
    return any(marker in argv for marker in (b"scripts.cli", b"gunicorn", b"services.mcp_server", b"mcpstack"))


def stop_server(slot: Slot, timeout_s: float = 30.0) -> bool:
    """SIGTERM the server's process group (it drains), SIGKILL after `timeout_s`. True if something was running."""
    f = files()
    pid = _read_pid(f.server_pid(slot))
    f.server_pid(slot).unlink(missing_ok=True)
    if pid is None or not process_alive(pid) or not _ours(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if process_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def set_faults(slot: Slot, faults: dict[str, float] | None) -> Path:
    """Write (atomically) or remove (None) the fault file the slot's server re-reads."""
    path = files().faults(slot)
    if faults is None:
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(faults))
    os.replace(tmp, path)
    return path


def initial_weights(spec: StackSpec) -> dict[Slot, int]:
    """From the cutover's stored state when there is one (it owns the weights), else everything on blue."""
    with contextlib.suppress(Exception):
        state = FileStore(cutover_dir(spec.stage)).load()
        if state is not None:
            return {state.plan.target: state.weight_pct, state.plan.source: 100 - state.weight_pct}
    return {"blue": 100, "green": 0}


def database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from scripts.db import prepare
    from scripts.pgcluster import local_cluster

    cluster = local_cluster()
    cluster.init()
    cluster.start()
    asyncio.run(prepare(cluster.url, seed=True))
    return cluster.url


def up(spec: StackSpec) -> None:
    f = files()
    f.root.mkdir(parents=True, exist_ok=True)
    if f.haproxy().running() or any(process_alive(_read_pid(f.server_pid(s))) for s in SLOTS):
        raise StackError("the local stack is already up (run `mcpstack stack down` first)")
    url = database_url()
    f.spec.write_text(json.dumps(asdict(spec), indent=2))
    for slot in SLOTS:
        start_server(spec, slot, url)
    cfg = HaproxyConfig(
        bind_port=spec.port,
        stats_port=spec.stats_port,
        socket_path=f.admin_socket,
        slot_ports=spec.slot_ports,
        weights_pct=initial_weights(spec),
    )
    f.haproxy_config.write_text(render_config(cfg))
    validate(f.haproxy_config)
    f.haproxy().start()
    router = HaproxyRouter(f.api())

    def both_up() -> bool:
        with contextlib.suppress(HaproxyError):
            return all(router.target_health(s).healthy for s in SLOTS)
        return False

    _wait(both_up, "HAProxy health checks of both slots", 20)


def down(*, keep_db: bool) -> list[str]:
    f = files()
    stopped = []
    if f.haproxy().running():
        f.haproxy().stop()
        stopped.append("haproxy")
    for slot in SLOTS:
        if stop_server(slot):
            stopped.append(slot)
    if not keep_db and not os.environ.get("DATABASE_URL"):
        from scripts.pgcluster import local_cluster

        cluster = local_cluster()
        if cluster.running():
            cluster.stop()
            stopped.append("postgresql")
    return stopped


# --- CLI -------------------------------------------------------------------------------------------------------


@app.command("up")
def up_command(
    port: Annotated[int, typer.Option(help="HAProxy's MCP port (what clients use).")] = 8000,
    stats_port: Annotated[int, typer.Option(help="HAProxy's stats page.")] = 8404,
    blue_port: Annotated[int, typer.Option(help="Blue's direct port.")] = 8081,
    green_port: Annotated[int, typer.Option(help="Green's direct port.")] = 8082,
    blue: Annotated[str, typer.Option(help="Server in the blue slot: fastapi or native.")] = "fastapi",
    green: Annotated[str, typer.Option(help="Server in the green slot: fastapi or native.")] = "native",
    workers: Annotated[int, typer.Option(help="Worker processes per server.")] = 2,
    stage: Annotated[str, typer.Option(help="Name of the local stage (the cutover's state lives under it).")] = "local",
) -> None:
    """Start PostgreSQL, blue, green and HAProxy (all on 127.0.0.1)."""
    kinds = {"fastapi", "native"}
    if blue not in kinds or green not in kinds:
        console.print("[red]error:[/] --blue/--green must be fastapi or native")
        raise typer.Exit(2)
    ports = [port, stats_port, blue_port, green_port]
    if len(set(ports)) != 4 or not all(1 <= p <= 65535 for p in ports):
        console.print("[red]error:[/] the four ports must be distinct and within 1-65535")
        raise typer.Exit(2)
    if workers < 1:
        console.print("[red]error:[/] --workers must be at least 1")
        raise typer.Exit(2)
    spec = StackSpec(port, stats_port, blue_port, green_port, blue, green, workers, stage)  # type: ignore[arg-type]
    try:
        with console.status("starting PostgreSQL, blue, green and HAProxy…"):
            up(spec)
    except (StackError, HaproxyError, OSError) as ex:
        console.print(f"[red]error:[/] {ex}")
        down(keep_db=True)
        raise typer.Exit(1) from None
    weights = HaproxyRouter(files().api()).read_weights()
    console.print(
        f"stack up: http://127.0.0.1:{port}/mcp (blue={blue} :{blue_port}, green={green} :{green_port}, "
        f"weights {weights}); stats http://127.0.0.1:{stats_port}/stats"
    )


@app.command("down")
def down_command(
    keep_db: Annotated[bool, typer.Option(help="Leave PostgreSQL running.")] = False,
) -> None:
    """Stop HAProxy, both servers (they drain) and PostgreSQL."""
    stopped = down(keep_db=keep_db)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command("status")
def status_command() -> None:
    """Each part of the local stack, the live weights and the health checks."""
    try:
        spec = load_spec()
    except StackError as ex:
        console.print(str(ex))
        raise typer.Exit(3) from None
    f = files()
    console.print(
        f"HAProxy: {'running' if f.haproxy().running() else 'stopped'} (:{spec.port}, stats :{spec.stats_port})"
    )
    router = HaproxyRouter(f.api())
    try:
        weights = router.read_weights()
        health = {s: router.target_health(s) for s in SLOTS}
    except HaproxyError as ex:
        weights, health = {}, {}
        console.print(f"  runtime API: {ex}")
    for slot in SLOTS:
        state = "healthy" if _healthy(spec.slot_ports[slot]) else "not answering"
        check = health.get(slot)
        console.print(
            f"{slot}: {spec.kind(slot)} :{spec.slot_ports[slot]} {state}; weight {weights.get(slot, '?')} %; "
            f"HAProxy check {'UP' if check and check.healthy else 'DOWN'}"
        )


@app.command("faults")
def faults_command(
    slot: Annotated[str, typer.Argument(help="blue or green.")],
    tool_error_rate: Annotated[float, typer.Option(help="Fraction of tool calls answered with isError (0-1).")] = 0.0,
    added_latency_ms: Annotated[int, typer.Option(help="Latency added to every tool call.")] = 0,
    clear: Annotated[bool, typer.Option(help="Remove the faults file (no faults).")] = False,
) -> None:
    """Make a slot's server faulty (a rehearsal of a bad release): writes the file its `MCP_FAULTS` names."""
    if slot not in SLOTS or not 0.0 <= tool_error_rate <= 1.0 or added_latency_ms < 0:
        console.print("[red]error:[/] slot must be blue or green, --tool-error-rate 0-1, --added-latency-ms >= 0")
        raise typer.Exit(2)
    if clear:
        set_faults(slot, None)
        console.print(f"{slot}: faults cleared")
        return
    path = set_faults(slot, {"tool_error_rate": tool_error_rate, "added_latency_ms": added_latency_ms})
    console.print(f"{slot}: tool_error_rate={tool_error_rate}, added_latency_ms={added_latency_ms} ({path})")
