"""In-process synthesis of a stage with the committed feature flags, and the offline environment of a clean clone.

Used by the tests (one synth per stage per session) and by tools that want the templates without the CLI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from infra import contract
from infra.app import build
from infra.config import STAGES, StageConfig
from infra.live_weights import LiveWeights, read_live_weights

REPO = Path(__file__).resolve().parents[1]
STAGE_NAMES = tuple(STAGES)


@dataclass(frozen=True)
class SynthesizedStage:
    config: StageConfig
    app: App
    stacks: dict[contract.StackUnit, Stack]
    templates: dict[contract.StackUnit, Template]


def cdk_context() -> dict[str, Any]:
    """The feature flags committed in cdk.json, so in-process apps synthesize what the CLI synthesizes."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return context


def synthesize(
    config: StageConfig, outdir: Path, *, releases_dir: Path, weights: LiveWeights | None = None
) -> SynthesizedStage:
    """The stage's stacks in a fresh app; `weights` default to the stage's committed live weights."""
    app = App(context=cdk_context(), outdir=str(outdir))
    stacks = build(
        app,
        config,
        releases_dir=releases_dir,
        weights=weights if weights is not None else read_live_weights(config.name),
    )
    # One synth for the whole app: `Template.from_stack` would synthesize the app again for every stack.
    assembly = app.synth()
    templates = {
        unit: Template.from_json(assembly.get_stack_by_name(stack.stack_name).template)
        for unit, stack in stacks.items()
    }
    return SynthesizedStage(config=config, app=app, stacks=stacks, templates=templates)
