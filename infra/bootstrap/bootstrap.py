"""Instance bootstrap: venv + install from the release, database roles and migrations, systemd unit, log rotation,
CloudWatch agent.

Also the one definition of a release artifact's layout (`mcpstack release build` writes it, the CDK app ships it):

    release.json                 manifest: format, id, version, commit, python, platforms, servers, file hashes
    wheels/*.whl                 the project's wheel and every locked dependency, for the instances' platform
    requirements-<server>.txt    `name==version --hash=sha256:...` for everything that server needs
    bootstrap.py                 this file, as it was at the release's commit

Runs on Amazon Linux 2023 from CloudFormation Init as `python3.11 bootstrap.py ...` inside the unpacked release,
before anything is installed, so it uses the standard library only. pip installs from the release's wheelhouse with
`--no-index --require-hashes`: a boot never reaches PyPI. Every side effect goes through an injected object (secrets
reader, command runner, systemd, health probe) so a test can run the whole path against a temporary prefix with
fakes for AWS and systemd. A non-zero exit fails cfn-init, hence the deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

SERVE_COMMANDS = {
    # the FastAPI baseline (gunicorn with uvicorn workers behind `mcpstack serve fastapi`)
    "fastapi": ("serve", "fastapi"),
    # the native supervisor (one worker per core)
    "native": ("serve", "native"),
}
SERVER_TITLES = {"fastapi": "FastAPI baseline", "native": "native MCP server"}
# The FastAPI server needs the baseline extra (FastAPI, gunicorn); the native server needs only the core package.
EXTRAS = {"fastapi": "baseline", "native": None}
SLOTS = ("blue", "green")

# --- the release artifact's layout ---
# 2: the bootstrap takes --metrics-log-group and starts the metrics bridge. 3: it takes --migrator-secret-id and
# --app-secret-id (the database roles) and rotates the server log. 4: --secret-id (the master's) is optional (a custom
# resource creates the roles, infra/components/db_roles_resource.py), --db-ca-bundle (sslmode=verify-full),
# --request-state-secret-id (MCP_REQUEST_STATE_KEYS) and --stateful (MCP_STATEFUL=1); MCP_SLOT is always set.
RELEASE_FORMAT = 4
MANIFEST_NAME = "release.json"
WHEELHOUSE_NAME = "wheels"
BOOTSTRAP_NAME = "bootstrap.py"


def requirements_name(server: str) -> str:
    return f"requirements-{server}.txt"


DB_ROLES_MODULE = "infra.bootstrap.db_roles"
CLOUDWATCH_AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
# systemd's TimeoutStopSec on the server unit: the deregistration delay (`--drain-s`) plus this margin, so systemd never
# kills a server that is still draining (infra/timeouts.py checks the servers' drain against it).
STOP_TIMEOUT_MARGIN_S = 10
# The server log is appended to by systemd and tailed by the CloudWatch agent (which ships it to the slot's log group,
# the copy that is kept). On an 8 GiB root volume it is rotated by size, keeping a few compressed files; logrotate's
# timer runs daily on Amazon Linux 2023, so a drop-in makes it hourly: the log is then bounded by about
# LOG_ROTATE_KEEP x LOG_ROTATE_SIZE plus one hour of writes.
LOG_ROTATE_SIZE = "100M"
LOG_ROTATE_KEEP = 5


class BootstrapError(RuntimeError):
    """A boot step failed; the message is one line for the cfn-init log."""


class SecretsReader(Protocol):
    def read_secret(self, secret_id: str) -> str: ...


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None: ...


class Systemd(Protocol):
    def daemon_reload(self) -> None: ...

    def enable_now(self, unit: str) -> None: ...


HealthProbe = Callable[[str], bool]


@dataclass(frozen=True, kw_only=True)
class Settings:
    stage: str
    color: str
    server: str
    release: str
    # The unpacked release artifact (manifest, wheelhouse, requirements).
    release_dir: Path
    prefix: Path
    # The RDS master user's secret, read only by fleets wired before format 4: with the two role secrets below, the
    # master creates the roles at boot; without them everything runs as the master. From format 4 on the CDK app
    # passes no master secret: the roles exist before any instance boots (a custom resource creates them), the
    # migrator migrates and the servers connect as the app role.
    secret_id: str | None = None
    migrator_secret_id: str | None = None
    app_secret_id: str | None = None
    # The CA bundle the database's certificate must chain to: every DATABASE_URL then carries sslmode=verify-full
    # and sslrootcert=<this path>. None: the driver's default (TLS if offered, nothing verified), for local boots.
    db_ca_bundle: str | None = None
    # A Secrets Manager secret whose JSON field `keys` is MCP_REQUEST_STATE_KEYS (comma-separated base64url keys,
    # the first signs, all verify): one per stage, shared by both slots, so a retried request may land anywhere.
    request_state_secret_id: str | None = None
    # MCP_STATEFUL=1: the servers' optional stateful mode (sessions, Mcp-Session-Id prefixed with MCP_SLOT).
    stateful: bool = False
    region: str
    log_group: str
    # The log group of the MCP metrics' EMF documents (the metrics bridge names it in every document).
    metrics_log_group: str
    port: int = 8080
    python: str = "python3.11"
    db_host: str | None = None
    drain_s: int = 30
    # Where system files go (/etc/systemd, /var/log, /opt/aws); "/" on an instance, a temporary dir in tests.
    root: Path = Path("/")
    health_timeout_s: float = 180.0

    def __post_init__(self) -> None:
        if self.color not in SLOTS:
            raise BootstrapError(f"unknown slot {self.color!r}; expected blue or green")
        if self.server not in SERVE_COMMANDS:
            raise BootstrapError(f"unknown server {self.server!r}; expected fastapi or native")

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    @property
    def env_file(self) -> Path:
        return self.prefix / "etc" / "mcpstack.env"

    @property
    def unit_name(self) -> str:
        return f"mcpstack-{self.color}.service"

    @property
    def unit_path(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / self.unit_name

    @property
    def bridge_unit_name(self) -> str:
        return f"mcpstack-{self.color}-metrics.service"

    @property
    def bridge_unit_path(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / self.bridge_unit_name

    @property
    def log_file(self) -> Path:
        return self.root / "var" / "log" / "mcpstack" / f"{self.color}.log"

    @property
    def logrotate_config(self) -> Path:
        return self.root / "etc" / "logrotate.d" / f"mcpstack-{self.color}"

    @property
    def logrotate_timer_dropin(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / "logrotate.timer.d" / "mcpstack-hourly.conf"

    @property
    def cloudwatch_config(self) -> Path:
        return self.root / "opt" / "aws" / "amazon-cloudwatch-agent" / "etc" / "amazon-cloudwatch-agent.json"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


# --- pure parts ----------------------------------------------------------------------------------------------------


def check_release(settings: Settings) -> dict[str, object]:
    """The unpacked artifact is the release the slot's configuration names, in a format this bootstrap reads."""
    path = settings.release_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as ex:
        raise BootstrapError(f"no readable release manifest at {path} ({type(ex).__name__})") from ex
    if not isinstance(manifest, dict) or manifest.get("format") != RELEASE_FORMAT:
        raise BootstrapError(f"{path} is not a format {RELEASE_FORMAT} release manifest")
    if manifest.get("id") != settings.release:
        raise BootstrapError(f"the unpacked release is {manifest.get('id')!r}, the slot names {settings.release!r}")
    servers = manifest.get("servers")
    if not isinstance(servers, dict) or settings.server not in servers:
        raise BootstrapError(f"release {settings.release} has no {settings.server} server")
    return manifest


