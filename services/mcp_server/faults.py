"""Fault injection for rehearsing a cutover on one machine: make a share of tool calls fail, or slow, on purpose.

Two environment variables, read once at start like the rest of the configuration (services/mcp_server/config.py):

- `MCP_FAULTS`: the path of a JSON file `{"tool_error_rate": 0.0-1.0, "added_latency_ms": N}` (both keys optional,
  default 0; N from 0 to 60000). Each worker reads it at start and again whenever the file changes (its modification
  time, size or inode), which the worker's once-a-second sweep checks, so a change applies within about a second. A
  missing file means no faults. A file that is not valid JSON, has another key, or a value out of range is logged
  once (until it changes again) and means no faults.
  With faults on, a `tools/call` first waits `added_latency_ms`, then, with probability `tool_error_rate`, answers
  with a normal result, `isError: true`, whose text says the fault was injected (the tool does not run); otherwise
  the tool answers as usual. Such a call counts as a `tool_error` in the metrics, like any `isError` result. Other
  methods, and calls with invalid params (JSON-RPC errors), are not affected.
- `MCP_FAULTS_ALLOW_REMOTE=1`: allow `MCP_FAULTS` on a server bound to an address that is not loopback. Without it,
  such a server refuses to start, with one line saying why: faults are for local rehearsals.

Without `MCP_FAULTS` nothing here runs: no file check, and no check per request (the plain `tools/call` route serves).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from services.tools.context import ToolContext
from services.tools.registry import ToolResult
from services.tools.reply import Reply, pending

log = logging.getLogger("mcpstack.faults")

MAX_ADDED_LATENCY_MS = 60_000
_KEYS = ("tool_error_rate", "added_latency_ms")


class FaultsError(ValueError):
    """A faults file that cannot be used: the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Faults:
    tool_error_rate: float = 0.0  # share of tool calls that fail, 0.0 to 1.0
    added_latency_ms: float = 0.0  # waited before every tool call

    @property
    def active(self) -> bool:
        return self.tool_error_rate > 0 or self.added_latency_ms > 0


NO_FAULTS = Faults()


def parse_faults(raw: bytes) -> Faults:
    """The settings in a faults file's bytes; `FaultsError` when they are not valid."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as ex:
        raise FaultsError(f"not valid JSON ({ex})") from None
    if type(data) is not dict:
        raise FaultsError("must be a JSON object")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise FaultsError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(_KEYS)})")
    values: dict[str, float] = {}
    for key, high in (("tool_error_rate", 1.0), ("added_latency_ms", float(MAX_ADDED_LATENCY_MS))):
        value = data.get(key, 0)
        if type(value) not in (int, float) or not 0 <= value <= high:
            raise FaultsError(f"{key} must be a number from 0 to {high:g}, got {orjson.dumps(value).decode()}")
        values[key] = float(value)
    return Faults(**values)


class Invocable(Protocol):
    """What the MCP layer calls to run a tool: a registered `Tool`, or one with faults injected."""

    @property
    def context_param(self) -> str | None: ...

    def invoke(self, arguments: Any, ctx: ToolContext | None) -> Reply[ToolResult]: ...


class FaultyTool:
    """A tool as the fault settings make it: first the added latency, then, by chance, an injected failure in place
    of the tool's own answer."""

    __slots__ = ("_delay_s", "_draw", "_rate", "_tool", "context_param", "name")

    def __init__(self, name: str, tool: Invocable, faults: Faults, draw: Callable[[], float]) -> None:
        self.name = name
        self.context_param = tool.context_param
        self._tool = tool
        self._rate = faults.tool_error_rate
        self._delay_s = faults.added_latency_ms / 1000.0
        self._draw = draw

    def invoke(self, arguments: Any, ctx: ToolContext | None) -> Reply[ToolResult]:
        if self._delay_s:
            return self._delayed(arguments, ctx)
        return self._fail_or_run(arguments, ctx)

    async def _delayed(self, arguments: Any, ctx: ToolContext | None) -> ToolResult:
        await asyncio.sleep(self._delay_s)
        outcome = self._fail_or_run(arguments, ctx)
        return await outcome if pending(outcome) else outcome

    def _fail_or_run(self, arguments: Any, ctx: ToolContext | None) -> Reply[ToolResult]:
        if self._rate and self._draw() < self._rate:
            return ToolResult.text(
                f"Fault injected by the server's fault settings (MCP_FAULTS): tool '{self.name}' did not run.",
                is_error=True,
            )
        return self._tool.invoke(arguments, ctx)


def with_faults(
    tools: Mapping[str, Invocable], faults: Faults, draw: Callable[[], float] | None = None
) -> dict[str, Invocable]:
    """The tools with `faults` injected; `draw` gives uniform numbers in [0, 1) (default: `random.random`)."""
    if draw is None:
        import random  # here: only a server with faults needs it

        draw = random.random
    return {name: FaultyTool(name, tool, faults, draw) for name, tool in tools.items()}


class FaultsFile:
    """The faults file of one worker, re-read when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: object = _UNREAD  # the file's version at the last poll

    def poll(self) -> Faults | None:
        """The settings when the file changed since the last poll (always on the first), else None (keep the
        current ones). A missing or unusable file gives `NO_FAULTS`; an unusable one is logged once per version."""
        version: object
        try:
            st = os.stat(self.path)
            version = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            version = None
        except OSError as ex:
            version = f"cannot be read ({ex.strerror})"  # the same failure again is the same version
        if version == self._seen:
            return None
        self._seen = version
        if version is None:
            log.info("faults file %s does not exist: no faults", self.path)
            return NO_FAULTS
        try:
            if isinstance(version, str):
                raise FaultsError(version)
            faults = self._read()
        except FaultsError as ex:
            log.error("faults file %s: %s; no faults until it changes", self.path, ex)
            return NO_FAULTS
        if faults.active:
            log.warning(
                "fault injection ON from %s: tool_error_rate %g, added_latency_ms %g",
                self.path,
                faults.tool_error_rate,
                faults.added_latency_ms,
            )
        else:
            log.info("fault injection off (%s asks for none)", self.path)
        return faults

    def _read(self) -> Faults:
        try:
            with open(self.path, "rb") as source:
                raw = source.read()
        except OSError as ex:
            raise FaultsError(f"cannot be read ({ex.strerror})") from None
        return parse_faults(raw)


_UNREAD = object()
