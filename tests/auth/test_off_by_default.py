"""With authentication and rate limits off (the default), the native server never loads their modules or the JWT
library: the cold-start guard's first real request, with the modules loaded at that moment."""

from __future__ import annotations

from pathlib import Path

from tests.mcp_server.test_cold_start import _first_answer

GUARD_MODULES = ("services.auth", "services.ratelimit", "services.mcp_server.guard", "jwt", "cryptography")


def test_default_server_answers_without_loading_auth_rate_limit_or_jwt(tmp_path: Path) -> None:
    with _first_answer(tmp_path, database_url=None) as (status, modules, _):
        assert status == 200
        assert "services.mcp_server.transport" in modules  # the list is real
        loaded = sorted(
            name for name in modules if name.split(".")[0] in ("jwt", "cryptography") or name in GUARD_MODULES
        )
        assert loaded == []
