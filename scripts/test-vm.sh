#!/usr/bin/env bash
# Runs the real-kernel tests inside a throw-away QEMU VM on a cgroup v2 kernel,
# then in the hybrid layout (v1 memory + cgroup2 at /sys/fs/cgroup/unified).
# Needs scripts/vm-kernel.sh to have run (scripts/install-deps.sh does it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ./scripts/vm-kernel.sh --check >/dev/null 2>&1; then
	echo "test-vm: QEMU or the VM kernel is missing (run scripts/install-deps.sh as root)" >&2
	exit 1
fi
mkdir -p bin
go build -o bin/vmexec ./internal/testutil/vm/cmd/vmexec
vmexec="$(pwd)/bin/vmexec"
# Static test binaries: the initramfs carries no dynamic loader for plain runs.
export CGO_ENABLED=0

# The packages whose tests read or create real cgroups.
pkgs="./internal/testutil/vm/selftest/ ./internal/testutil/cgtest/ ./procstat/ ./cgroupstat/ ./memwatch/ ./memwatch/memtest/"

echo "--- cgroup v2 (memory.max 256 MiB, memory.high 224 MiB, parent 320 MiB, ext4 scratch disk)"
MEMWATCH_VM_MODE=v2 MEMWATCH_VM_MAX=256M MEMWATCH_VM_HIGH=224M MEMWATCH_VM_PARENT_MAX=320M \
MEMWATCH_VM_SCRATCH=64M \
	go test -count=1 -timeout 10m -exec "$vmexec" $pkgs

echo "--- hybrid (v1 memory 256 MiB + cgroup2 unified)"
MEMWATCH_VM_MODE=hybrid MEMWATCH_VM_MAX=256M \
	go test -count=1 -timeout 10m -exec "$vmexec" ./internal/testutil/vm/selftest/ ./cgroupstat/ ./procstat/
