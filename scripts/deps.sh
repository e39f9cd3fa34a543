#!/usr/bin/env bash
# deps.sh — install what the host needs for `make demo` on Debian 12.
# Idempotent; installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

"$(dirname "$0")"/host-packages.sh

need=()
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || { echo "deps.sh: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || need+=(curl)

if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "deps.sh: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q </dev/null
	$sudo apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
fi