def install_commands(settings: Settings) -> list[list[str]]:
    """Create the venv and install the server from the release's wheelhouse only: pinned, hashed, no index."""
    python = str(settings.venv / "bin" / "python")
    return [
        [settings.python, "-m", "venv", str(settings.venv)],
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-index",
            "--find-links",
            str(settings.release_dir / WHEELHOUSE_NAME),
            "--only-binary=:all:",
            "--require-hashes",
            "-r",
            str(settings.release_dir / requirements_name(settings.server)),
        ],
    ]


def secret_login(secret_string: str) -> tuple[str, str]:
    """(username, password) from an RDS-style secret."""
    try:
        secret = json.loads(secret_string)
        return str(secret["username"]), str(secret["password"])
    except (ValueError, KeyError, TypeError) as ex:
        raise BootstrapError(f"database secret is not the expected JSON ({type(ex).__name__})") from ex


def database_url(secret_string: str, *, host_override: str | None = None, ca_bundle: str | None = None) -> str:
    """`postgresql://user:password@host:port/dbname` from the RDS secret (JSON with host/port/username/...); with
    `ca_bundle`, `?sslmode=verify-full&sslrootcert=<ca_bundle>` (asyncpg reads both from the DSN): TLS required, the
    server's certificate must chain to the bundle and name the host connected to."""
    try:
        secret = json.loads(secret_string)
        user, password = str(secret["username"]), str(secret["password"])
        host, port, dbname = host_override or str(secret["host"]), int(secret["port"]), str(secret["dbname"])
    except (ValueError, KeyError, TypeError) as ex:
        raise BootstrapError(f"database secret is not the expected JSON ({type(ex).__name__}: {ex})") from ex
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    tls = [] if ca_bundle is None else ["sslmode=verify-full", f"sslrootcert={quote(ca_bundle, safe='/')}"]
    if host.startswith("/"):  # a Unix socket directory (local PostgreSQL)
        query = "&".join([f"host={quote(host, safe='')}", f"port={port}", *tls])
        return f"postgresql://{credentials}@/{quote(dbname, safe='')}?{query}"
    return f"postgresql://{credentials}@{host}:{port}/{quote(dbname, safe='')}" + (f"?{'&'.join(tls)}" if tls else "")


