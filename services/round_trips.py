"""Multi-round-trip requests (MCP 2026-07-28, SEP-2322) for both servers: the era's `Peer`, and the
`InputRequiredResult` a request gets when its tool needs input from the client.

A tool asks its questions through `ToolContext.peer.ask` (services/tools/context.py), written once for both eras. In
this era nothing goes back to the client while the request runs: `ask` answers from the `inputResponses` a retried
request carries (and from the answers of earlier rounds, which the signed `requestState` brings back), or raises
`InputRequired` with the questions still open; the server turns that into
`{"resultType": "input_required", "inputRequests": {...}, "requestState": "..."}` and the client retries the same
request with the answers and the state, on whichever worker, instance or slot it reaches (services/request_state.py
signs the state with the key they share).

Refusals are JSON-RPC errors (`Rejection`), which each server answers in its own way: a state that fails its check
(INVALID_PARAMS), a question for a capability the client did not declare in `_meta` (MISSING_CLIENT_CAPABILITY, with
`data.requiredCapabilities`), an answer that does not fit its question, `inputResponses` that is not an object.
Answers under keys nobody asked are ignored; a question without an answer is asked again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from services.protocol import INVALID_PARAMS, META_CLIENT_CAPABILITIES, MISSING_CLIENT_CAPABILITY, Rejection
from services.request_state import InvalidRequestState, RequestStateSigner
from services.tools.context import (
    CAPABILITY_OF,
    NO_PEER,
    InputRequest,
    InputRequired,
    LogLevel,
    Peer,
    RequestRefused,
    ToolError,
)

log = logging.getLogger("mcpstack.round_trips")

INPUT_RESPONSES = "inputResponses"
REQUEST_STATE = "requestState"
INPUT_REQUIRED = "input_required"
# The methods whose results may be an InputRequiredResult (the spec's list, less tasks/result: no tasks here).
ROUND_TRIP_METHODS = frozenset(("tools/call", "prompts/get", "resources/read"))
_ELICIT_ACTIONS = frozenset(("accept", "decline", "cancel"))
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "array": list,
    "object": dict,
}


class RoundTripRefused(Exception):
    """The request cannot go on: `rejection` is the JSON-RPC error to answer with."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


class RoundTripPeer:
    """The 2026-07-28 era's `Peer` of one request. Notifications go to `inner` (the server's stream for this request,
    if it has one; else they are dropped); questions are answered from the request itself or raise `InputRequired`."""

    __slots__ = ("_answers", "_capabilities", "_inner", "_responses", "_round_state")

    def __init__(
        self,
        *,
        capabilities: Mapping[str, Any],
        responses: Mapping[str, Any],
        earlier: Mapping[str, Any],
        round_state: str | None,
        inner: Peer = NO_PEER,
    ) -> None:
        self._capabilities = capabilities
        self._responses = responses
        self._answers = dict(earlier)
        self._round_state = round_state
        self._inner = inner

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        await self._inner.progress(progress, total, message)

    async def log(self, level: LogLevel, data: Any, logger: str | None = None) -> None:
        await self._inner.log(level, data, logger)

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None = None) -> dict[str, Any]:
        check_askable(requests, self._capabilities, declared_in=_DECLARED_IN_META)
        answers: dict[str, Any] = {}
        missing: dict[str, InputRequest] = {}
        for key, request in requests.items():
            if key in self._answers:
                answers[key] = self._answers[key]
            elif key in self._responses:
                answers[key] = self._answers[key] = check_answer(key, request, self._responses[key])
            else:
                missing[key] = request
        if missing:
            raise InputRequired(missing, state)
        return answers

    @property
    def round_state(self) -> str | None:
        return self._round_state

    @property
    def answers(self) -> dict[str, Any]:
        """Every answer a question of this run has had so far: what the next round's state carries."""
        return self._answers


