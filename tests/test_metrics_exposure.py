"""`/metrics` answers loopback peers only, on both servers, unless `MCP_METRICS_ALLOW_REMOTE` says otherwise.

The metrics bridge on an instance and the local tools (cutover, demo, bench) scrape over loopback; a connection from a
load balancer or any other host is not loopback, however the path is spelled, so an encoded `/%6detrics` that slips
past a listener rule still gets the 404 a missing path gets. The servers are exercised in process with a chosen
peer address: the native endpoint with a connection whose peer is given, the FastAPI app called as ASGI with the
scope's client.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services import protocol
from services.fastapi_baseline.app import create_app
from services.fastapi_baseline.settings import Settings
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics
from services.mcp_server.transport import McpEndpoint
from services.mcp_server.wire import HttpRequest
from services.tools.context import NO_DATABASE
from services.tools.packs import load_packs

LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]
REMOTE = ["10.0.0.5", "192.0.2.2", "2001:db8::1", "::ffff:10.0.0.5", "testclient", "", None]


@pytest.mark.parametrize("address", LOOPBACK)
def test_a_loopback_peer_is_recognised(address: str) -> None:
    assert protocol.loopback_peer(address) is True


@pytest.mark.parametrize("address", REMOTE)
def test_any_other_peer_or_an_unknown_one_is_not_loopback(address: str | None) -> None:
    assert protocol.loopback_peer(address) is False


class _Connection:
    def __init__(self, peer: str) -> None:
        self._peer = peer

    def get_extra_info(self, name: str) -> Any:
        return (self._peer, 40000) if name == "peername" else None


def _native_status(peer: str, *, allow_remote: bool) -> int:
    registry = load_packs(("reference",))
    metrics = Metrics()
    methods = McpMethods(registry=registry, info=ServerInfo(name="t", version="0"), db=NO_DATABASE, metrics=metrics)

    async def ready() -> bool:
        return True

    endpoint = McpEndpoint(
        methods=methods,
        mcp_path="/mcp",
        allowed_hosts=frozenset(),
        allowed_origins=frozenset(),
        ready=ready,
        metrics_text=lambda: b"mcp_requests_total 0\n",
        metrics_allow_remote=allow_remote,
    )
    response = endpoint(HttpRequest(b"GET", b"/metrics", {}, b"", True, _Connection(peer)))
    assert isinstance(response, tuple)
    return int(response[0])


def _fastapi_status(peer: str, *, allow_remote: bool) -> int:
    app = create_app(Settings(metrics_allow_remote=allow_remote))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": (peer, 40000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    asyncio.run(app(scope, receive, send))
    return statuses[0]


SERVERS = {"native": _native_status, "fastapi": _fastapi_status}


@pytest.mark.parametrize("server", SERVERS)
def test_metrics_are_served_to_a_loopback_peer(server: str) -> None:
    assert SERVERS[server]("127.0.0.1", allow_remote=False) == 200


@pytest.mark.parametrize("server", SERVERS)
def test_metrics_are_404_to_a_remote_peer(server: str) -> None:
    assert SERVERS[server]("10.0.0.5", allow_remote=False) == 404


@pytest.mark.parametrize("server", SERVERS)
def test_metrics_are_served_to_a_remote_peer_when_allowed(server: str) -> None:
    assert SERVERS[server]("10.0.0.5", allow_remote=True) == 200


def test_the_fastapi_setting_refuses_a_value_that_is_not_yes_or_no() -> None:
    with pytest.raises(ValueError, match="MCP_METRICS_ALLOW_REMOTE='sometimes' is not a valid bool"):
        Settings.from_env({"MCP_METRICS_ALLOW_REMOTE": "sometimes"})