REQUEST_STATE_SECRET_KEY = "keys"  # noqa: S105 (a JSON key, not a secret)


def request_state_keys(secret_string: str) -> str:
    """MCP_REQUEST_STATE_KEYS from the stage's request-state secret (JSON, the keys under `keys`)."""
    try:
        keys = json.loads(secret_string)[REQUEST_STATE_SECRET_KEY]
    except (ValueError, KeyError, TypeError) as ex:
        raise BootstrapError(f"request-state secret is not the expected JSON ({type(ex).__name__})") from ex
    if not isinstance(keys, str) or not keys.strip():
        raise BootstrapError("request-state secret holds no keys")
    return keys.strip()


def render_env_file(settings: Settings, url: str, *, request_state_keys: str | None = None) -> str:
    values = {
        "DATABASE_URL": url,
        "MCPSTACK_STAGE": settings.stage,
        "MCPSTACK_COLOR": settings.color,
        "MCPSTACK_SERVER": settings.server,
        "MCPSTACK_RELEASE": settings.release,
        # The release slot, read by the servers' stateful mode (session ids start with `<slot>-`).
        "MCP_SLOT": settings.color,
    }
    if request_state_keys is not None:
        values["MCP_REQUEST_STATE_KEYS"] = request_state_keys
    if settings.stateful:
        values["MCP_STATEFUL"] = "1"
    return "".join(f'{key}="{_systemd_escape(value)}"\n' for key, value in values.items())


def server_argv(settings: Settings) -> list[str]:
    return [
        str(settings.venv / "bin" / "mcpstack"),
        *SERVE_COMMANDS[settings.server],
        "--host",
        "0.0.0.0",
        "--port",
        str(settings.port),
    ]


