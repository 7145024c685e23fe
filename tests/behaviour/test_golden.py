"""Golden request/response pairs for every tool, recorded from the native server and checked against every server.

Native and FastAPI must answer with the same JSON (and, as it happens, the same bytes). The SDK's MCPServer is held
to the parts the spec fixes: the same `structuredContent`, the same `isError`, the tool's own error text, the same
tools in the same order. Its formatting choices are allowed to differ (it indents the JSON text block, prefixes error
texts with "Error executing tool …", and derives its own schemas).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import ServerProcess, post

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda p: p.stem)
def test_response_matches_the_golden_response(server: ServerProcess, golden: Path) -> None:
    case = _load(golden)
    reply = post(server.port, case["request"])
    assert reply.status == 200
    assert reply.json() == case["response"]


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda p: p.stem)
def test_native_and_fastapi_answer_with_identical_bytes(
    native: ServerProcess, fastapi: ServerProcess, golden: Path
) -> None:
    request = _load(golden)["request"]
    assert post(native.port, request).body == post(fastapi.port, request).body


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda p: p.stem)
def test_sdk_answers_with_the_same_content(sdk: ServerProcess, golden: Path) -> None:
    case = _load(golden)
    reply = post(sdk.port, case["request"], host=f"127.0.0.1:{sdk.port}")  # its Host allow-list wants the port
    assert reply.status == 200
    got, want = reply.json()["result"], case["response"]["result"]
    method = case["request"]["method"]
    if method == "tools/list":
        assert [t["name"] for t in got["tools"]] == [t["name"] for t in want["tools"]]
    elif method == "tools/call":
        assert bool(got.get("isError")) == bool(want.get("isError"))
        if want.get("isError"):
            assert want["content"][0]["text"] in got["content"][0]["text"]
        else:
            assert got["structuredContent"] == want["structuredContent"]
            assert json.loads(got["content"][0]["text"]) == want["structuredContent"]
    else:
        assert got == want
