"""The environment the CDK CLI runs in for an offline synth: no AWS profile or keys, no instance metadata, no
telemetry or version check, and the venv's Node first on PATH.

Dependency-free on purpose (no aws_cdk import): the cost report and the tests build it without starting the jsii
runtime in their own process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def offline_env() -> dict[str, str]:
    """The environment of a clean clone without AWS credentials: no profile, no keys, no instance metadata."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="1",
        CDK_DISABLE_VERSION_CHECK="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env
