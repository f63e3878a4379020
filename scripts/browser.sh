#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests when it is missing. Playwright (the dev
# extra) drives it at /usr/bin/chromium; `playwright install` is never run.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing: install it with 'sudo apt-get install -y chromium'" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
