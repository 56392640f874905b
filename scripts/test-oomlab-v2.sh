#!/usr/bin/env bash
# Runs the OOM lab (bench/oomlab) on cgroup v2 inside the throw-away QEMU VM
# (TCG, 1 vCPU; see internal/testutil/vm). The lab stays in the VM's /mw/test
# and makes a delegated subtree /mw/oomlab-<pid> whose leaves hold the
# workers. Without arguments it runs the short form CI uses and fails when
# memwatch misses an enforced target; arguments replace the lab's flags, e.g.
#   scripts/test-oomlab-v2.sh -reps 10 -limit 128 -duration 8s
# Needs scripts/vm-kernel.sh to have run (scripts/install-deps.sh does it).
# Host variables: OOMLAB_VM_TIMEOUT bounds the VM (default 15m).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ./scripts/vm-kernel.sh --check >/dev/null 2>&1; then
	echo "test-oomlab-v2: QEMU or the VM kernel is missing (run scripts/install-deps.sh as root)" >&2
	exit 1
fi
mkdir -p bin
go build -o bin/vmexec ./internal/testutil/vm/cmd/vmexec
# Static: the initramfs carries no dynamic loader.
(cd bench/oomlab && CGO_ENABLED=0 go build -o ../../bin/oomlab .)

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
	# The short form: the scenarios that differ on v2, memwatch beside the
	# static limit it must beat, 2 repetitions each (both must survive).
	args=(-reps 2 -limit 128 -duration 8s -scenarios high,sidecar,spike,lowered
		-policies static90,memwatch -check)
fi

# The VM: 1 GiB of RAM (the lowered scenario starts at twice the limit),
# no limit on the lab's own cgroup, an ext4 disk for the page-cache
# scenario's file (twice the limit; used only when that scenario runs).
cd bench/oomlab
MEMWATCH_VM_MODE=v2 MEMWATCH_VM_MAX=max MEMWATCH_VM_MEM=1024 MEMWATCH_VM_SCRATCH=600M \
MEMWATCH_VM_TIMEOUT="${OOMLAB_VM_TIMEOUT:-15m}" MEMWATCH_VM_TIMING=1 \
	../../bin/vmexec ../../bin/oomlab -dir /scratch "${args[@]}"
