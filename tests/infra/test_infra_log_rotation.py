"""The server log on the instances stays bounded on the 8 GiB root volume: the bootstrap installs a size-based
logrotate rule for the slot's log file and makes logrotate's timer hourly."""

from __future__ import annotations

import json
from pathlib import Path

from infra.bootstrap.bootstrap import (
    LOG_ROTATE_KEEP,
    LOG_ROTATE_SIZE,
    LOGROTATE_TIMER_DROPIN,
    Settings,
    render_logrotate,
    run_bootstrap,
)
from tests.synth_fixtures import write_synth_release

RELEASE = "0.1.0-0123456789ab"
SECRET = json.dumps({"username": "u", "password": "p", "host": "db", "port": 5432, "dbname": "d"})


class Quiet:
    def read_secret(self, secret_id: str) -> str:
        return SECRET

    def run(self, argv: object, *, env: object = None) -> None:
        return None

    def daemon_reload(self) -> None:
        return None

    def enable_now(self, unit: str) -> None:
        return None


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        stage="dev",
        color="blue",
        server="native",
        release=RELEASE,
        release_dir=write_synth_release(tmp_path / "releases", RELEASE),
        prefix=tmp_path / "opt",
        secret_id="arn:secret",
        region="us-east-1",
        log_group="/mcpstack/dev/blue",
        metrics_log_group="/mcpstack/dev/blue/metrics",
        root=tmp_path / "root",
    )


def test_rotation_rule_bounds_the_server_log_by_size_and_count(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    lines = [line.strip() for line in render_logrotate(settings).splitlines()]
    assert lines[0] == f"{settings.log_file} {{"
    assert lines[-1] == "}"
    body = set(lines[1:-1])
    assert {f"size {LOG_ROTATE_SIZE}", f"rotate {LOG_ROTATE_KEEP}", "compress"} <= body
    # systemd holds the file open in append mode: the rule truncates it in place rather than moving it away.
    assert "copytruncate" in body


def test_boot_installs_the_rotation_rule_and_an_hourly_logrotate_timer(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    fake = Quiet()
    run_bootstrap(settings, secrets=fake, runner=fake, systemd=fake, probe=lambda url: True, log=lambda m: None)
    assert settings.logrotate_config == settings.root / "etc" / "logrotate.d" / "mcpstack-blue"
    assert settings.logrotate_config.read_text() == render_logrotate(settings)
    dropin = settings.logrotate_timer_dropin.read_text()
    assert dropin == LOGROTATE_TIMER_DROPIN
    # An empty OnCalendar= first clears the packaged daily schedule; without it the timer would fire on both.
    assert dropin.splitlines() == ["[Timer]", "OnCalendar=", "OnCalendar=hourly"]
