#!/usr/bin/env bash
# Installs Debian's chromium for the console's end-to-end test (driven by
# chromedp), if it is not installed yet. Idempotent; `make test` runs it.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "chromium.sh: chromium is missing and installing it needs root (apt-get install chromium)" >&2
		exit 1
	fi
fi

echo ">> installing chromium (Debian package) for the console end-to-end test"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "chromium.sh: chromium still not found after install" >&2; exit 1; }
echo ">> $(chromium --version 2>/dev/null || echo chromium installed)"
