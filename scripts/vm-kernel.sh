#!/usr/bin/env bash
# vm-kernel.sh: installs what the QEMU test VM (internal/testutil/vm) needs on a
# Debian machine and caches a kernel for it. Idempotent: each step is skipped when
# its result is already present.
#
#   1. qemu-system-x86 and cpio from Debian (no recommends), if qemu-system-x86_64
#      is not on PATH.
#   2. The Debian cloud kernel (linux-image-<ver>-cloud-amd64): only its vmlinuz
#      (and its config, for reference) are extracted into the cache:
#      ${MEMWATCH_VM_KERNEL:-$HOME/.cache/memwatch-vm/vmlinuz}
#      (config next to it as vmlinuz.config).
#
# Usage: scripts/vm-kernel.sh            # install + fetch
#        scripts/vm-kernel.sh --check    # only report what is missing (exit 1 if anything)
#
# The cloud kernel has everything built in that the VM needs (8250 serial console,
# initramfs, cgroup2 + memory controller, cgroup v1 memory, PSI); PSI is disabled by
# default in Debian (CONFIG_PSI_DEFAULT_DISABLED=y), so the VM boots with psi=1.
set -euo pipefail

KERNEL="${MEMWATCH_VM_KERNEL:-${HOME:-/root}/.cache/memwatch-vm/vmlinuz}"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

log() { printf 'vm-kernel: %s\n' "$*" >&2; }
die() { printf 'vm-kernel: error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

apt_lists_ready() {
	# Any Packages list for the main archive means apt-get update has run once.
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}
ensure_apt_lists() {
	if ! apt_lists_ready; then
		log "apt lists missing: running apt-get update"
		$SUDO apt-get update -q >/dev/null
	fi
}

missing=0

# --- 1. QEMU -----------------------------------------------------------------
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
	log "qemu-system-x86_64 present: $(command -v qemu-system-x86_64)"
elif [ "$CHECK" = 1 ]; then
	log "missing: qemu-system-x86_64 (package qemu-system-x86)"
	missing=1
else
	command -v apt-get >/dev/null 2>&1 || die "qemu-system-x86_64 not found and no apt-get to install it"
	ensure_apt_lists
	log "installing qemu-system-x86 cpio (no recommends)"
	start=$(date +%s.%N)
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
		qemu-system-x86 cpio >/dev/null
	end=$(date +%s.%N)
	log "apt-get install took $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s"
	command -v qemu-system-x86_64 >/dev/null 2>&1 || die "qemu-system-x86_64 still missing after install"
fi

# --- 2. kernel ---------------------------------------------------------------
if [ -s "$KERNEL" ]; then
	log "kernel present: $KERNEL"
elif [ "$CHECK" = 1 ]; then
	log "missing: kernel $KERNEL"
	missing=1
else
	for t in apt-get apt-cache dpkg-deb; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found: cannot fetch the Debian cloud kernel"
	done
	ensure_apt_lists
	start=$(date +%s.%N)
	# The meta-package depends on the versioned image package.
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9].*-cloud-amd64/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		log "meta-package not resolved: running apt-get update and retrying"
		$SUDO apt-get update -q >/dev/null
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9].*-cloud-amd64/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 to a versioned kernel package"
	log "fetching $pkg"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the cwd and, as root, drops to the _apt user:
	# let it write there.
	chmod 0777 "$tmp"
	(cd "$tmp" && apt-get download -q "$pkg" >/dev/null)
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
	[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
	dpkg-deb -x "$deb" "$tmp/x"
	vmlinuz=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n1)
	[ -n "$vmlinuz" ] || die "$deb contains no boot/vmlinuz-*"
	mkdir -p "$(dirname "$KERNEL")"
	cp "$vmlinuz" "$KERNEL.tmp"
	mv "$KERNEL.tmp" "$KERNEL"
	cfg=$(ls "$tmp"/x/boot/config-* 2>/dev/null | head -n1 || true)
	[ -n "$cfg" ] && cp "$cfg" "$KERNEL.config"
	end=$(date +%s.%N)
	log "kernel $(basename "$vmlinuz") cached at $KERNEL in $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s"
fi

if [ "$CHECK" = 1 ] && [ "$missing" = 1 ]; then
	log "run scripts/vm-kernel.sh to install what is missing"
	exit 1
fi
exit 0
