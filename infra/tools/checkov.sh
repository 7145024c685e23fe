#!/usr/bin/env bash
# Runs checkov offline on a synthesized cloud assembly, with the reasoned skip list in checkov-skips.json.
# checkov pins many libraries that clash with the main venv, so it lives in its own venv (.venv-checkov), created
# here on first use with a pinned version.
# Usage: infra/tools/checkov.sh [cdk.out dir] [extra checkov args...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CHECKOV_VERSION="3.3.30"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
PYTHON="${CHECKOV_PYTHON:-python3}"
OUT="${1:-$ROOT/cdk.out}"
shift || true

if [[ ! -x "$VENV/bin/checkov" ]] || [[ "$("$VENV/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]]; then
  echo "installing checkov $CHECKOV_VERSION into $VENV" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" 2>&1 \
    | grep -v "^WARNING: Location" >&2 || true
  "$VENV/bin/checkov" --version >/dev/null
fi

SKIPS="$("$VENV/bin/python" -c 'import json,sys; print(",".join(sorted(json.load(open(sys.argv[1])))))' \
  "$ROOT/infra/tools/checkov-skips.json")"
export BC_SKIP_MAPPING=TRUE
exec "$VENV/bin/checkov" -d "$OUT" --framework cloudformation --skip-download --quiet --compact \
  --skip-check "$SKIPS" "$@"
