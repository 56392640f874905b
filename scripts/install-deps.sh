#!/usr/bin/env bash
# Installs what the test suite needs beyond Go itself, idempotently:
# QEMU, cpio and a Debian cloud kernel for the cgroup v2 VM tests.
# (staticcheck is installed by scripts/test.sh at a pinned version.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
	echo "install-deps: not root and no sudo: the VM tests will skip" >&2
	exit 0
fi
./scripts/vm-kernel.sh
