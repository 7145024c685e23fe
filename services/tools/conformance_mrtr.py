"""The conformance suite's multi-round-trip fixtures (npm `@modelcontextprotocol/conformance`, the
`input-required-result-*` scenarios of MCP 2026-07-28, SEP-2322) and the diagnostic tools of its `server-stateless`
scenario (`test_missing_capability`, `test_streaming_elicitation`, `test_logging_tool`).

Each is written once against `ToolContext.peer` (services/tools/context.py): in the 2026-07-28 era `ask` answers from
the retried request's `inputResponses` (and the answers of earlier rounds the signed `requestState` brings back) or
raises `InputRequired`, which the server answers with an `InputRequiredResult`; in the handshake era the server's
peer puts the questions on the request's SSE stream and `ask` returns the answers. Part of the `conformance` pack,
never served by default.
"""

from __future__ import annotations

import json
from typing import Any

from services.tools.context import CAPABILITY_OF, InputRequest, ToolContext
from services.tools.registry import ToolRegistry, ToolResult

conformance_mrtr = ToolRegistry()

REQUEST_STATE_MARK = "awaiting-confirmation"
"""The round state `test_input_required_result_request_state` passes with its question and expects back."""


def _elicit(message: str, field: str, kind: str = "string") -> InputRequest:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return InputRequest("elicitation/create", {"message": message, "requestedSchema": schema})


def _sample(text: str, max_tokens: int) -> InputRequest:
    return InputRequest(
        "sampling/createMessage",
        {"messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens},
    )


LIST_ROOTS = InputRequest("roots/list", {})


def _accepted(answer: Any, field: str) -> Any:
    """The field of an accepted elicitation, or None when the user declined or cancelled."""
    if isinstance(answer, dict) and answer.get("action") == "accept" and isinstance(answer.get("content"), dict):
        return answer["content"].get(field)
    return None


def _sampled_text(answer: Any) -> str:
    content = answer.get("content") if isinstance(answer, dict) else None
    blocks = content if isinstance(content, list) else [content]
    return " ".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))


def _roots(answer: Any) -> list[str]:
    roots = answer.get("roots") if isinstance(answer, dict) else None
    return [r["uri"] for r in roots or () if isinstance(r, dict) and isinstance(r.get("uri"), str)]


@conformance_mrtr.tool()
async def test_input_required_result_elicitation(ctx: ToolContext) -> ToolResult:
    """Asks the user's name (elicitation, key `user_name`) and greets them (input-required-result-basic-elicitation,
    -missing-input-response, -validate-input, -ignore-extra-params, -result-type)."""
    answers = await ctx.peer.ask({"user_name": _elicit("What is your name?", "name")})
    name = _accepted(answers["user_name"], "name")
    return ToolResult.text(f"Hello, {name}!" if name is not None else "Hello! (the user did not give a name)")


@conformance_mrtr.tool()
async def test_input_required_result_sampling(ctx: ToolContext) -> ToolResult:
    """Asks the client's model a question (sampling, key `capital_question`) and returns its answer
    (input-required-result-basic-sampling)."""
    answers = await ctx.peer.ask({"capital_question": _sample("What is the capital of France?", 100)})
    return ToolResult.text(f"The model answered: {_sampled_text(answers['capital_question'])}")


@conformance_mrtr.tool()
async def test_input_required_result_list_roots(ctx: ToolContext) -> ToolResult:
    """Asks the client's roots (roots/list, key `client_roots`) and names them
    (input-required-result-basic-list-roots)."""
    answers = await ctx.peer.ask({"client_roots": LIST_ROOTS})
    roots = _roots(answers["client_roots"])
    return ToolResult.text(f"The client has {len(roots)} root(s): {', '.join(roots) or 'none'}")


@conformance_mrtr.tool()
async def test_input_required_result_request_state(ctx: ToolContext) -> ToolResult:
    """Asks for a confirmation with a round state of its own and says `state-ok` when the retry brought that state
    back (input-required-result-request-state)."""
    answers = await ctx.peer.ask({"confirm": _elicit("Please confirm", "ok", "boolean")}, REQUEST_STATE_MARK)
    confirmed = _accepted(answers["confirm"], "ok") is True
    if ctx.peer.round_state == REQUEST_STATE_MARK:
        return ToolResult.text(f"state-ok: the round state came back; confirmed={str(confirmed).lower()}")
    return ToolResult.text(f"Answered in one round, no round state; confirmed={str(confirmed).lower()}")


