"""The instance boot path (`infra/bootstrap/bootstrap.py`): unit tests with fakes, and one run on this machine.

The end-to-end test runs the real boot sequence against a temporary prefix and the session's PostgreSQL: the secret
comes from a fake Secrets Manager, systemd is a fake that starts the unit's ExecStart with its EnvironmentFile, and
the venv step links the current venv instead of installing from PyPI. It ends with the server answering /health.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from infra.bootstrap.bootstrap import (
    CLOUDWATCH_AGENT_CTL,
    BootstrapError,
    Settings,
    cloudwatch_agent_config,
    database_url,
    install_commands,
    main,
    render_unit,
    run_bootstrap,
    server_argv,
)
from tests.support import free_port

SECRET = json.dumps(
    {"username": "mcpstack", "password": "p@ss/w:rd", "host": "db.example", "port": 5432, "dbname": "mcpstack"}
)


def settings_for(tmp_path: Path, color: str = "green", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "stage": "dev",
        "color": color,
        "repo": tmp_path / "app",
        "prefix": tmp_path / "prefix",
        "root": tmp_path / "root",
        "secret_id": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db",
        "region": "us-east-1",
        "log_group": f"/mcpstack/dev/{color}/app",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


class FakeSecrets:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.reads: list[str] = []

    def read_secret(self, secret_id: str) -> str:
        self.reads.append(secret_id)
        return self.secret


class RecordingRunner:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.envs: list[Mapping[str, str] | None] = []

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        self.calls.append(list(argv))
        self.envs.append(env)


class RecordingSystemd:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def daemon_reload(self) -> None:
        self.calls.append("daemon-reload")

    def enable_now(self, unit: str) -> None:
        self.calls.append(f"enable --now {unit}")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# --- unit tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("color", "target"), [("blue", "[baseline]"), ("green", "")])
def test_install_creates_a_venv_and_installs_the_repo_with_the_lock(tmp_path: Path, color: str, target: str) -> None:
    settings = settings_for(tmp_path, color)
    python = str(settings.venv / "bin" / "python")
    lock = str(settings.repo / "requirements.lock")
    assert install_commands(settings) == [
        ["python3.11", "-m", "venv", str(settings.venv)],
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"],
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            lock,
            f"{settings.repo}{target}",
        ],
    ]


def test_database_url_quotes_credentials_from_the_secret() -> None:
    assert database_url(SECRET) == "postgresql://mcpstack:p%40ss%2Fw%3Ard@db.example:5432/mcpstack"


def test_database_url_uses_the_proxy_host_when_given() -> None:
    assert database_url(SECRET, host_override="proxy.example").startswith("postgresql://mcpstack:p%40ss")
    assert "@proxy.example:5432/" in database_url(SECRET, host_override="proxy.example")


def test_malformed_secret_is_a_bootstrap_error() -> None:
    with pytest.raises(BootstrapError):
        database_url('{"username": "x"}')


@pytest.mark.parametrize(("color", "command"), [("blue", "serve fastapi"), ("green", "serve native")])
def test_unit_starts_the_colours_server_on_all_interfaces(tmp_path: Path, color: str, command: str) -> None:
    settings = settings_for(tmp_path, color)
    unit = render_unit(settings)
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == f"ExecStart={settings.venv}/bin/mcpstack {command} --host 0.0.0.0 --port 8080"
    assert f"EnvironmentFile={settings.env_file}" in unit
    assert "DynamicUser=yes" in unit
    assert "TimeoutStopSec=40" in unit  # drains within the 30 s deregistration delay


def test_cloudwatch_agent_collects_memory_per_group_and_the_server_log(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    config = cloudwatch_agent_config(settings)
    metrics = config["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["metrics_collected"]["mem"] == {"measurement": ["mem_used_percent"]}
    assert metrics["aggregation_dimensions"] == [["AutoScalingGroupName"]]
    assert str(settings.log_file) in json.dumps(config)
    assert settings.log_group in json.dumps(config)


def test_boot_runs_install_migrate_start_agent_in_order(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    runner, systemd, secrets = RecordingRunner(), RecordingSystemd(), FakeSecrets(SECRET)
    run_bootstrap(settings, secrets=secrets, runner=runner, systemd=systemd, probe=lambda url: True, log=lambda m: None)

    mcpstack = str(settings.venv / "bin" / "mcpstack")
    assert runner.calls[:3] == install_commands(settings)
    assert runner.calls[3] == [mcpstack, "db", "migrate"]
    env = runner.envs[3]
    assert env is not None
    assert env["DATABASE_URL"] == database_url(SECRET)
    assert runner.calls[4][0] == CLOUDWATCH_AGENT_CTL
    assert secrets.reads == [settings.secret_id]
    assert systemd.calls == ["daemon-reload", "enable --now mcpstack-green.service"]
    assert settings.unit_path.read_text() == render_unit(settings)
    assert stat.S_IMODE(settings.env_file.stat().st_mode) == 0o600
    assert 'DATABASE_URL="postgresql://mcpstack:p%40ss%2Fw%3Ard@db.example:5432/mcpstack"' in (
        settings.env_file.read_text()
    )


def test_boot_fails_when_the_server_never_becomes_healthy(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = settings_for(tmp_path, health_timeout_s=30.0)
    with pytest.raises(BootstrapError):
        run_bootstrap(
            settings,
            secrets=FakeSecrets(SECRET),
            runner=RecordingRunner(),
            systemd=RecordingSystemd(),
            probe=lambda url: False,
            clock=clock,
            sleep=clock.sleep,
            log=lambda m: None,
        )
    assert clock.now >= 30.0


def test_failed_step_exits_non_zero_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--stage=dev", "--color=green", f"--repo={tmp_path}", f"--prefix={tmp_path}/p", f"--root={tmp_path}/r"]
    args += ["--secret-id=x", "--region=us-east-1", "--log-group=/g", "--python=/nonexistent/python3.11"]
    assert main(args) == 1
    assert capsys.readouterr().err.startswith("bootstrap failed: ")


# --- end to end on this machine --------------------------------------------------------------------------------------


class LocalRunner:
    """Runs commands for real, except the venv and pip steps: the venv links the current one (no network)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.skipped: list[list[str]] = []

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        if list(argv[1:3]) == ["-m", "venv"]:
            bin_dir = self.settings.venv / "bin"
            bin_dir.mkdir(parents=True)
            for name in ("python", "mcpstack"):
                (bin_dir / name).symlink_to(Path(sys.executable).parent / name)
        elif list(argv[1:4]) == ["-m", "pip", "install"] or argv[0] == CLOUDWATCH_AGENT_CTL:
            self.skipped.append(list(argv))
        else:
            subprocess.run(list(argv), env=None if env is None else dict(env), check=True, timeout=120)


