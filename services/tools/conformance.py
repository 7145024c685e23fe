"""The conformance fixture pack: the tools the official MCP conformance suite (npm `@modelcontextprotocol/conformance`)
calls by name, with the results its scenarios describe.

Never served by default: `MCP_TOOL_PACKS=reference,conformance` adds it, the way the SDKs ship an "everything" server
for the suite. Only the tools whose behaviour fits a stateless JSON response live here; the fixtures that need
streaming (progress, logging), server-to-client requests (sampling, elicitation), resources or prompts arrive with
those features.
"""

from __future__ import annotations

import base64
import io
import struct
import wave
import zlib

from services.tools.context import ToolError
from services.tools.registry import ToolRegistry, ToolResult

conformance = ToolRegistry()


def _png_1x1_red() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte 0, then one red pixel
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def _wav_silence() -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(b"\x80" * 8)  # 1 ms of 8-bit silence
    return base64.b64encode(buffer.getvalue()).decode()


PNG_BASE64 = _png_1x1_red()
WAV_BASE64 = _wav_silence()


@conformance.tool()
def test_simple_text() -> ToolResult:
    """Returns one text block (conformance scenario tools-call-simple-text)."""
    return ToolResult.text("This is a simple text response for testing.")


@conformance.tool()
def test_image_content() -> ToolResult:
    """Returns one image block, a 1x1 red PNG (conformance scenario tools-call-image)."""
    return ToolResult(({"type": "image", "data": PNG_BASE64, "mimeType": "image/png"},))


@conformance.tool()
def test_audio_content() -> ToolResult:
    """Returns one audio block, a short WAV (conformance scenario tools-call-audio)."""
    return ToolResult(({"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"},))


@conformance.tool()
def test_embedded_resource() -> ToolResult:
    """Returns one embedded text resource (conformance scenario tools-call-embedded-resource)."""
    resource = {
        "uri": "test://embedded-resource",
        "mimeType": "text/plain",
        "text": "This is an embedded resource content.",
    }
    return ToolResult(({"type": "resource", "resource": resource},))


@conformance.tool()
def test_multiple_content_types() -> ToolResult:
    """Returns a text, an image and a resource block (conformance scenario tools-call-mixed-content)."""
    resource = {
        "uri": "test://mixed-content-resource",
        "mimeType": "application/json",
        "text": '{"test":"data","value":123}',
    }
    return ToolResult(
        (
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"},
            {"type": "resource", "resource": resource},
        )
    )


@conformance.tool()
def test_error_handling() -> str:
    """Always fails with a business-rule error, answered as an isError result (scenario tools-call-error)."""
    raise ToolError("This tool intentionally returns an error for testing")
