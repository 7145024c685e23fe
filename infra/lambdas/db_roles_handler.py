"""The database-roles custom resource's Lambda: as the RDS master user, create (or re-password) the migrator and app
roles with `infra/bootstrap/db_roles.py`'s statements, once per stage, so no instance ever reads the master's secret.

CloudFormation sends Create, Update and Delete. Create and Update read the three secrets (the master's holds host,
port and dbname), connect with TLS verified against the RDS CA bundle shipped beside this file (`sslmode=verify-full`
as pg8000 does it: an SSL context with the bundle and host name checking), and run the statements in one
transaction; both are idempotent, so a re-run is a no-op. Delete leaves the roles (they go with the database).

Every outcome is reported to CloudFormation (the pre-signed response URL) before the handler returns, a failure as
FAILED with one line naming what went wrong (never a password): a bad property, an unreadable secret, a refused
connection or statement. The connection's timeout is bounded by the Lambda's remaining time, so the function answers
before Lambda would kill it, which would leave the stack waiting an hour.

Runs in the Lambda Python runtime (boto3 is there); the asset holds this package's files it imports, pg8000 and its
pure-Python dependencies (`infra/components/db_roles_resource.py`).
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.bootstrap.db_roles import Login, SyncSession, create_roles_sync

PROPERTIES = ("MasterSecretArn", "MigratorSecretArn", "AppSecretArn")
CA_BUNDLE = Path(__file__).resolve().parents[2] / "rds-ca-bundle.pem"
# Seconds kept back from the Lambda's remaining time for reporting the outcome.
RESPONSE_RESERVE_S = 10.0
MAX_CONNECT_TIMEOUT_S = 30.0
MAX_REASON_CHARS = 1000


class ResourceError(RuntimeError):
    """What CloudFormation shows as the resource's failure reason (one line, no secret)."""


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    host: str
    port: int
    database: str
    user: str
    password: str


@dataclass(frozen=True, kw_only=True)
class Outcome:
    status: str  # SUCCESS | FAILED
    reason: str
    physical_id: str


SecretReader = Callable[[str], str]
# (endpoint, CA bundle, timeout in seconds) -> a connection with `session()` and `close()`.
Connector = Callable[[Endpoint, Path, float], "Connection"]


class Connection:
    """pg8000's native connection as `db_roles.SyncSession`, one transaction for the whole run."""

    def __init__(self, endpoint: Endpoint, ca_bundle: Path, timeout_s: float) -> None:
        import pg8000.native  # type: ignore[import-untyped]

        context = ssl.create_default_context(cafile=str(ca_bundle))  # verifies the chain and the host name
        self._conn = pg8000.native.Connection(
            user=endpoint.user,
            password=endpoint.password,
            host=endpoint.host,
            port=endpoint.port,
            database=endpoint.database,
            ssl_context=context,
            timeout=timeout_s,
            application_name="mcpstack-db-roles",
        )

    def fetchval(self, sql: str, *args: str) -> Any:
        rows = self._run(sql, args)
        return rows[0][0] if rows else None

    def fetch_column(self, sql: str, *args: str) -> list[Any]:
        return [row[0] for row in self._run(sql, args)]

    def execute(self, sql: str) -> None:
        self._run(sql, ())

    def _run(self, sql: str, args: tuple[str, ...]) -> list[list[Any]]:
        # pg8000 names its parameters (:p1); the shared statements number them ($1) as PostgreSQL does.
        for i in range(len(args), 0, -1):
            sql = sql.replace(f"${i}", f":p{i}")
        return list(self._conn.run(sql, **{f"p{i}": arg for i, arg in enumerate(args, start=1)}) or [])

    def transaction(self, body: Callable[[SyncSession], None]) -> None:
        self._conn.run("BEGIN")
        try:
            body(self)
        except BaseException:
            self._conn.run("ROLLBACK")
            raise
        self._conn.run("COMMIT")

    def close(self) -> None:
        self._conn.close()


def _secret(read: SecretReader, arn: str, *, what: str) -> dict[str, Any]:
    try:
        text = read(arn)
    except Exception as ex:  # botocore's errors name the secret and the refusal, never a value
        raise ResourceError(f"could not read the {what} secret: {type(ex).__name__}: {ex}") from ex
    try:
        value = json.loads(text)
        if not isinstance(value, dict) or not value.get("username") or "password" not in value:
            raise ValueError("no username and password")
        return value
    except ValueError as ex:
        raise ResourceError(f"the {what} secret is not an RDS secret (JSON with username and password)") from ex


def physical_id(properties: Mapping[str, Any]) -> str:
    return f"db-roles:{properties.get('MasterSecretArn', 'unknown')}"


