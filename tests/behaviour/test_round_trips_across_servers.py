"""Multi-round-trip requests (MCP 2026-07-28, InputRequiredResult) across server processes, with the official Python
client (`mcp` 2.3.0, mode "2026-07-28"): the servers share one MCP_REQUEST_STATE_KEYS key, so a round answered by
one process is retried on another (two native servers, two FastAPI baselines, native then baseline) and accepted;
a tampered state and a state signed with another key are refused with -32602.

Each retry goes to another process than the round before it, as behind a load balancer; the client drives the
rounds itself (`session.call_tool(..., allow_input_required=True)`), and also drives them on its own with its
elicitation, sampling and roots callbacks (`Client.call_tool`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, MCPError

from services.protocol import INVALID_PARAMS, MISSING_CLIENT_CAPABILITY
from services.request_state import RequestStateSigner, new_key, parse_keys
from tests.support import ServerProcess, server_process

SHARED_KEY = new_key()
FOREIGN_KEY = new_key()
MULTI_ROUND = "test_input_required_result_multi_round"


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Four servers sharing a key: native a/b, fastapi a/b (started side by side)."""
    tmp: Path = tmp_path_factory.mktemp("round-trips")
    env = {"MCP_TOOL_PACKS": "reference,conformance", "MCP_REQUEST_STATE_KEYS": SHARED_KEY}
    servers = {
        f"{kind}-{n}": server_process(kind, tmp, database_url=None, env=env)
        for kind in ("native", "fastapi")
        for n in ("a", "b")
    }
    with ExitStack() as stack, ThreadPoolExecutor(len(servers)) as pool:
        starting = {name: pool.submit(server.__enter__) for name, server in servers.items()}
        started: dict[str, ServerProcess] = {}
        for name, future in starting.items():
            if future.exception() is None:
                started[name] = future.result()
                stack.push(servers[name].__exit__)  # stopped (SIGTERM) when the module's tests are done
        for future in starting.values():
            future.result()  # the first failure to start, raised once every started server will be stopped
        yield {name: server.url for name, server in started.items()}


async def _unused_elicitation(context: Any, params: Any) -> types.ElicitResult:
    raise AssertionError("the test answers the questions itself")


async def _round(url: str, responses: dict[str, Any] | None, state: str | None) -> Any:
    """One round on `url`, driven by hand: the result (an InputRequiredResult or the tool's), or the MCPError (caught
    inside the client's context, where it is raised). The elicitation callback only declares the capability."""
    async with Client(url, mode="2026-07-28", elicitation_callback=_unused_elicitation) as client:
        try:
            return await client.session.call_tool(
                MULTI_ROUND, {}, input_responses=responses, request_state=state, allow_input_required=True
            )
        except MCPError as ex:
            return ex


def _elicited(**content: Any) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content=content)


async def _three_rounds(first: str, second: str, third: str) -> str:
    one = await _round(first, None, None)
    assert isinstance(one, types.InputRequiredResult), one
    assert list(one.input_requests or {}) == ["step1"]
    two = await _round(second, {"step1": _elicited(name="Alice")}, one.request_state)
    assert isinstance(two, types.InputRequiredResult), two
    assert list(two.input_requests or {}) == ["step2"]
    three = await _round(third, {"step2": _elicited(color="blue")}, two.request_state)
    assert isinstance(three, types.CallToolResult), three
    block = three.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


@pytest.mark.parametrize(
    "path",
    [
        ("native-a", "native-b", "native-a"),
        ("fastapi-a", "fastapi-b", "fastapi-a"),
        ("native-a", "fastapi-b", "native-b"),
    ],
    ids=["native-native", "fastapi-fastapi", "native-fastapi-native"],
)
def test_each_round_on_another_process_with_the_shared_key_completes(
    urls: dict[str, str], path: tuple[str, str, str]
) -> None:
    text = asyncio.run(_three_rounds(*(urls[name] for name in path)))
    assert text == "Alice's favorite color is blue."


