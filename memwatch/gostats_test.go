package memwatch

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
)

func TestGoReaderDiscovery(t *testing.T) {
	r := newGoReader(nil)
	for _, m := range goMetrics {
		if r.present&m.field == 0 {
			t.Errorf("%s (kind %d) not found in metrics.All() of %s", m.name, m.kind, runtime.Version())
		}
	}
	var g GoStats
	r.read(&g)
	if g.NumClasses < 14 {
		t.Errorf("only %d memory classes", g.NumClasses)
	}
	// The classes partition Total (runtime/metrics doc: "/memory/classes/total:bytes
	// All memory mapped by the Go runtime into the current process ...
	// Sum of all metrics in /memory/classes.").
	var sum, total uint64
	for _, c := range g.Classes[:g.NumClasses] {
		if strings.Contains(c.Name, ":") || strings.HasPrefix(c.Name, "/") {
			t.Errorf("class name %q not trimmed", c.Name)
		}
		if c.Name == "total" {
			total = c.Bytes
			continue
		}
		sum += c.Bytes
	}
	if total == 0 || sum != total || total != g.Total {
		t.Errorf("classes sum to %d, total class %d, Total %d", sum, total, g.Total)
	}
	if g.Alloc != g.HeapObjects || g.Sys != g.Total || g.Exact {
		t.Errorf("MemStats mapping: Alloc %d HeapObjects %d Sys %d Total %d exact %v", g.Alloc, g.HeapObjects, g.Sys, g.Total, g.Exact)
	}
	if g.HeapGoal == 0 || g.Goroutines == 0 || g.GOMAXPROCS == 0 || g.HeapAllocsTotal == 0 {
		t.Errorf("zero runtime values: %+v", g)
	}
	// HeapLive needs a completed GC.
	runtime.GC()
	r.read(&g)
	if g.HeapLive == 0 || g.GCCycles == 0 {
		t.Errorf("after GC: HeapLive %d GCCycles %d", g.HeapLive, g.GCCycles)
	}
}

func TestGoReaderMissingMetrics(t *testing.T) {
	// Drop heap/live and one class, and change the kind of gogc: each must
	// be reported absent, the rest still read.
	var descs []metrics.Description
	for _, d := range metrics.All() {
		switch d.Name {
		case "/gc/heap/live:bytes", "/memory/classes/heap/free:bytes":
			continue
		case "/gc/gogc:percent":
			d.Kind = metrics.KindFloat64
		}
		descs = append(descs, d)
	}
	r := newGoReaderFrom(descs, nil)
	var g GoStats
	r.read(&g)
	for _, f := range []GoFields{GoHeapLive, GoHeapFree, GoGOGC} {
		if g.Present&f != 0 {
			t.Errorf("field %b present though missing", f)
		}
	}
	if g.HeapLive != 0 || g.HeapFree != 0 || g.GOGC != 0 {
		t.Errorf("absent fields not zero: live %d free %d gogc %d", g.HeapLive, g.HeapFree, g.GOGC)
	}
	if g.Present&GoHeapObjects == 0 || g.HeapObjects == 0 || g.Total == 0 {
		t.Error("present fields not read")
	}
	for _, c := range g.Classes[:g.NumClasses] {
		if c.Name == "heap/free" {
			t.Error("dropped class listed")
		}
	}
	// Attribution notes the missing heap/live.
	if a := Attribute(&Snapshot{Go: g}); a.Notes&NoteNoHeapLive == 0 {
		t.Error("missing heap/live not noted")
	}
	// An empty description list: nothing present, no panic.
	r = newGoReaderFrom(nil, nil)
	r.read(&g)
	if g.Present != 0 || g.NumClasses != 0 {
		t.Errorf("empty: present %b classes %d", g.Present, g.NumClasses)
	}
}

