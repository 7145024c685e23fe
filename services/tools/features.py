"""Resources, prompts and completion as both servers serve them: the method logic, written once.

`Features` takes a catalogue's resource and prompt registries and answers `resources/list`, `resources/read`,
`resources/templates/list`, `prompts/list`, `prompts/get` and `completion/complete` with result dicts (or coroutines of
them: `Reply`), and refuses bad requests with `CatalogueError` (a JSON-RPC code, a message safe to show a client, and
optional data), which each server turns into its own error response. So the native server and the FastAPI baseline
list the same pages, validate the same way and say the same words. Lists are paged with the shared cursor format
(services/protocol.py); their pages are built once. Nothing here knows HTTP or JSON-RPC envelopes.

Specification: <https://modelcontextprotocol.io/specification/2025-11-25/server/resources>, `…/server/prompts`,
`…/server/utilities/completion`; an unknown resource is -32002 in the handshake era and -32602 in 2026-07-28
(SEP-2164, <https://modelcontextprotocol.io/seps/2164-resource-not-found-error>).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from services.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    RESOURCE_NOT_FOUND,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)
from services.tools.context import InputRequired, RequestRefused, ToolContext, ToolError
from services.tools.prompts import Prompt, PromptArgumentError, PromptRegistry
from services.tools.reply import Pending, Reply, pending
from services.tools.resources import Completer, ResourceNotFound, ResourceRegistry

log = logging.getLogger("mcpstack.tools")

T = TypeVar("T")

MAX_COMPLETIONS = 100  # the spec's limit on completion values per response
ECHO_URI_CHARS = 2048  # the longest URI echoed back (error messages and data)
ECHO_NAME_CHARS = 128

# The refusals of malformed params: one text per method, the same from both servers.
READ_PARAMS_INVALID = "resources/read: params.uri must be a string"
GET_PROMPT_PARAMS_INVALID = "prompts/get: params need a string name and an object of string arguments"
COMPLETE_PARAMS_INVALID = (
    "completion/complete: params need ref ({type: 'ref/prompt', name} or {type: 'ref/resource', uri}), "
    "argument ({name, value}: strings) and optionally context.arguments (an object of strings)"
)

# Methods and the capability each belongs to.
RESOURCE_METHODS = ("resources/list", "resources/templates/list", "resources/read")
PROMPT_METHODS = ("prompts/list", "prompts/get")
COMPLETION_METHODS = ("completion/complete",)
# The results a 2026-07-28 client may cache (they carry `ttlMs` and `cacheScope`): the lists and resources/read
# (SEP-2549).
CACHEABLE_METHODS = frozenset(
    ("tools/list", "resources/list", "resources/templates/list", "prompts/list", "resources/read")
)


class CatalogueError(Exception):
    """A request the catalogue refuses: answered as the JSON-RPC error `code` with `message` (and `data`)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def list_error(method: str) -> str:
    """The refusal of a list request's cursor that this server did not issue for that list."""
    return f"{method}: invalid cursor"


def cursor_type_error(method: str) -> str:
    """The refusal of a list request whose cursor is not a string."""
    return f"{method}: cursor must be a string from a previous nextCursor"


class Pages:
    """One list (`resources`, `prompts`, …) cut into pages of `page_size`, built once; `page(cursor)` answers."""

    def __init__(self, *, method: str, key: str, entries: list[dict[str, Any]], page_size: int) -> None:
        self._method = method
        self._kind = key
        chunks = [entries[i : i + page_size] for i in range(0, len(entries), page_size)] or [[]]
        self._pages: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            page: dict[str, Any] = {key: chunk}
            if index + 1 < len(chunks):
                page["nextCursor"] = encode_cursor(key, index + 1)
            self._pages.append(page)

    def page(self, cursor: Any) -> dict[str, Any]:
        if cursor is None:
            return self._pages[0]
        if not isinstance(cursor, str):
            raise CatalogueError(INVALID_PARAMS, cursor_type_error(self._method))
        try:
            return self._pages[decode_cursor(self._kind, cursor, len(self._pages))]
        except InvalidCursor:
            raise CatalogueError(INVALID_PARAMS, list_error(self._method)) from None


