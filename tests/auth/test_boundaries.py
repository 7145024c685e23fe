"""The shared auth and rate-limit modules stay framework-free: both servers use them, neither is imported by them."""

from __future__ import annotations

import ast

from tests.support import REPO

# module -> top-level imports it may make (the JWT library only inside functions, when authentication is on)
ALLOWED = {
    "services/auth.py": {
        "__future__",
        "json",
        "logging",
        "threading",
        "time",
        "collections",
        "dataclasses",
        "typing",
        "urllib",
        "services",
    },
    "services/ratelimit.py": {"__future__", "json", "math", "time", "collections", "dataclasses"},
}


def _top_level_imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
            if node.module.startswith("services.") and node.module != "services.protocol":
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found


def test_shared_modules_import_no_framework_server_or_jwt_at_top_level() -> None:
    for path, allowed in ALLOWED.items():
        imports = _top_level_imports((REPO / path).read_text())
        assert imports <= allowed, f"{path} imports {sorted(imports - allowed)}"
