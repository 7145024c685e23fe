"""Where the CDK app finds a slot's release artifact, and the check that it is one (no network, no AWS).

The artifact's layout is defined in `infra/bootstrap/bootstrap.py`; `mcpstack release build` (scripts/release.py)
writes it. The app ships exactly that directory as the slot's asset, never the working tree.
"""

from __future__ import annotations

import json
from pathlib import Path

from infra.bootstrap.bootstrap import BOOTSTRAP_NAME, MANIFEST_NAME, RELEASE_FORMAT, requirements_name
from infra.contract import SERVERS
from scripts.state import state_dir

# `cdk synth -c releases_dir=PATH` points the app at another releases directory (tests, CI).
RELEASES_DIR_CONTEXT = "releases_dir"


class ReleaseNotFoundError(ValueError):
    """A slot names a release that is not built (or not a release) in the releases directory."""


def default_releases_dir() -> Path:
    return state_dir() / "releases"


def release_path(releases_dir: Path, release: str, *, server: str) -> Path:
    """The directory of `release`, checked: a format this app ships, the id it claims, the server the slot runs."""
    path = releases_dir / release
    manifest_file = path / MANIFEST_NAME
    if not manifest_file.is_file():
        raise ReleaseNotFoundError(
            f"release {release} is not built in {releases_dir}: run `mcpstack release build --commit "
            f"{release.rsplit('-', 1)[-1]}` (or pass -c {RELEASES_DIR_CONTEXT}=<dir>)"
        )
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as ex:
        raise ReleaseNotFoundError(f"{manifest_file} is not readable JSON ({type(ex).__name__})") from ex
    if not isinstance(manifest, dict) or manifest.get("format") != RELEASE_FORMAT or manifest.get("id") != release:
        raise ReleaseNotFoundError(f"{manifest_file} is not the format {RELEASE_FORMAT} manifest of {release}")
    servers = manifest.get("servers")
    if not isinstance(servers, dict) or server not in servers:
        raise ReleaseNotFoundError(f"release {release} has no {server} server")
    return path


def write_manifest_only_release(releases_dir: Path, release: str) -> Path:
    """A release directory as synth sees it: the manifest and this tree's bootstrap, no wheels (synth reads none).

    For pricing and testing the app where the slots' releases are not built; never something an instance can boot.
    """
    path = releases_dir / release
    path.mkdir(parents=True, exist_ok=True)
    (path / BOOTSTRAP_NAME).write_bytes((Path(__file__).parent / "bootstrap" / "bootstrap.py").read_bytes())
    manifest = {"format": RELEASE_FORMAT, "id": release, "servers": {s: requirements_name(s) for s in SERVERS}}
    (path / MANIFEST_NAME).write_text(json.dumps(manifest, sort_keys=True) + "\n")
    return path
