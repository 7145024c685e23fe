"""The conformance fixture pack: the tools the official MCP conformance suite (npm `@modelcontextprotocol/conformance`)
calls by name (tools, resources, a resource template, prompts and their completion), with the results its scenarios
describe.

Never served by default: `MCP_TOOL_PACKS=reference,conformance` adds it, the way the SDKs ship an "everything" server
for the suite. Only the fixtures whose behaviour fits a stateless JSON response live here; the ones that need
streaming (progress, logging) or server-to-client requests (sampling, elicitation) arrive with those features, and
`test://watched-resource` with resource subscriptions (which need a stream to deliver their updates).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import wave
import zlib
from typing import Any

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


# -- resources (scenarios resources-list, resources-read-text, resources-read-binary, resources-templates-read) ------


@conformance.resource("test://static-text", mime_type="text/plain")
def static_text() -> str:
    """A static text resource (conformance scenario resources-read-text)."""
    return "This is the content of the static text resource."


@conformance.resource("test://static-binary", mime_type="image/png")
def static_binary() -> bytes:
    """A static binary resource, a 1x1 red PNG (conformance scenario resources-read-binary)."""
    return base64.b64decode(PNG_BASE64)


@conformance.resource(
    "test://template/{id}/data", mime_type="application/json", complete={"id": ["1", "2", "3", "123"]}
)
def template_data(id: str) -> str:
    """Data for one id, from a URI template (conformance scenario resources-templates-read)."""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))


# -- prompts (scenarios prompts-list, prompts-get-*, completion-complete) --------------------------------------------


@conformance.prompt()
def test_simple_prompt() -> str:
    """A prompt without arguments (conformance scenario prompts-get-simple)."""
    return "This is a simple prompt for testing."


@conformance.prompt(complete={"arg1": ["paris", "park", "party", "test", "testing"]})
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with two arguments (conformance scenarios prompts-get-with-args and completion-complete).

    Args:
        arg1: First test argument.
        arg2: Second test argument.
    """
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@conformance.prompt()
def test_prompt_with_embedded_resource(resourceUri: str) -> list[dict[str, Any]]:
    """A prompt embedding a resource (conformance scenario prompts-get-embedded-resource).

    Args:
        resourceUri: URI of the resource to embed.
    """
    resource = {"uri": resourceUri, "mimeType": "text/plain", "text": "Embedded resource content for testing."}
    return [
        {"role": "user", "content": {"type": "resource", "resource": resource}},
        {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}},
    ]


@conformance.prompt()
def test_prompt_with_image() -> list[dict[str, Any]]:
    """A prompt with an image (conformance scenario prompts-get-with-image)."""
    return [
        {"role": "user", "content": {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}},
        {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}},
    ]


# -- hand-written input schemas (scenarios json-schema-2020-12 and http-custom-header-server-validation) -------------

JSON_SCHEMA_2020_12_INPUT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@conformance.tool(description="Tool with JSON Schema 2020-12 features", input_schema=JSON_SCHEMA_2020_12_INPUT)
def json_schema_2020_12_tool(
    name: str | None = None,
    address: dict[str, Any] | None = None,
    contactMethod: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> str:
    """A contact whose inputSchema uses $defs/$ref/$anchor, allOf/anyOf and if/then/else (scenario
    json-schema-2020-12); the arguments reach it only once they satisfy that schema."""
    how = f"phone {phone}" if contactMethod == "phone" else f"email {email}" if email else f"phone {phone}"
    return f"Contact {name or '(unnamed)'} by {how}"


HEADER_PARAMS_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "region": {
            "type": "string",
            "description": "Where to run; mirrored as Mcp-Param-Region.",
            "x-mcp-header": "Region",
        },
        "priority": {"type": "integer", "description": "Mirrored as Mcp-Param-Priority.", "x-mcp-header": "Priority"},
        "dry_run": {"type": "boolean", "description": "Mirrored as Mcp-Param-Dry-Run.", "x-mcp-header": "Dry-Run"},
        "query": {"type": "string", "description": "Not mirrored."},
    },
    "required": ["region"],
    "additionalProperties": False,
}


@conformance.tool(input_schema=HEADER_PARAMS_INPUT)
def test_header_params(
    region: str, priority: int | None = None, dry_run: bool | None = None, query: str | None = None
) -> str:
    """Echoes its arguments; region, priority and dry_run are mirrored into Mcp-Param-* headers (x-mcp-header), which a
    2026-07-28 server checks against them (scenario http-custom-header-server-validation)."""
    return f"region={region} priority={priority} dry_run={dry_run} query={query}"
