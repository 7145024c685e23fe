"""McpStack-<stage>-Network: the VPC."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from infra.components.network import Network
from infra.config import StageConfig
from infra.stacks.base import McpStackBase


class NetworkStack(McpStackBase):
    def __init__(self, scope: Construct, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, config=config, unit="Network", description="mcpstack VPC and flow logs", **kwargs)
        self.network = Network(self, "Network", config=config.network)
        self.vpc = self.network.vpc
