"""A project-owned PostgreSQL cluster on one machine, from the installed PostgreSQL binaries.

The cluster lives in a state directory (data, socket, log, port file), listens on 127.0.0.1 only with a free port,
and trusts local connections (it is a throwaway rehearsal database, never exposed). PostgreSQL refuses to run as root,
so when we are root the cluster runs as the `postgres` system user, which owns the data directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scripts.state import state_dir

DB_NAME = "mcpstack"
DB_USER = "mcpstack"


class ClusterError(RuntimeError):
    """A failure with one clear line for the operator."""


def find_bin_dir() -> Path:
    """The directory of initdb/pg_ctl/postgres: $PG_BIN, then Debian's layout (newest first), then PATH."""
    explicit = os.environ.get("PG_BIN")
    if explicit:
        if (Path(explicit) / "initdb").is_file() and (Path(explicit) / "pg_ctl").is_file():
            return Path(explicit)
        raise ClusterError(
            f"PG_BIN={explicit} has no initdb/pg_ctl: install PostgreSQL with `apt-get install postgresql` "
            "or point PG_BIN at its bin directory"
        )
    candidates: list[str] = []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them with "
        "`apt-get install postgresql` (or run `make system`), or set PG_BIN to their directory"
    )


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A cluster rooted at `state_dir` (data/, run/, postgres.log, port)."""

    state_dir: Path

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "postgres.log"

    @property
    def port_file(self) -> Path:
        return self.state_dir / "port"

    @property
    def port(self) -> int:
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError) as ex:
            raise ClusterError(f"no local cluster in {self.state_dir}: run `mcpstack db up` first") from ex

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def running(self) -> bool:
        if not self.initialized():
            return False
        result = self._pg_ctl("status", check=False)
        return result.returncode == 0

    def init(self) -> None:
        """initdb a fresh cluster with a free port; no-op when one exists."""
        if self.initialized():
            return
        bin_dir = find_bin_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.state_dir, self.data_dir, self.socket_dir)
        self.data_dir.chmod(0o700)
        self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                DB_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            what="initdb",
        )
        port = free_port()
        conf = (
            f"\n# mcpstack local cluster\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\nmax_connections = 200\nfsync = off\n"
            "synchronous_commit = off\nfull_page_writes = off\nshared_buffers = 256MB\n"
        )
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as f:
            f.write(conf)
        self.port_file.write_text(f"{port}\n")

    def start(self, *, timeout_s: int = 30) -> None:
        if self.running():
            return
        self.log_file.touch()
        self._own(self.log_file)
        self._pg_ctl(
            "start",
            "-w",
            "-t",
            str(timeout_s),
            "-l",
            str(self.log_file),
            "-o",
            "-c config_file=" + str(self.data_dir / "postgresql.conf"),
        )
        self._run(
            [str(find_bin_dir() / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME],
            what="createdb",
            ok_if="already exists",
        )

    def stop(self, *, mode: str = "fast") -> None:
        if self.running():
            self._pg_ctl("stop", "-w", "-m", mode)

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- process plumbing -------------------------------------------------------------------------------------------

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(find_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args]
        return self._run(cmd, what="pg_ctl " + args[0], check=check)

    def _run(
        self, cmd: list[str], *, what: str, check: bool = True, ok_if: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", _service_user(), "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0 and not (ok_if and ok_if in result.stderr):
            detail = (result.stderr or result.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit code {result.returncode}"
            raise ClusterError(f"{what} failed: {last} (log: {self.log_file})")
        return result

    def _own(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(_service_user())
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)
        # The service user must be able to reach the state directory through its parents.
        for parent in self.state_dir.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise ClusterError(
                    f"{parent} is not traversable by the `{_service_user()}` user; "
                    "choose a state directory under a world-traversable path"
                )


def _service_user() -> str:
    name = os.environ.get("PG_SERVICE_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError as ex:
        raise ClusterError(
            f"running as root needs the `{name}` system user to own the cluster: install PostgreSQL "
            "(`apt-get install postgresql`) or set PG_SERVICE_USER"
        ) from ex
    return name


def local_cluster() -> Cluster:
    """The project's own cluster, in the state directory (`mcpstack db up` creates and starts it)."""
    return Cluster(state_dir() / "pg")


def local_database_url() -> str | None:
    """For a server started with no database named: the local cluster's URL when it runs, else None.

    Says which on stderr in plain text, not Rich: `mcpstack serve native` asks this on its fast start.
    """
    cluster = local_cluster()
    try:
        url = cluster.url if cluster.running() else None
    except ClusterError:
        url = None
    if url:
        print(f"DATABASE_URL not set: using the local cluster ({url})", file=sys.stderr)
    else:
        print(
            "warning: no DATABASE_URL and no local cluster: database tools will report errors (run `mcpstack db up`)",
            file=sys.stderr,
        )
    return url