def not_found(uri: str, *, stateless: bool) -> CatalogueError:
    """An unknown resource: -32002 in the handshake era, -32602 in 2026-07-28, the URI in `data` either way."""
    echoed = uri[:ECHO_URI_CHARS]
    return CatalogueError(
        INVALID_PARAMS if stateless else RESOURCE_NOT_FOUND, f"Resource not found: {echoed}", {"uri": echoed}
    )


class Features:
    """The resources, prompts and completion of one catalogue, as served by one worker."""

    def __init__(self, resources: ResourceRegistry, prompts: PromptRegistry, *, page_size: int) -> None:
        self._resources = resources
        self._prompts = prompts
        templates = list(resources.templates())
        self._templates = templates
        self._resource_pages = Pages(
            method="resources/list", key="resources", entries=[r.descriptor() for r in resources], page_size=page_size
        )
        self._template_pages = Pages(
            method="resources/templates/list",
            key="resourceTemplates",
            entries=[t.descriptor() for t in templates],
            page_size=page_size,
        )
        self._prompt_pages = Pages(
            method="prompts/list", key="prompts", entries=[p.descriptor() for p in prompts], page_size=page_size
        )
        self.completes = any(p.completers for p in prompts) or any(t.completers for t in templates)
        capabilities: dict[str, Any] = {}
        methods: list[str] = []
        if len(resources):
            capabilities["resources"] = {"subscribe": False, "listChanged": False}
            methods += RESOURCE_METHODS
        if len(prompts):
            capabilities["prompts"] = {"listChanged": False}
            methods += PROMPT_METHODS
        if self.completes:
            capabilities["completions"] = {}
            methods += COMPLETION_METHODS
        self.capabilities = capabilities  # only what is registered is advertised (and routed)
        self.methods = tuple(methods)

    # -- resources -----------------------------------------------------------------------------------------------

    def list_resources(self, cursor: Any = None) -> dict[str, Any]:
        return self._resource_pages.page(cursor)

    def list_resource_templates(self, cursor: Any = None) -> dict[str, Any]:
        return self._template_pages.page(cursor)

    def read_resource(self, uri: Any, *, stateless: bool) -> Reply[dict[str, Any]]:
        if not isinstance(uri, str):
            raise CatalogueError(INVALID_PARAMS, READ_PARAMS_INVALID)
        resource = self._resources.get(uri)
        if resource is not None:
            return _guarded(resource.read, f"Resource {uri[:ECHO_URI_CHARS]}", uri, stateless)
        for template in self._templates:
            variables = template.match(uri)
            if variables is not None:
                return _guarded(
                    partial(template.read, uri, variables), f"Resource {uri[:ECHO_URI_CHARS]}", uri, stateless
                )
        raise not_found(uri, stateless=stateless)

    # -- prompts -------------------------------------------------------------------------------------------------

    def list_prompts(self, cursor: Any = None) -> dict[str, Any]:
        return self._prompt_pages.page(cursor)

    def get_prompt(self, name: Any, arguments: Any, ctx: ToolContext | None = None) -> Reply[dict[str, Any]]:
        if not isinstance(name, str) or not (arguments is None or isinstance(arguments, dict)):
            raise CatalogueError(INVALID_PARAMS, GET_PROMPT_PARAMS_INVALID)
        prompt = self._prompt(name)
        try:
            checked = prompt.check(arguments or {})
        except PromptArgumentError as ex:
            raise CatalogueError(INVALID_PARAMS, str(ex)) from None
        return _guarded(partial(prompt.render, checked, ctx), f"Prompt '{prompt.name}'", None, False)

    def _prompt(self, name: str) -> Prompt:
        prompt = self._prompts.get(name)
        if prompt is None:
            raise CatalogueError(INVALID_PARAMS, f"Unknown prompt: {name[:ECHO_NAME_CHARS]}")
        return prompt

    # -- completion ----------------------------------------------------------------------------------------------

    def complete(self, ref: Any, argument: Any, context: Any = None) -> dict[str, Any]:
        """The `completion/complete` result: up to 100 values for one argument of a prompt or resource template."""
        if not (
            isinstance(ref, dict)
            and isinstance(argument, dict)
            and isinstance(argument.get("name"), str)
            and isinstance(argument.get("value"), str)
            and (context is None or isinstance(context, dict))
        ):
            raise CatalogueError(INVALID_PARAMS, COMPLETE_PARAMS_INVALID)
        resolved = (context or {}).get("arguments") or {}
        if not (isinstance(resolved, dict) and all(isinstance(v, str) for v in resolved.values())):
            raise CatalogueError(INVALID_PARAMS, COMPLETE_PARAMS_INVALID)
        name: str = argument["name"]
        completers: dict[str, Completer]
        kind = ref.get("type")
        if kind == "ref/prompt" and isinstance(ref.get("name"), str):
            prompt = self._prompt(ref["name"])
            names = {a["name"] for a in prompt.arguments}
            completers, owner = prompt.completers, f"Prompt '{prompt.name}'"
        elif kind == "ref/resource" and isinstance(ref.get("uri"), str):
            template = self._resources.template(ref["uri"])
            if template is None:
                raise CatalogueError(INVALID_PARAMS, f"Unknown resource template: {ref['uri'][:ECHO_URI_CHARS]}")
            names = set(template.variables)
            completers, owner = template.completers, f"Resource template '{template.uri_template}'"
        else:
            raise CatalogueError(INVALID_PARAMS, COMPLETE_PARAMS_INVALID)
        if name not in names:
            raise CatalogueError(INVALID_PARAMS, f"{owner} has no argument {name[:ECHO_NAME_CHARS]!r}")
        completer = completers.get(name)
        if completer is None:
            return {"completion": {"values": [], "total": 0, "hasMore": False}}
        try:
            values = _candidates(completer, argument["value"], resolved)
        except Exception as ex:
            log.error("completer of %s argument %s failed", owner, name, exc_info=ex)
            raise CatalogueError(
                INTERNAL_ERROR, f"{owner}: completing {name!r} failed (logged on the server)"
            ) from None
        return {
            "completion": {
                "values": values[:MAX_COMPLETIONS],
                "total": len(values),
                "hasMore": len(values) > MAX_COMPLETIONS,
            }
        }


