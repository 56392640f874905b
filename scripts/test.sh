#!/usr/bin/env bash
# The whole memwatch test suite, as CI runs it. Needs root for the real-kernel
# tests (cgroup v1 on the host, cgroup v2 in a QEMU VM); without root those
# tests skip with a reason and everything else still runs.
#
#   ./scripts/test.sh          # everything (installs what is missing)
#   FUZZTIME=200000x ./scripts/test.sh   # longer fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
# Fuzz budgets are execution counts, not durations: with go1.26 a duration
# -fuzztime races the coordinator's deadline on a loaded machine and fails with
# "context deadline exceeded" without any failing input (golang/go#75804).
FUZZTIME="${FUZZTIME:-20000x}"
STATICCHECK_VERSION="v0.8.2" # staticcheck 2026.2.2, knows Go 1.26

step() { printf '\n=== %s\n' "$*"; }
t0=$SECONDS

step "install test dependencies"
./scripts/install-deps.sh
if ! command -v staticcheck >/dev/null || ! staticcheck -version | grep -q "(${STATICCHECK_VERSION#v})"; then
	go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

step "Kubernetes manifests (deploy/kubernetes, quoted in docs/kubernetes.md)"
./scripts/test-k8s-yaml.sh

step "go vet and staticcheck"
go vet ./...
staticcheck ./...

step "cross-compile (darwin, windows, freebsd)"
for os in darwin windows freebsd; do
	GOOS=$os GOARCH=amd64 go vet ./...   # builds packages and their tests
done

step "containerd/cgroups and the test harnesses stay out of non-test import graphs"
pkgs=$(go list ./... | grep -v '/internal/testutil')
if leaked=$(go list -deps $pkgs | grep '^github.com/containerd/cgroups\|/internal/testutil/'); then
	echo "containerd/cgroups or a test harness is imported by a non-test package:"; echo "$leaked"; exit 1
fi
echo "ok: not in the graph of $(echo "$pkgs" | wc -l) packages"

step "binary size: what a blank import of memwatch/auto adds (no HTTP stack in the core)"
./scripts/binsize.sh

step "fuzz every parser for ${FUZZTIME} each"
for pkg in $(go list ./...); do
	for fz in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "--- $pkg $fz"
		go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/memwatch-fuzz.log 2>&1 || { cat /tmp/memwatch-fuzz.log; exit 1; }
	done
done

step "benchmarks compile and run once"
go test -run '^$' -bench . -benchtime 1x ./... >/tmp/memwatch-bench.log 2>&1 || { cat /tmp/memwatch-bench.log; exit 1; }

step "cgroup v2 in a QEMU VM (real kernel)"
./scripts/test-vm.sh

step "unit, fixture and real-kernel tests with the race detector"
go test -race -count=1 ./...

step "GOARCH=386 and an unprivileged user: go test -short ./..."
./scripts/test-extra.sh

step "memwatch/memprom and examples/service (their own modules), alerts, dashboard, a real Prometheus"
./scripts/test-metrics.sh

step "memwatch/memotel (its own module): OpenTelemetry instruments"
./scripts/test-memotel.sh

step "OOM lab (bench/oomlab, its own module): vet, staticcheck, unit tests"
(cd bench/oomlab && go vet ./... && staticcheck ./... && GOOS=darwin go vet ./... && go test -race -count=1 ./...)

step "OOM lab, short form: real v1 cgroups, memwatch must survive every scenario"
# Fails (exit 1) when memwatch is OOM-killed in a scenario it must survive or
# misses another enforced target; the full table is `cd bench/oomlab && go run . -reps 10`.
if [ "$(id -u)" -eq 0 ]; then
	(cd bench/oomlab && go run . ${OOMLAB_ARGS:--reps 2 -duration 6s -check})
else
	echo "skipped: creating memory cgroups needs root (CI runs as root)"
fi

step "OOM lab, short form on cgroup v2 in the QEMU VM (memory.high, a sidecar, a spike, a lowered limit)"
if [ "$(id -u)" -eq 0 ]; then
	./scripts/test-oomlab-v2.sh
else
	echo "skipped: the VM needs root (CI runs as root)"
fi

echo
echo "all checks passed in $((SECONDS - t0)) s"
