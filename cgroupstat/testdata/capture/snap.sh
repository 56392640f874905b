#!/usr/bin/env bash
# snap.sh proc FIX          copy /proc/self/{cgroup,mountinfo}, /proc/meminfo and
#                           /proc/pressure/memory as this process sees them
# snap.sh dir FIX DIR...    copy the memory/PSI files of cgroup directories
# Used by capture.sh from inside the cgroups and namespaces being captured.
set -euo pipefail
what=$1 fix=$2
shift 2
case $what in
proc)
	mkdir -p "$fix/proc/self" "$fix/proc/pressure"
	cat /proc/self/cgroup >"$fix/proc/self/cgroup"
	cat /proc/self/mountinfo >"$fix/proc/self/mountinfo"
	cat /proc/meminfo >"$fix/proc/meminfo"
	cat /proc/pressure/memory >"$fix/proc/pressure/memory"
	;;
dir)
	for d in "$@"; do
		mkdir -p "$fix$d"
		for f in "$d"/memory.* "$d"/cgroup.sane_behavior "$d"/cgroup.type "$d"/cgroup.events "$d"/cgroup.controllers; do
			[ -f "$f" ] || continue
			case ${f##*/} in
			memory.force_empty | memory.pressure_level | memory.kmem.slabinfo) continue ;; # not readable
			esac
			cat "$f" >"$fix$f" 2>/dev/null || rm -f "$fix$f"
		done
		# write-only in the kernel (mode 0200): an empty placeholder keeps the path.
		if [ -e "$d/cgroup.event_control" ]; then : >"$fix$d/cgroup.event_control"; fi
	done
	;;
esac
