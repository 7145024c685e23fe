"""A resource whose read fails after an await answers as one that fails at once, on both servers: in the handshake
era a JSON-RPC error is an ordinary response (HTTP 200; Streamable HTTP 2025-11-25 answers a request with a JSON-RPC
response either way); in 2026-07-28 the error's code decides the status (-32602: 400, as the official SDK's table
for errors from a handler; -32603 has none, so 200). Both servers in process with a registry of their own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.fastapi_baseline import app as baseline_app
from services.fastapi_baseline.settings import Settings
from services.mcp_server.methods import McpMethods, ServerInfo
from services.mcp_server.metrics import Metrics
from services.mcp_server.transport import McpEndpoint
from services.mcp_server.wire import HttpRequest
from services.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    RESOURCE_NOT_FOUND,
    STATELESS_VERSION,
)
from services.tools.context import NO_DATABASE, ToolError
from services.tools.registry import ToolRegistry
from services.tools.resources import ResourceNotFound

registry = ToolRegistry()


@registry.resource("test://late/{kind}", mime_type="text/plain")
async def late(kind: str) -> str:
    """Fails after an await, in the way its URI names."""
    await asyncio.sleep(0)
    if kind == "missing":
        raise ResourceNotFound(kind)
    if kind == "refused":
        raise ToolError("This resource refuses to be read.")
    if kind == "broken":
        raise RuntimeError("an internal failure")
    return "fine"


@registry.resource("test://early/{kind}", mime_type="text/plain")
def early(kind: str) -> str:
    """Fails at once, in the way its URI names."""
    if kind == "missing":
        raise ResourceNotFound(kind)
    if kind == "refused":
        raise ToolError("This resource refuses to be read.")
    raise RuntimeError("an internal failure")


Post = Any  # (body, headers) -> (status, answer)


def _native() -> Post:
    methods = McpMethods(registry=registry, info=ServerInfo(name="t", version="1"), db=NO_DATABASE, metrics=Metrics())

    async def ready() -> bool:
        return True

    endpoint = McpEndpoint(
        methods=methods,
        mcp_path="/mcp",
        allowed_hosts=frozenset(),
        allowed_origins=frozenset(),
        ready=ready,
        metrics_text=lambda: b"",
    )

    def post(body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        raw = {b"content-type": b"application/json", b"accept": b"application/json, text/event-stream"}
        raw.update({k.lower().encode(): v.encode() for k, v in headers.items()})
        reply = endpoint(HttpRequest(b"POST", b"/mcp", raw, json.dumps(body).encode(), True, None))
        if asyncio.iscoroutine(reply):
            reply = asyncio.run(reply)
        status, _, payload = reply  # type: ignore[misc]
        return status, json.loads(payload)

    return post


@pytest.fixture(scope="module", params=["native", "fastapi"])
def post(request: pytest.FixtureRequest) -> Iterator[Post]:
    if request.param == "native":
        yield _native()
        return
    patch = pytest.MonkeyPatch()
    patch.setattr(baseline_app, "load_packs", lambda names: registry)
    try:
        app = baseline_app.create_app(Settings.from_env())
    finally:
        patch.undo()
    with TestClient(app, base_url="http://127.0.0.1") as client:

        def send(body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
            reply = client.post("/mcp", json=body, headers={"Accept": "application/json, text/event-stream", **headers})
            return reply.status_code, reply.json()

        yield send


def _read(post: Post, uri: str, era: str) -> tuple[int, Any]:
    params: dict[str, Any] = {"uri": uri}
    headers: dict[str, str] = {}
    if era == "stateless":
        params["_meta"] = {META_PROTOCOL_VERSION: STATELESS_VERSION, META_CLIENT_CAPABILITIES: {}}
        headers = {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": "resources/read", "Mcp-Name": uri}
    status, answer = post({"jsonrpc": "2.0", "id": 9, "method": "resources/read", "params": params}, headers)
    assert answer["id"] == 9
    return status, answer


CASES = [  # (kind, handshake-era code, 2026-07-28 code, 2026-07-28 status)
    ("missing", RESOURCE_NOT_FOUND, INVALID_PARAMS, 400),
    ("refused", INVALID_PARAMS, INVALID_PARAMS, 400),
    ("broken", INTERNAL_ERROR, INTERNAL_ERROR, 200),
]


@pytest.mark.parametrize(("kind", "code", "stateless_code", "stateless_status"), CASES)
@pytest.mark.parametrize("when", ["early", "late"])
def test_a_failing_read_answers_the_same_whether_it_fails_at_once_or_after_an_await(
    post: Post, when: str, kind: str, code: int, stateless_code: int, stateless_status: int
) -> None:
    uri = f"test://{when}/{kind}"
    status, answer = _read(post, uri, "handshake")
    assert (status, answer["error"]["code"]) == (200, code), answer
    status, answer = _read(post, uri, "stateless")
    assert (status, answer["error"]["code"]) == (stateless_status, stateless_code), answer
    assert "resultType" not in answer["error"].get("data", {})


def test_a_late_read_that_succeeds_is_a_result_in_both_eras(post: Post) -> None:
    assert _read(post, "test://late/ok", "handshake")[1]["result"]["contents"][0]["text"] == "fine"
    status, answer = _read(post, "test://late/ok", "stateless")
    assert status == 200 and answer["result"]["resultType"] == "complete"
