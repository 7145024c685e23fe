"""Build the native server's hot modules with mypyc into `.state/compiled/` (`services/compiled.py` decides at import
whether a process uses them).

    python -m scripts.compiled build     # `make compiled`; about a minute of CPU
    python -m scripts.compiled status    # which build a process started now would run, and why

The build compiles a snapshot of the sources in a temporary directory, so an edit made while it runs cannot slip
into a build whose manifest says otherwise, then swaps the finished build in whole. It needs the venv's mypy (pinned;
mypyc ships with it), a C compiler and the interpreter's headers (`scripts/ensure-system.sh` installs gcc and
python3-dev). A failed build leaves no build: every process then runs the pure modules, which are the same code.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from services import compiled

REPO_ROOT = Path(compiled.ROOT)
# Every module a tools/call runs through per request on the native server (the echo and get_customer paths), by layer:
# wire → HTTP transport → JSON-RPC → MCP methods → tools. Left pure, and why:
# - services/mcp_server/metrics.py: mypyc refuses its nested collector class;
# - services/tools/context.py: mypyc refuses a multiple assignment in a class body;
# - the tools themselves (services/tools/catalogue.py…): the registry reads their signatures and annotations, which
#   compiled functions do not keep.
MODULES = (
    "services/mcp_server/wire.py",
    "services/mcp_server/transport.py",
    "services/mcp_server/jsonrpc.py",
    "services/mcp_server/methods.py",
    "services/mcp_server/catalogue_methods.py",
    "services/mcp_server/streams.py",
    "services/mcp_server/database.py",
    "services/protocol.py",
    "services/tools/registry.py",
    "services/tools/validate.py",
    "services/tools/reply.py",
)


class BuildError(RuntimeError):
    pass


def module_name(rel: str) -> str:
    return rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _file_of(name: str, root: Path) -> str | None:
    for rel in (name.replace(".", "/") + ".py", name.replace(".", "/") + "/__init__.py"):
        if (root / rel).is_file():
            return rel
    return None


def sources(root: Path = REPO_ROOT, modules: tuple[str, ...] = MODULES) -> list[str]:
    """The compiled modules and every module of `services` they import, directly or not (what mypyc read as types):
    the files whose hash guards the build."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        package = Path(rel).parent.parts
        for i in range(1, len(package) + 1):  # its packages' __init__ files: mypyc names a module by its package
            init = "/".join(package[:i]) + "/__init__.py"
            if init not in seen and (root / init).is_file():
                todo.append(init)
        tree = ast.parse((root / rel).read_text(), rel)
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name == "services" or name.startswith("services."):
                    parts = name.split(".")
                    for i in range(1, len(parts) + 1):  # the packages' __init__ files too
                        found = _file_of(".".join(parts[:i]), root)
                        if found is not None and found not in seen:
                            todo.append(found)
    return sorted(seen)


def build(root: Path = REPO_ROOT, out: Path | None = None, *, modules: tuple[str, ...] = MODULES) -> dict[str, object]:
    """Compile `modules` of the tree at `root` into `out` (default `<root>/.state/compiled`); returns the manifest."""
    out = out or root / ".state" / "compiled"
    guarded = sources(root, modules)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcpstack-mypyc-") as tmp:
        work = Path(tmp)
        before = [compiled.stat_key(str(root / rel)) for rel in guarded]
        for rel in [*guarded, "pyproject.toml"]:  # the snapshot, and mypy's settings
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, work / rel)
        # a source's size and mtime as snapshotted, or None when it changed while being copied (then it is hashed)
        stats = [b if b == compiled.stat_key(str(root / rel)) else None for rel, b in zip(guarded, before, strict=True)]
        proc = subprocess.run(
            [sys.executable, "-m", "mypyc", *modules],
            cwd=work,
            env=os.environ | {"MYPYC_OPT_LEVEL": "3"},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
            raise BuildError("mypyc failed:\n" + "\n".join(tail))
        suffix = EXTENSION_SUFFIXES[0]
        staging = Path(tempfile.mkdtemp(prefix="compiled.", dir=out.parent))
        files: dict[str, str] = {}
        for rel in modules:
            so = rel.removesuffix(".py") + suffix
            (staging / so).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / so, staging / so)
            files[module_name(rel)] = so
        # mypyc's shared library: top-level for a group of modules, beside the module when there is one
        for lib in work.glob(f"**/*__mypyc{suffix}"):
            where = lib.relative_to(work)
            if where.parts[0] == "build":
                continue
            (staging / where).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib, staging / where)
            files[str(where).removesuffix(suffix).replace("/", ".")] = str(where)
        manifest: dict[str, object] = {
            "format": compiled.FORMAT,
            "ext_suffix": suffix,
            "python": sys.version.split()[0],
            "modules": files,
            "sources": guarded,
            "sources_sha256": compiled.source_digest(guarded, str(work)),  # what was compiled, not what is there now
            "stats": stats,
        }
        (staging / compiled.MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.compiled", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "status"))
    args = parser.parse_args(argv)
    if args.command == "status":
        print(compiled.check()[1])
        return 0
    try:
        manifest = build()
    except (BuildError, OSError) as ex:
        shutil.rmtree(REPO_ROOT / ".state" / "compiled", ignore_errors=True)  # never a stale build beside new code
        print(f"compiled build failed, the servers run the pure modules: {ex}", file=sys.stderr)
        return 1
    print(f"compiled {len(MODULES)} modules with mypyc into .state/compiled ({manifest['python']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
