"""Resources and resource templates: a decorator turns a Python function into an MCP resource.

A resource has a fixed URI; a template has an RFC 6570 level-1 URI template (`test://items/{id}`) whose variables
become the function's `str` parameters. The function returns text (`str`) or binary content (`bytes`, sent as
base64 `blob`), synchronously or as a coroutine. Descriptors are computed once at registration; nothing here knows
JSON-RPC or HTTP (the servers map `CatalogueError` to their error responses, services/tools/features.py).
"""

from __future__ import annotations

import base64
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import get_type_hints

from services.tools.reply import Reply, then
from services.tools.typeschema import parse_docstring

# A completer offers values for one argument: a fixed list (filtered by prefix) or a function of the typed prefix and
# the arguments already resolved (`context.arguments` of completion/complete).
Completer = Iterable[str] | Callable[[str, dict[str, str]], Iterable[str]]


class ResourceNotFound(LookupError):
    """Raised by a template's function when its URI names nothing: answered as an unknown resource."""


_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource with a fixed URI."""

    uri: str
    name: str
    description: str
    mime_type: str
    fn: Callable[[], Any] = field(repr=False)
    title: str | None = None

    def descriptor(self) -> dict[str, Any]:
        """The entry for `resources/list`."""
        entry: dict[str, Any] = {"uri": self.uri, "name": self.name}
        if self.title:
            entry["title"] = self.title
        entry["description"] = self.description
        entry["mimeType"] = self.mime_type
        return entry

    def read(self) -> Reply[dict[str, Any]]:
        """The `resources/read` result (a coroutine when the function is async)."""
        return then(self.fn(), _contents, (self.uri, self.mime_type))


@dataclass(frozen=True, slots=True)
class ResourceTemplate:
    """A family of resources named by a URI template; `match` gives a URI's variables."""

    uri_template: str
    name: str
    description: str
    mime_type: str
    fn: Callable[..., Any] = field(repr=False)
    variables: tuple[str, ...]
    pattern: re.Pattern[str] = field(repr=False)
    title: str | None = None
    completers: dict[str, Completer] = field(default_factory=dict, repr=False)

    def descriptor(self) -> dict[str, Any]:
        """The entry for `resources/templates/list`."""
        entry: dict[str, Any] = {"uriTemplate": self.uri_template, "name": self.name}
        if self.title:
            entry["title"] = self.title
        entry["description"] = self.description
        entry["mimeType"] = self.mime_type
        return entry

    def match(self, uri: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(uri)
        return None if found is None else found.groupdict()

    def read(self, uri: str, variables: dict[str, str]) -> Reply[dict[str, Any]]:
        return then(self.fn(**variables), _contents, (uri, self.mime_type))


def _contents(value: Any, where: tuple[str, str]) -> dict[str, Any]:
    uri, mime_type = where
    if isinstance(value, bytes):
        return {"contents": [{"uri": uri, "mimeType": mime_type, "blob": base64.b64encode(value).decode()}]}
    if isinstance(value, str):
        return {"contents": [{"uri": uri, "mimeType": mime_type, "text": value}]}
    raise TypeError(f"resource {uri} returned {type(value).__name__}; return str (text) or bytes (binary)")


def _template_pattern(uri_template: str) -> tuple[tuple[str, ...], re.Pattern[str]]:
    """The variables of a level-1 URI template and a pattern matching its URIs (a variable never spans a `/`)."""
    parts: list[str] = []
    variables: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(uri_template):
        parts.append(re.escape(uri_template[position : found.start()]))
        variables.append(found.group(1))
        parts.append(f"(?P<{found.group(1)}>[^/?#]+)")
        position = found.end()
    rest = uri_template[position:]
    leftover = _VARIABLE.sub("", uri_template)
    if "{" in leftover or "}" in leftover:
        raise ValueError(f"URI template {uri_template!r}: only simple {{name}} variables are supported")
    parts.append(re.escape(rest))
    if len(set(variables)) != len(variables):
        raise ValueError(f"URI template {uri_template!r} repeats a variable")
    return tuple(variables), re.compile("".join(parts))


def _summary(fn: Callable[..., Any], description: str | None, what: str) -> str:
    text = (description or parse_docstring(fn.__doc__)[0]).strip()
    if not text:
        raise TypeError(f"{what}: give it a docstring or a description (the model reads it)")
    return text


class ResourceRegistry:
    """Resources and templates in registration order (deterministic lists)."""

    def __init__(self) -> None:
        self._resources: dict[str, Resource] = {}
        self._templates: dict[str, ResourceTemplate] = {}

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        complete: dict[str, Completer] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as a resource, or as a template when `uri` has `{variables}` (they become
        the function's `str` parameters). `mime_type` defaults to text/plain for `str` and application/octet-stream
        for `bytes` results; `complete` gives completion values per template variable."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            resource_name = name or fn.__name__
            if not _NAME.match(resource_name):
                raise ValueError(f"resource name {resource_name!r} must match {_NAME.pattern}")
            what = f"resource {uri}"
            text = _summary(fn, description, what)
            returns = get_type_hints(fn).get("return")
            mime = mime_type or ("application/octet-stream" if returns is bytes else "text/plain")
            params = list(inspect.signature(fn).parameters)
            if "{" not in uri:
                if params:
                    raise TypeError(f"{what}: a resource without {{variables}} takes no parameters")
                if complete:
                    raise TypeError(f"{what}: completion applies to template variables only")
                self.add(Resource(uri=uri, name=resource_name, description=text, mime_type=mime, fn=fn, title=title))
                return fn
            variables, pattern = _template_pattern(uri)
            if sorted(params) != sorted(variables):
                raise TypeError(f"{what}: the function's parameters must be the template's variables {variables}")
            unknown = set(complete or ()) - set(variables)
            if unknown:
                raise TypeError(f"{what}: completers for unknown variables {sorted(unknown)}")
            self.add_template(
                ResourceTemplate(
                    uri_template=uri,
                    name=resource_name,
                    description=text,
                    mime_type=mime,
                    fn=fn,
                    variables=variables,
                    pattern=pattern,
                    title=title,
                    completers=dict(complete or {}),
                )
            )
            return fn

        return register

    def add(self, resource: Resource) -> None:
        if resource.uri in self._resources:
            raise ValueError(f"resource {resource.uri!r} is registered twice")
        self._resources[resource.uri] = resource

    def add_template(self, template: ResourceTemplate) -> None:
        if template.uri_template in self._templates:
            raise ValueError(f"resource template {template.uri_template!r} is registered twice")
        self._templates[template.uri_template] = template

    def include(self, other: ResourceRegistry) -> None:
        for resource in other:
            self.add(resource)
        for template in other.templates():
            self.add_template(template)

    def get(self, uri: str) -> Resource | None:
        return self._resources.get(uri)

    def template(self, uri_template: str) -> ResourceTemplate | None:
        return self._templates.get(uri_template)

    def templates(self) -> Iterator[ResourceTemplate]:
        return iter(self._templates.values())

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._resources.values())

    def __len__(self) -> int:
        return len(self._resources) + len(self._templates)
