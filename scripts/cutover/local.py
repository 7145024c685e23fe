"""Local adapters for the cutover: metrics from HAProxy stats and the servers' `/metrics`, the behaviour check on a
slot's direct port, and the file-based state store, audit log (JSON lines) and lock in the state directory.

127.0.0.1 only. HTTP through the standard library: these are a handful of requests per poll, not a load.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.contract import MCP_PROMETHEUS_DURATION, MCP_PROMETHEUS_OUTCOMES, MCP_PROMETHEUS_REQUESTS
from scripts.cutover.codec import PlanError, state_from_dict, state_to_dict
from scripts.cutover.gates import histogram_quantile
from scripts.cutover.haproxy import BACKEND, HaproxyError, RuntimeApi
from scripts.cutover.model import Reading, Slot, SlotWindow, State
from scripts.cutover.ports import LockHeldError, MetricsError, SmokeResult, StateStoreError

# --- HTTP to a slot's direct port ------------------------------------------------------------------------------


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout_s: float = 10.0,
    *,
    host: str = "127.0.0.1",
    headers: Mapping[str, str] | None = None,
    tls: bool = False,
) -> tuple[int, bytes]:
    cls = http.client.HTTPSConnection if tls else http.client.HTTPConnection
    conn = cls(host, port, timeout=timeout_s)
    try:
        sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})}
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def rpc(
    port: int,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    headers: Mapping[str, str] | None = None,
    tls: bool = False,
) -> tuple[int, dict[str, Any]]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        message["params"] = params
    status, body = http_call(port, "POST", "/mcp", json.dumps(message).encode(), host=host, headers=headers, tls=tls)
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = {"_unparsed": body[:200].decode(errors="replace")}
    return status, payload


# --- metrics ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerCounters:
    requests: float
    errors: float
    bounds: tuple[float, ...]
    buckets: tuple[float, ...]  # cumulative, summed over methods


@dataclass(frozen=True)
class HaproxyCounters:
    requests: int
    http_5xx: int
    up: bool


def parse_server_metrics(text: str) -> ServerCounters:
    """JSON-RPC requests and errors (`mcp_requests_total` by outcome) and the latency histogram, by metric name."""
    from prometheus_client.parser import text_string_to_metric_families

    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == MCP_PROMETHEUS_REQUESTS:
                requests += sample.value
                if MCP_PROMETHEUS_OUTCOMES.get(sample.labels.get("outcome", ""), "jsonrpc_error") != "ok":
                    errors += sample.value  # an outcome we do not know is not a success
            elif sample.name == f"{MCP_PROMETHEUS_DURATION}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    bounds = tuple(sorted(buckets))
    return ServerCounters(requests, errors, bounds, tuple(buckets[b] for b in bounds))


class LocalMetrics:
    """Windows from cumulative counters: `begin` keeps a baseline, `read` returns the differences."""

    def __init__(self, api: RuntimeApi, slot_ports: Mapping[Slot, int], backend: str = BACKEND) -> None:
        self.api = api
        self.slot_ports = dict(slot_ports)
        self.backend = backend
        self.base: dict[Slot, tuple[HaproxyCounters, ServerCounters | None]] | None = None

    def _haproxy(self) -> dict[str, HaproxyCounters]:
        out = {}
        for row in self.api.stat():
            if row.get("pxname") == self.backend and row.get("svname") in self.slot_ports:
                # Connection and response errors are failed requests too, though no server answered a 5xx.
                failed = int(row.get("hrsp_5xx") or 0) + int(row.get("eresp") or 0) + int(row.get("econ") or 0)
                out[row["svname"]] = HaproxyCounters(
                    int(row.get("req_tot") or 0), failed, row.get("status", "").startswith("UP")
                )
        return out

    def _server(self, slot: Slot) -> ServerCounters:
        status, body = http_call(self.slot_ports[slot], "GET", "/metrics", timeout_s=5)
        if status != 200:
            raise MetricsError(f"{slot} /metrics answered {status}")
        return parse_server_metrics(body.decode())

    def snapshot(self) -> dict[Slot, tuple[HaproxyCounters, ServerCounters | None]]:
        """Both slots' cumulative counters now (HAProxy's, and the server's own, None when it does not answer)."""
        try:
            hap = self._haproxy()
        except (HaproxyError, OSError, KeyError, ValueError) as ex:
            raise MetricsError(f"HAProxy stats unreadable: {type(ex).__name__}: {ex}") from ex
        out: dict[Slot, tuple[HaproxyCounters, ServerCounters | None]] = {}
        for slot in self.slot_ports:
            if slot not in hap:
                raise MetricsError(f"no server {self.backend}/{slot} in HAProxy stats")
            try:
                server = self._server(slot)
            except (MetricsError, OSError, ValueError):
                server = None  # a slot that does not answer /metrics: its MCP numbers are unknown, its health is not
            out[slot] = (hap[slot], server)
        return out

    def begin(self) -> None:
        self.base = self.snapshot()

    def read(self, source: Slot, target: Slot, alarm_names: tuple[str, ...]) -> Reading:
        if self.base is None:
            raise MetricsError("read before begin")
        now = self.snapshot()
        return Reading(
            target=self._window(self.base[target], now[target]),
            source=self._window(self.base[source], now[source]),
            firing_alarms=(),
        )

    @staticmethod
    def _window(
        before: tuple[HaproxyCounters, ServerCounters | None], after: tuple[HaproxyCounters, ServerCounters | None]
    ) -> SlotWindow:
        (hb, sb), (ha, sa) = before, after
        if ha.requests < hb.requests:
            return SlotWindow(None, None, None, None, None, int(ha.up), int(not ha.up))
        if sa is None or sb is None or sa.requests < sb.requests:
            # The server did not answer /metrics, or restarted (counters reset): only HAProxy's numbers are known.
            return SlotWindow(
                ha.requests - hb.requests, ha.http_5xx - hb.http_5xx, None, None, None, int(ha.up), int(not ha.up)
            )
        base = dict(zip(sb.bounds, sb.buckets, strict=True))
        delta = tuple(c - base.get(b, 0.0) for b, c in zip(sa.bounds, sa.buckets, strict=True))
        p95_s = histogram_quantile(0.95, sa.bounds, delta) if sa.bounds else None
        return SlotWindow(
            requests=ha.requests - hb.requests,
            http_5xx=ha.http_5xx - hb.http_5xx,
            mcp_requests=int(sa.requests - sb.requests),
            mcp_errors=int(sa.errors - sb.errors),
            p95_ms=None if p95_s is None else p95_s * 1000.0,
            healthy_targets=int(ha.up),
            unhealthy_targets=int(not ha.up),
        )

    def firing_alarms(self, alarm_names: tuple[str, ...]) -> tuple[str, ...]:
        return ()  # no CloudWatch alarms locally; the same gates are computed from the counters


