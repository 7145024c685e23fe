"""Entry point of the CDK app: picks the stage (`-c stage=<name>`, default dev), builds the six stacks, runs cdk-nag.

The only module that chooses a stage. Run by the CDK CLI through `cdk.json` (`python -m infra.app`). Besides the
stage config it reads two things, both local files: each slot's release artifact (from the releases directory,
`-c releases_dir=<dir>`, default `.state/releases`) and the stage's live weights, which the cutover owns.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from infra import contract
from infra.config import DEFAULT_STAGE, StageConfig, StageConfigError, UnknownStageError, get_stage
from infra.live_weights import LiveWeights, LiveWeightsError, read_live_weights
from infra.releases import RELEASES_DIR_CONTEXT, ReleaseNotFoundError, default_releases_dir, release_path
from infra.stacks.data import DataStack
from infra.stacks.edge import EdgeStack
from infra.stacks.fleet import FleetStack
from infra.stacks.monitoring import MonitoringStack
from infra.stacks.network import NetworkStack
from infra.stage_checks import check_stage


def build(
    app: App, config: StageConfig, *, releases_dir: Path, weights: LiveWeights
) -> dict[contract.StackUnit, Stack]:
    """Adds the stage's stacks to `app` and wires them; returns them by unit."""
    config.check_exposure()
    check_stage(config)  # connection budget, timeouts, PostgreSQL version (infra/stage_checks.py)
    # Checked before any construct exists, so a missing release is one clear error, not a half-built app.
    releases = {
        color: release_path(releases_dir, config.fleet(color).release, server=config.fleet(color).server)
        for color in contract.COLORS
    }
    network = NetworkStack(app, config=config)
    data = DataStack(app, config=config, vpc=network.vpc)
    edge = EdgeStack(app, config=config, vpc=network.vpc, weights=weights)
    fleets = {
        color: FleetStack(
            app,
            config=config,
            color=color,
            release_dir=releases[color],
            vpc=network.vpc,
            edge=edge.edge,
            database=data.database,
            request_state_secret=data.request_state_keys.secret,
        )
        for color in contract.COLORS
    }
    for fleet in fleets.values():
        # The fleets read the database endpoint parameter at deploy time (no import makes this order for us).
        fleet.add_stack_dependency(data)
    monitoring = MonitoringStack(
        app,
        config=config,
        edge=edge.edge,
        auto_scaling_group_names={c: f.fleet.auto_scaling_group.auto_scaling_group_name for c, f in fleets.items()},
        database=data.database.instance,
    )
    return {
        "Network": network,
        "Data": data,
        "Edge": edge,
        "FleetBlue": fleets["blue"],
        "FleetGreen": fleets["green"],
        "Monitoring": monitoring,
    }


def stage_from_context(app: App) -> StageConfig:
    name = app.node.try_get_context("stage") or DEFAULT_STAGE
    return get_stage(str(name))


def releases_dir_from_context(app: App) -> Path:
    value = app.node.try_get_context(RELEASES_DIR_CONTEXT)
    return Path(str(value)) if value else default_releases_dir()


def main() -> None:
    app = App()
    try:
        config = stage_from_context(app)
        build(app, config, releases_dir=releases_dir_from_context(app), weights=read_live_weights(config.name))
    except (UnknownStageError, StageConfigError, ReleaseNotFoundError, LiveWeightsError) as ex:
        print(f"error: {ex}", file=sys.stderr)
        raise SystemExit(2) from None
    # An unacknowledged AwsSolutions finding makes synth fail; the report lands in cdk.out.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
