#!/bin/sh
# Installs Debian's chromium when absent (docs/decisions.md#what-ci-runs,
# docs/decisions.md#browser-tests-as-root): the browser tests never download a browser of
# their own. Needs root (as in CI and on the dev machines).
set -eu
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
