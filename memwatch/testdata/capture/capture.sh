#!/usr/bin/env bash
# capture.sh rebuilds the memwatch fixture trees of ../ from the real kernel of
# this machine (root, cgroup v1 memory at /sys/fs/cgroup/memory, cgroup2 at
# /sys/fs/cgroup/unified). It creates a throw-away memory cgroup with a 512 MiB
# limit, runs snap (./snap) and a second process in it, and copies what snap
# sees. Everything it creates is removed on exit.
#
#   sudo ./capture.sh     # writes ../v1-limit and ../proc-only
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TD=$(dirname "$HERE")
M=/sys/fs/cgroup/memory
CG=$M/mwsnap
WORK=$(mktemp -d /tmp/mwsnap.XXXXXX)
export WORK
child=
cleanup() {
	set +e
	[ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
	if [ -d $CG ]; then
		echo 0 >$CG/memory.force_empty 2>/dev/null
		rmdir $CG || echo "capture: could not remove $CG" >&2
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$HERE/snap" && CGO_ENABLED=0 go build -o "$WORK/snap" .)
mkdir $CG
echo 536870912 >$CG/memory.limit_in_bytes

# Another process of the cgroup: 20 MiB of touched heap.
bash -c "echo \$\$ >$CG/cgroup.procs; exec $WORK/snap child 20" >$WORK/child.out &
child=$!
for _ in $(seq 100); do grep -q ready $WORK/child.out 2>/dev/null && break; sleep 0.1; done

rm -rf "$TD/v1-limit" "$TD/proc-only"
bash -c "echo \$\$ >$CG/cgroup.procs; exec $WORK/snap $TD/v1-limit"

# proc-only: the same process files without any cgroup files (the process
# view of a machine where the cgroup cannot be found).
mkdir -p "$TD/proc-only/proc/self"
for f in statm status smaps_rollup; do cp "$TD/v1-limit/proc/self/$f" "$TD/proc-only/proc/self/$f"; done
cp "$TD/v1-limit/proc/meminfo" "$TD/proc-only/proc/meminfo"
cp "$TD/v1-limit/go-metrics.json" "$TD/proc-only/go-metrics.json"
echo "capture: wrote $TD/v1-limit and $TD/proc-only"
