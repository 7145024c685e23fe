"""The streaming conformance fixtures, run against a recording peer: what each tells the client and asks it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from services.tools.context import NO_DATABASE, InputRequest, ToolContext
from services.tools.packs import load_packs
from services.tools.registry import ToolResult


class RecordingPeer:
    """A peer that records what a tool sends and answers every question with a canned result."""

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []
        self.answer = answer or {}

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.sent.append(("progress", (progress, total)))

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        self.sent.append(("log", (level, data)))

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        self.sent.extend(("ask", (request.method, dict(request.params))) for request in requests.values())
        return {name: self.answer for name in requests}

    @property
    def round_state(self) -> str | None:
        return None


def run(name: str, peer: Any, **arguments: Any) -> ToolResult:
    tool = load_packs(("conformance",)).get(name)
    assert tool is not None
    reply = tool.invoke(arguments, ToolContext(NO_DATABASE, 1, peer))

    async def wait() -> Any:
        return await reply  # type: ignore[misc]

    result = asyncio.run(wait())
    assert isinstance(result, ToolResult)
    return result


def test_progress_fixture_reports_increasing_progress_of_100() -> None:
    peer = RecordingPeer()
    result = run("test_tool_with_progress", peer)
    assert peer.sent == [("progress", (0, 100)), ("progress", (50, 100)), ("progress", (100, 100))]
    assert not result.is_error


def test_logging_fixture_sends_three_info_messages() -> None:
    peer = RecordingPeer()
    run("test_tool_with_logging", peer)
    assert [kind for kind, _ in peer.sent] == ["log"] * 3
    assert [args[0] for _, args in peer.sent] == ["info"] * 3


def test_sampling_fixture_asks_for_a_message_and_quotes_the_answer() -> None:
    peer = RecordingPeer({"role": "assistant", "content": {"type": "text", "text": "hi there"}, "model": "m"})
    result = run("test_sampling", peer, prompt="Say hi")
    ((kind, (method, params)),) = peer.sent
    assert (kind, method) == ("ask", "sampling/createMessage")
    assert params["messages"][0]["content"] == {"type": "text", "text": "Say hi"}
    assert result.content[0]["text"] == "LLM response: hi there"


def test_elicitation_fixture_shows_the_message_and_reports_the_action() -> None:
    peer = RecordingPeer({"action": "accept", "content": {"username": "u", "email": "e@example.com"}})
    result = run("test_elicitation", peer, message="Who are you?")
    ((_, (method, params)),) = peer.sent
    assert method == "elicitation/create"
    assert params["message"] == "Who are you?"
    assert params["requestedSchema"]["required"] == ["username", "email"]
    assert result.content[0]["text"].startswith("User response: action=accept, content=")


def test_sep1034_fixture_gives_every_field_a_default() -> None:
    peer = RecordingPeer({"action": "decline"})
    run("test_elicitation_sep1034_defaults", peer)
    properties = peer.sent[0][1][1]["requestedSchema"]["properties"]
    assert {name: field["default"] for name, field in properties.items()} == {
        "name": "John Doe",
        "age": 30,
        "score": 95.5,
        "status": "active",
        "verified": True,
    }


def test_sep1330_fixture_asks_the_five_enum_shapes() -> None:
    peer = RecordingPeer({"action": "cancel"})
    run("test_elicitation_sep1330_enums", peer)
    properties = peer.sent[0][1][1]["requestedSchema"]["properties"]
    assert "oneOf" in properties["titledSingle"] and "enumNames" in properties["legacyEnum"]
    assert "anyOf" in properties["titledMulti"]["items"] and "enum" in properties["untitledMulti"]["items"]


def test_sampling_fixture_without_a_peer_is_an_error_result_naming_the_method() -> None:
    tool = load_packs(("conformance",)).get("test_sampling")
    assert tool is not None

    async def call() -> Any:
        return await tool.invoke({"prompt": "x"}, ToolContext(NO_DATABASE, 1))  # type: ignore[misc]

    result = asyncio.run(call())
    assert result.is_error
    assert "sampling/createMessage" in result.content[0]["text"]
