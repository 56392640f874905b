#!/usr/bin/env bash
# memwatch/memotel, the OpenTelemetry exporter, is a module of its own: the
# root module's ./... does not reach it. This checks it as CI does: the root
# module still does not require OpenTelemetry, go.mod is tidy, gofmt, go vet,
# staticcheck, a darwin cross-vet, the tests with the race detector, and the
# benchmarks once. scripts/test.sh calls it after installing staticcheck.
#
#   ./scripts/test-memotel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

step() { printf '\n=== memotel: %s\n' "$*"; }

step "the root module does not require OpenTelemetry"
if grep -n 'go.opentelemetry.io' go.mod; then
	echo "go.mod of the root module requires OpenTelemetry; only memwatch/memotel may"; exit 1
fi
if leaked=$(go list -deps ./... | grep '^go.opentelemetry.io'); then
	echo "a package of the root module imports OpenTelemetry:"; echo "$leaked"; exit 1
fi
echo ok

cd memwatch/memotel

step "go.mod is tidy"
go mod tidy -diff

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...
command -v staticcheck >/dev/null || { echo "staticcheck is not on PATH (scripts/test.sh installs it)"; exit 1; }
staticcheck ./...

step "cross-compile (darwin)"
GOOS=darwin GOARCH=amd64 go vet ./...

step "tests with the race detector"
go test -race -count=1 ./...

step "benchmarks compile and run once"
go test -run '^$' -bench . -benchtime 1x ./... >/tmp/memotel-bench.log 2>&1 || { cat /tmp/memotel-bench.log; exit 1; }
echo ok
