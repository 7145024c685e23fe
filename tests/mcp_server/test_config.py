"""Configuration: environment and flags into one frozen object; bad values fail at start with one line."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from services.mcp_server.config import ConfigError, load_config
from tests.support import REPO


def test_environment_then_flags_make_one_frozen_config() -> None:
    config = load_config(
        {
            "MCP_PORT": "9000",
            "MCP_WORKERS": "3",
            "MCP_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "MCP_KEEPALIVE_TIMEOUT_S": "80",
            "MCP_REUSE_PORT": "false",
        },
        port=9100,
    )
    assert (config.port, config.workers, config.reuse_port) == (9100, 3, False)
    assert config.allowed_origins == ("https://a.example", "https://b.example")
    assert config.limits.keepalive_timeout_s == 80.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]


def test_host_allow_list_is_local_names_on_localhost_and_off_on_a_routable_bind() -> None:
    assert "localhost" in load_config({}).host_allow_list
    assert load_config({"MCP_HOST": "0.0.0.0"}).host_allow_list == frozenset()
    assert load_config({"MCP_HOST": "0.0.0.0", "MCP_ALLOWED_HOSTS": "mcp.example.com"}).host_allow_list == {
        "mcp.example.com"
    }


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"MCP_PORT": "eighty"}, "MCP_PORT='eighty' is not a valid int"),
        ({"MCP_PORT": "70000"}, "port must be 0-65535"),
        ({"MCP_WORKERS": "0"}, "workers must be 1-256"),
        ({"DATABASE_URL": "mysql://x"}, "postgresql://"),
        ({"MCP_REUSE_PORT": "maybe"}, "MCP_REUSE_PORT"),
        ({"MCP_MAX_BODY_BYTES": "-1"}, "max_body_bytes must be positive"),
        ({"MCP_PATH": "mcp"}, "must start with '/'"),
        ({"MCP_REQUEST_STATE_KEYS": "c2hvcnQ"}, "MCP_REQUEST_STATE_KEYS: key 1 is 5 bytes"),
    ],
)
def test_bad_configuration_is_one_clear_error(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_the_cli_reports_bad_configuration_in_one_line_and_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")} | {"MCP_WORKERS": "many"}
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "serve", "native", "--database-url", "postgresql://x@127.0.0.1:1/x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert "MCP_WORKERS='many' is not a valid int" in proc.stderr
    assert "Traceback" not in proc.stderr
