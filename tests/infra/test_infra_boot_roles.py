"""The boot path with the stage's role secrets: the master creates the roles, the migrator migrates and grants, the
server's DATABASE_URL is the app role's; credentials never appear on a command line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from infra.bootstrap.bootstrap import (
    DB_ROLES_MODULE,
    MANIFEST_NAME,
    Settings,
    database_url,
    parse_args,
    run_bootstrap,
)
from scripts.pgcluster import Cluster, free_port
from tests.infra.test_infra_bootstrap import LocalSystemd, OfflineRunner, http_ok, secret_for
from tests.support import rpc
from tests.synth_fixtures import write_synth_release

RELEASE = "0.1.0-0123456789ab"


def secret(user: str, password: str) -> str:
    return json.dumps({"username": user, "password": password, "host": "db", "port": 5432, "dbname": "mcpstack"})


SECRETS = {
    "arn:master": secret("mcpstack", "master-pw"),
    "arn:migrator": secret("mcpstack_migrator", "migrator-pw"),
    "arn:app": secret("mcpstack_app", "app-pw"),
}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self.reads: list[str] = []

    def read_secret(self, secret_id: str) -> str:
        self.reads.append(secret_id)
        return SECRETS[secret_id]

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        self.calls.append((list(argv), dict(env or {})))

    def daemon_reload(self) -> None:
        return None

    def enable_now(self, unit: str) -> None:
        return None


def settings_for(tmp_path: Path, **roles: str) -> Settings:
    return Settings(
        stage="dev",
        color="green",
        server="native",
        release=RELEASE,
        release_dir=write_synth_release(tmp_path / "releases", RELEASE),
        prefix=tmp_path / "opt",
        secret_id="arn:master",
        region="us-east-1",
        log_group="/g",
        metrics_log_group="/m",
        db_host="proxy.example",
        root=tmp_path / "root",
        **roles,  # type: ignore[arg-type]
    )


def boot(settings: Settings) -> Recorder:
    fake = Recorder()
    run_bootstrap(settings, secrets=fake, runner=fake, systemd=fake, probe=lambda url: True, log=lambda m: None)
    return fake


def test_with_role_secrets_the_master_creates_roles_and_the_server_connects_as_the_app(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, migrator_secret_id="arn:migrator", app_secret_id="arn:app")
    fake = boot(settings)
    assert sorted(fake.reads) == ["arn:app", "arn:master", "arn:migrator"]
    python, mcpstack = str(settings.venv / "bin" / "python"), str(settings.venv / "bin" / "mcpstack")
    database = [(argv, env) for argv, env in fake.calls if argv[0] in (python, mcpstack) and "pip" not in argv]
    assert [argv[1:] for argv, _ in database] == [
        ["-m", DB_ROLES_MODULE, "create-roles"],
        ["db", "migrate"],
        ["-m", DB_ROLES_MODULE, "grant-app"],
    ]
    (_, create), (_, migrate), (_, grant) = database
    master = database_url(SECRETS["arn:master"], host_override="proxy.example")
    migrator = database_url(SECRETS["arn:migrator"], host_override="proxy.example")
    assert create["MCPSTACK_MASTER_URL"] == master
    assert (create["MCPSTACK_MIGRATOR_USER"], create["MCPSTACK_APP_USER"]) == ("mcpstack_migrator", "mcpstack_app")
    assert migrate["DATABASE_URL"] == grant["DATABASE_URL"] == migrator
    env_file = settings.env_file.read_text()
    assert "mcpstack_app:app-pw@proxy.example" in env_file
    assert "master-pw" not in env_file and "migrator-pw" not in env_file
    for argv, _ in fake.calls:  # passwords travel in the environment only
        assert not any(pw in " ".join(argv) for pw in ("master-pw", "migrator-pw", "app-pw"))


def test_without_role_secrets_everything_runs_as_the_master_as_before(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    fake = boot(settings)
    assert fake.reads == ["arn:master"]
    assert not [argv for argv, _ in fake.calls if DB_ROLES_MODULE in argv]
    assert "mcpstack:master-pw@proxy.example" in settings.env_file.read_text()


def test_role_secret_flags_reach_the_settings() -> None:
    common = [
        "--stage=dev",
        "--color=blue",
        "--server=native",
        "--release=r",
        "--release-dir=/r",
        "--prefix=/p",
        "--secret-id=arn:master",
        "--region=us-east-1",
        "--log-group=/g",
        "--metrics-log-group=/m",
    ]
    settings = parse_args([*common, "--migrator-secret-id=arn:migrator", "--app-secret-id=arn:app"])
    assert (settings.migrator_secret_id, settings.app_secret_id) == ("arn:migrator", "arn:app")
    assert parse_args(common).app_secret_id is None


# --- end to end: a real release, a real PostgreSQL, the server serving as the app role ---------------------------


class SecretsById:
    def __init__(self, by_id: dict[str, str]) -> None:
        self.by_id = by_id

    def read_secret(self, secret_id: str) -> str:
        return self.by_id[secret_id]


@pytest.fixture
def fresh_database(pg_cluster: Cluster) -> Iterator[str]:
    """A new database in the session cluster (the roles take over what its master creates), dropped afterwards."""
    name = f"boot_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_cluster.url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(pg_cluster.url)._replace(path=f"/{name}"))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def role_secret(master_url: str, user: str, password: str) -> str:
    shape = json.loads(secret_for(master_url))
    return json.dumps({**shape, "username": user, "password": password})


@pytest.mark.timeout(600)
def test_boot_from_a_real_release_creates_the_roles_and_serves_as_the_app_role(
    tmp_path: Path, built_release: Path, fresh_database: str
) -> None:
    release = json.loads((built_release / MANIFEST_NAME).read_text())["id"]
    settings = settings_for(tmp_path, migrator_secret_id="arn:migrator", app_secret_id="arn:app")
    settings = dataclasses.replace(
        settings,
        release=release,
        release_dir=built_release,
        python=sys.executable,
        port=free_port(),
        health_timeout_s=60.0,
        db_host=None,
    )
    store = SecretsById(
        {
            "arn:master": secret_for(fresh_database),
            "arn:migrator": role_secret(fresh_database, "mcpstack_migrator", "m-pw"),
            "arn:app": role_secret(fresh_database, "mcpstack_app", "a-pw"),
        }
    )
    systemd = LocalSystemd(settings)
    try:
        run_bootstrap(settings, secrets=store, runner=OfflineRunner(), systemd=systemd, probe=http_ok)
        assert "mcpstack_app:a-pw@" in settings.env_file.read_text()
        reply = rpc(settings.port, "tools/call", {"name": "get_customer", "arguments": {"customer_id": 1}})
        assert reply.status == 200

        async def inspect() -> tuple[str, list[str]]:
            conn = await asyncpg.connect(fresh_database)
            try:
                owner = await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'schema_migrations'")
                users = await conn.fetch(
                    "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                return str(owner), sorted(str(r["usename"]) for r in users)
            finally:
                await conn.close()

        owner, users = asyncio.run(inspect())
        assert owner == "mcpstack_migrator"  # migrations ran as the migrator
        assert users == ["mcpstack_app"]  # the server's pool connects as the app role, and only it
    finally:
        systemd.stop()