def _candidates(completer: Completer, value: str, resolved: dict[str, str]) -> list[str]:
    if callable(completer):
        return [str(v) for v in completer(value, resolved)]
    prefix = value.casefold()
    return [v for v in completer if v.casefold().startswith(prefix)]


def _guarded(call: Callable[[], Reply[T]], subject: str, uri: str | None, stateless: bool) -> Reply[T]:
    """`call()`, with any failure of a registered function (at once or after an await) refused as a CatalogueError:
    ResourceNotFound as an unknown resource, a ToolError with its message (the caller's to read), anything else
    logged and not shown. `subject` names the resource or prompt in the message."""
    try:
        reply = call()
    except (InputRequired, RequestRefused):  # a prompt's peer ends the request: the MCP layer answers it
        raise
    except Exception as ex:
        raise _failure(subject, uri, ex, stateless) from None
    if pending(reply):
        return _awaited(reply, subject, uri, stateless)
    return reply


async def _awaited(reply: Pending[T], subject: str, uri: str | None, stateless: bool) -> T:
    try:
        return await reply
    except (InputRequired, RequestRefused):
        raise
    except Exception as ex:
        raise _failure(subject, uri, ex, stateless) from None


def _failure(subject: str, uri: str | None, ex: Exception, stateless: bool) -> CatalogueError:
    if uri is not None and isinstance(ex, ResourceNotFound):
        return not_found(uri, stateless=stateless)
    if isinstance(ex, ToolError):
        return CatalogueError(INVALID_PARAMS, str(ex))
    log.error("%s failed", subject, exc_info=ex)
    return CatalogueError(INTERNAL_ERROR, f"{subject} failed with an internal error (logged on the server)")
