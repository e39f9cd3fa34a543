#!/usr/bin/env bash
# host-packages.sh — install the Debian 12 packages goldsmith's builds and
# tests use, when any is missing. Idempotent; needs root (or sudo).
#   qemu-system-x86 qemu-utils   VM build instances, disk conversions
#   mmdebstrap busybox-static    base images without the internet
#   runc umoci skopeo            OCI sandboxes and image tooling
#   e2fsprogs fdisk              filesystems and partitions for disk images
#   awscli                       the AWS CLI smoke tests and the demo
set -euo pipefail

declare -A probe=(
	[qemu-system-x86]=qemu-system-x86_64 [qemu-utils]=qemu-img [mmdebstrap]=mmdebstrap
	[busybox-static]=/bin/busybox [runc]=runc [umoci]=umoci [skopeo]=skopeo
	[e2fsprogs]=mkfs.ext4 [fdisk]=sfdisk [awscli]=aws
)
need=()
for pkg in "${!probe[@]}"; do
	p=${probe[$pkg]}
	if [[ $p == /* ]]; then [ -e "$p" ] && continue; else command -v "$p" >/dev/null 2>&1 && continue; fi
	need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "host-packages.sh: need root to install: ${need[*]}" >&2; exit 1; }
	sudo=sudo
fi
echo "host-packages.sh: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >&2; then
	$sudo apt-get update -q </dev/null >&2
	$sudo apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >&2
fi
