"""Which build of the server's hot modules this process runs: the ones mypyc compiled (`scripts/compiled.py` builds
them into `.state/compiled/`), or the pure Python sources.

The `.py` files are the one implementation; a compiled module is only a faster form of one exact version of them. So
the compiled build is used only when its manifest's hash of every source it was built from (the compiled modules and
every module of `services` they import) matches the files now on disk: a developer's edit to any of them makes the
process run the pure modules until the build is redone (`make compiled`). A source whose size and modification time
are still those it was built with is not hashed again (CPython's own rule for its .pyc files): the check then
costs a few stat calls at start instead of reading and hashing about 400 KB. A missing, partial or foreign build
(another interpreter) means pure too.

Opt-in for now: a process uses the build only with `MCPSTACK_COMPILED=1`. Running the test areas against it found
answers that differed from the pure modules'; those are fixed in the sources, but the whole suite has not yet run
against the build (docs/where-the-time-goes.md, "The compiled build"), so the servers run pure by default.

`activate()` runs once, from `services/__init__.py`, before any of those modules is imported; it installs an import
finder that maps exactly the manifest's module names to their compiled files and leaves every other import alone.
`STATUS` says what it decided, for the servers' start-up log line and the benchmark's results. Standard library only,
and nothing slow on the start path (the native server's cold start is a benchmark figure).
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec
from types import ModuleType
from typing import Any

# services/ sits in the repository (an editable install or a checkout); an installed wheel has no build beside it.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_DIR = os.path.join(ROOT, ".state", "compiled")
MANIFEST = "manifest.json"
FORMAT = 1

STATUS = "pure: not activated"
COMPILED: tuple[str, ...] = ()  # the modules this process imports compiled


def source_digest(paths: list[str], root: str = ROOT) -> str:
    """sha256 over the sources' relative paths and contents, in the order given."""
    import hashlib  # here: a process that does not opt in never needs it (cold start)

    digest = hashlib.sha256()
    for rel in paths:
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
        digest.update(b"%d:%s\0%d:" % (len(rel), rel.encode(), len(data)))
        digest.update(data)
    return digest.hexdigest()


def stat_key(path: str) -> list[int]:
    """What a source's size and modification time were (`check` trusts a source whose key has not changed)."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _unchanged(sources: list[str], stats: object, root: str) -> bool:
    """Every source has the size and modification time it had when it was built: the rule CPython applies to its own
    .pyc files, and the hash need not be read again (hashing them cost about 30 M instructions at every process's
    start, three times what importing the compiled modules saves there). Anything else, a build without stats
    included, is hashed."""
    if not isinstance(stats, list) or len(stats) != len(sources):
        return False
    return all(stat == stat_key(os.path.join(root, rel)) for rel, stat in zip(sources, stats, strict=True))


class _CompiledFinder:
    """Finds exactly the manifest's modules (and mypyc's shared library) as the compiled files; None for the rest."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        spec = ModuleSpec(fullname, ExtensionFileLoader(fullname, file), origin=file)
        spec.has_location = True
        return spec

    def invalidate_caches(self) -> None:
        pass


def _modules(files: dict[str, str]) -> tuple[str, ...]:
    return tuple(sorted(n for n in files if not n.endswith("__mypyc")))  # not mypyc's shared library


def check(build_dir: str = BUILD_DIR, root: str = ROOT) -> tuple[dict[str, str] | None, str]:
    """(module name → compiled file, or None when the pure modules must run; a status line saying why)."""
    import json

    try:
        with open(os.path.join(build_dir, MANIFEST), "rb") as f:
            manifest = json.loads(f.read())
    except FileNotFoundError:
        return None, "pure: no compiled build (make compiled builds one)"
    except (OSError, ValueError) as ex:
        return None, f"pure: unreadable compiled build ({ex.__class__.__name__})"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None, "pure: compiled build of another format (make compiled rebuilds it)"
    if manifest.get("ext_suffix") != EXTENSION_SUFFIXES[0]:
        return None, f"pure: compiled build is for {manifest.get('ext_suffix')}, not this interpreter"
    try:
        files = {name: os.path.join(build_dir, rel) for name, rel in manifest["modules"].items()}
        if not all(os.path.isfile(file) for file in files.values()):
            return None, "pure: compiled build incomplete (make compiled rebuilds it)"
        sources = manifest["sources"]
        if (
            not _unchanged(sources, manifest.get("stats"), root)
            and source_digest(sources, root) != manifest["sources_sha256"]
        ):
            return None, "pure: a source changed since the compiled build (make compiled rebuilds it)"
    except OSError:
        return None, "pure: a source of the compiled build is missing (make compiled rebuilds it)"
    except (KeyError, TypeError, AttributeError):
        return None, "pure: compiled build manifest malformed (make compiled rebuilds it)"
    return files, f"compiled: {len(_modules(files))} modules (mypyc)"


def decide(build_dir: str = BUILD_DIR, root: str = ROOT) -> tuple[dict[str, str] | None, str]:
    """`check`, for a process that opted in (`MCPSTACK_COMPILED=1` in its environment)."""
    if os.environ.get("MCPSTACK_COMPILED") != "1":
        return None, "pure: the compiled build is opt-in (MCPSTACK_COMPILED=1)"
    return check(build_dir, root)


def activate(build_dir: str = BUILD_DIR, root: str = ROOT) -> str:
    """Use the compiled build if it matches the sources (see the module's docstring); returns and records `STATUS`."""
    global STATUS, COMPILED
    files, STATUS = decide(build_dir, root)
    if files is not None:
        loaded = [n for n in files if n in sys.modules]
        if loaded:  # imported before activation: mixing builds is never right
            STATUS = f"pure: {loaded[0]} was imported before the compiled build could be activated"
            return STATUS
        sys.meta_path.insert(0, _CompiledFinder(files))
        COMPILED = _modules(files)
    return STATUS
