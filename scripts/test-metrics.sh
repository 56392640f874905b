#!/usr/bin/env bash
# The metrics export as CI checks it: the memwatch/memprom and examples/service
# modules (vet, staticcheck, tests with the race detector), the shipped
# Prometheus rules (promtool check rules, promtool test rules), and a real
# Prometheus server scraping examples/service (TestRealPrometheus, which
# never skips here). Installs Debian's prometheus package (server and
# promtool) when missing. Also checks that the memwatch module itself still
# depends only on golang.org/x/sys (client_golang and OpenTelemetry stay in
# their nested modules).
#
#   ./scripts/test-metrics.sh
#   MEMWATCH_SCRAPE_OUT=/tmp/scrape.txt ./scripts/test-metrics.sh   # keep the real scrape
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
STATICCHECK_VERSION="v0.8.2" # as scripts/test.sh
MODULES=(memwatch/memprom examples/service) # examples/service holds the real-Prometheus test

step() { printf '\n=== %s\n' "$*"; }
t0=$SECONDS

step "install prometheus and promtool (Debian package) if missing"
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		$SUDO apt-get update -q >/dev/null
	fi
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends prometheus >/dev/null
fi
prometheus --version 2>&1 | head -1
if ! command -v staticcheck >/dev/null || ! staticcheck -version | grep -q "(${STATICCHECK_VERSION#v})"; then
	go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi

step "the memwatch module needs no client_golang or OpenTelemetry"
if leaked=$(go list -m all | grep -E '^(github\.com/prometheus/(client_golang|client_model|common)|go\.opentelemetry\.io/)'); then
	echo "the root module's graph (go list -m all) holds:"; echo "$leaked"; exit 1
fi
if leaked=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./... |
	grep -v -e '^github\.com/go-memwatch/memwatch' -e '^golang\.org/x/sys/'); then
	echo "non-test packages of the root module import more than golang.org/x/sys:"; echo "$leaked"; exit 1
fi
echo "ok: golang.org/x/sys only (test-only: $(go list -m all | tail -n +2 | wc -l) modules in the graph)"

step "gofmt"
unformatted=$(gofmt -l "${MODULES[@]}")
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

step "promtool check rules, promtool test rules"
promtool check rules deploy/prometheus/memwatch-rules.yml
promtool test rules deploy/prometheus/memwatch-rules.test.yml

for m in "${MODULES[@]}"; do
	step "$m: vet (linux, darwin), staticcheck"
	(cd "$m" && go vet ./... && GOOS=darwin go vet ./... && staticcheck ./...)
done

step "memwatch/memprom: benchmarks run once"
(cd memwatch/memprom && go test -run '^$' -bench . -benchtime 1x ./... >/tmp/memprom-bench.log 2>&1) ||
	{ cat /tmp/memprom-bench.log; exit 1; }

for m in "${MODULES[@]}"; do
	step "$m: tests with the race detector"
	(cd "$m" && MEMWATCH_REQUIRE_PROMETHEUS=1 go test -race -count=1 ./...)
done

echo
echo "metrics checks passed in $((SECONDS - t0)) s"
