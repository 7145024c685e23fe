"""`Reply[T]`: the one shape of an answer that is either ready now or must be awaited, and the one way to chain onto it.

A synchronous tool's answer stays a plain value all the way from the tool to the socket (no task, no await); an answer
that must wait for I/O is a coroutine, which the server's wire layer runs as one task. Every layer in between hands
its answer on in this shape and adds its step with `then`, which calls the step at once on a ready value and chains it
after the await on a pending one, so no layer tests the form itself. `pending` is the one test, for the layer that
must run the coroutine.

It lives here, in the tools package, because that is the lowest layer that produces a `Reply` (`Tool.invoke`): the
server's layers import it downward, and the tools import no server. Nothing here knows of HTTP, JSON-RPC or MCP.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import Any, TypeAlias, TypeVar

from typing_extensions import TypeIs

T = TypeVar("T")
U = TypeVar("U")
C = TypeVar("C")

Pending: TypeAlias = Coroutine[Any, Any, T]
Reply: TypeAlias = T | Pending[T]  # never a coroutine whose result is itself a coroutine


# The types of answer seen so far, by whether they must be awaited. A coroutine is CPython's CoroutineType, or, in a
# build compiled with mypyc, a class of its own per `async def` that implements the Coroutine protocol.
_PENDING: set[type] = {CoroutineType}
_READY: set[type] = set()


def _learn(kind: type) -> bool:
    (_PENDING if issubclass(kind, Coroutine) else _READY).add(kind)
    return kind in _PENDING


def pending(reply: Reply[T]) -> TypeIs[Pending[T]]:
    """Whether `reply` must still be awaited (a coroutine), rather than being the answer itself."""
    kind = type(reply)
    return kind in _PENDING or (kind not in _READY and _learn(kind))


def then(reply: Reply[T], step: Callable[[T, C], U], context: C) -> Reply[U]:
    """`step(answer, context)`: at once if `reply` is ready, else after it has been awaited (as a new coroutine).

    One context argument rather than `*args`: this runs several times per request, and a star-call costs about twice
    as much as a plain one."""
    kind = type(reply)
    if kind in _PENDING or (kind not in _READY and _learn(kind)):
        return _after(reply, step, context)  # type: ignore[arg-type]  # a coroutine
    return step(reply, context)  # type: ignore[arg-type]  # not a coroutine, so a T


async def _after(reply: Pending[T], step: Callable[[T, C], U], context: C) -> U:
    return step(await reply, context)
