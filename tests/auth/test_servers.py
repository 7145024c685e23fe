"""Both servers with authentication and the tool-call rate limit switched on, as processes on 127.0.0.1: the answers
on the wire (401, 403, 429, the metadata) and the official Python client with a bearer token."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from services.auth import AUTH_ERROR
from services.ratelimit import RATE_LIMITED
from tests.auth.tokens import SCOPE, Issuer
from tests.support import HttpReply, ServerProcess, build_request, raw_request, rpc, server_process

# The public URL of the endpoint, as behind a load balancer: not the address the test connects to.
RESOURCE = "https://mcp.example.test/mcp"
METADATA_URL = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
BURST = 4
PER_S = 0.01  # one call back every 100 s: no refill within a test


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module", params=["native", "fastapi"])
def guarded(
    request: pytest.FixtureRequest, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp(f"auth-{request.param}")
    jwks = issuer.write_jwks(Path(tmp) / "jwks.json")
    env = {
        "MCP_AUTH_ISSUER": "https://issuer.example.test",
        "MCP_AUTH_RESOURCE_URL": RESOURCE,
        "MCP_AUTH_JWKS_FILE": str(jwks),
        "MCP_AUTH_REQUIRED_SCOPES": SCOPE,
        "MCP_RATE_LIMIT_PER_S": str(PER_S),
        "MCP_RATE_LIMIT_BURST": str(BURST),
    }
    with server_process(request.param, tmp, database_url=None, env=env) as server:
        yield server


def _error_code(reply: HttpReply) -> int:
    body = json.loads(reply.body)
    assert body["id"] is None
    code: int = body["error"]["code"]
    return code


def _list(server: ServerProcess, token: str | None) -> HttpReply:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    return rpc(server.port, "tools/list", {}, headers=headers)


def _echo(server: ServerProcess, token: str) -> HttpReply:
    params = {"name": "echo", "arguments": {"message": "hi"}}
    return rpc(server.port, "tools/call", params, headers={"Authorization": f"Bearer {token}"})


def test_metadata_is_served_at_both_well_known_paths(guarded: ServerProcess) -> None:
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        reply = raw_request(guarded.port, build_request(method="GET", path=path))
        assert reply.status == 200, path
        assert json.loads(reply.body) == {
            "resource": RESOURCE,
            "authorization_servers": ["https://issuer.example.test"],
            "scopes_supported": [SCOPE],
            "bearer_methods_supported": ["header"],
        }


def test_missing_token_gets_401_with_the_metadata_url(guarded: ServerProcess) -> None:
    reply = _list(guarded, None)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == f'Bearer resource_metadata="{METADATA_URL}", scope="{SCOPE}"'
    assert _error_code(reply) == AUTH_ERROR


@pytest.mark.parametrize("flaw", ["bad signature", "wrong audience", "expired", "garbage"])
def test_invalid_token_gets_401_invalid_token(guarded: ServerProcess, issuer: Issuer, flaw: str) -> None:
    token = {
        "bad signature": lambda: issuer.token(RESOURCE, key=issuer.stranger),
        "wrong audience": lambda: issuer.token("https://other.example.test/mcp"),
        "expired": lambda: issuer.token(RESOURCE, lifetime_s=-120),
        "garbage": lambda: "abc.def.ghi",
    }[flaw]()
    reply = _list(guarded, token)
    assert reply.status == 401
    challenge = reply.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", ')
    assert f'resource_metadata="{METADATA_URL}"' in challenge
    assert _error_code(reply) == AUTH_ERROR


def test_token_without_the_scope_gets_403_insufficient_scope(guarded: ServerProcess, issuer: Issuer) -> None:
    reply = _list(guarded, issuer.token(RESOURCE, scope="mcp:read"))
    assert reply.status == 403
    assert reply.headers["www-authenticate"].startswith(f'Bearer error="insufficient_scope", scope="{SCOPE}", ')
    assert _error_code(reply) == AUTH_ERROR


def test_good_token_lists_tools(guarded: ServerProcess, issuer: Issuer) -> None:
    reply = _list(guarded, issuer.token(RESOURCE, subject=f"list-{uuid.uuid4()}"))
    assert reply.status == 200
    assert any(tool["name"] == "echo" for tool in json.loads(reply.body)["result"]["tools"])


def test_origin_refusal_comes_before_authentication(guarded: ServerProcess) -> None:
    reply = rpc(guarded.port, "tools/list", {}, headers={"Origin": "https://evil.example.test"})
    assert reply.status == 403
    assert "www-authenticate" not in reply.headers


def test_health_needs_no_token(guarded: ServerProcess) -> None:
    assert raw_request(guarded.port, build_request(method="GET", path="/health")).status == 200


def test_tool_calls_over_the_burst_get_429_with_retry_after(guarded: ServerProcess, issuer: Issuer) -> None:
    token = issuer.token(RESOURCE, subject=f"busy-{uuid.uuid4()}")
    statuses = [_echo(guarded, token).status for _ in range(BURST)]
    assert statuses == [200] * BURST
    refused = _echo(guarded, token)
    assert refused.status == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 1 / PER_S
    assert _error_code(refused) == RATE_LIMITED
    assert _list(guarded, token).status == 200  # only tool calls are limited
    other = issuer.token(RESOURCE, subject=f"calm-{uuid.uuid4()}")
    assert _echo(guarded, other).status == 200  # another client has its own bucket


async def _client_calls_echo(url: str, token: str, mode: str) -> tuple[list[str], str]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
        tools = [tool.name for tool in (await client.list_tools()).tools]
        result = await client.call_tool("echo", {"message": "with a token"})
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return tools, str(result.structured_content["message"])


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_official_client_with_a_token_lists_and_calls_tools(guarded: ServerProcess, issuer: Issuer, mode: str) -> None:
    token = issuer.token(RESOURCE, subject=f"client-{uuid.uuid4()}")
    tools, message = asyncio.run(_client_calls_echo(guarded.url, token, mode))
    assert "echo" in tools
    assert message == "with a token"
