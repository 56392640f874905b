// Package budgets shows memory budgets in Go tests with package
// memwatch/memtest: a budget asserted in a unit test (AssertBudget), the
// measured peaks reported by a benchmark (ReportMetrics), and a test body run
// in a real memory cgroup with a hard limit (RunInCgroup). The code under
// test is a toy: Parse builds an index of a document.
//
// Run it with
//
//	go test -v ./examples/budgets/
//	go test -run=^$ -bench=. ./examples/budgets/
//
// The cgroup test needs root and a writable memory cgroup hierarchy; it
// skips with the reason elsewhere.
package budgets

import "strings"

// Index maps each word of a document to the offsets where it occurs.
type Index map[string][]int

// Parse indexes the words of doc.
func Parse(doc string) Index {
	idx := make(Index)
	off := 0
	for _, w := range strings.Fields(doc) {
		i := strings.Index(doc[off:], w)
		idx[w] = append(idx[w], off+i)
		off += i + len(w)
	}
	return idx
}