async def _refusal(url: str, state: str | None) -> MCPError:
    refused = await _round(url, {"step1": _elicited(name="Alice")}, state)
    assert isinstance(refused, MCPError), refused
    return refused


@pytest.mark.parametrize(("issuer", "retry"), [("native-a", "native-b"), ("fastapi-a", "fastapi-b")])
def test_a_tampered_state_is_refused_on_the_other_process(urls: dict[str, str], issuer: str, retry: str) -> None:
    one = asyncio.run(_round(urls[issuer], None, None))
    assert isinstance(one, types.InputRequiredResult) and one.request_state
    refused = asyncio.run(_refusal(urls[retry], one.request_state + "-TAMPERED"))
    assert refused.code == INVALID_PARAMS
    assert refused.error.data == {"reason": "signature"}
    assert "integrity" in refused.error.message


@pytest.mark.parametrize("retry", ["native-a", "fastapi-b"])
def test_a_state_signed_with_another_key_is_refused(urls: dict[str, str], retry: str) -> None:
    """The state another deployment would issue for this very request (same tool, same arguments), under its key."""
    foreign = RequestStateSigner(parse_keys(FOREIGN_KEY)).sign(
        method="tools/call", target=MULTI_ROUND, arguments={}, state="step1", answers={}
    )
    refused = asyncio.run(_refusal(urls[retry], foreign))
    assert refused.code == INVALID_PARAMS
    assert refused.error.data == {"reason": "unknown_key"}


async def _driven(url: str) -> str:
    """The official client answering every question with its own callbacks and retrying by itself."""

    async def elicit(context: Any, params: Any) -> types.ElicitResult:
        return _elicited(name="Bob")

    async def sample(context: Any, params: Any) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="Good morning"), model="test-model"
        )

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///srv/app", name="app")])

    async with Client(
        url, mode="2026-07-28", elicitation_callback=elicit, sampling_callback=sample, list_roots_callback=roots
    ) as client:
        result = await client.call_tool("test_input_required_result_multiple_inputs", {})
        block = result.content[0]
        assert isinstance(block, types.TextContent)
        return block.text


@pytest.mark.parametrize("server", ["native-a", "fastapi-a"])
def test_the_official_client_answers_the_questions_and_retries_on_its_own(urls: dict[str, str], server: str) -> None:
    assert asyncio.run(_driven(urls[server])) == "Good morning Bob (roots: file:///srv/app)"


async def _missing_capability(url: str) -> MCPError:
    async with Client(url, mode="2026-07-28") as client:  # no callbacks: no sampling capability declared
        try:
            result = await client.call_tool("test_missing_capability", {})
        except MCPError as ex:
            return ex
    raise AssertionError(f"the call completed without the sampling capability: {result}")


@pytest.mark.parametrize("server", ["native-b", "fastapi-b"])
def test_a_question_the_client_cannot_answer_is_missing_client_capability(urls: dict[str, str], server: str) -> None:
    refused = asyncio.run(_missing_capability(urls[server]))
    assert refused.code == MISSING_CLIENT_CAPABILITY
    assert refused.error.data == {"requiredCapabilities": {"sampling": {}}}


async def _prompt(url: str) -> str:
    async def elicit(context: Any, params: Any) -> types.ElicitResult:
        return _elicited(context="billing")

    async with Client(url, mode="2026-07-28", elicitation_callback=elicit) as client:
        result = await client.get_prompt("test_input_required_result_prompt")
        block = result.messages[0].content
        assert isinstance(block, types.TextContent)
        return block.text


@pytest.mark.parametrize("server", ["native-b", "fastapi-a"])
def test_a_prompt_asks_the_client_before_it_renders(urls: dict[str, str], server: str) -> None:
    assert asyncio.run(_prompt(urls[server])) == "Answer the next question using this context: billing."