@conformance_mrtr.tool()
async def test_input_required_result_multiple_inputs(ctx: ToolContext) -> ToolResult:
    """Asks three questions at once: a name (elicitation), a greeting (sampling) and the roots
    (input-required-result-multiple-input-requests)."""
    answers = await ctx.peer.ask(
        {
            "user_name": _elicit("What is your name?", "name"),
            "greeting": _sample("Generate a greeting", 50),
            "client_roots": LIST_ROOTS,
        }
    )
    name = _accepted(answers["user_name"], "name")
    greeting = _sampled_text(answers["greeting"])
    return ToolResult.text(f"{greeting} {name} (roots: {', '.join(_roots(answers['client_roots'])) or 'none'})")


@conformance_mrtr.tool()
async def test_input_required_result_multi_round(ctx: ToolContext) -> ToolResult:
    """Asks two questions one after the other, the second only once the first is answered
    (input-required-result-multi-round: three rounds, a new requestState each time)."""
    first = await ctx.peer.ask({"step1": _elicit("Step 1: What is your name?", "name")}, "step1")
    name = _accepted(first["step1"], "name")
    second = await ctx.peer.ask({"step2": _elicit("Step 2: What is your favorite color?", "color")}, "step2")
    color = _accepted(second["step2"], "color")
    return ToolResult.text(f"{name}'s favorite color is {color}.")


@conformance_mrtr.tool()
async def test_input_required_result_tampered_state(ctx: ToolContext) -> ToolResult:
    """Asks for a confirmation; the suite then retries with an altered requestState, which the server must refuse
    before this tool runs again (input-required-result-tampered-state)."""
    answers = await ctx.peer.ask({"confirm": _elicit("Please confirm", "ok", "boolean")}, "tamper-check")
    return ToolResult.text(f"Confirmed: {str(_accepted(answers['confirm'], 'ok') is True).lower()}")


@conformance_mrtr.tool()
async def test_input_required_result_capabilities(ctx: ToolContext) -> ToolResult:
    """Asks a name (elicitation) and a greeting (sampling), each only if the client declared the capability it needs
    (input-required-result-capability-check)."""
    wanted = {"user_name": _elicit("What is your name?", "name"), "greeting": _sample("Generate a greeting", 50)}
    declared = ctx.client_capabilities
    questions = {
        key: request for key, request in wanted.items() if declared is None or CAPABILITY_OF[request.method] in declared
    }
    if not questions:
        return ToolResult.text("The client declared neither elicitation nor sampling: nothing to ask.")
    answers = await ctx.peer.ask(questions)
    return ToolResult.text("Answered: " + json.dumps(sorted(answers)))


@conformance_mrtr.tool()
async def test_missing_capability(ctx: ToolContext) -> ToolResult:
    """Needs the client's model (sampling) whatever the client declared: a client without the sampling capability
    gets the MissingRequiredClientCapability error (server-stateless)."""
    answers = await ctx.peer.ask({"completion": _sample("Say hello", 20)})
    return ToolResult.text(f"The model said: {_sampled_text(answers['completion'])}")


@conformance_mrtr.tool()
async def test_streaming_elicitation(ctx: ToolContext) -> ToolResult:
    """Asks the user's name; in the 2026-07-28 era the question travels in an InputRequiredResult, never as a request
    on the response stream (server-stateless)."""
    answers = await ctx.peer.ask({"user_name": _elicit("What is your name?", "name")})
    return ToolResult.text(f"Hello, {_accepted(answers['user_name'], 'name')}!")


@conformance_mrtr.tool()
async def test_logging_tool(ctx: ToolContext) -> ToolResult:
    """Logs two messages; sent only when the client asked for log messages at that level (server-stateless: none
    without `_meta`'s logLevel)."""
    await ctx.peer.log("info", "test_logging_tool started")
    await ctx.peer.log("info", "test_logging_tool finished")
    return ToolResult.text("Logged two info messages (delivered only at a log level the client set).")


@conformance_mrtr.prompt()
async def test_input_required_result_prompt(ctx: ToolContext) -> str:
    """A prompt that first asks the user what context to use (elicitation, key `user_context`): multi-round trips
    on a request other than tools/call (input-required-result-non-tool-request)."""
    answers = await ctx.peer.ask({"user_context": _elicit("What context should the prompt use?", "context")})
    context = _accepted(answers["user_context"], "context")
    return f"Answer the next question using this context: {context or 'none given'}."
