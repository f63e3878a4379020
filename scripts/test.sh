#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs them:
# a virtual environment with the project, its dev extra, the local AWS stand-in (sandbox/, installed in
# the same pip command so pip finds the extra's vigilare-sandbox here) and the example plugin; PostgreSQL
# and Redis; Debian's chromium for the console's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ./sandbox -e ".[dev]"
if [ -d plugins/vigilare-example-scenario ]; then
  "$VENV/bin/python" -m pip install --quiet -e plugins/vigilare-example-scenario
fi

bash scripts/services.sh
bash scripts/browser.sh

# One pytest-xdist worker per core; each has its own database, queue name and AWS sandbox.
# Pass -n 0 to run in one process.
exec "$VENV/bin/python" -m pytest -n auto "$@"
