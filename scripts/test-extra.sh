#!/usr/bin/env bash
# test-extra.sh: the root module's tests in two more configurations CI checks.
#
#   1. GOARCH=386: a 32-bit build (it runs natively on an amd64 Linux host).
#      Limits and byte counts are uint64 in the kernel files: any conversion
#      to int, uintptr or float that overflows on 32 bits fails here.
#   2. Unprivileged: as the user nobody (uid 65534), as a developer or an
#      unprivileged CI runner would run `go test ./...`. Tests that need
#      root (memory cgroups, device files) must skip with a reason, not fail.
#      Run as root, the script switches to nobody with setpriv; run as
#      another user it runs as that user.
#
# Both use -short: the slow real-kernel tests (allocations of hundreds of MiB
# in child cgroups, OOM kills, the soak) skip there; scripts/test.sh runs
# them on amd64 as root. Everything else runs, the hostile corpus included.
#
#   ./scripts/test-extra.sh          # both
#   ./scripts/test-extra.sh 386      # only the 32-bit run
#   ./scripts/test-extra.sh nobody   # only the unprivileged run
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
what="${1:-all}"
t0=$SECONDS
failed=""

step() { printf '\n=== %s\n' "$*"; }

if [ "$what" = all ] || [ "$what" = 386 ]; then
	step "GOARCH=386 go test -short ./..."
	GOARCH=386 go test -short -count=1 ./... || failed="$failed 386"
fi

if [ "$what" = all ] || [ "$what" = nobody ]; then
	step "go test -short ./... as an unprivileged user"
	if [ "$(id -u)" -ne 0 ]; then
		echo "running as $(id -un) (uid $(id -u)): already unprivileged"
		go test -short -count=1 ./... || failed="$failed unprivileged"
	else
		# nobody cannot read root's module and build caches: give it its
		# own, the modules copied from the local module cache (no network).
		dir="${MEMWATCH_NOBODY_DIR:-/tmp/memwatch-nobody}"
		mkdir -p "$dir/mod" "$dir/cache" "$dir/home" "$dir/tmp"
		local_mods="$(go env GOMODCACHE)/cache/download"
		GOMODCACHE="$dir/mod" GOFLAGS=-mod=mod GOPROXY="file://$local_mods" GOSUMDB=off \
			go list -deps -test ./... >/dev/null
		chown -R 65534:65534 "$dir"
		# The source tree must be readable (not writable) by nobody.
		if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r go.mod; then
			echo "test-extra: $(pwd) is not readable by nobody" >&2
			exit 1
		fi
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -i PATH="$PATH" HOME="$dir/home" TMPDIR="$dir/tmp" \
			GOCACHE="$dir/cache" GOMODCACHE="$dir/mod" GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
			go test -short -count=1 ./... || failed="$failed unprivileged"
	fi
fi

echo
if [ -n "$failed" ]; then
	echo "test-extra: FAILED:$failed ($((SECONDS - t0)) s)"
	exit 1
fi
echo "test-extra: passed in $((SECONDS - t0)) s"
