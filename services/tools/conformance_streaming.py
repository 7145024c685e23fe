"""The conformance suite's fixtures that talk to the client while they run: progress, logging, sampling and
elicitation (npm `@modelcontextprotocol/conformance`, scenarios tools-call-with-progress, tools-call-with-logging,
tools-call-sampling, tools-call-elicitation, elicitation-sep1034-defaults and elicitation-sep1330-enums).

Each is written once against `ToolContext.peer` (services/tools/context.py), so it serves both servers and both
eras: in the handshake era the server's peer writes the notifications and the questions onto the request's SSE
stream; in the 2026-07-28 era `ask` answers from a retried request's `inputResponses` or raises `InputRequired`.
Part of the `conformance` pack, never served by default.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from services.tools.context import InputRequest, ToolContext, ToolError
from services.tools.registry import ToolRegistry, ToolResult

conformance_streaming = ToolRegistry()

STEP_S = 0.05
"""The pause between two notifications the scenarios describe (~50 ms), so a client sees them arrive one by one."""


@conformance_streaming.tool()
async def test_tool_with_progress(ctx: ToolContext) -> ToolResult:
    """Reports progress 0/100, 50/100 and 100/100, 50 ms apart (conformance scenario tools-call-with-progress)."""
    await ctx.peer.progress(0, 100)
    await asyncio.sleep(STEP_S)
    await ctx.peer.progress(50, 100)
    await asyncio.sleep(STEP_S)
    await ctx.peer.progress(100, 100)
    return ToolResult.text("Progress test completed: reported 0, 50 and 100 of 100.")


@conformance_streaming.tool()
async def test_tool_with_logging(ctx: ToolContext) -> ToolResult:
    """Sends three info log messages, 50 ms apart (conformance scenario tools-call-with-logging)."""
    await ctx.peer.log("info", "Tool execution started")
    await asyncio.sleep(STEP_S)
    await ctx.peer.log("info", "Tool processing data")
    await asyncio.sleep(STEP_S)
    await ctx.peer.log("info", "Tool execution completed")
    return ToolResult.text("Logging test completed: sent three info messages.")


async def _ask_one(ctx: ToolContext, method: str, params: dict[str, Any]) -> dict[str, Any]:
    answers = await ctx.peer.ask({"answer": InputRequest(method, params)})
    answer = answers.get("answer")
    if not isinstance(answer, dict):
        raise ToolError(f"The client's answer to {method} is not an object.")
    return answer


@conformance_streaming.tool()
async def test_sampling(prompt: str, ctx: ToolContext) -> ToolResult:
    """Asks the client's model to complete a prompt (sampling/createMessage; conformance scenario
    tools-call-sampling).

    Args:
        prompt: The prompt to send to the client's model.
    """
    result = await _ask_one(
        ctx,
        "sampling/createMessage",
        {"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": 100},
    )
    content = result.get("content")
    blocks = content if isinstance(content, list) else [content]
    text = " ".join(block["text"] for block in blocks if isinstance(block, dict) and isinstance(block.get("text"), str))
    return ToolResult.text(f"LLM response: {text}")


def _elicited(prefix: str, result: dict[str, Any]) -> ToolResult:
    content = json.dumps(result.get("content"), separators=(",", ":"))
    return ToolResult.text(f"{prefix}: action={result.get('action')}, content={content}")


@conformance_streaming.tool()
async def test_elicitation(message: str, ctx: ToolContext) -> ToolResult:
    """Asks the user for a username and an email (elicitation/create; conformance scenario tools-call-elicitation).

    Args:
        message: The message to show the user.
    """
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    result = await _ask_one(ctx, "elicitation/create", {"message": message, "requestedSchema": schema})
    return _elicited("User response", result)


@conformance_streaming.tool()
async def test_elicitation_sep1034_defaults(ctx: ToolContext) -> ToolResult:
    """Asks the user for a form whose every primitive field has a default (conformance scenario
    elicitation-sep1034-defaults)."""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    }
    result = await _ask_one(
        ctx, "elicitation/create", {"message": "Please review and update the form fields", "requestedSchema": schema}
    )
    return _elicited("Elicitation completed", result)


@conformance_streaming.tool()
async def test_elicitation_sep1330_enums(ctx: ToolContext) -> ToolResult:
    """Asks the user for a form with the five enum shapes: untitled and titled single-select, the legacy
    `enumNames`, untitled and titled multi-select (conformance scenario elicitation-sep1330-enums)."""
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Untitled single-select",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string",
                "description": "Titled single-select",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "description": "Legacy titled enum",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "description": "Untitled multi-select",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "description": "Titled multi-select",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]
                },
            },
        },
        "required": [],
    }
    result = await _ask_one(
        ctx, "elicitation/create", {"message": "Please choose from the enum fields", "requestedSchema": schema}
    )
    return _elicited("Elicitation completed", result)


@conformance_streaming.resource("test://watched-resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource clients subscribe to (conformance scenarios resources-subscribe and resources-unsubscribe): in
    stateful mode `resources/subscribe` records the session, and `notifications/resources/updated` for this URI
    reaches the session's GET stream when the server's session store announces a change."""
    return "This resource is watched for updates."
