#!/usr/bin/env bash
# Sets up a virtual environment with Vigilare, its demo extra and the local AWS stand-in (sandbox/,
# installed in the same pip command so pip finds the extra's vigilare-sandbox here), then runs `vigilare demo`.
# Extra arguments go to the demo (e.g. --no-serve to exit after the report).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ./sandbox -e ".[demo]"
exec "$VENV/bin/vigilare" demo "$@"
