"""Integers beyond 64 bits against both servers (services/protocol.py, the JSON number rule; docs/protocol.md): read
as the nearest double by both, as orjson (the native server's parser) and JavaScript's JSON.parse read them, where the
FastAPI baseline read them exactly before; so a tool that echoes an integer argument answers the same on both. The
64-bit edges stay exact, and a wide id is still echoed exactly by both."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.hostile.client import Client
from tests.hostile.conftest import KINDS, STATELESS, StatefulServers


def _answers(stateful_servers: StatefulServers, body: bytes) -> list[tuple[int, Any]]:
    answers = []
    for kind in KINDS:
        client = Client(stateful_servers.get(kind, STATELESS).port)
        try:
            answer = client.send(body)
        finally:
            client.close()
        answers.append((answer.status, json.loads(answer.body)))  # the standard library: exact integers
    return answers


def _priority(value: bytes) -> bytes:
    """A call of the conformance tool that echoes its integer argument `priority` in its text."""
    return (
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "test_header_params", '
        b'"arguments": {"region": "r", "priority": ' + value + b"}}}"
    )


def _text(answer: Any) -> str:
    text: str = answer["result"]["content"][0]["text"]
    return text


@pytest.mark.parametrize(
    ("value", "read_as"),
    [
        (b"18446744073709551617", int(float(2**64 + 1))),  # 2^64 + 1: the nearest double is 2^64
        (b"-9223372036854775809", int(float(-(2**63) - 1))),
        (b"1" + b"3" * 299, int(float(int("1" + "3" * 299)))),
    ],
    ids=["2^64+1", "-2^63-1", "300-digit"],
)
def test_an_integer_beyond_64_bits_is_read_as_the_nearest_double_by_both_servers(
    stateful_servers: StatefulServers, value: bytes, read_as: int
) -> None:
    native, fastapi = _answers(stateful_servers, _priority(value))
    assert native[0] == 200 and _text(native[1]) == f"region=r priority={read_as} dry_run=None query=None"
    assert fastapi == native


@pytest.mark.parametrize("value", [b"18446744073709551615", b"-9223372036854775808", b"9007199254740993"])
def test_an_integer_within_64_bits_is_exact_on_both_servers(stateful_servers: StatefulServers, value: bytes) -> None:
    for status, answer in _answers(stateful_servers, _priority(value)):
        assert status == 200 and _text(answer) == f"region=r priority={int(value)} dry_run=None query=None"


@pytest.mark.parametrize("wide", [123456789012345678901234567890, 2**64 + 1])
def test_a_wide_id_is_echoed_exactly_by_both_servers_beside_a_wide_argument(
    stateful_servers: StatefulServers, wide: int
) -> None:
    body = _priority(b"%d" % wide).replace(b'"id": 7', b'"id": %d' % wide)
    for status, answer in _answers(stateful_servers, body):
        assert (status, answer["id"]) == (200, wide)
        assert _text(answer) == f"region=r priority={int(float(wide))} dry_run=None query=None"
