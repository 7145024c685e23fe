"""Session abuse against both servers in stateful mode, on both session stores (tests/hostile/conftest.py): what a
client that subscribes without limit, or to URIs no index can hold, or declares huge or odd capabilities, gets; a
refusal is a JSON-RPC error with a clear text, and the server serves the session's next request."""

from __future__ import annotations

import secrets

from services.protocol import INVALID_PARAMS, INVALID_REQUEST
from services.sessions import (
    MAX_CAPABILITY_BYTES,
    MAX_SUBSCRIPTION_URI_CHARS,
    MAX_SUBSCRIPTIONS_PER_SESSION,
    SESSION_REQUIRED,
    SESSION_UNKNOWN,
    SUBSCRIPTIONS_FULL,
    kept_capabilities,
)
from tests.hostile.client import Client, error_of
from tests.support import ServerProcess


def test_a_subscription_uri_longer_than_the_limit_is_refused_as_invalid_params(stateful: ServerProcess) -> None:
    """Random (incompressible) characters: on PostgreSQL such a URI does not fit the subscriptions' index."""
    client = Client(stateful.port)
    client.initialize()
    uri = "test://" + secrets.token_hex(MAX_SUBSCRIPTION_URI_CHARS)[: MAX_SUBSCRIPTION_URI_CHARS - 6]
    answer = client.request("resources/subscribe", {"uri": uri})
    assert answer.status == 200
    code, message = error_of(answer)
    assert code == INVALID_PARAMS
    assert f"longer than {MAX_SUBSCRIPTION_URI_CHARS} characters" in message
    assert client.request("resources/subscribe", {"uri": uri[:MAX_SUBSCRIPTION_URI_CHARS]}).json()["result"] == {}
    assert client.request("ping").json()["result"] == {}


def test_an_empty_subscription_uri_is_refused_alike_by_both_servers(stateful: ServerProcess) -> None:
    client = Client(stateful.port)
    client.initialize()
    for method in ("resources/subscribe", "resources/unsubscribe"):
        for params in ({"uri": ""}, {"uri": 5}, {}):
            assert error_of(client.request(method, params)) == (
                INVALID_PARAMS,
                f"{method}: params.uri must be a resource URI",
            )


def test_a_session_at_its_subscription_limit_is_refused_a_new_one_until_it_unsubscribes(
    stateful: ServerProcess,
) -> None:
    client = Client(stateful.port)
    client.initialize()
    for n in range(MAX_SUBSCRIPTIONS_PER_SESSION):
        assert client.request("resources/subscribe", {"uri": f"test://many/{n}"}, id_=n).json()["result"] == {}
    assert error_of(client.request("resources/subscribe", {"uri": "test://one-more"})) == (
        INVALID_PARAMS,
        SUBSCRIPTIONS_FULL,
    )
    # what it holds can be subscribed again; another session is not limited by this one's subscriptions
    assert client.request("resources/subscribe", {"uri": "test://many/0"}).json()["result"] == {}
    other = Client(stateful.port)
    other.initialize()
    assert other.request("resources/subscribe", {"uri": "test://one-more"}).json()["result"] == {}
    assert client.request("resources/unsubscribe", {"uri": "test://many/0"}).json()["result"] == {}
    assert client.request("resources/subscribe", {"uri": "test://one-more"}).json()["result"] == {}


def test_a_session_keeps_only_the_capabilities_the_server_asks_about_each_bounded() -> None:
    """What initialize declares is kept for the session's life (memory: up to 10,000 sessions): a client must not make
    each of them hold a megabyte. Measured before this rule: 200 sessions declaring 1 MB each took the native
    worker's RSS from 26 MB to 1.58 GB."""
    declared = {
        "sampling": {},
        "elicitation": {"form": {}, "pad": "x" * MAX_CAPABILITY_BYTES},
        "roots": {"listChanged": True},
        "experimental": {"pad": "y" * 1_000_000},
        "tasks": "not an object",
    }
    assert kept_capabilities(declared) == {"elicitation": {}, "roots": {"listChanged": True}, "sampling": {}}
    assert kept_capabilities({"sampling": {"x": 2**70}, "roots": []}) == {"sampling": {}}


def test_initialize_declaring_an_integer_beyond_64_bits_opens_a_session(stateful: ServerProcess) -> None:
    """Valid JSON; the PostgreSQL store encodes what it keeps with orjson, which refuses such integers."""
    params = (
        b'{"protocolVersion": "2025-11-25", "clientInfo": {"name": "t", "version": "1"}, '
        b'"capabilities": {"sampling": {"n": 1180591620717411303424}, "experimental": {"n": 1180591620717411303424}}}'
    )
    client = Client(stateful.port)
    answer = client.send(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": ' + params + b"}")
    assert answer.status == 200, answer
    client.session = answer.headers["mcp-session-id"]
    assert client.request("ping").json()["result"] == {}


def test_session_refusals_and_delete_answer_alike_on_both_servers(stateful: ServerProcess) -> None:
    """An empty Mcp-Session-Id names no session (400, as if absent); whitespace around one is not part of it; DELETE
    answers 200, and the ended session is unknown (404) to a second DELETE and to any request."""
    client = Client(stateful.port)
    session = client.initialize()
    ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
    for header in (None, "", " "):
        refused = client.send(ping, headers={"Mcp-Session-Id": header})
        assert (refused.status, *error_of(refused)) == (400, INVALID_REQUEST, SESSION_REQUIRED)
        assert refused.json()["id"] == 3
    for header in ("nope", session + "x", session.upper()):
        refused = client.send(ping, headers={"Mcp-Session-Id": header})
        assert (refused.status, *error_of(refused)) == (404, INVALID_REQUEST, SESSION_UNKNOWN)
    assert client.send(ping, headers={"Mcp-Session-Id": session + "\t"}).json()["result"] == {}
    assert client.send(None, method="DELETE").status == 200
    again = client.send(None, method="DELETE")
    assert (again.status, *error_of(again)) == (404, INVALID_REQUEST, SESSION_UNKNOWN)
    after = client.send(ping)
    assert (after.status, *error_of(after)) == (404, INVALID_REQUEST, SESSION_UNKNOWN)