def handle(
    event: Mapping[str, Any],
    *,
    read_secret: SecretReader,
    connect: Connector,
    remaining_s: float,
    ca_bundle: Path = CA_BUNDLE,
) -> Outcome:
    """The custom resource's work for one event; never raises."""
    properties = event.get("ResourceProperties") or {}
    identity = str(event.get("PhysicalResourceId") or physical_id(properties))
    try:
        request = event.get("RequestType")
        if request == "Delete":
            return Outcome(status="SUCCESS", reason="roles kept: they go with the database", physical_id=identity)
        if request not in ("Create", "Update"):
            raise ResourceError(f"unknown RequestType {request!r}")
        missing = [name for name in PROPERTIES if not isinstance(properties.get(name), str) or not properties[name]]
        if missing:
            raise ResourceError(f"missing properties: {', '.join(missing)}")
        master = _secret(read_secret, properties["MasterSecretArn"], what="master")
        migrator = _secret(read_secret, properties["MigratorSecretArn"], what="migrator")
        app = _secret(read_secret, properties["AppSecretArn"], what="app")
        try:
            endpoint = Endpoint(
                host=str(master["host"]),
                port=int(master["port"]),
                database=str(master["dbname"]),
                user=str(master["username"]),
                password=str(master["password"]),
            )
        except (KeyError, TypeError, ValueError) as ex:
            raise ResourceError(f"the master secret has no usable host, port and dbname ({type(ex).__name__})") from ex
        timeout_s = min(MAX_CONNECT_TIMEOUT_S, remaining_s - RESPONSE_RESERVE_S)
        if timeout_s <= 1:
            raise ResourceError(f"{remaining_s:.0f} s left of the Lambda's time: too little to connect")
        logins = {
            "migrator": Login(user=str(migrator["username"]), password=str(migrator["password"])),
            "app": Login(user=str(app["username"]), password=str(app["password"])),
        }
        try:
            conn = connect(endpoint, ca_bundle, timeout_s)
        except Exception as ex:
            raise ResourceError(
                f"could not connect to {endpoint.host}:{endpoint.port}/{endpoint.database} as {endpoint.user}: "
                f"{type(ex).__name__}: {_scrub(str(ex), master, migrator, app)}"
            ) from ex
        try:
            conn.transaction(lambda session: create_roles_sync(session, **logins))
        except Exception as ex:
            raise ResourceError(
                f"creating the roles failed: {type(ex).__name__}: {_scrub(str(ex), master, migrator, app)}"
            ) from ex
        finally:
            conn.close()
        return Outcome(
            status="SUCCESS",
            reason=f"roles {logins['migrator'].user} and {logins['app'].user} ready",
            physical_id=identity,
        )
    except ResourceError as ex:
        return Outcome(status="FAILED", reason=_one_line(str(ex)), physical_id=identity)
    except Exception as ex:  # anything unforeseen still answers CloudFormation
        return Outcome(status="FAILED", reason=_one_line(f"unexpected {type(ex).__name__}"), physical_id=identity)


def _scrub(text: str, *secrets: Mapping[str, Any]) -> str:
    for secret in secrets:
        password = str(secret.get("password") or "")
        if password:
            text = text.replace(password, "***")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_REASON_CHARS]


def response_body(event: Mapping[str, Any], outcome: Outcome) -> bytes:
    return json.dumps(
        {
            "Status": outcome.status,
            "Reason": outcome.reason,
            "PhysicalResourceId": outcome.physical_id,
            "StackId": event.get("StackId"),
            "RequestId": event.get("RequestId"),
            "LogicalResourceId": event.get("LogicalResourceId"),
            "NoEcho": True,
            "Data": {},
        }
    ).encode()


def send_response(event: Mapping[str, Any], outcome: Outcome, *, timeout_s: float = 10.0) -> None:
    """PUT the outcome to CloudFormation's pre-signed URL (content type empty, as the URL was signed)."""
    url = str(event["ResponseURL"])
    if not url.startswith(("https://", "http://127.0.0.1")):
        raise ValueError("the response URL is not an https URL")
    body = response_body(event, outcome)
    request = urllib.request.Request(  # noqa: S310 (checked above: CloudFormation's https URL, or a local test's)
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        response.read()


def _read_secret(arn: str) -> str:
    import boto3  # type: ignore[import-untyped]  # the Lambda runtime's

    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def handler(event: dict[str, Any], context: Any) -> None:
    """The Lambda entry point."""
    outcome = handle(
        event,
        read_secret=_read_secret,
        connect=Connection,
        remaining_s=context.get_remaining_time_in_millis() / 1000.0,
        ca_bundle=CA_BUNDLE,
    )
    print(json.dumps({"RequestType": event.get("RequestType"), "Status": outcome.status, "Reason": outcome.reason}))
    send_response(event, outcome)