# --- behaviour check -------------------------------------------------------------------------------------------

# Read-only tools only: the golden requests both slots must answer with the same content.
GOLDEN_CALLS: tuple[dict[str, Any], ...] = (
    {"name": "echo", "arguments": {"message": "cutover smoke", "payload_bytes": 64}},
    {"name": "hash_chain", "arguments": {"text": "cutover", "rounds": 10}},
    {"name": "get_customer", "arguments": {"customer_id": 42, "recent_orders": 3}},
    {"name": "search_documents", "arguments": {"query": "latency", "limit": 3}},
)


Caller = Callable[[Slot, str, "dict[str, Any] | None"], "tuple[int, dict[str, Any]]"]


class HttpSmoke:
    """`tools/list` and a `tools/call` on the receiving slot before it gets traffic, then the golden calls on both
    slots, compared by content (structured result). `call(slot, method, params)` reaches one slot: a direct port
    locally, the ALB's header rule on AWS."""

    def __init__(self, call: Caller) -> None:
        self.call = call

    def check(self, slot: Slot) -> SmokeResult:
        other: Slot = "green" if slot == "blue" else "blue"
        try:
            status, listed = self.call(slot, "tools/list", None)
            names = [t.get("name") for t in listed.get("result", {}).get("tools", [])]
            if status != 200 or not names:
                return SmokeResult(False, f"tools/list on {slot}: HTTP {status}, {len(names)} tools")
            for golden in GOLDEN_CALLS:
                st, mine = self.call(slot, "tools/call", golden)
                _, theirs = self.call(other, "tools/call", golden)
                result = mine.get("result")
                if st != 200 or not isinstance(result, dict) or result.get("isError"):
                    return SmokeResult(False, f"tools/call {golden['name']} on {slot}: HTTP {st}, {str(mine)[:160]}")
                if result.get("structuredContent") != (theirs.get("result") or {}).get("structuredContent"):
                    return SmokeResult(False, f"{golden['name']}: {slot} and {other} answer different content")
        except (OSError, http.client.HTTPException) as ex:
            return SmokeResult(False, f"{slot} unreachable: {ex}")
        return SmokeResult(True, f"{len(names)} tools; {len(GOLDEN_CALLS)} golden calls agree")


