"""The HTML cost dashboard in Debian's headless Chromium: the charts are drawn, the calculator shows the model's
figures for the inputs a reader picks, and a screenshot is saved (into the test's temporary directory; with
MCPSTACK_DOCS_SCREENSHOT=1 also as docs/cost/dashboard.png, the picture the README shows, so a test run leaves the
tree unchanged)."""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cost import prices, stage, templates, throughput, workload
from scripts.cost.cli import app
from scripts.cost.money import usd
from scripts.state import REPO_ROOT

from .cdp import Browser, chromium_path
from .conftest import RESULTS

DOCS_SCREENSHOT = REPO_ROOT / "docs" / "cost" / "dashboard.png"


def post_shaped(names: list[str]) -> str:
    """The stage that models the outside post's shapes: its two slots run different instance types."""
    from infra.config import STAGES

    return next((n for n in names if STAGES[n].blue.instance_type != STAGES[n].green.instance_type), names[0])


@pytest.fixture(scope="module")
def page(assemblies: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name = post_shaped(list(assemblies))
    path = assemblies[name]
    out = tmp_path_factory.mktemp("dashboard") / "dashboard.html"
    result = CliRunner().invoke(
        app, ["report", "--stage", name, "--cdk-out", str(path), "--format", "html", "--output", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    return name, out


def test_dashboard_is_self_contained(page: tuple[str, Path]) -> None:
    text = page[1].read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    assert "<script src" not in text and "<link" not in text


def test_dashboard_renders_and_calculator_matches_the_model(
    page: tuple[str, Path], assemblies: dict[str, Path]
) -> None:
    assert chromium_path() is not None, "needs chromium: scripts/ensure-system.sh (make test) installs it"
    name, html = page
    run = throughput.load(RESULTS)
    resources = templates.load(assemblies[name], name)
    base = workload.preset("saas-200k")

    def price(load: workload.Workload) -> stage.CostReport:
        return stage.price_stage(resources, stage=name, workload=load, run=run, table=prices.EMBEDDED)

    with Browser() as browser:
        browser.open(html.as_uri())
        assert browser.evaluate("document.body.dataset.ready") == "1"
        assert run.name in browser.evaluate("document.getElementById('run').textContent")
        charts = json.loads(
            browser.evaluate(
                """JSON.stringify({
                  breakdown: [...document.querySelectorAll('#chart-breakdown rect')].map(r => +r.getAttribute('width')),
                  claim: document.querySelectorAll('#chart-claim rect').length,
                  volume: [...document.querySelectorAll('#chart-volume path')].map(p => p.getAttribute('d').length),
                  steps: document.querySelectorAll('#chart-volume circle').length,
                  savings: document.querySelectorAll('#chart-savings path').length,
                  box: document.getElementById('chart-volume').getBoundingClientRect().height,
                })"""
            )
        )
        assert charts["breakdown"] and all(w >= 0 for w in charts["breakdown"]) and max(charts["breakdown"]) > 50
        assert charts["claim"] >= 3
        assert len(charts["volume"]) == 2 and min(charts["volume"]) > 200
        assert charts["steps"] >= 2
        assert charts["savings"] == 1 and charts["box"] > 100

        calls = browser.evaluate("D.grid.calls")
        peaks = browser.evaluate("D.grid.peaks")
        for index, peak in ((len(calls) - 3, peaks[-1]), (len(calls) // 2, peaks[0]), (5, peaks[len(peaks) // 2])):
            shown = json.loads(
                browser.evaluate(
                    f"""(() => {{
                      const s = document.getElementById('calls'); s.value = {index};
                      s.dispatchEvent(new Event('input'));
                      const p = document.getElementById('peak'); p.value = {json.dumps(peak)};
                      p.dispatchEvent(new Event('change'));
                      const t = id => document.getElementById(id).textContent;
                      return JSON.stringify({{calls: t('calls-value'), saving: t('saving'),
                        fastapi: [t('fastapi-instances'), t('fastapi-monthly'), t('fastapi-per-million')],
                        native: [t('native-instances'), t('native-monthly'), t('native-per-million')]}});
                    }})()"""
                )
            )
            expected = price(base.at_volume(Decimal(calls[index]), Decimal(peak)))
            assert shown["calls"].replace(",", "") == calls[index]
            for variant in ("fastapi", "native"):
                cost = expected.variants[variant]
                assert cost.sizing is not None
                assert shown[variant] == [str(cost.sizing.count), usd(cost.total), usd(cost.per_million)]
            assert shown["saving"].startswith(usd(expected.savings().usd))
        browser.open(html.as_uri())  # back to the report's own workload for the picture
        assert browser.evaluate("document.body.dataset.ready") == "1"
        shot = html.parent / "dashboard.png"
        browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    if os.environ.get("MCPSTACK_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
