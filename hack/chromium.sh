#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests (e2e/console_test.go)
# when it is missing, and prints its path as the only line on stdout.
# Needs root (or sudo) for apt-get; a machine where it cannot install prints
# nothing and exits 1, and the browser tests then skip (fail when SMARTORCH_REQUIRE_BROWSER is set, as .ci/run does).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	command -v chromium
	exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
		echo "hack/chromium.sh: chromium is not installed and installing it needs root" >&2
		exit 1
	fi
	sudo=(sudo -n)
fi
{
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
} >&2
command -v chromium
