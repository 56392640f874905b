package memwatch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixtureTime is the Time given to fixture snapshots so renderings are
// deterministic.
var fixtureTime = time.Date(2025, 11, 27, 0, 36, 0, 0, time.UTC)

// fixtureGoStats loads the runtime/metrics values the capture program
// recorded next to a fixture tree (testdata/<name>/go-metrics.json) into a
// GoStats, as the goReader would have filled it at capture time.
func fixtureGoStats(t testing.TB, root string) GoStats {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go-metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]json.Number
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&vals); err != nil {
		t.Fatal(err)
	}
	var g GoStats
	for _, m := range goMetrics {
		v, ok := vals[m.name]
		if !ok {
			continue
		}
		g.Present |= m.field
		f, err := v.Float64()
		if err != nil {
			t.Fatal(err)
		}
		u, err := strconv.ParseUint(v.String(), 10, 64)
		if err != nil && m.kind == metrics.KindUint64 {
			t.Fatalf("%s: %v", m.name, err)
		}
		g.set(m.field, u, f)
	}
	var classes []string
	for name := range vals {
		if strings.HasPrefix(name, memClassPrefix) {
			classes = append(classes, name)
		}
	}
	sort.Strings(classes) // metrics.All is sorted by name
	for _, name := range classes {
		n, _ := vals[name].Int64()
		short := strings.TrimSuffix(strings.TrimPrefix(name, memClassPrefix), ":bytes")
		g.Classes[g.NumClasses] = GoClass{Name: short, Bytes: uint64(n)}
		g.NumClasses++
	}
	g.Alloc, g.Sys = g.HeapObjects, g.Total
	g.GCCPUFraction, g.GCCPUWindowSeconds = gcCPUFraction(g.GCCPUSeconds, g.TotalCPUSeconds)
	return g
}

// fixtureSnapshot samples a fixture tree (full read), replaces the live Go
// view by the one recorded at capture time and re-attributes.
func fixtureSnapshot(t testing.TB, root string) *Snapshot {
	t.Helper()
	s, err := NewSampler(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var snap Snapshot
	if err := s.Sample(&snap, true); err != nil {
		t.Fatal(err)
	}
	snap.Time, snap.DetailTime = fixtureTime, fixtureTime
	snap.Go = fixtureGoStats(t, root)
	snap.Attribution = Attribute(&snap)
	return &snap
}