func TestGoReaderGOGCAndLimit(t *testing.T) {
	oldGC := debug.SetGCPercent(-1)
	oldLim := debug.SetMemoryLimit(512 << 20)
	defer debug.SetGCPercent(oldGC)
	defer debug.SetMemoryLimit(oldLim)
	r := newGoReader(nil)
	var g GoStats
	r.read(&g)
	if g.GOGC != -1 {
		t.Errorf("GOGC=off read as %d, want -1", g.GOGC)
	}
	if !g.HasLimit() || g.GOMEMLIMIT != 512<<20 {
		t.Errorf("GOMEMLIMIT %d (HasLimit %v), want %d", g.GOMEMLIMIT, g.HasLimit(), 512<<20)
	}
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(math.MaxInt64)
	r.read(&g)
	if g.GOGC != 150 || g.HasLimit() {
		t.Errorf("GOGC %d HasLimit %v, want 150 false", g.GOGC, g.HasLimit())
	}
}

func TestGoReaderExact(t *testing.T) {
	r := newGoReader(runtime.ReadMemStats)
	var g GoStats
	r.read(&g)
	if !g.Exact || g.Alloc == 0 || g.Sys == 0 {
		t.Fatalf("exact read: %+v", g)
	}
	// By the documented mapping the two sources agree; allow for
	// allocations by other goroutines between the two reads.
	if d := math.Abs(float64(g.Alloc) - float64(g.HeapObjects)); d > 4<<20 {
		t.Errorf("ReadMemStats HeapAlloc %d vs heap/objects %d", g.Alloc, g.HeapObjects)
	}
	if d := math.Abs(float64(g.Sys) - float64(g.Total)); d > 4<<20 {
		t.Errorf("ReadMemStats Sys %d vs total %d", g.Sys, g.Total)
	}
}

func TestGCCPUFraction(t *testing.T) {
	for _, tc := range []struct{ dgc, dtot, frac, win float64 }{
		{0.5, 2, 0.25, 2},
		{0, 0, 0, 0},  // no GC pause between the samples
		{1, 0, 0, 0},  // impossible, no window
		{-1, 2, 0, 0}, // counters went backwards
		{3, 2, 1, 2},  // clamped
		{math.NaN(), 2, 0, 0},
		{0, 4, 0, 4},
	} {
		f, w := gcCPUFraction(tc.dgc, tc.dtot)
		if f != tc.frac || w != tc.win {
			t.Errorf("gcCPUFraction(%v, %v) = %v, %v; want %v, %v", tc.dgc, tc.dtot, f, w, tc.frac, tc.win)
		}
	}

	// Real runtime: GC work between two reads gives a positive fraction
	// over a positive window; a read with no GC in between gives 0.
	r := newGoReader(nil)
	var g GoStats
	r.read(&g)
	if g.GCCPUFraction < 0 || g.GCCPUFraction > 1 {
		t.Errorf("lifetime fraction %v", g.GCCPUFraction)
	}
	var sink [][]byte
	for i := 0; i < 20; i++ {
		for j := 0; j < 2000; j++ {
			sink = append(sink, make([]byte, 1024))
		}
		sink = sink[:0]
		runtime.GC()
	}
	_ = sink
	r.read(&g)
	if !(g.GCCPUFraction > 0 && g.GCCPUWindowSeconds > 0) {
		t.Errorf("after 20 GCs: fraction %v window %v", g.GCCPUFraction, g.GCCPUWindowSeconds)
	}
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	r.read(&g)
	r.read(&g)
	if g.GCCPUFraction != 0 || g.GCCPUWindowSeconds != 0 {
		t.Errorf("no GC between reads: fraction %v window %v", g.GCCPUFraction, g.GCCPUWindowSeconds)
	}
}

func TestGoReaderAllocs(t *testing.T) {
	r := newGoReader(nil)
	var g GoStats
	if n := testing.AllocsPerRun(200, func() { r.read(&g) }); n != 0 {
		t.Errorf("goReader.read allocates %v times per call", n)
	}
	r = newGoReader(runtime.ReadMemStats)
	if n := testing.AllocsPerRun(20, func() { r.read(&g) }); n != 0 {
		t.Errorf("exact goReader.read allocates %v times per call", n)
	}
}
