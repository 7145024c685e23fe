"""The instance boot path (`infra/bootstrap/bootstrap.py`): unit tests with fakes, and real boots on this machine.

The end-to-end test runs the real boot sequence against a temporary prefix and the session's PostgreSQL, for both
servers in both slots: a real release artifact (built once per session by `mcpstack release build` from HEAD) is
installed into a fresh venv by the real pip, with every index and proxy pointing at an unroutable address so a
boot that tried to reach PyPI would fail. The secret comes from a fake Secrets Manager, systemd is a fake that
starts the unit's ExecStart with its EnvironmentFile. It ends with the server answering /health.
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
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from infra import contract
from infra.bootstrap.bootstrap import (
    CLOUDWATCH_AGENT_CTL,
    MANIFEST_NAME,
    BootstrapError,
    Settings,
    SubprocessRunner,
    bridge_argv,
    check_release,
    cloudwatch_agent_config,
    database_url,
    install_commands,
    main,
    render_bridge_unit,
    render_unit,
    run_bootstrap,
    server_argv,
)
from infra.bootstrap.metrics_bridge import run as run_bridge
from infra.bootstrap.metrics_bridge import scrape
from tests.support import free_port, rpc
from tests.synth_fixtures import write_synth_release

SECRET = json.dumps(
    {"username": "mcpstack", "password": "p@ss/w:rd", "host": "db.example", "port": 5432, "dbname": "mcpstack"}
)


RELEASE = "0.1.0-0123456789ab"
SERVER_OF = {"blue": "fastapi", "green": "native"}


def settings_for(tmp_path: Path, color: str = "green", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "stage": "dev",
        "color": color,
        "server": SERVER_OF[color],
        "release": RELEASE,
        "release_dir": tmp_path / "release",
        "prefix": tmp_path / "prefix",
        "root": tmp_path / "root",
        "secret_id": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db",
        "region": "us-east-1",
        "log_group": f"/mcpstack/dev/{color}/app",
        "metrics_log_group": f"/mcpstack/dev/{color}/mcp-metrics",
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


@pytest.mark.parametrize("server", ["fastapi", "native"])
def test_install_uses_only_the_releases_wheelhouse_with_hashes(tmp_path: Path, server: str) -> None:
    settings = settings_for(tmp_path, server=server)
    venv, pip = install_commands(settings)
    assert venv == ["python3.11", "-m", "venv", str(settings.venv)]
    assert pip[:4] == [str(settings.venv / "bin" / "python"), "-m", "pip", "install"]
    assert {"--no-index", "--require-hashes", "--only-binary=:all:"} <= set(pip)
    assert pip[pip.index("--find-links") + 1] == str(settings.release_dir / "wheels")
    assert pip[pip.index("-r") + 1] == str(settings.release_dir / f"requirements-{server}.txt")
    assert "--upgrade" not in pip  # pip itself comes with the venv: nothing unpinned


def test_release_check_accepts_the_named_release(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, release_dir=write_synth_release(tmp_path, RELEASE))
    assert check_release(settings)["id"] == RELEASE


@pytest.mark.parametrize(
    "overrides",
    [{"release": "0.1.0-ffffffffffff"}, {"release_dir": Path("/nonexistent")}],
    ids=["other-release", "no-manifest"],
)
def test_release_check_refuses_an_artifact_the_slot_does_not_name(tmp_path: Path, overrides: dict[str, object]) -> None:
    settings = settings_for(tmp_path, **{"release_dir": write_synth_release(tmp_path, RELEASE), **overrides})
    with pytest.raises(BootstrapError):
        check_release(settings)


def test_database_url_quotes_credentials_from_the_secret() -> None:
    assert database_url(SECRET) == "postgresql://mcpstack:p%40ss%2Fw%3Ard@db.example:5432/mcpstack"


def test_database_url_uses_the_proxy_host_when_given() -> None:
    assert database_url(SECRET, host_override="proxy.example").startswith("postgresql://mcpstack:p%40ss")
    assert "@proxy.example:5432/" in database_url(SECRET, host_override="proxy.example")


def test_malformed_secret_is_a_bootstrap_error() -> None:
    with pytest.raises(BootstrapError):
        database_url('{"username": "x"}')


@pytest.mark.parametrize(
    ("color", "server", "command"),
    [("blue", "fastapi", "serve fastapi"), ("green", "native", "serve native"), ("blue", "native", "serve native")],
)
def test_unit_starts_the_slots_server_on_all_interfaces(tmp_path: Path, color: str, server: str, command: str) -> None:
    settings = settings_for(tmp_path, color, server=server)
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
    settings = settings_for(tmp_path, release_dir=write_synth_release(tmp_path, RELEASE))
    runner, systemd, secrets = RecordingRunner(), RecordingSystemd(), FakeSecrets(SECRET)
    run_bootstrap(settings, secrets=secrets, runner=runner, systemd=systemd, probe=lambda url: True, log=lambda m: None)

    mcpstack = str(settings.venv / "bin" / "mcpstack")
    assert runner.calls[:2] == install_commands(settings)
    assert runner.calls[2] == [mcpstack, "db", "migrate"]
    env = runner.envs[2]
    assert env is not None
    assert env["DATABASE_URL"] == database_url(SECRET)
    assert runner.calls[3][0] == CLOUDWATCH_AGENT_CTL
    assert secrets.reads == [settings.secret_id]
    assert systemd.calls == [
        "daemon-reload",
        "enable --now mcpstack-green.service",
        "enable --now mcpstack-green-metrics.service",
    ]
    assert settings.bridge_unit_path.read_text() == render_bridge_unit(settings)
    assert settings.unit_path.read_text() == render_unit(settings)
    assert stat.S_IMODE(settings.env_file.stat().st_mode) == 0o600
    assert 'DATABASE_URL="postgresql://mcpstack:p%40ss%2Fw%3Ard@db.example:5432/mcpstack"' in (
        settings.env_file.read_text()
    )


def test_boot_refuses_a_release_other_than_the_slots_before_installing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, release_dir=write_synth_release(tmp_path, "0.1.0-ffffffffffff"))
    runner = RecordingRunner()
    with pytest.raises(BootstrapError):
        run_bootstrap(
            settings,
            secrets=FakeSecrets(SECRET),
            runner=runner,
            systemd=RecordingSystemd(),
            probe=lambda url: True,
            log=lambda m: None,
        )
    assert runner.calls == []


def test_boot_fails_when_the_server_never_becomes_healthy(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = settings_for(tmp_path, health_timeout_s=30.0, release_dir=write_synth_release(tmp_path, RELEASE))
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
    release = write_synth_release(tmp_path, RELEASE)
    args = ["--stage=dev", "--color=green", "--server=native", f"--release={RELEASE}", f"--release-dir={release}"]
    args += [f"--prefix={tmp_path}/p", f"--root={tmp_path}/r"]
    args += ["--secret-id=x", "--region=us-east-1", "--log-group=/g", "--metrics-log-group=/m"]
    args += ["--python=/nonexistent/python3.11"]
    assert main(args) == 1
    assert capsys.readouterr().err.startswith("bootstrap failed: ")


# --- end to end on this machine --------------------------------------------------------------------------------------


# Every way pip could reach an index points at a port nothing listens on: a boot that needs PyPI fails here.
UNREACHABLE = "http://127.0.0.1:9/"
OFFLINE_ENV = {
    "PIP_INDEX_URL": UNREACHABLE,
    "PIP_EXTRA_INDEX_URL": UNREACHABLE,
    "PIP_FIND_LINKS": "",
    "http_proxy": UNREACHABLE,
    "https_proxy": UNREACHABLE,
    "HTTP_PROXY": UNREACHABLE,
    "HTTPS_PROXY": UNREACHABLE,
    "no_proxy": "",
    "PIP_NO_CACHE_DIR": "1",
}


class OfflineRunner:
    """Runs every command for real with PyPI unreachable, except the CloudWatch agent (not on this machine)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.skipped: list[list[str]] = []

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        if argv[0] == CLOUDWATCH_AGENT_CTL:
            self.skipped.append(list(argv))
            return
        self.calls.append(list(argv))
        SubprocessRunner().run(argv, env={**(os.environ if env is None else env), **OFFLINE_ENV})


