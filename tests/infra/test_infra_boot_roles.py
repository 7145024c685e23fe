"""The boot path with the stage's role secrets: the master creates the roles, the migrator migrates and grants, the
server's DATABASE_URL is the app role's; credentials never appear on a command line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.bootstrap.bootstrap import DB_ROLES_MODULE, Settings, database_url, parse_args, run_bootstrap
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
