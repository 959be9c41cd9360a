#!/usr/bin/env bash
# scripts/python-limits.sh — a private Python virtual environment with the real `limits`
# package (PyPI limits[redis]==5.8.0) for tests/tests/python_compat.rs and the reference bench.
#
# Usage: eval "$(scripts/python-limits.sh)"   # prints: export LIMITER_TEST_PYTHON=<venv python>
# The venv lives in <repo>/.state/py-limits (override with LIMITER_PY_VENV); it is created once
# and reused while it has the right version.
set -euo pipefail
REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
VENV=${LIMITER_PY_VENV:-$REPO_ROOT/.state/py-limits}
VERSION=5.8.0
if ! "$VENV/bin/python" -c "import limits, redis, sys; sys.exit(limits.__version__ != '$VERSION')" 2>/dev/null; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q "limits[redis]==$VERSION" >&2
fi
echo "export LIMITER_TEST_PYTHON=$VENV/bin/python"
