"""The FastAPI baseline's automatic OpenAPI documentation, which the route keeps while it parses the body itself."""

from __future__ import annotations

from tests.support import ServerProcess, build_request, raw_request


def test_docs_serve_the_openapi_page_and_schema(fastapi: ServerProcess) -> None:
    docs = raw_request(fastapi.port, build_request(method="GET", path="/docs"))
    status, body = docs.status, docs.body
    assert status == 200
    assert b"swagger-ui" in body
    schema = raw_request(fastapi.port, build_request(method="GET", path="/openapi.json"))
    status, body = schema.status, schema.body
    assert status == 200
    assert b'"/mcp"' in body and b'"JsonRpcRequest"' in body
