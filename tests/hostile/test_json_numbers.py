"""JSON numbers a double cannot hold, and the NaN / Infinity literals, against both servers: the body is a parse
error (400, -32700) with the same answer from both (services/protocol.py, `strict_json`); numbers a double holds,
and the same texts inside strings, are served."""

from __future__ import annotations

import pytest

from tests.hostile.client import Client
from tests.hostile.conftest import KINDS, STATELESS, StatefulServers

PARSE_ERROR = -32700


def ping_with(value: bytes) -> bytes:
    return b'{"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"_meta": {"x": ' + value + b"}}}"


@pytest.mark.parametrize(
    "value",
    [b"1e999", b"-1E+400", b"12345678901234567890e300", b"9" * 400, b"NaN", b"Infinity", b"-Infinity", b"[1, 1e999]"],
    ids=["1e999", "-1E+400", "wide-mantissa", "400-digit-integer", "NaN", "Infinity", "-Infinity", "nested"],
)
def test_a_number_beyond_a_double_is_a_parse_error_on_both_servers_alike(
    stateful_servers: StatefulServers, value: bytes
) -> None:
    answers = []
    for kind in KINDS:
        client = Client(stateful_servers.get(kind, STATELESS).port)
        try:
            answers.append(client.send(ping_with(value)))
        finally:
            client.close()
    native, fastapi = answers
    assert (native.status, native.json()["error"]["code"]) == (400, PARSE_ERROR)
    assert (fastapi.status, fastapi.body) == (native.status, native.body)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [b"1.5e308", b"1e-999", b'"1e999"', b'"NaN"', b"9" * 300])
def test_a_number_a_double_holds_and_the_same_text_in_a_string_are_served(
    stateful_servers: StatefulServers, kind: str, value: bytes
) -> None:
    client = Client(stateful_servers.get(kind, STATELESS).port)
    try:
        answer = client.send(ping_with(value))
    finally:
        client.close()
    assert (answer.status, answer.json()) == (200, {"jsonrpc": "2.0", "id": 7, "result": {}})
