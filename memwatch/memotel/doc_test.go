package memotel

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

// docGoHeader is the line that heads the package documentation's table,
// which ends at the next empty comment line.
var docGoHeader = "//\t" + fmt.Sprintf("%-32s %-14s %s", "name", "kind", "unit") + "\n//\n"

var update = flag.Bool("update", false, "rewrite the instrument tables of doc.go and docs/otel.md from specs")

const (
	docGo       = "doc.go"
	docMarkdown = "../../docs/otel.md"
	mdBegin     = "<!-- instruments: generated from memwatch/memotel/instruments.go by go test -run TestDocs -update -->\n"
	mdEnd       = "<!-- end of instruments -->\n"
)

// TestDocs fails when the instrument tables of the package documentation
// and docs/otel.md differ from specs; -update rewrites them.
func TestDocs(t *testing.T) {
	replace(t, docGo, docGoHeader, "//\n", textTable())
	replace(t, docMarkdown, mdBegin, mdEnd, markdownTable())
}

// replace checks (or with -update rewrites) the text between begin and the
// next end in file.
func replace(t *testing.T, file, begin, end, body string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, begin)
	if i < 0 {
		t.Fatalf("%s: no line %q", file, begin)
	}
	i += len(begin)
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("%s: no %q after %q", file, end, begin)
	}
	if s[i:i+j] == body {
		return
	}
	if !*update {
		t.Errorf("%s: the instrument table differs from specs; run go test -run TestDocs -update", file)
		return
	}
	if err := os.WriteFile(file, []byte(s[:i]+body+s[i+j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// markdownTable renders specs as the Markdown table of docs/otel.md.
func markdownTable() string {
	var b strings.Builder
	b.WriteString("| name | kind | unit | attributes | meaning | source (Snapshot field) |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, s := range specs {
		name := "`" + s.name + "`"
		if s.semconv != "" {
			name += " (semconv " + semconvVersion + ")"
		}
		unit := "`" + s.unit + "`"
		if s.unit == "" {
			unit = "(none)"
		}
		attrs := s.attrs
		if attrs == "" {
			attrs = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, s.kind, unit, attrs, s.desc, s.source)
	}
	return b.String()
}

// textTable renders specs for the package documentation.
func textTable() string {
	var b strings.Builder
	for _, s := range specs {
		unit := s.unit
		if unit == "" {
			unit = "-"
		}
		line := fmt.Sprintf("%-32s %-14s %s", s.name, s.kind, unit)
		if s.attrs != "" {
			line += "  (" + attrKeys(s.attrs) + ")"
		}
		b.WriteString("//\t" + line + "\n")
	}
	return b.String()
}

// attrKeys returns the keys of an attrs description ("k (values); k2 (…)").
func attrKeys(attrs string) string {
	var keys []string
	for a := range strings.SplitSeq(attrs, "; ") {
		k, _, _ := strings.Cut(a, " ")
		keys = append(keys, k)
	}
	return strings.Join(keys, ", ")
}
