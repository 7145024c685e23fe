"""The database-roles custom resource's handler on a real PostgreSQL serving TLS (verified against a CA made in the
test, as the Lambda verifies RDS against the RDS bundle): it creates the migrator and app roles, a second run is a
no-op, and bad input ends as a FAILED response with one clear line, sent to CloudFormation's URL, never a hang.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest

from infra.lambdas import db_roles_handler
from infra.lambdas.db_roles_handler import Connection, Endpoint, Outcome, handle
from scripts.pgcluster import DB_USER
from tests.infra.tls_support import TlsCluster


def _secret(**values: Any) -> str:
    return json.dumps(values)


@pytest.fixture
def scratch(tls_cluster: TlsCluster) -> Iterator[dict[str, Any]]:
    """A fresh database on the TLS cluster, with a table the master made before the roles existed, and the three
    secrets as Secrets Manager would hold them."""
    suffix = secrets.token_hex(4)
    database, migrator, app = f"crroles_{suffix}", f"crmig_{suffix}", f"crapp_{suffix}"
    base = f"postgresql://{DB_USER}@127.0.0.1:{tls_cluster.cluster.port}"

    async def admin(*statements: str, db: str = "postgres") -> None:
        conn = await asyncpg.connect(f"{base}/{db}", ssl=False)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    asyncio.run(admin("CREATE TABLE legacy_notes (id int PRIMARY KEY)", db=database))
    port = tls_cluster.cluster.port
    store = {
        "arn:master": _secret(username=DB_USER, password="", host="127.0.0.1", port=port, dbname=database),
        "arn:migrator": _secret(username=migrator, password="mig-pw-1"),
        "arn:app": _secret(username=app, password="app-pw-1"),
        "arn:broken": "not json",
    }
    try:
        yield {"database": database, "migrator": migrator, "app": app, "store": store, "base": base}
    finally:
        asyncio.run(
            admin(
                f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
                f'DROP ROLE IF EXISTS "{migrator}"',
                f'DROP ROLE IF EXISTS "{app}"',
            )
        )


def event(request: str = "Create", **overrides: Any) -> dict[str, Any]:
    properties = {"MasterSecretArn": "arn:master", "MigratorSecretArn": "arn:migrator", "AppSecretArn": "arn:app"}
    return {
        "RequestType": request,
        "ResponseURL": "http://127.0.0.1:1/unused",
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/McpStack-dev-Data/x",
        "RequestId": "req-1",
        "LogicalResourceId": "DatabaseRoles",
        "ResourceProperties": {**properties, **overrides},
    }


def run(scratch: dict[str, Any], tls_cluster: TlsCluster, body: dict[str, Any], *, ca: Path | None = None) -> Outcome:
    return handle(
        body,
        read_secret=scratch["store"].__getitem__,
        connect=Connection,
        remaining_s=60.0,
        ca_bundle=ca or tls_cluster.right_ca,
    )


async def _roles(base: str, database: str, names: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(f"{base}/{database}", ssl=False)
    try:
        rows = await conn.fetch("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])", names)
        owner = await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'legacy_notes'")
        return {"roles": {r["rolname"]: r["rolcanlogin"] for r in rows}, "owner": owner}
    finally:
        await conn.close()


def test_create_makes_both_login_roles_over_verified_tls_and_hands_the_masters_table_over(
    scratch: dict[str, Any], tls_cluster: TlsCluster
) -> None:
    outcome = run(scratch, tls_cluster, event())
    assert outcome.status == "SUCCESS", outcome.reason
    state = asyncio.run(_roles(scratch["base"], scratch["database"], [scratch["migrator"], scratch["app"]]))
    assert state == {"roles": {scratch["migrator"]: True, scratch["app"]: True}, "owner": scratch["migrator"]}


def test_running_twice_is_a_no_op_that_keeps_the_same_physical_id(
    scratch: dict[str, Any], tls_cluster: TlsCluster
) -> None:
    first = run(scratch, tls_cluster, event())
    before = asyncio.run(_roles(scratch["base"], scratch["database"], [scratch["migrator"], scratch["app"]]))
    second = run(scratch, tls_cluster, event("Update") | {"PhysicalResourceId": first.physical_id})
    after = asyncio.run(_roles(scratch["base"], scratch["database"], [scratch["migrator"], scratch["app"]]))
    assert (first.status, second.status) == ("SUCCESS", "SUCCESS")
    assert second.physical_id == first.physical_id
    assert before == after


def test_update_sets_each_role_password_to_its_secrets_again(scratch: dict[str, Any], tls_cluster: TlsCluster) -> None:
    assert run(scratch, tls_cluster, event()).status == "SUCCESS"
    before = asyncio.run(_verifier(scratch["base"], scratch["app"]))
    scratch["store"]["arn:app"] = _secret(username=scratch["app"], password="app-pw-2")
    assert run(scratch, tls_cluster, event("Update")).status == "SUCCESS"
    after = asyncio.run(_verifier(scratch["base"], scratch["app"]))
    # The test cluster trusts every local login, so the stored SCRAM verifier is what shows the new password.
    assert before.startswith("SCRAM-SHA-256$") and after.startswith("SCRAM-SHA-256$") and before != after
    assert asyncio.run(_verifier(scratch["base"], scratch["migrator"])) != after


async def _verifier(base: str, role: str) -> str:
    conn = await asyncpg.connect(f"{base}/postgres", ssl=False)
    try:
        return str(await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role))
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (event(AppSecretArn=""), "missing properties: AppSecretArn"),
        (event(MigratorSecretArn="arn:broken"), "the migrator secret is not an RDS secret"),
        (event(MasterSecretArn="arn:nowhere"), "could not read the master secret: KeyError"),
        (event("Destroy"), "unknown RequestType 'Destroy'"),
    ],
)
def test_bad_input_fails_with_one_clear_line(
    scratch: dict[str, Any], tls_cluster: TlsCluster, body: dict[str, Any], reason: str
) -> None:
    outcome = run(scratch, tls_cluster, body)
    assert outcome.status == "FAILED"
    assert outcome.reason.startswith(reason) and "\n" not in outcome.reason


def test_a_database_whose_certificate_another_ca_signed_fails_the_resource(
    scratch: dict[str, Any], tls_cluster: TlsCluster
) -> None:
    outcome = run(scratch, tls_cluster, event(), ca=tls_cluster.wrong_ca)
    assert outcome.status == "FAILED"
    assert outcome.reason.startswith("could not connect to 127.0.0.1:")
    assert "SSLCertVerificationError" in outcome.reason
    state = asyncio.run(_roles(scratch["base"], scratch["database"], [scratch["migrator"], scratch["app"]]))
    assert state["roles"] == {}


def test_a_failing_statement_rolls_back_and_names_no_password(scratch: dict[str, Any], tls_cluster: TlsCluster) -> None:
    # A role name PostgreSQL refuses (reserved prefix) after the migrator was made: nothing of the run may stay.
    scratch["store"]["arn:app"] = _secret(username="pg_app", password="app-pw-secret")
    outcome = run(scratch, tls_cluster, event())
    assert outcome.status == "FAILED" and outcome.reason.startswith("creating the roles failed:")
    assert "app-pw-secret" not in outcome.reason and "mig-pw-1" not in outcome.reason
    state = asyncio.run(_roles(scratch["base"], scratch["database"], [scratch["migrator"], "pg_app"]))
    assert state == {"roles": {}, "owner": DB_USER}


def test_delete_keeps_the_roles_and_touches_no_database() -> None:
    def never(*args: object) -> Any:
        raise AssertionError("Delete must not read a secret or connect")

    outcome = handle(
        event("Delete") | {"PhysicalResourceId": "db-roles:arn:master"},
        read_secret=never,
        connect=never,
        remaining_s=60.0,
    )
    assert (outcome.status, outcome.physical_id) == ("SUCCESS", "db-roles:arn:master")


def test_too_little_time_left_fails_before_connecting(scratch: dict[str, Any]) -> None:
    def never(endpoint: Endpoint, ca: Path, timeout_s: float) -> Any:
        raise AssertionError("must not connect")

    outcome = handle(event(), read_secret=scratch["store"].__getitem__, connect=never, remaining_s=10.5)
    assert outcome.status == "FAILED" and "too little to connect" in outcome.reason


class _Capture(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Capture.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_handler_reports_the_outcome_to_the_response_url(
    scratch: dict[str, Any], tls_cluster: TlsCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Capture.received.clear()
    monkeypatch.setattr(db_roles_handler, "_read_secret", scratch["store"].__getitem__)
    monkeypatch.setattr(db_roles_handler, "CA_BUNDLE", tls_cluster.right_ca)

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    try:
        url = f"http://127.0.0.1:{server.server_port}/signed?X-Amz-Signature=abc"
        db_roles_handler.handler(event(AppSecretArn="") | {"ResponseURL": url}, Context())
        db_roles_handler.handler(event() | {"ResponseURL": url}, Context())
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert [path for path, _, _ in _Capture.received] == ["/signed?X-Amz-Signature=abc"] * 2
    failed, succeeded = (json.loads(body) for _, _, body in _Capture.received)
    assert failed["Status"] == "FAILED" and failed["Reason"] == "missing properties: AppSecretArn"
    assert succeeded["Status"] == "SUCCESS"
    for body in (failed, succeeded):
        assert (body["RequestId"], body["LogicalResourceId"]) == ("req-1", "DatabaseRoles")
        assert body["PhysicalResourceId"] == "db-roles:arn:master" or body is failed
    assert all(headers.get("Content-Type", "") == "" for _, headers, _ in _Capture.received)


def test_lambda_asset_alone_connects_with_verified_tls(tmp_path: Path, tls_cluster: TlsCluster) -> None:
    """The asset as the Lambda runtime sees it: no site-packages (python -S), only the asset on the path."""
    import subprocess
    import sys

    from infra.components.db_roles_resource import build_asset

    asset = build_asset(tmp_path / "asset")
    program = (
        "import sys; sys.path[:0] = [sys.argv[1]]\n"
        "from pathlib import Path\n"
        "from infra.lambdas.db_roles_handler import Connection, Endpoint\n"
        "endpoint = Endpoint(host='127.0.0.1', port=int(sys.argv[2]), database='postgres', user=sys.argv[3],"
        " password='')\n"
        "conn = Connection(endpoint, Path(sys.argv[4]), 10.0)\n"
        "print(conn.fetchval('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))\n"
        "import pg8000; print(pg8000.__file__)\n"
        "conn.close()\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            program,
            str(asset),
            str(tls_cluster.cluster.port),
            DB_USER,
            str(tls_cluster.right_ca),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    ssl_on, driver = result.stdout.split()
    assert ssl_on == "True" and driver.startswith(str(asset))


@pytest.mark.timeout(60)
def test_a_database_that_never_answers_fails_within_the_lambdas_time_instead_of_hanging(
    scratch: dict[str, Any], tls_cluster: TlsCluster
) -> None:
    """A server that accepts the connection and then says nothing (a black hole): the connect timeout, bounded by the
    remaining time less the reserve for answering CloudFormation, turns it into a FAILED outcome."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        master = json.loads(scratch["store"]["arn:master"]) | {"port": silent.getsockname()[1]}
        scratch["store"]["arn:master"] = json.dumps(master)
        seen: list[float] = []

        def connect(endpoint: Endpoint, ca: Path, timeout_s: float) -> Connection:
            seen.append(timeout_s)
            return Connection(endpoint, ca, timeout_s)

        outcome = handle(
            event(),
            read_secret=scratch["store"].__getitem__,
            connect=connect,
            remaining_s=13.0,
            ca_bundle=tls_cluster.right_ca,
        )
    assert seen == [13.0 - db_roles_handler.RESPONSE_RESERVE_S]
    assert outcome.status == "FAILED" and outcome.reason.startswith("could not connect to 127.0.0.1:")
    assert "timed out" in outcome.reason.lower() or "timeout" in outcome.reason.lower()
