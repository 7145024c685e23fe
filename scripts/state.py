"""Where the project keeps local state (the PostgreSQL cluster, run files): `$MCPSTACK_STATE_DIR` or `./.state`."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def state_dir() -> Path:
    return Path(os.environ.get("MCPSTACK_STATE_DIR") or REPO_ROOT / ".state")
