package memprom

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	docsFile   = "../../docs/metrics.md"
	tableBegin = "<!-- metric table: generated from metrics.go by `go test -update` in memwatch/memprom; do not edit -->\n"
	tableEnd   = "<!-- end of metric table -->\n"
)

// table renders the metric table of docs/metrics.md from defs.
func table() string {
	var b bytes.Buffer
	b.WriteString("| metric | type | labels | meaning | from | absent when |\n|---|---|---|---|---|---|\n")
	for _, d := range defs {
		typ := "gauge"
		if d.typ == prometheus.CounterValue {
			typ = "counter"
		}
		labels := "—"
		if len(d.labels) > 0 {
			labels = "`" + strings.Join(d.labels, "`, `") + "`"
		}
		absent := d.absent
		if absent == "" {
			absent = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | `%s` | %s |\n", d.name, typ, labels,
			strings.ReplaceAll(d.help, "|", `\|`), d.source, absent)
	}
	return b.String()
}

// TestDocs: docs/metrics.md holds the table rendered from defs (go test
// -update rewrites it), and the package documentation names every metric.
func TestDocs(t *testing.T) {
	b, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: no metric table markers", docsFile)
	}
	want := table()
	if got := doc[i+len(tableBegin) : j]; got != want {
		if !*update {
			t.Fatalf("%s: the metric table differs from metrics.go; run go test -update. Want:\n%s", docsFile, want)
		}
		doc = doc[:i+len(tableBegin)] + want + doc[j:]
		if err := os.WriteFile(docsFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if !regexp.MustCompile(`//\s+` + d.name + `\b`).Match(src) {
			t.Errorf("the package documentation does not list %s", d.name)
		}
		if !strings.Contains(doc, "`"+d.name+"`") {
			t.Errorf("%s does not mention %s", docsFile, d.name)
		}
	}
}

// keptGo are the client_golang metrics the shipped dashboard and rules may
// use beside memwatch's (docs/metrics.md, "Go and process metrics").
var keptGo = map[string]bool{"go_gc_gomemlimit_bytes": true, "go_gc_gogc_percent": true}

// TestShippedNames: the rules and the dashboard in deploy/ use only names
// this package exports (or records from them), and the go_* names documented
// to keep.
func TestShippedNames(t *testing.T) {
	names := map[string]bool{}
	for _, d := range defs {
		names[d.name] = true
	}
	rules, err := os.ReadFile("../../deploy/prometheus/memwatch-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- record:\s*(\S+)`).FindAllSubmatch(rules, -1) {
		recorded[string(m[1])] = true
	}
	token := regexp.MustCompile(`\b(memwatch(?:_|:)[a-z0-9_:]+|go_[a-z0-9_]+|process_[a-z0-9_]+)`)
	for _, f := range []string{"../../deploy/prometheus/memwatch-rules.yml", "../../deploy/grafana/memwatch-service.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range token.FindAllString(string(b), -1) {
			n++
			if !names[m] && !recorded[m] && !keptGo[m] {
				t.Errorf("%s uses %s, which memprom does not export", f, m)
			}
		}
		if n == 0 {
			t.Errorf("%s: no metric names found", f)
		}
	}
}
