package budgets

import (
	"runtime"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/memwatch/memtest"
	"go.uber.org/goleak"
)

const mib = 1 << 20

// document is about 1 MiB of text with a small vocabulary.
var document = strings.Repeat("the quick brown fox jumps over the lazy dog ", 25_000)

// A unit test with a memory budget: indexing a 1 MiB document may allocate
// 64 MiB in total and grow the heap by at most 32 MiB (the limits leave room
// for the race detector); anything more is a regression, reported with the
// layer and where the memory went.
func TestParseBudget(t *testing.T) {
	var idx Index
	r := memtest.AssertBudget(t, memtest.Budget{
		Alloc:    64 * mib,
		LiveHeap: 32 * mib,
		GoMemory: 48 * mib,
	}, func() { idx = Parse(document) })
	if len(idx) != 8 {
		t.Fatalf("%d words, want 8", len(idx))
	}
	t.Logf("Parse of %d bytes:\n%v", len(document), r)
}

// A benchmark reporting peak memory beside time and allocations.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	r := memtest.Measure(func() {
		for b.Loop() {
			runtime.KeepAlive(Parse(document))
		}
	})
	memtest.ReportMetrics(b, r)
}

// A test body run in a fresh memory cgroup limited to 64 MiB: the index of
// the document must fit, and the kernel must not OOM-kill the process.
func TestParseFitsIn64MiB(t *testing.T) {
	res := memtest.RunInCgroup(t, 64*mib, func(t *testing.T) {
		if idx := Parse(document); len(idx) != 8 {
			t.Errorf("%d words, want 8", len(idx))
		}
	})
	if res.OOMKilled {
		t.Fatalf("Parse was OOM-killed in a 64 MiB cgroup: %v", res)
	}
	t.Logf("%v; the child measured:\n%v", res, res.Child)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