class LocalSystemd:
    """Starts the unit the way systemd would: ExecStart with the EnvironmentFile, output appended to the log."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.enabled: list[str] = []

    def daemon_reload(self) -> None:
        pass

    def enable_now(self, unit: str) -> None:
        self.enabled.append(unit)
        if unit != self.settings.unit_name:
            return  # the metrics bridge: the test runs it in process against the server (see below)
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


@pytest.fixture(
    params=[("blue", "fastapi"), ("green", "native"), ("blue", "native"), ("green", "fastapi")],
    ids=lambda p: "-".join(p),
)
def local_systemd(
    tmp_path: Path, request: pytest.FixtureRequest, built_release: Path
) -> Iterator[tuple[Settings, LocalSystemd]]:
    color, server = request.param
    release = json.loads((built_release / MANIFEST_NAME).read_text())["id"]
    settings = settings_for(
        tmp_path,
        color,
        server=server,
        release=release,
        release_dir=built_release,
        python=sys.executable,
        port=free_port(),
        health_timeout_s=60.0,
    )
    systemd = LocalSystemd(settings)
    try:
        yield settings, systemd
    finally:
        systemd.stop()


@pytest.mark.timeout(600)
def test_boot_installs_the_slot_from_its_release_without_pypi_and_serves(
    database_url: str, local_systemd: tuple[Settings, LocalSystemd]
) -> None:
    settings, systemd = local_systemd
    runner = OfflineRunner()
    run_bootstrap(
        settings, secrets=FakeSecrets(secret_for(database_url)), runner=runner, systemd=systemd, probe=http_ok
    )
    with urllib.request.urlopen(settings.health_url, timeout=5) as response:
        assert response.status == 200
    assert systemd.process is not None and systemd.process.args == server_argv(settings)
    assert runner.calls[:2] == install_commands(settings)
    assert [argv[1:4] for argv in runner.skipped] == [["-a", "fetch-config", "-m"]]
    installed = subprocess.run(
        [str(settings.venv / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **OFFLINE_ENV},
        timeout=60,
    )
    names = {entry["name"].lower() for entry in json.loads(installed.stdout)}
    # The slot's server only: the FastAPI slot has the baseline extra, the native slot does not.
    assert "mcpstack" in names
    assert ("gunicorn" in names) is (settings.server == "fastapi")
    agent = json.loads(settings.cloudwatch_config.read_text())
    assert agent == cloudwatch_agent_config(settings)
    assert agent["logs"]["metrics_collected"] == {"emf": {}}  # the listener the metrics bridge sends to
    assert systemd.enabled == [settings.unit_name, settings.bridge_unit_name]

    # The bridge's unit, run against this server: a baseline scrape, two tool calls, a second scrape.
    bridge = shlex.split(
        next(line for line in settings.bridge_unit_path.read_text().splitlines() if line.startswith("ExecStart="))[10:]
    )
    assert bridge == bridge_argv(settings)
    sent: list[dict[str, object]] = []

    def between_scrapes(seconds: float) -> None:
        assert rpc(settings.port, "tools/call", {"name": "echo", "arguments": {"message": "hi"}}).status == 200
        rpc(settings.port, "tools/call", {"name": "echo", "arguments": {"message": 7}})  # a wrong argument type

    run_bridge(
        stage=settings.stage,
        slot=settings.color,
        port=settings.port,
        log_group=settings.metrics_log_group,
        interval_s=0,
        fetch=scrape,
        send=lambda docs: sent.extend(docs) or True,
        sleep=between_scrapes,
        periods=2,
    )
    assert_mcp_documents(sent, settings)


def assert_mcp_documents(sent: list[dict[str, object]], settings: Settings) -> None:
    """The documents carry the contract's namespace, metric and dimension names, and count what happened."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for doc in sent:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
        assert directive["Namespace"] == contract.MCP_METRICS_NAMESPACE
        assert doc["_aws"]["LogGroupName"] == settings.metrics_log_group  # type: ignore[index]
        assert doc[contract.MCP_DIMENSION_SLOT] == settings.color
        (metric,) = directive["Metrics"]
        by_metric.setdefault(metric["Name"], []).append({**doc, "dimensions": directive["Dimensions"]})
    calls = {
        (d[contract.MCP_DIMENSION_TOOL], d[contract.MCP_DIMENSION_OUTCOME]): d[contract.MCP_METRIC_TOOL_CALLS]
        for d in by_metric[contract.MCP_METRIC_TOOL_CALLS]
    }
    assert calls[("echo", "ok")] == 1
    assert set(calls) <= {("echo", outcome) for outcome in contract.MCP_OUTCOMES}
    (calls_doc, *_) = by_metric[contract.MCP_METRIC_TOOL_CALLS]
    assert calls_doc["dimensions"] == [list(d) for d in contract.MCP_TOOL_CALLS_DIMENSIONS]
    requests = {d[contract.MCP_DIMENSION_METHOD]: d[contract.MCP_METRIC_REQUESTS] for d in by_metric["Requests"]}
    assert requests["tools/call"] == 2
    (latency,) = by_metric[contract.MCP_METRIC_TOOL_LATENCY]
    assert sum(latency[contract.MCP_METRIC_TOOL_LATENCY]["Counts"]) == 2


def http_ok(url: str) -> bool:
    from infra.bootstrap.bootstrap import http_probe

    return http_probe(url)
