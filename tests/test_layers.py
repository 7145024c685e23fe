"""The server's layers import only downward: wire and jsonrpc know nothing of MCP; tools know no server."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

SERVER = REPO / "services" / "mcp_server"
# module -> project modules it may import
# `services.tools.reply` is the shape of an answer that may still need awaiting: it lives in the lowest layer that
# produces one (the tools), so every layer above imports it downward.
ALLOWED = {
    "wire": {"services.protocol", "services.tools.reply"},
    "jsonrpc": {"services.protocol"},
    "metrics": set(),
    "faults": {"services.tools.context", "services.tools.registry", "services.tools.reply"},
    "database": {"services.pgdriver", "services.tools.context"},
    "catalogue_methods": {
        "services.mcp_server.jsonrpc",
        "services.protocol",
        "services.tools.features",
        "services.tools.registry",
        "services.tools.reply",
    },
    "methods": {
        "services.mcp_server.catalogue_methods",
        "services.mcp_server.faults",
        "services.mcp_server.jsonrpc",
        "services.mcp_server.metrics",
        "services.mcp_server.task_methods",
        "services.protocol",
        "services.request_state",
        "services.round_trips",
        "services.sessions",
        "services.tools.context",
        "services.tools.features",
        "services.tools.registry",
        "services.tools.reply",
    },
    # the SSE responses and peer (both eras), and the stateful mode: beside the transport, above the methods
    "streams": {
        "services.mcp_server.jsonrpc",
        "services.mcp_server.wire",
        "services.protocol",
        "services.sessions",
        "services.tools.context",
    },
    "stateful": {
        "services.mcp_server.jsonrpc",
        "services.mcp_server.methods",
        "services.mcp_server.streams",
        "services.mcp_server.transport",
        "services.mcp_server.wire",
        "services.sessions",
        "services.tools.reply",
    },
    "task_methods": {
        "services.mcp_server.jsonrpc",
        "services.protocol",
        "services.request_state",
        "services.round_trips",
        "services.tasks",
        "services.tools.context",
        "services.tools.registry",
        "services.tools.reply",
    },
    "transport": {
        "services.cancellation",  # shared by both servers; imports nothing of either
        "services.mcp_server.jsonrpc",
        "services.mcp_server.methods",
        "services.mcp_server.stateful",
        "services.mcp_server.streams",
        "services.mcp_server.wire",
        "services.protocol",
        "services.tools.reply",
    },
}


def _project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("services", "scripts")):
            found |= {
                f"{node.module}.{a.name}" if node.module == "services.mcp_server" else node.module for a in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(("services", "scripts"))}
    return found


def test_server_layers_import_only_downward() -> None:
    for module, allowed in ALLOWED.items():
        imports = _project_imports(SERVER / f"{module}.py")
        assert imports <= allowed, f"{module} imports {sorted(imports - allowed)}"


def test_tools_never_import_a_server() -> None:
    for path in (REPO / "services" / "tools").glob("*.py"):
        imports = _project_imports(path)
        assert not [i for i in imports if i.startswith(("services.mcp_server", "services.fastapi", "scripts"))], path


def test_the_fastapi_baseline_and_the_sdk_reference_never_import_the_native_server() -> None:
    for package in ("fastapi_baseline", "sdk_reference"):
        for path in (REPO / "services" / package).glob("*.py"):
            assert not [i for i in _project_imports(path) if i.startswith("services.mcp_server")], path


def test_the_protocol_module_imports_nothing_of_the_project() -> None:
    assert _project_imports(REPO / "services" / "protocol.py") == set()
