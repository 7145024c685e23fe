"""How big a run of the reliability suite is, and where its figures go.

The short form runs in `make test` (seconds per test); the long form (`make soak`, `scripts/reliability.py run`)
sends at least 100,000 generated requests per server and soaks each server for minutes. Chosen by environment, so
pytest needs no extra options: `MCPSTACK_RELIABILITY=long`, `MCPSTACK_RELIABILITY_SOAK_MINUTES`,
`MCPSTACK_RELIABILITY_SEED`, and `MCPSTACK_RELIABILITY_RESULTS` (a JSON file each test adds its figures to).

A probe client runs beside every hostile or faulty scenario: one keep-alive connection calling a tool every 20 ms,
counting failures and latency, so "the server kept serving other clients" is measured, not assumed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.support import build_request, read_reply


@dataclass(frozen=True)
class Form:
    name: str  # "short" or "long"
    examples_per_family: int  # hypothesis examples per family and server
    soak_minutes: float
    seed: int
    results_path: Path | None

    @property
    def long(self) -> bool:
        return self.name == "long"


def current() -> Form:
    name = os.environ.get("MCPSTACK_RELIABILITY", "short")
    if name not in ("short", "long"):
        raise ValueError(f"MCPSTACK_RELIABILITY must be short or long, not {name!r}")
    long = name == "long"
    results = os.environ.get("MCPSTACK_RELIABILITY_RESULTS")
    return Form(
        name=name,
        examples_per_family=int(os.environ.get("MCPSTACK_RELIABILITY_EXAMPLES") or (4_800 if long else 25)),
        soak_minutes=float(os.environ.get("MCPSTACK_RELIABILITY_SOAK_MINUTES") or (10.0 if long else 0.1)),
        seed=int(os.environ.get("MCPSTACK_RELIABILITY_SEED") or 20261130),
        results_path=Path(results) if results else None,
    )


FORM = current()


def record(section: str, server: str, name: str, figures: dict[str, Any]) -> None:
    """Add one scenario's figures to the results file (when one is set): `results[section][server][name]`."""
    path = FORM.results_path
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as results:
        fcntl.flock(results, fcntl.LOCK_EX)  # two sessions at once (the soak beside the rest) add to one file
        results.seek(0)
        raw = results.read()
        data: dict[str, Any] = orjson.loads(raw) if raw else {}
        data.setdefault(section, {}).setdefault(server, {})[name] = figures
        results.seek(0)
        results.truncate()
        results.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PROBE_CALL = build_request(
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "probe"}}}
)


@dataclass
class ProbeResult:
    calls: int = 0
    failures: int = 0
    latencies_s: list[float] = field(default_factory=list)
    first_failure: str = ""

    def figures(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failures": self.failures,
            "p50_ms": round(percentile(self.latencies_s, 0.5) * 1000, 2),
            "p99_ms": round(percentile(self.latencies_s, 0.99) * 1000, 2),
            "max_ms": round(max(self.latencies_s, default=0.0) * 1000, 2),
            "first_failure": self.first_failure,
        }


@contextlib.contextmanager
def probe(port: int, *, every_s: float = 0.02, timeout_s: float = 10.0) -> Iterator[ProbeResult]:
    """A well-behaved client beside the scenario: one echo call every `every_s` on a keep-alive connection
    (reconnecting when the server closes it), each answered with 200 and a result within `timeout_s`, else a failure."""
    result = ProbeResult()
    stop = threading.Event()

    def run() -> None:
        sock: socket.socket | None = None
        buffer = bytearray()
        while not stop.is_set():
            started = time.monotonic()
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
                    buffer.clear()
                sock.sendall(PROBE_CALL)
                reply = read_reply(sock, buffer, timeout_s)
                ok = reply.status == 200 and "result" in reply.json() and not reply.json()["result"].get("isError")
                if reply.headers.get("connection") == "close":
                    sock.close()
                    sock = None
            except (OSError, ValueError) as ex:
                ok = False
                reply = None
                if sock is not None:
                    sock.close()
                sock = None
                if not result.first_failure:
                    result.first_failure = repr(ex)
            result.calls += 1
            if ok:
                result.latencies_s.append(time.monotonic() - started)
            else:
                result.failures += 1
                if not result.first_failure and reply is not None:
                    result.first_failure = f"{reply.status} {reply.body[:200]!r}"
            stop.wait(every_s)
        if sock is not None:
            sock.close()

    thread = threading.Thread(target=run, name="probe", daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join(timeout_s + 5)