def render_unit(settings: Settings) -> str:
    server = SERVER_TITLES[settings.server]
    return "\n".join(
        [
            "[Unit]",
            f"Description=mcpstack {settings.stage} {settings.color}: {server} {settings.release}",
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            "DynamicUser=yes",
            f"EnvironmentFile={settings.env_file}",
            f"ExecStart={shlex.join(server_argv(settings))}",
            "Restart=on-failure",
            "RestartSec=2",
            # The servers drain in-flight requests on SIGTERM within the ALB's deregistration delay.
            "KillSignal=SIGTERM",
            f"TimeoutStopSec={settings.drain_s + STOP_TIMEOUT_MARGIN_S}",
            "LimitNOFILE=65536",
            f"StandardOutput=append:{settings.log_file}",
            "StandardError=inherit",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def render_logrotate(settings: Settings) -> str:
    """Size-bounded rotation of the server log. `copytruncate`: systemd holds the file open in append mode and the
    server cannot be told to reopen it; the agent follows the truncation (it tracks the file by inode and offset)."""
    return "\n".join(
        [
            f"{settings.log_file} {{",
            f"    size {LOG_ROTATE_SIZE}",
            f"    rotate {LOG_ROTATE_KEEP}",
            "    compress",
            "    delaycompress",
            "    missingok",
            "    notifempty",
            "    copytruncate",
            "}",
            "",
        ]
    )


LOGROTATE_TIMER_DROPIN = "[Timer]\nOnCalendar=\nOnCalendar=hourly\n"


def bridge_argv(settings: Settings) -> list[str]:
    """The metrics bridge (`infra/bootstrap/metrics_bridge.py`), run from the slot's venv where the release put it."""
    return [
        str(settings.venv / "bin" / "python"),
        "-m",
        "infra.bootstrap.metrics_bridge",
        f"--stage={settings.stage}",
        f"--slot={settings.color}",
        f"--port={settings.port}",
        f"--log-group={settings.metrics_log_group}",
    ]


def render_bridge_unit(settings: Settings) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description=mcpstack {settings.stage} {settings.color}: MCP metrics to the CloudWatch agent",
            f"After={settings.unit_name}",
            "",
            "[Service]",
            "Type=simple",
            "DynamicUser=yes",
            f"ExecStart={shlex.join(bridge_argv(settings))}",
            "Restart=always",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def cloudwatch_agent_config(settings: Settings) -> dict[str, object]:
    """Memory and disk metrics per Auto Scaling group (CWAgent namespace), the server log file, and the EMF listener
    (127.0.0.1:25888) that takes the metrics bridge's MCP metrics."""
    return {
        "agent": {"metrics_collection_interval": 60},
        "metrics": {
            "namespace": "CWAgent",
            "append_dimensions": {
                "AutoScalingGroupName": "${aws:AutoScalingGroupName}",
                "InstanceId": "${aws:InstanceId}",
            },
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/"]},
            },
        },
        "logs": {
            "metrics_collected": {"emf": {}},
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": str(settings.log_file),
                            "log_group_name": settings.log_group,
                            "log_stream_name": "{instance_id}",
                        }
                    ]
                }
            },
        },
    }


def cloudwatch_agent_command(settings: Settings) -> list[str]:
    return [CLOUDWATCH_AGENT_CTL, "-a", "fetch-config", "-m", "ec2", "-s", "-c", f"file:{settings.cloudwatch_config}"]


