"""Facts about the EC2 instance types the stages may use, written once: the database budget (infra/budget.py) and
the cost model (scripts/cost/model.py) both read them."""

from __future__ import annotations

from typing import Final

# vCPUs per EC2 instance type the stages may use (the EC2 instance type pages). A type missing here stops the synth
# with one line rather than guessing.
INSTANCE_VCPUS: Final[dict[str, int]] = {
    "t3.micro": 2,
    "t3.small": 2,
    "t3.medium": 2,
    "t3.large": 2,
    "t3.xlarge": 4,
    "c5.large": 2,
    "c5.xlarge": 4,
    "c5.2xlarge": 8,
    "m5.large": 2,
    "m5.xlarge": 4,
}
