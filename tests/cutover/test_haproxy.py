"""The HAProxy pieces against the real binary: generated config accepted by `haproxy -c`, weights mapped from
percentages and written/read through the runtime API, the process started and stopped by its pid file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.cutover.haproxy import (
    HaproxyConfig,
    HaproxyError,
    HaproxyProcess,
    HaproxyRouter,
    RuntimeApi,
    pct_to_weight,
    render_config,
    validate,
    weight_to_pct,
)
from scripts.pgcluster import free_port


def _config(tmp_path: Path) -> HaproxyConfig:
    return HaproxyConfig(
        bind_port=free_port(),
        stats_port=free_port(),
        socket_path=tmp_path / "admin.sock",
        slot_ports={"blue": free_port(), "green": free_port()},
        weights_pct={"blue": 100, "green": 0},
    )


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[HaproxyRouter]:
    cfg = _config(tmp_path)
    (tmp_path / "haproxy.cfg").write_text(render_config(cfg))
    process = HaproxyProcess(tmp_path / "haproxy.cfg", tmp_path / "haproxy.pid")
    process.start()
    try:
        yield HaproxyRouter(RuntimeApi(cfg.socket_path))
    finally:
        process.stop()
    assert not process.running()


def test_every_percentage_survives_the_mapping_to_haproxy_weights() -> None:
    assert all(weight_to_pct(pct_to_weight(p)) == p for p in range(101))
    assert (pct_to_weight(0), pct_to_weight(100)) == (0, 256)


def test_percentage_outside_0_100_is_refused() -> None:
    with pytest.raises(HaproxyError):
        pct_to_weight(101)


def test_generated_config_passes_haproxy_check(tmp_path: Path) -> None:
    text = render_config(_config(tmp_path))
    (tmp_path / "haproxy.cfg").write_text(text)
    validate(tmp_path / "haproxy.cfg")
    for line in ("option httpchk GET /health", "http-check expect status 200", "default-server inter 1s fall 2 rise 2"):
        assert line in text
    assert "mode 600 level admin" in text and "http-reuse safe" in text


def test_broken_config_is_refused_before_use(tmp_path: Path) -> None:
    (tmp_path / "bad.cfg").write_text("backend x\n    balance nonsense\n")
    with pytest.raises(HaproxyError):
        validate(tmp_path / "bad.cfg")


def test_router_writes_weights_and_reads_them_back(haproxy: HaproxyRouter) -> None:
    haproxy.check_exists()
    assert haproxy.read_weights() == {"blue": 100, "green": 0}
    haproxy.write_weights({"blue": 99, "green": 1})
    assert haproxy.read_weights() == {"blue": 99, "green": 1}
    haproxy.write_weights({"blue": 0, "green": 100})
    assert haproxy.read_weights() == {"blue": 0, "green": 100}


def test_router_refuses_weights_not_summing_to_100(haproxy: HaproxyRouter) -> None:
    with pytest.raises(HaproxyError):
        haproxy.write_weights({"blue": 60, "green": 60})
    assert haproxy.read_weights() == {"blue": 100, "green": 0}


def test_server_without_a_passed_check_is_not_healthy(haproxy: HaproxyRouter) -> None:
    # Nothing listens on the slots' ports: a server HAProxy has not yet checked, or whose check fails, is unhealthy.
    assert haproxy.target_health("green").healthy == 0
