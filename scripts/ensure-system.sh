#!/usr/bin/env bash
# Installs the Debian packages mcpstack needs, only those missing. Idempotent; needs root (or sudo) to install.
set -euo pipefail
need=()
# The compiled hot path (scripts/compiled.py, `make compiled`) needs a C compiler and the interpreter's headers.
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)
[ -f "$include/Python.h" ] || need+=(python3-dev)
if [ "${1:-}" = "--compiler" ]; then  # only what the compiled build needs
  command -v gcc >/dev/null 2>&1 || need+=(gcc)
else
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v gcc >/dev/null 2>&1 || need+=(gcc)            # the benchmark compiles its open-loop generator
command -v pgrep >/dev/null 2>&1 || need+=(procps)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)  # the cost dashboard test (headless)
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
