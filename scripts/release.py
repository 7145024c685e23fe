"""`mcpstack release build`: an immutable, versioned release artifact from one commit and the locked dependencies.

Boundary: git (the commit's tracked files, never the working tree), pip (the project's wheel, and the locked
dependencies downloaded as wheels for the instances' platform) and the releases directory. Nothing here talks to
AWS: the CDK app ships a release directory as a slot's asset, and the instances install from it with hashes and
without an index. The artifact's layout is defined once, in `infra/bootstrap/bootstrap.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.console import Console

from infra.bootstrap.bootstrap import (
    BOOTSTRAP_NAME,
    EXTRAS,
    MANIFEST_NAME,
    RELEASE_FORMAT,
    SERVE_COMMANDS,
    WHEELHOUSE_NAME,
    requirements_name,
)
from scripts.state import REPO_ROOT, state_dir

app = typer.Typer(help="Immutable release artifacts for the slots: build.", no_args_is_help=True)
console = Console(stderr=True)

# The instances: Amazon Linux 2023 (glibc 2.34) on x86_64 with its python3.11. Every manylinux tag that glibc 2.34
# accepts, newest first, so pip picks the same wheels wherever the release is built.
TARGET_PYTHON_VERSION = "3.11"
TARGET_ABIS = ("cp311", "abi3", "none")
TARGET_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(34, 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)


class ReleaseError(RuntimeError):
    """A build step failed; the message is one line."""


class Run(Protocol):
    def __call__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None: ...


def default_releases_dir() -> Path:
    return state_dir() / "releases"


@dataclass(frozen=True, kw_only=True)
class Commit:
    sha: str
    # Seconds since the epoch: the wheel's timestamps (SOURCE_DATE_EPOCH), so the same commit gives the same wheel.
    time: int
    version: str

    @property
    def release_id(self) -> str:
        return release_id(self.version, self.sha)


def release_id(version: str, sha: str) -> str:
    return f"{version}-{sha[:12]}"


def _git(repo: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=120)
    except OSError as ex:
        raise ReleaseError(f"could not run git: {ex.strerror}") from ex
    if result.returncode != 0:
        raise ReleaseError(f"git {args[0]} failed: {result.stderr.decode(errors='replace').strip()[:200]}")
    return result.stdout


def resolve_commit(repo: Path, rev: str) -> Commit:
    sha = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    when = int(_git(repo, "show", "-s", "--format=%ct", sha).decode().strip())
    try:
        project = tomllib.loads(_git(repo, "show", f"{sha}:pyproject.toml").decode())["project"]
        version = str(project["version"])
    except (KeyError, tomllib.TOMLDecodeError) as ex:
        raise ReleaseError(f"pyproject.toml at {sha[:12]} has no [project] version") from ex
    return Commit(sha=sha, time=when, version=version)


def wheel_name_version(filename: str) -> tuple[str, str]:
    """`orjson-3.13.0-cp311-....whl` -> ("orjson", "3.13.0") (the wheel spec's first two fields)."""
    parts = filename.removesuffix(".whl").split("-")
    if not filename.endswith(".whl") or len(parts) < 5:
        raise ReleaseError(f"not a wheel file name: {filename}")
    return parts[0], parts[1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def requirements_text(wheels: Sequence[Path], *, project: str, extra: str | None) -> str:
    """One `name==version --hash=sha256:...` line per wheel, sorted; the project line carries the server's extra."""
    lines = []
    for wheel in sorted(wheels, key=lambda p: p.name.lower()):
        name, version = wheel_name_version(wheel.name)
        if name == project and extra:
            name = f"{name}[{extra}]"
        lines.append(f"{name}=={version} --hash=sha256:{sha256_of(wheel)}")
    return "".join(line + "\n" for line in lines)


def _subprocess_run(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> None:
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
            env=None if env is None else {**os.environ, **env},
        )
    except OSError as ex:
        raise ReleaseError(f"could not run {argv[0]}: {ex.strerror}") from ex
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReleaseError(f"{' '.join(argv[1:4])} failed: {last[:300]}")


def pip_download_argv(
    python: str, requirement: str, *, dest: Path, constraints: Path, index_url: str | None
) -> list[str]:
    argv = [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest", str(dest)]
    argv += ["--only-binary=:all:", "--implementation", "cp", "--python-version", TARGET_PYTHON_VERSION]
    for abi in TARGET_ABIS:
        argv += ["--abi", abi]
    for platform in TARGET_PLATFORMS:
        argv += ["--platform", platform]
    if index_url is not None:
        argv += ["--index-url", index_url]
    return [*argv, "-c", str(constraints), requirement]


def build_release(
    repo: Path,
    rev: str,
    releases_dir: Path,
    *,
    index_url: str | None = None,
    python: str = sys.executable,
    run: Run = _subprocess_run,
    step: Callable[[str], None] = lambda message: None,
) -> tuple[Path, bool]:
    """Builds the release of `rev` into `releases_dir/<id>`; returns its path and whether it was built just now.

    A release is immutable: when its directory exists it is returned as it is. The build happens in a temporary
    directory next to it and is renamed into place only when complete.
    """
    commit = resolve_commit(repo, rev)
    target = releases_dir / commit.release_id
    if (target / MANIFEST_NAME).is_file():
        return target, False
    releases_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{commit.release_id}.", dir=releases_dir) as work_name:
        work = Path(work_name)
        source, out = work / "source", work / "release"
        wheels = out / WHEELHOUSE_NAME
        wheels.mkdir(parents=True)

        step(f"exporting {commit.sha[:12]} (tracked files only)")
        archive = work / "source.tar"
        archive.write_bytes(_git(repo, "archive", "--format=tar", commit.sha))
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            unsafe = [m.name for m in members if m.name.startswith("/") or ".." in Path(m.name).parts]
            if unsafe:
                raise ReleaseError(f"git archive holds paths outside the tree: {unsafe[:3]}")
            # Our own commit's archive, checked above (this Python predates tarfile's extraction filters).
            tar.extractall(source, members=members)  # noqa: S202

        step("building the project's wheel")
        # An isolated build: the build backend is the one pyproject.toml asks for, not whatever this venv holds.
        project_argv = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
        if index_url is not None:
            project_argv += ["--index-url", index_url]
        project_argv += ["--wheel-dir", str(work / "project"), str(source)]
        run(project_argv, env={"SOURCE_DATE_EPOCH": str(commit.time)})
        (project_wheel,) = sorted((work / "project").glob("*.whl"))
        project_name, _ = wheel_name_version(project_wheel.name)

        per_server: dict[str, list[Path]] = {}
        for server in sorted(SERVE_COMMANDS):
            step(f"downloading the locked wheels for the {server} server")
            extra = EXTRAS[server]
            dest = work / f"download-{server}"
            requirement = f"{project_wheel}[{extra}]" if extra else str(project_wheel)
            run(
                pip_download_argv(
                    python, requirement, dest=dest, constraints=source / "requirements.lock", index_url=index_url
                )
            )
            if not (dest / project_wheel.name).is_file():
                shutil.copy2(project_wheel, dest / project_wheel.name)
            per_server[server] = sorted(dest.glob("*.whl"))
            for wheel in per_server[server]:
                if not (wheels / wheel.name).is_file():
                    shutil.copy2(wheel, wheels / wheel.name)

        step("writing hashes and the manifest")
        for server, server_wheels in per_server.items():
            text = requirements_text(
                [wheels / w.name for w in server_wheels], project=project_name, extra=EXTRAS[server]
            )
            (out / requirements_name(server)).write_text(text, encoding="utf-8")
        (out / BOOTSTRAP_NAME).write_bytes(_git(repo, "show", f"{commit.sha}:infra/bootstrap/bootstrap.py"))
        files = {path.relative_to(out).as_posix(): sha256_of(path) for path in sorted(out.rglob("*")) if path.is_file()}
        manifest = {
            "format": RELEASE_FORMAT,
            "id": commit.release_id,
            "version": commit.version,
            "commit": commit.sha,
            "python": TARGET_PYTHON_VERSION,
            "platforms": list(TARGET_PLATFORMS),
            "servers": {server: requirements_name(server) for server in sorted(per_server)},
            "files": files,
        }
        (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(out, target)
    return target, True


@app.command()
def build(
    commit: Annotated[str, typer.Option(help="The commit to release (its tracked files, not the working tree).")] = (
        "HEAD"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Releases directory (default: .state/releases).", file_okay=False)
    ] = None,
    index_url: Annotated[
        str | None, typer.Option(help="Package index to download the locked wheels from (default: pip's).")
    ] = None,
) -> None:
    """Build the release of a commit: the project's wheel and every locked dependency, hashed, in one directory."""
    releases_dir = out if out is not None else default_releases_dir()
    try:
        with console.status("building the release…") as status:
            path, built = build_release(
                REPO_ROOT, commit, releases_dir, index_url=index_url, step=lambda m: status.update(f"{m}…")
            )
    except ReleaseError as ex:
        console.print(f"[red]error:[/] {ex}")
        raise typer.Exit(1) from None
    manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
    console.print(f"release {manifest['id']} {'built' if built else 'already built'}: {path}")
    console.print(f"{len(manifest['files'])} files, servers: {', '.join(manifest['servers'])}")
    print(manifest["id"])
