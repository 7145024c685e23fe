"""Entry point of the CDK app: picks the stage (`-c stage=<name>`, default dev), builds the six stacks, runs cdk-nag.

The only module that chooses a stage. Run by the CDK CLI through `cdk.json` (`python -m infra.app`).
"""

from __future__ import annotations

import sys

from aws_cdk import App, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from infra import contract
from infra.config import DEFAULT_STAGE, StageConfig, UnknownStageError, get_stage
from infra.stacks.data import DataStack
from infra.stacks.edge import EdgeStack
from infra.stacks.fleet import FleetStack
from infra.stacks.monitoring import MonitoringStack
from infra.stacks.network import NetworkStack


def build(app: App, config: StageConfig) -> dict[contract.StackUnit, Stack]:
    """Adds the stage's stacks to `app` and wires them; returns them by unit."""
    network = NetworkStack(app, config=config)
    data = DataStack(app, config=config, vpc=network.vpc)
    edge = EdgeStack(app, config=config, vpc=network.vpc)
    fleets = {
        color: FleetStack(app, config=config, color=color, vpc=network.vpc, edge=edge.edge, database=data.database)
        for color in contract.COLORS
    }
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


def main() -> None:
    app = App()
    try:
        config = stage_from_context(app)
    except UnknownStageError as ex:
        print(f"error: {ex}", file=sys.stderr)
        raise SystemExit(2) from None
    build(app, config)
    # An unacknowledged AwsSolutions finding makes synth fail; the report lands in cdk.out.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
