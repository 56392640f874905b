package memtest

import (
	"fmt"
	"testing"

	"github.com/go-memwatch/memwatch/internal/bytefmt"
)

// Budget bounds what a function may add on each layer, in bytes: the growth
// of a Measurement over its base (Measurement.Growth). A zero field is not
// checked.
type Budget struct {
	// Alloc bounds the bytes allocated on the heap (exact, process-wide).
	Alloc uint64
	// LiveHeap bounds the peak heap (heap/objects, sampled; includes
	// garbage not yet collected).
	LiveHeap uint64
	// GoMemory bounds the runtime's memory from the OS (total −
	// heap/released, sampled).
	GoMemory uint64
	// RSS bounds the process's peak resident set.
	RSS uint64
	// CgroupPeak bounds the memory cgroup's peak usage.
	CgroupPeak uint64
}

// Violation is one layer over its budget.
type Violation struct {
	// Layer is "allocated", "peak live heap", "peak Go memory", "peak RSS"
	// or "peak cgroup usage".
	Layer       string
	Budget      uint64
	Measurement Measurement
}

// Error formats the violation: the layer, the amount, the budget, how it was
// measured and the decomposition at the peak sample.
func (v Violation) Error() string {
	m := v.Measurement
	s := fmt.Sprintf("%s +%s > budget %s (base %s, peak %s, %s)", v.Layer,
		bytefmt.Compact(m.Growth()), bytefmt.Compact(v.Budget), bytefmt.Compact(m.Base), bytefmt.Compact(m.Peak), m.Quality)
	if v.Layer != layerAlloc {
		s += "; at the peak sample: " + m.AtPeak.String()
	}
	if m.Reason != "" {
		s += " [" + m.Reason + "]"
	}
	return s
}

const layerAlloc = "allocated"

type check struct {
	layer  string
	budget uint64
	m      Measurement
}

func (r *Result) checks(b Budget) []check {
	return []check{
		{layerAlloc, b.Alloc, r.Alloc},
		{"peak live heap", b.LiveHeap, r.LiveHeap},
		{"peak Go memory", b.GoMemory, r.GoMemory},
		{"peak RSS", b.RSS, r.RSS},
		{"peak cgroup usage", b.CgroupPeak, r.Cgroup},
	}
}

// Check compares the result with the budget. It returns the layers over
// budget and, separately, the budgeted layers that could not be checked
// because they were unavailable (with the reason).
func (r *Result) Check(b Budget) (over []Violation, unchecked []string) {
	for _, c := range r.checks(b) {
		if c.budget == 0 {
			continue
		}
		if !c.m.Available() {
			unchecked = append(unchecked, fmt.Sprintf("%s budget not checked: unavailable: %s", c.layer, c.m.Reason))
			continue
		}
		if c.m.Growth() > c.budget {
			over = append(over, Violation{Layer: c.layer, Budget: c.budget, Measurement: c.m})
		}
	}
	return over, unchecked
}

// AssertBudget measures fn (see Measure) and reports with tb.Errorf each
// layer whose growth exceeds the budget, for example
//
//	memtest: peak RSS +41 MiB > budget 16 MiB (base 19 MiB, peak 60 MiB, exact); at the peak sample: Go heap 2.1 MiB, other Go 3.5 MiB, non-Go 40 MiB, file/shared 9.2 MiB
//
// Budgeted layers that are unavailable on this system are logged, not
// failed. It returns the Result for further checks.
func AssertBudget(tb testing.TB, b Budget, fn func(), opts ...Option) Result {
	tb.Helper()
	r := Measure(fn, opts...)
	over, unchecked := r.Check(b)
	for _, u := range unchecked {
		tb.Logf("memtest: %s", u)
	}
	for _, v := range over {
		tb.Errorf("memtest: %v", v)
	}
	return r
}

// ReportMetrics attaches the result to a benchmark as custom metrics:
// alloc-B and alloc-objects (allocated during the measurement), and, for the
// available layers, the growth over the base as peak-live-heap-B,
// retained-heap-B, peak-go-mem-B, peak-rss-B and peak-cgroup-B. Measure the
// whole b.N loop (or one representative operation) and divide as you need;
// b.ReportAllocs gives per-operation allocation figures.
func ReportMetrics(b *testing.B, r Result) {
	b.Helper()
	report := func(m Measurement, unit string) {
		if m.Available() {
			b.ReportMetric(float64(m.Growth()), unit)
		}
	}
	report(r.Alloc, "alloc-B")
	report(r.AllocObjects, "alloc-objects")
	report(r.LiveHeap, "peak-live-heap-B")
	if r.LiveHeap.Available() {
		b.ReportMetric(float64(r.Retained()), "retained-heap-B")
	}
	report(r.GoMemory, "peak-go-mem-B")
	report(r.RSS, "peak-rss-B")
	report(r.Cgroup, "peak-cgroup-B")
}
