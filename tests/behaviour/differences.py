"""Known behaviour differences between servers, stated where they are tested.

`expect_difference(request, server, fastapi="why")` marks the current test as an expected failure (strict: it must
fail) for that server only, with the reason and the behaviour the spec or docs/protocol.md requires. A difference
that goes away turns the test red, so the list cannot go stale.
"""

from __future__ import annotations

import pytest

from tests.support import ServerProcess


def expect_difference(request: pytest.FixtureRequest, server: ServerProcess, **reasons: str) -> None:
    reason = reasons.get(server.kind)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{server.kind}: {reason}"))
