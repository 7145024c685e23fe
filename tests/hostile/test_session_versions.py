"""GET and DELETE in stateful mode carrying an `MCP-Protocol-Version` neither era serves, on both servers and both
session stores: refused exactly as a POST with that header is (400, -32022 with the served revisions), before the
session is looked up, and the session is left as it was."""

from __future__ import annotations

import pytest

from services.protocol import SERVED_VERSIONS, UNSUPPORTED_PROTOCOL_VERSION
from tests.hostile.client import Client
from tests.hostile.conftest import KINDS, STORES, StatefulServers

UNSERVED = "1999-01-01"


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_with_an_unserved_protocol_version_are_refused_as_post_is(
    stateful_servers: StatefulServers, kind: str, store: str, method: str
) -> None:
    client = Client(stateful_servers.get(kind, store).port)
    try:
        client.initialize()
        header = {"MCP-Protocol-Version": UNSERVED}
        post = client.send({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=header)
        got = client.send(None, method=method, headers={**header, "Accept": "text/event-stream"})
        assert (post.status, got.status) == (400, 400), got
        assert got.json() == post.json()
        assert got.json()["error"] == {
            "code": UNSUPPORTED_PROTOCOL_VERSION,
            "message": f"Unsupported protocol version: {UNSERVED}",
            "data": {"supported": list(SERVED_VERSIONS), "requested": UNSERVED},
        }
        assert client.request("ping").json()["result"] == {}, f"a refused {method} must leave the session alone"
    finally:
        client.close()