def local_smoke(slot_ports: Mapping[Slot, int]) -> HttpSmoke:
    return HttpSmoke(lambda slot, method, params: rpc(slot_ports[slot], method, params))


class HttpSynthetic:
    """Read-only `tools/call echo` requests on one keep-alive connection to the front door, bounded in count and
    time (`max_s`)."""

    def __init__(
        self, port: int, *, host: str = "127.0.0.1", tls: bool = False, max_s: float = 20.0, timeout_s: float = 5.0
    ) -> None:
        self.port, self.host, self.tls, self.max_s, self.timeout_s = port, host, tls, max_s, timeout_s

    def send(self, count: int) -> int:
        body = json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": GOLDEN_CALLS[0]}, separators=(",", ":")
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        cls = http.client.HTTPSConnection if self.tls else http.client.HTTPConnection
        deadline, answered = time.monotonic() + self.max_s, 0
        conn = cls(self.host, self.port, timeout=self.timeout_s)
        try:
            for _ in range(count):
                if time.monotonic() > deadline:
                    break
                try:
                    conn.request("POST", "/mcp", body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = cls(self.host, self.port, timeout=self.timeout_s)
                    continue
                if response.status == 200 and b'"isError":true' not in payload:
                    answered += 1
        finally:
            conn.close()
        return answered


# --- state store, audit log, lock, clock -----------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class FileStore:
    """`state.json` (the current state, replaced atomically) and `history.jsonl` (every saved state)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        self.history_path = directory / "history.jsonl"

    def load(self) -> State | None:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except OSError as ex:
            raise StateStoreError(f"{self.path}: {ex}") from ex
        except ValueError as ex:
            raise self._unreadable(ex) from ex
        try:
            return state_from_dict(raw)
        except PlanError as ex:
            raise self._unreadable(ex) from ex

    def _unreadable(self, ex: Exception) -> StateStoreError:
        # Starting again cannot fix a stored state this code refuses (hand-edited, or written from a plan older
        # code accepted): say what does. Every saved state stays in the history file.
        return StateStoreError(
            f"{self.path}: {ex}; check the live weights (`mcpstack stack status`), "
            f"then move it aside to start afresh ({self.history_path.name} keeps every saved state)"
        )

    def save(self, state: State) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(state_to_dict(state), sort_keys=True)
        _atomic_write(self.path, line.encode())
        with open(self.history_path, "a") as history:
            history.write(line + "\n")

    def history(self) -> list[State]:
        with contextlib.suppress(FileNotFoundError):
            return [state_from_dict(json.loads(ln)) for ln in self.history_path.read_text().splitlines() if ln]
        return []


class JsonlAudit:
    def __init__(self, path: Path, *, target: str) -> None:
        self.path = path
        self.target = target

    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"ts": time.time(), "event": event, "target": self.target, "pid": os.getpid(), **fields}
        with open(self.path, "a") as log:
            log.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


class FileLock:
    """An exclusive `flock`: released by the kernel if the process dies, so a crash never leaves it held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, owner: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip()
            os.close(fd)
            raise LockHeldError(holder or str(self.path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{owner} pid {os.getpid()}".encode())
        self.fd = fd

    def renew(self) -> None:
        """Nothing to renew: a flock never expires under a live process and dies with a dead one."""

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class FileAbortSignal:
    """A file beside the state: `cutover abort` writes it, the running cutover sees it at its next poll."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def request(self, owner: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, owner.encode())

    def requested(self) -> str | None:
        with contextlib.suppress(FileNotFoundError):
            return self.path.read_text().strip() or "unknown"
        return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class SystemClock:
    def now(self) -> float:
        return time.time()  # wall time: a resumed run (another process) reads the same clock

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
