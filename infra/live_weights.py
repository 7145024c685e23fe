"""The listener's live weights per stage: written by the cutover, read by the CDK app. One owner, one format.

The cutover is the only writer: after it has verified a weight change on the listener it writes the weights into
`infra/live-weights/<stage>.json` (`contract.live_weights_file`). The CDK app reads the file at synth and gives the
listener exactly those weights, so a `cdk deploy` that touches the listener (a certificate, a rule) re-applies what
is already live instead of resetting traffic. Standard library only: the cutover imports it without aws_cdk.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from infra import contract

REPO = Path(__file__).resolve().parents[1]
# The ALB's limit per target group in a weighted forward.
MAX_WEIGHT = 999


class LiveWeightsError(ValueError):
    """The live-weights file is missing or not the expected shape; the message is one line."""


@dataclass(frozen=True, kw_only=True)
class LiveWeights:
    blue: int
    green: int

    def __post_init__(self) -> None:
        for color, weight in (("blue", self.blue), ("green", self.green)):
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                raise LiveWeightsError(f"{color} weight must be an integer from 0 to {MAX_WEIGHT}, not {weight!r}")
        if self.blue + self.green == 0:
            raise LiveWeightsError("at least one slot needs a positive weight")

    def of(self, color: contract.Color) -> int:
        return self.blue if color == "blue" else self.green


def live_weights_path(stage: str, *, root: Path = REPO) -> Path:
    return root / contract.live_weights_file(stage)


def read_live_weights(stage: str, *, root: Path = REPO) -> LiveWeights:
    path = live_weights_path(stage, root=root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LiveWeightsError(
            f"{path} is missing: every stage needs its live weights (blue 100, green 0 before any cutover)"
        ) from None
    except (OSError, ValueError) as ex:
        raise LiveWeightsError(f"{path} is not readable JSON ({type(ex).__name__})") from ex
    if not isinstance(data, dict) or set(data) != {"blue", "green"}:
        raise LiveWeightsError(f'{path} must be {{"blue": <weight>, "green": <weight>}}')
    return LiveWeights(blue=data["blue"], green=data["green"])


def write_live_weights(stage: str, weights: LiveWeights, *, root: Path = REPO) -> Path:
    """Atomically replaces the stage's file (the cutover calls this after re-reading the listener)."""
    path = live_weights_path(stage, root=root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"blue": weights.blue, "green": weights.green}) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