class LocalSystemd:
    """Starts the unit the way systemd would: ExecStart with the EnvironmentFile, output appended to the log."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    def daemon_reload(self) -> None:
        pass

    def enable_now(self, unit: str) -> None:
        directives = dict(
            line.split("=", 1) for line in self.settings.unit_path.read_text().splitlines() if "=" in line
        )
        env = dict(os.environ)
        for line in Path(directives["EnvironmentFile"]).read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value.strip('"')
        env["MCP_WORKERS"] = "1"  # the machine is shared with other test runs
        log = Path(directives["StandardOutput"].removeprefix("append:"))
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                shlex.split(directives["ExecStart"]), env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def secret_for(url: str) -> str:
    """The RDS secret's JSON shape for a local PostgreSQL URL."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
    return json.dumps(
        {
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "host": host,
            "port": parts.port or 5432,
            "dbname": parts.path.lstrip("/"),
        }
    )


@pytest.fixture(params=["green", "blue"])
def local_systemd(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Settings, LocalSystemd]]:
    repo = Path(__file__).resolve().parents[2]
    settings = settings_for(tmp_path, request.param, port=free_port(), repo=repo, health_timeout_s=60.0)
    systemd = LocalSystemd(settings)
    try:
        yield settings, systemd
    finally:
        systemd.stop()


def test_boot_on_this_machine_ends_with_the_server_answering_health(
    database_url: str, local_systemd: tuple[Settings, LocalSystemd]
) -> None:
    settings, systemd = local_systemd
    runner = LocalRunner(settings)
    run_bootstrap(
        settings, secrets=FakeSecrets(secret_for(database_url)), runner=runner, systemd=systemd, probe=http_ok
    )
    with urllib.request.urlopen(settings.health_url, timeout=5) as response:
        assert response.status == 200
    assert systemd.process is not None and systemd.process.args == server_argv(settings)
    assert [argv[1:4] for argv in runner.skipped] == [
        ["-m", "pip", "install"],
        ["-m", "pip", "install"],
        ["-a", "fetch-config", "-m"],
    ]
    assert json.loads(settings.cloudwatch_config.read_text()) == cloudwatch_agent_config(settings)


def http_ok(url: str) -> bool:
    from infra.bootstrap.bootstrap import http_probe

    return http_probe(url)
