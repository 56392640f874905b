#!/usr/bin/env bash
# capture.sh rebuilds the cgroup v1 / hybrid fixtures of ../ from the real kernel
# of this machine (root, v1 memory at /sys/fs/cgroup/memory, cgroup2 at
# /sys/fs/cgroup/unified). It creates throw-away cgroups, runs small processes in
# them (one is OOM-killed on purpose so the counters are not all zero), enters
# mount and cgroup namespaces the way Docker/runc do, and copies what the
# processes see. Everything it creates is removed on exit.
#
#   sudo ./capture.sh            # writes ../hybrid, ../v1-*, ../docker-v1-*
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TD=$(dirname "$HERE")
SNAP=$HERE/snap.sh
M=/sys/fs/cgroup/memory
U=/sys/fs/cgroup/unified
# Docker-style 64-hex container ids (fixed so the fixtures stay stable).
ID=3f1c2a9be07d4c58a6e2b1d0c9f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0
ID2=8e2d4b6a1c3f5e7d9b0a2c4e6f8d1b3a5c7e9f0d2b4a6c8e1f3d5b7a9c0e2f4d
WORK=$(mktemp -d /tmp/mwcap.XXXXXX)
export M U ID ID2 WORK SNAP TD

holders=()
cleanup() {
	set +e
	for p in "${holders[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for d in $M/mwfix/app $M/mwfix $M/docker/$ID $M/docker/$ID2 $M/docker; do
		[ -d "$d" ] || continue
		echo 0 >"$d/memory.force_empty" 2>/dev/null
		rmdir "$d" || echo "capture: could not remove $d" >&2
	done
	[ -d $U/mwfix ] && rmdir $U/mwfix
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$HERE/hold" && CGO_ENABLED=0 go build -o "$WORK/hold" .)

mkdir $M/mwfix $M/mwfix/app $U/mwfix $M/docker $M/docker/$ID $M/docker/$ID2
echo 268435456 >$M/mwfix/memory.limit_in_bytes      # 256 MiB: the (lower) ancestor limit
echo 536870912 >$M/mwfix/app/memory.limit_in_bytes  # 512 MiB: the own limit
echo 134217728 >$M/docker/$ID/memory.limit_in_bytes # 128 MiB: the container's limit
echo 134217728 >$M/docker/$ID2/memory.limit_in_bytes

waitready() { for _ in $(seq 100); do grep -q ready "$1" 2>/dev/null && return; sleep 0.1; done; echo "capture: $1 not ready" >&2; exit 1; }

# A long-lived holder in /mwfix/app (v1) and /mwfix (cgroup2): 40 MiB anon + 16 MiB page cache.
bash -c 'echo $$ >$M/mwfix/app/cgroup.procs; echo $$ >$U/mwfix/cgroup.procs; exec $WORK/hold 40 16 $WORK/file1' >$WORK/h1 &
holders+=($!)
waitready $WORK/h1
# An allocation that crosses the hierarchical 256 MiB limit: OOM-killed by the kernel.
if bash -c 'echo $$ >$M/mwfix/app/cgroup.procs; exec $WORK/hold 400 0' >/dev/null; then
	echo "capture: expected an OOM kill" >&2
	exit 1
fi
# Page-cache churn larger than the 256 MiB limit: reclaim stalls the writer,
# so the cgroup2 memory.pressure of /mwfix records a non-zero stall.
bash -c 'echo $$ >$M/mwfix/app/cgroup.procs; echo $$ >$U/mwfix/cgroup.procs
	dd if=/dev/zero of=$WORK/big bs=1M count=600 status=none; cat $WORK/big >/dev/null; cat $WORK/big >/dev/null'
rm -f $WORK/big
# A holder in the Docker-style container cgroup: 24 MiB anon + 8 MiB page cache.
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec $WORK/hold 24 8 $WORK/file2' >$WORK/h2 &
holders+=($!)
waitready $WORK/h2

rm -rf "$TD"/hybrid "$TD"/v1-* "$TD"/docker-v1-*

# hybrid: host view, v1 memory /mwfix/app, cgroup2 /mwfix with its memory.pressure.
bash -c 'echo $$ >$M/mwfix/app/cgroup.procs; echo $$ >$U/mwfix/cgroup.procs
	F=$TD/hybrid; $SNAP proc $F; $SNAP dir $F $M $M/mwfix $M/mwfix/app $U $U/mwfix'

# v1-hier-limit: the container mount root is /mwfix/app (runc bind-mounts the
# container cgroup, no cgroup namespace): the 256 MiB ancestor is invisible, only
# hierarchical_memory_limit in memory.stat reveals it.
bash -c 'echo $$ >$M/mwfix/app/cgroup.procs; exec unshare -m --propagation private bash -c "
	mkdir $WORK/src && mount --bind $M/mwfix/app $WORK/src
	umount -R /sys/fs/cgroup && mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
	mkdir /sys/fs/cgroup/memory && mount --move $WORK/src /sys/fs/cgroup/memory
	F=$TD/v1-hier-limit; $SNAP proc \$F; $SNAP dir \$F /sys/fs/cgroup/memory"'

# docker-v1-host: path /docker/<id>, host-shaped mounts (v1 memory mounted with
# root "/"), no cgroup2 mount visible: a pure v1 view.
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec unshare -m --propagation private bash -c "
	umount /sys/fs/cgroup/unified
	F=$TD/docker-v1-host; $SNAP proc \$F; $SNAP dir \$F $M $M/docker $M/docker/$ID"'

# docker-v1-container: what runc sets up without a cgroup namespace: the
# container cgroup bind-mounted read-only at /sys/fs/cgroup/memory (root /docker/<id>).
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec unshare -m --propagation private bash -c "
	mkdir $WORK/src2 && mount --bind $M/docker/$ID $WORK/src2
	umount -R /sys/fs/cgroup && mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
	mkdir /sys/fs/cgroup/memory && mount --move $WORK/src2 /sys/fs/cgroup/memory
	mount -o remount,bind,ro,nosuid,nodev,noexec /sys/fs/cgroup/memory
	F=$TD/docker-v1-container; $SNAP proc \$F; $SNAP dir \$F /sys/fs/cgroup/memory"'

# v1-cgroupns: a private cgroup namespace rooted at /docker/<id> and a fresh,
# read-only v1 memory mount: the path is "/" and the mount root is the container.
nsmounts='umount -R /sys/fs/cgroup && mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
	mkdir /sys/fs/cgroup/memory && mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory
	mount -o remount,bind,ro,nosuid,nodev,noexec /sys/fs/cgroup/memory'
export nsmounts
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec unshare -C -m --propagation private bash -c "
	$nsmounts
	F=$TD/v1-cgroupns; $SNAP proc \$F; $SNAP dir \$F /sys/fs/cgroup/memory"'

# v1-sibling: same namespace, then the process is moved (from outside) to the
# sibling /docker/<id2>: its own /proc/self/cgroup reads /../<id2>.
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec unshare -C -m --propagation private bash -c "
	$nsmounts
	bash -c \"echo \\\$\\\$ >$WORK/sib.pid; while [ ! -e $WORK/sib.go ]; do sleep 0.05; done
		F=$TD/v1-sibling; $SNAP proc \\\$F; $SNAP dir \\\$F /sys/fs/cgroup/memory\""' &
sib=$!
for _ in $(seq 100); do [ -s $WORK/sib.pid ] && break; sleep 0.05; done
cat $WORK/sib.pid >$M/docker/$ID2/cgroup.procs
touch $WORK/sib.go
wait $sib

# v1-cgroupns-hostmount: a private cgroup namespace but the host's mounts: the
# memory mount root shows as /../.. and the path as "/" (reading the mount point
# would read the host root cgroup).
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec unshare -C bash -c "
	F=$TD/v1-cgroupns-hostmount; $SNAP proc \$F; $SNAP dir \$F $M"'

# v1-escaped-mountpoint: the v1 memory hierarchy mounted (root "/") at a path
# with a space, which mountinfo shows octal-escaped as \040.
bash -c 'echo $$ >$M/docker/$ID/cgroup.procs; exec unshare -m --propagation private bash -c "
	umount -R /sys/fs/cgroup && mount -t tmpfs -o mode=755 tmpfs /mnt
	mkdir -p \"/mnt/cgroup v1/memory\" && mount -t cgroup -o memory cgroup \"/mnt/cgroup v1/memory\"
	F=$TD/v1-escaped-mountpoint; $SNAP proc \$F
	$SNAP dir \$F \"/mnt/cgroup v1/memory\" \"/mnt/cgroup v1/memory/docker\" \"/mnt/cgroup v1/memory/docker/$ID\""'

# v1-missing-optional: docker-v1-container as a kernel without swap accounting
# (swapaccount=0: no memory.memsw.*), without kmem accounting files and with
# PSI disabled (psi=0: no /proc/pressure). Derived by deleting those files.
cp -a "$TD/docker-v1-container" "$TD/v1-missing-optional"
rm -f "$TD"/v1-missing-optional/sys/fs/cgroup/memory/memory.memsw.* \
	"$TD"/v1-missing-optional/sys/fs/cgroup/memory/memory.kmem.*
rm -rf "$TD/v1-missing-optional/proc/pressure"

echo "capture: done"
