"""Prompts: a decorator turns a Python function into an MCP prompt template.

The function's parameters are the prompt's arguments (MCP prompt arguments are strings: each is annotated `str`, and
one with a default is optional); their descriptions come from the docstring's `Args:` section. The function returns
the messages: a `str` (one user text message) or a list of messages (`{"role", "content"}`, `content` one MCP
content block), synchronously or as a coroutine. Descriptors are computed once at registration; nothing here knows
JSON-RPC or HTTP.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import get_type_hints

from services.tools.context import NO_DATABASE, ToolContext
from services.tools.reply import Reply, then
from services.tools.resources import Completer
from services.tools.typeschema import parse_docstring

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_ROLES = frozenset(("user", "assistant"))


class PromptArgumentError(ValueError):
    """The arguments of a prompts/get do not fit the prompt (the message says which and how)."""


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    description: str
    arguments: tuple[dict[str, Any], ...]  # the `arguments` entries of prompts/list
    fn: Callable[..., Any] = field(repr=False)
    title: str | None = None
    completers: dict[str, Completer] = field(default_factory=dict, repr=False)
    # A parameter annotated ToolContext (not an argument): the prompt may ask the client through `ctx.peer` first.
    context_param: str | None = None

    def descriptor(self) -> dict[str, Any]:
        """The entry for `prompts/list`."""
        entry: dict[str, Any] = {"name": self.name}
        if self.title:
            entry["title"] = self.title
        entry["description"] = self.description
        if self.arguments:
            entry["arguments"] = list(self.arguments)
        return entry

    def check(self, arguments: dict[str, Any]) -> dict[str, str]:
        """The arguments to call the function with; raises PromptArgumentError when one is missing, unknown or not a
        string."""
        known = {a["name"] for a in self.arguments}
        for key, value in arguments.items():
            if key not in known:
                accepted = ", ".join(sorted(known)) or "none"
                raise PromptArgumentError(f"Prompt '{self.name}' has no argument {key[:64]!r} (accepted: {accepted})")
            if not isinstance(value, str):
                raise PromptArgumentError(f"Prompt '{self.name}': argument {key!r} must be a string")
        missing = [a["name"] for a in self.arguments if a["required"] and a["name"] not in arguments]
        if missing:
            raise PromptArgumentError(f"Prompt '{self.name}' needs the argument(s) {', '.join(missing)}")
        return arguments

    def render(self, arguments: dict[str, str], ctx: ToolContext | None = None) -> Reply[dict[str, Any]]:
        """The `prompts/get` result for checked arguments (a coroutine when the function is async). A prompt that
        takes a ToolContext gets `ctx` (without one, a context whose peer cannot ask)."""
        kwargs: dict[str, Any] = arguments
        if self.context_param is not None:
            kwargs = {**arguments, self.context_param: ctx if ctx is not None else ToolContext(NO_DATABASE)}
        return then(self.fn(**kwargs), _messages, self)


def _messages(value: Any, prompt: Prompt) -> dict[str, Any]:
    if isinstance(value, str):
        messages: list[Any] = [{"role": "user", "content": {"type": "text", "text": value}}]
    elif isinstance(value, list):
        messages = value
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if not (isinstance(content, dict) and "type" in content and message.get("role") in _ROLES):
                raise TypeError(f"prompt {prompt.name}: each message needs a role (user/assistant) and a content block")
    else:
        raise TypeError(f"prompt {prompt.name} returned {type(value).__name__}; return str or a list of messages")
    result: dict[str, Any] = {"description": prompt.description, "messages": messages}
    return result


class PromptRegistry:
    """Prompts in registration order (a deterministic prompts/list)."""

    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}

    def prompt(
        self,
        name: str | None = None,
        *,
        title: str | None = None,
        description: str | None = None,
        complete: dict[str, Completer] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as a prompt; `complete` gives completion values per argument."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(build_prompt(fn, name=name, title=title, description=description, complete=complete))
            return fn

        return register

    def add(self, prompt: Prompt) -> None:
        if prompt.name in self._prompts:
            raise ValueError(f"prompt {prompt.name!r} is registered twice")
        self._prompts[prompt.name] = prompt

    def include(self, other: PromptRegistry) -> None:
        for prompt in other:
            self.add(prompt)

    def get(self, name: str) -> Prompt | None:
        return self._prompts.get(name)

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self._prompts.values())

    def __len__(self) -> int:
        return len(self._prompts)


def build_prompt(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    complete: dict[str, Completer] | None = None,
) -> Prompt:
    prompt_name = name or fn.__name__
    if not _NAME.match(prompt_name):
        raise ValueError(f"prompt name {prompt_name!r} must match {_NAME.pattern}")
    summary, arg_docs = parse_docstring(fn.__doc__)
    hints = get_type_hints(fn)
    arguments: list[dict[str, Any]] = []
    context_param = None
    for param in inspect.signature(fn).parameters.values():
        if hints.get(param.name) is ToolContext:
            context_param = param.name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"prompt {prompt_name}: parameter {param.name} must be a plain named parameter")
        if hints.get(param.name) is not str:
            raise TypeError(f"prompt {prompt_name}: parameter {param.name} must be annotated str (arguments are text)")
        entry: dict[str, Any] = {"name": param.name}
        if param.name in arg_docs:
            entry["description"] = arg_docs[param.name]
        entry["required"] = param.default is inspect.Parameter.empty
        arguments.append(entry)
    unknown = set(complete or ()) - {a["name"] for a in arguments}
    if unknown:
        raise TypeError(f"prompt {prompt_name}: completers for unknown arguments {sorted(unknown)}")
    text = (description or summary).strip()
    if not text:
        raise TypeError(f"prompt {prompt_name}: give it a docstring or a description (the model reads it)")
    return Prompt(
        name=prompt_name,
        description=text,
        arguments=tuple(arguments),
        fn=fn,
        title=title,
        completers=dict(complete or {}),
        context_param=context_param,
    )
