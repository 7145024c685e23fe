"""The conformance fixture pack: served only when configured, with the content blocks the suite's scenarios check."""

from __future__ import annotations

import base64

import pytest

from services.tools.packs import load_packs
from services.tools.registry import ToolResult


def call(name: str) -> ToolResult:
    tool = load_packs(("conformance",)).get(name)
    assert tool is not None
    result = tool.invoke({}, None)
    assert isinstance(result, ToolResult)
    return result


def test_default_pack_has_no_conformance_fixture() -> None:
    assert load_packs(("reference",)).get("test_simple_text") is None


def test_conformance_pack_adds_its_fixtures_after_the_reference_tools() -> None:
    names = [tool.name for tool in load_packs(("reference", "conformance"))]
    reference = [tool.name for tool in load_packs(("reference",))]
    assert names[: len(reference)] == reference
    assert names[len(reference) : len(reference) + 6] == [
        "test_simple_text",
        "test_image_content",
        "test_audio_content",
        "test_embedded_resource",
        "test_multiple_content_types",
        "test_error_handling",
    ]


def test_unknown_pack_is_refused_with_the_available_names() -> None:
    with pytest.raises(ValueError, match="reference, conformance"):
        load_packs(("everything",))


def test_image_fixture_is_a_decodable_png() -> None:
    (block,) = call("test_image_content").content
    assert block["mimeType"] == "image/png"
    assert base64.b64decode(block["data"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_audio_fixture_is_a_wav() -> None:
    (block,) = call("test_audio_content").content
    assert block["mimeType"] == "audio/wav"
    assert base64.b64decode(block["data"])[8:12] == b"WAVE"


def test_mixed_fixture_has_text_image_and_resource_blocks() -> None:
    assert [b["type"] for b in call("test_multiple_content_types").content] == ["text", "image", "resource"]


def test_error_fixture_is_an_error_result_with_text() -> None:
    result = call("test_error_handling")
    assert result.is_error
    assert result.content[0]["text"]