def _systemd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _write(path: Path, text: str, *, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    tmp.replace(path)


# --- the boot sequence ---------------------------------------------------------------------------------------------


def run_bootstrap(
    settings: Settings,
    *,
    secrets: SecretsReader,
    runner: CommandRunner,
    systemd: Systemd,
    probe: HealthProbe,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> None:
    check_release(settings)
    log(f"installing release {settings.release} ({settings.server}) into {settings.venv}")
    for argv in install_commands(settings):
        runner.run(argv)

    log("reading the database secrets")
    tls = {"host_override": settings.db_host, "ca_bundle": settings.db_ca_bundle}
    master_url = None if settings.secret_id is None else database_url(secrets.read_secret(settings.secret_id), **tls)
    if settings.migrator_secret_id and settings.app_secret_id:
        url = _migrate_with_roles(
            settings,
            migrator_secret=secrets.read_secret(settings.migrator_secret_id),
            app_secret=secrets.read_secret(settings.app_secret_id),
            runner=runner,
            master_url=master_url,
            log=log,
        )
    elif master_url is not None:
        log("applying database migrations (as the master user: this fleet names no role secrets)")
        runner.run(
            [str(settings.venv / "bin" / "mcpstack"), "db", "migrate"], env={**os.environ, "DATABASE_URL": master_url}
        )
        url = master_url
    else:
        raise BootstrapError("no database secret: pass --migrator-secret-id and --app-secret-id (or --secret-id)")
    keys = None
    if settings.request_state_secret_id is not None:
        log("reading the request-state keys")
        keys = request_state_keys(secrets.read_secret(settings.request_state_secret_id))
    # The server's DATABASE_URL: the app role's when the roles exist.
    _write(settings.env_file, render_env_file(settings, url, request_state_keys=keys), mode=0o600)

    log(f"starting {settings.unit_name}")
    settings.log_file.parent.mkdir(parents=True, exist_ok=True)
    _write(settings.logrotate_config, render_logrotate(settings))
    _write(settings.logrotate_timer_dropin, LOGROTATE_TIMER_DROPIN)
    _write(settings.unit_path, render_unit(settings))
    _write(settings.bridge_unit_path, render_bridge_unit(settings))
    systemd.daemon_reload()
    systemd.enable_now(settings.unit_name)
    systemd.enable_now(settings.bridge_unit_name)

    log("configuring the CloudWatch agent")
    _write(settings.cloudwatch_config, json.dumps(cloudwatch_agent_config(settings), indent=2) + "\n")
    runner.run(cloudwatch_agent_command(settings))

    log(f"waiting for {settings.health_url}")
    deadline = clock() + settings.health_timeout_s
    while not probe(settings.health_url):
        if clock() >= deadline:
            raise BootstrapError(f"{settings.unit_name} did not answer {settings.health_url} in time")
        sleep(1.0)
    log("healthy")


def _migrate_with_roles(
    settings: Settings,
    *,
    migrator_secret: str,
    app_secret: str,
    runner: CommandRunner,
    master_url: str | None,
    log: Callable[[str], None],
) -> str:
    """The master creates the roles (infra/bootstrap/db_roles.py) when this fleet was given its secret (before
    format 4; since then a custom resource has created them before any instance boots), the migrator migrates and
    grants the app role its rows; returns the app role's URL. Credentials travel in the environment, never on a
    command line."""
    migrator_url = database_url(migrator_secret, host_override=settings.db_host, ca_bundle=settings.db_ca_bundle)
    app_url = database_url(app_secret, host_override=settings.db_host, ca_bundle=settings.db_ca_bundle)
    python = str(settings.venv / "bin" / "python")
    (migrator_user, migrator_password), (app_user, app_password) = (
        secret_login(migrator_secret),
        secret_login(app_secret),
    )
    roles = {
        "MCPSTACK_MIGRATOR_USER": migrator_user,
        "MCPSTACK_MIGRATOR_PASSWORD": migrator_password,
        "MCPSTACK_APP_USER": app_user,
        "MCPSTACK_APP_PASSWORD": app_password,
    }
    if master_url is not None:
        log("creating the database roles (as the master user)")
        runner.run(
            [python, "-m", DB_ROLES_MODULE, "create-roles"],
            env={**os.environ, **roles, "MCPSTACK_MASTER_URL": master_url},
        )
    log("applying database migrations (as the migrator)")
    runner.run(
        [str(settings.venv / "bin" / "mcpstack"), "db", "migrate"], env={**os.environ, "DATABASE_URL": migrator_url}
    )
    log("granting the app role its rows (as the migrator)")
    runner.run(
        [python, "-m", DB_ROLES_MODULE, "grant-app"],
        env={**os.environ, "DATABASE_URL": migrator_url, "MCPSTACK_APP_USER": app_user},
    )
    return app_url


# --- real side effects ---------------------------------------------------------------------------------------------


class SubprocessRunner:
    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
        try:
            result = subprocess.run(list(argv), env=None if env is None else dict(env), check=False)
        except OSError as ex:
            raise BootstrapError(f"could not run {argv[0]}: {ex.strerror}") from ex
        if result.returncode != 0:
            raise BootstrapError(f"command failed with exit code {result.returncode}: {argv[0]} {' '.join(argv[1:3])}")


class AwsCliSecretsReader:
    """Reads a secret with the AWS CLI that Amazon Linux ships (boto3 is not installed at this point)."""

    def __init__(self, region: str) -> None:
        self._region = region

    def read_secret(self, secret_id: str) -> str:
        argv = ["aws", "secretsmanager", "get-secret-value", "--secret-id", secret_id, "--region", self._region]
        try:
            result = subprocess.run(
                [*argv, "--query", "SecretString", "--output", "text"], capture_output=True, check=False
            )
        except OSError as ex:
            raise BootstrapError(f"could not run the AWS CLI: {ex.strerror}") from ex
        if result.returncode != 0:
            raise BootstrapError(f"could not read the secret {secret_id} (aws exit code {result.returncode})")
        return result.stdout.decode().strip()


class Systemctl:
    def daemon_reload(self) -> None:
        SubprocessRunner().run(["systemctl", "daemon-reload"])

    def enable_now(self, unit: str) -> None:
        SubprocessRunner().run(["systemctl", "enable", "--now", unit])


def http_probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a fixed http://127.0.0.1 URL)
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def parse_args(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="bootstrap", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--color", required=True, choices=SLOTS)
    parser.add_argument("--server", required=True, choices=sorted(SERVE_COMMANDS))
    parser.add_argument("--release", required=True)
    parser.add_argument("--release-dir", required=True, type=Path)
    parser.add_argument("--prefix", required=True, type=Path)
    parser.add_argument("--secret-id")
    parser.add_argument("--migrator-secret-id")
    parser.add_argument("--app-secret-id")
    parser.add_argument("--db-ca-bundle")
    parser.add_argument("--request-state-secret-id")
    parser.add_argument("--stateful", action="store_true")
    parser.add_argument("--region", required=True)
    parser.add_argument("--log-group", required=True)
    parser.add_argument("--metrics-log-group", required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--db-host")
    parser.add_argument("--drain-s", type=int, default=30)
    parser.add_argument("--root", type=Path, default=Path("/"))
    args = parser.parse_args(list(argv))
    return Settings(
        stage=args.stage,
        color=args.color,
        server=args.server,
        release=args.release,
        release_dir=args.release_dir,
        prefix=args.prefix,
        secret_id=args.secret_id,
        migrator_secret_id=args.migrator_secret_id,
        app_secret_id=args.app_secret_id,
        db_ca_bundle=args.db_ca_bundle,
        request_state_secret_id=args.request_state_secret_id,
        stateful=args.stateful,
        region=args.region,
        log_group=args.log_group,
        metrics_log_group=args.metrics_log_group,
        port=args.port,
        python=args.python,
        db_host=args.db_host,
        drain_s=args.drain_s,
        root=args.root,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run_bootstrap(
            settings,
            secrets=AwsCliSecretsReader(settings.region),
            runner=SubprocessRunner(),
            systemd=Systemctl(),
            probe=http_probe,
        )
    except BootstrapError as ex:
        print(f"bootstrap failed: {ex}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
