"""services/ratelimit.py and the native guard in process, on a fake clock (no sleeps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.auth import AuthSettings
from services.mcp_server.guard import Guard, build_guard
from services.mcp_server.wire import HttpRequest
from services.ratelimit import (
    RATE_LIMITED,
    RateLimitConfigError,
    RateLimiter,
    RateLimitSettings,
    client_address,
    refusal_body,
    retry_after_s,
)
from tests.auth.tokens import ISSUER, SCOPE, Issuer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_settings_absent_or_zero_are_off() -> None:
    assert not RateLimitSettings.from_env({}).enabled
    assert not RateLimitSettings.from_env({"MCP_RATE_LIMIT_PER_S": "0", "MCP_RATE_LIMIT_BURST": "5"}).enabled


def test_settings_burst_defaults_to_one_second_of_calls() -> None:
    assert RateLimitSettings.from_env({"MCP_RATE_LIMIT_PER_S": "2.5"}).burst == 3
    assert RateLimitSettings.from_env({"MCP_RATE_LIMIT_PER_S": "0.2"}).burst == 1


@pytest.mark.parametrize(
    "env",
    [
        {"MCP_RATE_LIMIT_PER_S": "fast"},
        {"MCP_RATE_LIMIT_PER_S": "-1"},
        {"MCP_RATE_LIMIT_PER_S": "inf"},
        {"MCP_RATE_LIMIT_PER_S": "1", "MCP_RATE_LIMIT_BURST": "1.5"},
        {"MCP_RATE_LIMIT_PER_S": "1", "MCP_RATE_LIMIT_BURST": "-2"},
        {"MCP_RATE_LIMIT_PER_S": "1", "MCP_RATE_LIMIT_TRUST_FORWARDED_FOR": "maybe"},
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(env: dict[str, str]) -> None:
    with pytest.raises(RateLimitConfigError) as raised:
        RateLimitSettings.from_env(env)
    assert str(raised.value).startswith("MCP_RATE_LIMIT_")


def test_bucket_admits_the_burst_then_refuses_until_a_token_is_back() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitSettings(per_s=2.0, burst=3), clock=clock)
    assert [limiter.take("alice") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait_s = limiter.take("alice")
    assert wait_s == pytest.approx(0.5)
    assert retry_after_s(wait_s) == 1
    clock.now += 0.5
    assert limiter.take("alice") == 0.0  # recovered: one token back after 1 / per_s
    assert limiter.take("alice") > 0
    clock.now += 10
    assert [limiter.take("alice") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refilled up to the burst, not beyond


def test_bucket_per_client_is_independent() -> None:
    limiter = RateLimiter(RateLimitSettings(per_s=1.0, burst=1), clock=Clock())
    assert limiter.take("alice") == 0.0
    assert limiter.take("alice") > 0
    assert limiter.take("bob") == 0.0


def test_bucket_forgets_refilled_clients_when_full() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitSettings(per_s=1.0, burst=1), clock=clock, max_clients=2)
    limiter.take("a")
    limiter.take("b")
    assert limiter.take("b") > 0
    clock.now += 0.5
    limiter.take("c")  # full: nobody has refilled yet, the older half ("a") goes
    assert limiter.take("b") > 0  # b kept its empty bucket: forgetting never hands out extra calls to a busy client


def test_client_address_uses_forwarded_for_only_when_trusted() -> None:
    assert client_address("10.0.0.5", "203.0.113.9", trust_forwarded_for=False) == "10.0.0.5"
    # The entry the nearest proxy appended; a client can write anything to the left of it.
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.9", trust_forwarded_for=True) == "203.0.113.9"
    assert client_address("10.0.0.5", None, trust_forwarded_for=True) == "10.0.0.5"
    assert client_address(None, None, trust_forwarded_for=False) == "unknown"


def test_refusal_body_is_a_json_rpc_error_with_null_id() -> None:
    body = json.loads(refusal_body())
    assert body["id"] is None
    assert body["error"]["code"] == RATE_LIMITED


# -- the native guard ------------------------------------------------------------------------------------------------


class FakeTransport:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str) -> Any:
        assert name == "peername"
        return (self.peer, 50000)


def _call(peer: str = "192.0.2.1", method: str = "tools/call", **headers: str) -> HttpRequest:
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"name": "echo", "arguments": {}}})
    encoded = {k.lower().replace("_", "-").encode(): v.encode() for k, v in headers.items()}
    return HttpRequest(b"POST", b"/mcp", encoded, body, True, FakeTransport(peer))


def _limited_guard(clock: Clock, **settings: Any) -> Guard:
    guard = build_guard(None, RateLimitSettings(per_s=1.0, burst=2, **settings))
    assert guard is not None and guard._limiter is not None
    guard._limiter._clock = clock  # the fake clock
    return guard


def test_guard_is_not_built_when_nothing_is_configured() -> None:
    assert build_guard(None, RateLimitSettings()) is None


def test_guard_limits_tool_calls_per_peer_and_answers_429_with_retry_after() -> None:
    clock = Clock()
    guard = _limited_guard(clock)
    assert guard(_call()) is None
    assert guard(_call()) is None
    refused = guard(_call())
    assert refused is not None
    status, headers, body = refused
    assert status == 429
    assert b"retry-after: 1\r\n" in headers
    assert json.loads(body)["error"]["code"] == RATE_LIMITED
    assert guard(_call(peer="192.0.2.2")) is None  # another client
    assert guard(_call(method="tools/list")) is None  # only tool calls count
    clock.now += 1.0
    assert guard(_call()) is None  # recovered


def test_guard_keys_on_the_forwarded_address_only_when_trusted() -> None:
    clock = Clock()
    untrusted = _limited_guard(clock)
    trusted = _limited_guard(clock, trust_forwarded_for=True)
    for guard, expect_refusal in ((untrusted, True), (trusted, False)):
        # Two clients behind one load balancer (one peer address), each with its own X-Forwarded-For.
        outcomes = [guard(_call(peer="10.0.0.1", x_forwarded_for=f"198.51.100.{i % 3}")) for i in range(3)]
        assert (outcomes[-1] is not None) == expect_refusal


def test_guard_with_auth_serves_the_metadata_and_keys_the_limit_on_the_subject(tmp_path: Path) -> None:
    issuer = Issuer()
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    settings = AuthSettings(
        issuer=ISSUER,
        audience="http://127.0.0.1:9/mcp",
        resource_url="http://127.0.0.1:9/mcp",
        required_scopes=(SCOPE,),
        jwks_file=str(jwks),
    )
    guard = build_guard(settings, RateLimitSettings(per_s=0.001, burst=1))
    assert guard is not None
    status, _, metadata = guard.routes[b"/.well-known/oauth-protected-resource/mcp"]
    assert status == 200
    assert json.loads(metadata)["resource"] == "http://127.0.0.1:9/mcp"
    assert b"/.well-known/oauth-protected-resource" in guard.routes
    refused = guard(_call())
    assert refused is not None and refused[0] == 401
    assert b'www-authenticate: Bearer resource_metadata="http://127.0.0.1:9/.well-known/' in refused[1]
    alice = "Bearer " + issuer.token("http://127.0.0.1:9/mcp", subject="alice")
    bob = "Bearer " + issuer.token("http://127.0.0.1:9/mcp", subject="bob")
    assert guard(_call(authorization=alice)) is None
    limited = guard(_call(peer="192.0.2.99", authorization=alice))  # same subject from another address
    assert limited is not None and limited[0] == 429
    assert guard(_call(authorization=bob)) is None  # same address, another subject
