"""HTTP methods other than POST in stateful mode, on both servers and both session stores: the 2026-07-28 era has no
sessions and no GET stream in either mode (405, as stateless), and a 405 lists every method the mode serves."""

from __future__ import annotations

import pytest

from tests.hostile.client import Client
from tests.hostile.conftest import KINDS, STATELESS, STORES, StatefulServers

NEW_ERA = {"MCP-Protocol-Version": "2026-07-28", "Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_of_the_2026_era_in_stateful_mode_are_405_as_in_stateless_mode(
    stateful_servers: StatefulServers, kind: str, store: str, method: str
) -> None:
    stateless = Client(stateful_servers.get(kind, STATELESS).port)
    client = Client(stateful_servers.get(kind, store).port)
    try:
        session = client.initialize()
        expected = stateless.send(None, method=method, headers=NEW_ERA)
        got = client.send(None, method=method, headers=NEW_ERA)  # carries the session id too
        assert (expected.status, expected.headers["allow"]) == (405, "POST")
        assert (got.status, got.headers["allow"], got.body) == (405, "POST", expected.body)
        assert got.json()["error"] == {"code": -32600, "message": "Method not allowed: use POST"}
        assert client.request("ping").status == 200, f"session {session} must outlive a refused {method}"
    finally:
        client.close()
        stateless.close()


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("kind", KINDS)
def test_an_unserved_method_in_stateful_mode_lists_get_post_and_delete_in_allow(
    stateful_servers: StatefulServers, kind: str, store: str
) -> None:
    client = Client(stateful_servers.get(kind, store).port)
    try:
        client.initialize()
        refused = client.send(None, method="PUT")
        assert (refused.status, refused.headers["allow"]) == (405, "GET, POST, DELETE")
        assert refused.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32600, "message": "Method not allowed: use POST, GET or DELETE"},
        }
    finally:
        client.close()
