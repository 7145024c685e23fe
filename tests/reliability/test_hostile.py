"""Hostile input against both servers: every generated case gets valid answers (no 5xx, JSON-RPC bodies, nothing
internal), the server survives, and a probe client beside it is served throughout.

Reproducible: hypothesis runs with a fixed seed (`MCPSTACK_RELIABILITY_SEED`), without its example database.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.reliability.conftest import REQUEST_TIMEOUT_S
from tests.reliability.form import FORM, probe, record
from tests.reliability.hostile import FAMILIES, Case, FamilyTally, exchange, http_request, message, problems
from tests.support import ServerProcess, build_request, read_reply

# Megabyte bodies cost the servers (and the generator) far more than the rest: fewer of them, more of the others,
# so the total stays at least 11 x examples_per_family cases.
WEIGHTS = {"huge and deeply nested values": 0.25, "oversized bodies and headers": 0.5, "pipelined garbage": 0.75}
WEIGHTS.update({family: 1.25 for family in FAMILIES if family not in WEIGHTS})


@pytest.mark.parametrize("family", FAMILIES)
def test_every_generated_hostile_request_gets_a_valid_answer_and_the_probe_is_served(
    family: str, hostile_servers: dict[str, ServerProcess]
) -> None:
    """Each generated case goes to both servers at once (one generation, two exchanges), each with its probe."""
    tallies = {kind: FamilyTally() for kind in hostile_servers}
    pool = ThreadPoolExecutor(max_workers=len(hostile_servers))

    def one(kind: str, case: Case) -> list[str]:
        result = exchange(hostile_servers[kind].port, case)
        found = problems(case, result)
        tallies[kind].add(result, found, case)
        return [f"{kind}: {problem}" for problem in found]

    @settings(
        max_examples=max(1, round(FORM.examples_per_family * WEIGHTS.get(family, 1.0))),
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
    )
    @seed(FORM.seed)
    @given(FAMILIES[family]())
    def check(case: Case) -> None:
        found = [p for problems_of in pool.map(lambda kind: one(kind, case), hostile_servers) for p in problems_of]
        assert not found, f"{found} for {case.data[:300]!r}"

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        probes = {kind: stack.enter_context(probe(server.port)) for kind, server in hostile_servers.items()}
        try:
            check()
        finally:
            pool.shutdown()
    seconds = round(time.monotonic() - started, 1)
    for kind, server in hostile_servers.items():
        record(
            "hostile", kind, family, {**tallies[kind].as_json(), "seconds": seconds, "probe": probes[kind].figures()}
        )
        assert server.proc.poll() is None, kind
        assert probes[kind].calls > 0 and probes[kind].failures == 0, (kind, probes[kind].first_failure)


def _reset_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_slowloris_connections_are_cut_at_the_request_timeout_while_the_probe_is_served(
    hostile_server: ServerProcess,
) -> None:
    """Many clients each trickle a request one byte at a time: each is answered 408 (or closed) once the request
    timeout has passed, and the probe never waits for them."""
    count = 400 if FORM.long else 60
    request = http_request(orjson.dumps(message("ping")))
    slow = [socket.create_connection(("127.0.0.1", hostile_server.port)) for _ in range(count)]
    started = time.monotonic()
    cut: dict[int, float] = {}
    statuses: dict[int, int] = {}
    with probe(hostile_server.port) as served:
        position = 0
        while len(cut) < count and time.monotonic() - started < REQUEST_TIMEOUT_S + 6:
            for i, sock in enumerate(slow):
                if i in cut:
                    continue
                try:
                    sock.sendall(request[position : position + 1])
                    sock.setblocking(False)
                    data = sock.recv(4096)
                    sock.setblocking(True)
                except BlockingIOError:
                    sock.setblocking(True)
                    continue
                except OSError:
                    data = b""
                cut[i] = time.monotonic() - started
                statuses[i] = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
            position = min(position + 1, len(request) - 2)  # never the last byte: the request stays incomplete
            time.sleep(0.25)
    for sock in slow:
        _reset_close(sock)
    held = sorted(cut.values())
    record(
        "hostile",
        hostile_server.kind,
        "slowloris",
        {
            "connections": count,
            "cut": len(cut),
            "answered_408": sum(1 for s in statuses.values() if s == 408),
            "longest_held_s": round(held[-1], 2) if held else None,
            "probe": served.figures(),
        },
    )
    assert len(cut) == count, f"{count - len(cut)} slow connections still open after {REQUEST_TIMEOUT_S + 6} s"
    assert set(statuses.values()) <= {408, 0}
    assert held[-1] < REQUEST_TIMEOUT_S + 3
    assert served.failures == 0, served.first_failure


def test_a_connection_flood_is_held_and_served_while_the_probe_is_served(hostile_server: ServerProcess) -> None:
    """Thousands of connections opened at once and left idle: the server holds them, answers a request on a sample
    of them, and keeps serving the probe."""
    count = 4000 if FORM.long else 800
    started = time.monotonic()
    with probe(hostile_server.port) as served:
        flood = [socket.create_connection(("127.0.0.1", hostile_server.port), timeout=10) for _ in range(count)]
        opened_s = time.monotonic() - started
        sample = flood[:: max(1, count // 50)]
        answered = 0
        for sock in sample:
            sock.sendall(build_request(message("ping")))
            reply = read_reply(sock, bytearray(), 10)
            answered += reply.status == 200 and reply.json().get("result") == {}
        for sock in flood:
            _reset_close(sock)
    record(
        "hostile",
        hostile_server.kind,
        "connection flood",
        {
            "connections": count,
            "opened_s": round(opened_s, 2),
            "sample": len(sample),
            "sample_answered": answered,
            "probe": served.figures(),
        },
    )
    assert answered == len(sample)
    assert served.failures == 0, served.first_failure
    assert hostile_server.proc.poll() is None