class RoundTrip:
    """One request of a method that may need input (`ROUND_TRIP_METHODS`): its peer, and its InputRequiredResult.

    `target` is the tool or prompt name (the resource URI for resources/read); the state is bound to it, the method,
    the arguments and `caller` (the authenticated subject; None without authentication). Raises RoundTripRefused for
    `inputResponses` that is not an object and for a `requestState` that fails its check."""

    __slots__ = ("_arguments", "_caller", "_method", "_signer", "_target", "capabilities", "peer")

    def __init__(
        self,
        signer: RequestStateSigner,
        *,
        method: str,
        target: str,
        arguments: Any,
        params: Mapping[str, Any],
        inner: Peer = NO_PEER,
        caller: str | None = None,
    ) -> None:
        self._signer = signer
        self._caller = caller
        self._method = method
        self._target = target
        self._arguments = arguments
        responses = params.get(INPUT_RESPONSES, {})
        if not isinstance(responses, dict):
            raise RoundTripRefused(
                Rejection(INVALID_PARAMS, f"{method}: params.{INPUT_RESPONSES} must be an object of answers by key")
            )
        earlier: Mapping[str, Any] = {}
        round_state = None
        token = params.get(REQUEST_STATE)
        if token is not None:  # an explicit null is the same as none: leaving the member out is in any client's power
            try:
                carried = signer.verify(token, method=method, target=target, arguments=arguments, caller=caller)
            except InvalidRequestState as ex:
                log.warning("requestState refused on %s %.128s: %s", method, target, ex.reason)
                raise RoundTripRefused(Rejection(INVALID_PARAMS, ex.message, {"reason": ex.reason})) from None
            earlier, round_state = carried.answers, carried.state
        meta = params.get("_meta")
        declared = meta.get(META_CLIENT_CAPABILITIES) if isinstance(meta, dict) else None
        self.capabilities: Mapping[str, Any] = declared if isinstance(declared, dict) else {}
        self.peer = RoundTripPeer(
            capabilities=self.capabilities,
            responses=responses,
            earlier=earlier,
            round_state=round_state,
            inner=inner,
        )

    def input_required(self, signal: InputRequired) -> dict[str, Any]:
        """The InputRequiredResult for the questions `signal` carries, with a freshly signed state."""
        return {
            "resultType": INPUT_REQUIRED,
            "inputRequests": {
                key: {"method": request.method, "params": dict(request.params)}
                for key, request in signal.requests.items()
            },
            REQUEST_STATE: self._signer.sign(
                method=self._method,
                target=self._target,
                arguments=self._arguments,
                state=signal.state,
                answers=self.peer.answers,
                caller=self._caller,
            ),
        }


_DECLARED_IN_META = f"this request's _meta[{META_CLIENT_CAPABILITIES!r}]"


def check_askable(requests: Mapping[str, InputRequest], declared: Mapping[str, Any], *, declared_in: str) -> None:
    """The one rule before a question goes to the client, for a request's peer and a task's alike: each question is
    a method a client answers (`CAPABILITY_OF`; else ToolError, the tool's own mistake) whose capability `declared`
    holds (else RequestRefused naming it, which the server answers MISSING_CLIENT_CAPABILITY). `declared_in` says
    where the client declares its capabilities (what differs between the callers), for the refusal's message."""
    for request in requests.values():
        capability = CAPABILITY_OF.get(request.method)
        if capability is None:
            raise ToolError(f"A tool may ask the client only {', '.join(CAPABILITY_OF)}, not {request.method[:100]!r}.")
        if capability not in declared:
            raise RequestRefused(
                f"This tool needs the client's {capability!r} capability ({request.method}), which {declared_in} "
                "does not declare",
                capability=capability,
            )


def refusal(refused: RequestRefused) -> Rejection:
    """The JSON-RPC error for a peer's refusal: a missing client capability names it in `data.requiredCapabilities`
    (a ClientCapabilities object), an answer that does not fit is INVALID_PARAMS."""
    if refused.capability is not None:
        return Rejection(MISSING_CLIENT_CAPABILITY, refused.message, {"requiredCapabilities": {refused.capability: {}}})
    return Rejection(INVALID_PARAMS, refused.message)


def check_answer(key: str, request: InputRequest, answer: Any) -> Any:
    """`answer` when it has the shape of a result of the question's method (ElicitResult, CreateMessageResult,
    ListRootsResult) and an accepted elicitation's content fits the flat `requestedSchema` asked (required fields
    present, primitive types right); else RequestRefused saying what is wrong."""
    method = request.method
    where = f"{INPUT_RESPONSES}[{key[:64]!r}]"
    if not isinstance(answer, dict):
        raise RequestRefused(f"{where} must be a {method} result object, not {_kind(answer)}")
    if method == "elicitation/create":
        action = answer.get("action")
        if action not in _ELICIT_ACTIONS:
            raise RequestRefused(f"{where}: an elicitation answer needs action 'accept', 'decline' or 'cancel'")
        content = answer.get("content")
        if action == "accept":
            if not (content is None or isinstance(content, dict)):
                raise RequestRefused(f"{where}: an accepted elicitation's content must be an object")
            _check_content(where, content or {}, request.params.get("requestedSchema"))
    elif method == "sampling/createMessage":
        content = answer.get("content")
        if not (
            answer.get("role") in ("user", "assistant")
            and isinstance(answer.get("model"), str)
            and (isinstance(content, dict) or (isinstance(content, list) and all(isinstance(c, dict) for c in content)))
        ):
            raise RequestRefused(f"{where}: a sampling answer needs role, model and content (a content block)")
    elif method == "roots/list":
        roots = answer.get("roots")
        if not (isinstance(roots, list) and all(isinstance(r, dict) and isinstance(r.get("uri"), str) for r in roots)):
            raise RequestRefused(f"{where}: a roots answer needs roots, a list of objects with a uri")
    return answer


def _check_content(where: str, content: Mapping[str, Any], schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for name in schema.get("required", ()):
        if name not in content:
            raise RequestRefused(f"{where}: the accepted content lacks the required field {name!r}")
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for name, value in content.items():
        declared = properties.get(name)
        kind = declared.get("type") if isinstance(declared, dict) else None
        expected = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
        if expected is not None and (not isinstance(value, expected) or (expected is not bool and type(value) is bool)):
            raise RequestRefused(f"{where}: content field {name[:64]!r} must be of type {kind}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
