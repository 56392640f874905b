package memotel

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel/semconv/v1.43.0/containerconv"
	"go.opentelemetry.io/otel/semconv/v1.43.0/processconv"

	"github.com/go-memwatch/memwatch/memwatch"
)

// TestSemconvNames checks the conventional instruments' names and units
// against the semantic-conventions package that ships with the
// OpenTelemetry API (v1.43.0; its containerconv still makes
// container.memory.usage a Counter, which v1.44.0 corrected to the
// UpDownCounter used here).
func TestSemconvNames(t *testing.T) {
	for i, c := range map[int]struct{ name, unit string }{
		instProcessMemoryUsage:        {processconv.MemoryUsage{}.Name(), processconv.MemoryUsage{}.Unit()},
		instContainerMemoryUsage:      {containerconv.MemoryUsage{}.Name(), containerconv.MemoryUsage{}.Unit()},
		instContainerMemoryWorkingSet: {containerconv.MemoryWorkingSet{}.Name(), containerconv.MemoryWorkingSet{}.Unit()},
		instContainerMemoryAvailable:  {containerconv.MemoryAvailable{}.Name(), containerconv.MemoryAvailable{}.Unit()},
		instContainerMemoryRSS:        {containerconv.MemoryRss{}.Name(), containerconv.MemoryRss{}.Unit()},
	} {
		s := specs[i]
		if s.name != c.name || s.unit != c.unit || s.semconv == "" || s.kind != kindUpDownCounter {
			t.Errorf("spec %d: %s %s %s (semconv %q); convention: %s %s UpDownCounter", i, s.name, s.unit, s.kind, s.semconv, c.name, c.unit)
		}
	}
	for _, s := range specs {
		if s.semconv == "" && !strings.HasPrefix(s.name, "memwatch.") {
			t.Errorf("%s: neither a convention nor memwatch.*", s.name)
		}
	}
}

// TestBesideRuntime registers memwatch beside the contrib runtime
// instrumentation on one MeterProvider, with a Watcher that sets
// GOMEMLIMIT: the two export no common name, and what memwatch says it set
// is what the runtime reports holding.
func TestBesideRuntime(t *testing.T) {
	w, err := memwatch.New(
		memwatch.WithRoot(copyFixture(t, "v1-limit")),
		memwatch.WithInterval(time.Hour),
		memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "") // the environment would keep the adaptive limit off
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer w.Stop() // restores GOMEMLIMIT
	reader, meter, mp := newSDK(t)
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		t.Fatal(err)
	}
	if _, err := Register(meter, w); err != nil {
		t.Fatal(err)
	}
	ours, snap := collectStable(t, reader, w)
	theirs := collect(t, reader, runtime.ScopeName)
	if len(theirs) == 0 {
		t.Fatal("the runtime instrumentation exported nothing")
	}
	for name := range theirs {
		if _, ok := ours[name]; ok {
			t.Errorf("%s is exported by both", name)
		}
	}
	if snap.Actions.MemLimit == 0 {
		t.Fatalf("the Watcher set no GOMEMLIMIT: %s", snap.Actions.MemLimitReason)
	}
	set := ours["memwatch.gomemlimit"].points[keyLimitBound+"="+snap.Actions.MemLimitBound.String()]
	if held := theirs["go.memory.limit"].points[""]; set != float64(snap.Actions.MemLimit) || held != set {
		t.Errorf("memwatch.gomemlimit %v, go.memory.limit %v, Actions.MemLimit %d", set, held, snap.Actions.MemLimit)
	}
	if v := ours["memwatch.actions"].points[keyAction+"=gomemlimit"]; v != float64(snap.Actions.MemLimitChanges) || v < 1 {
		t.Errorf("memwatch.actions{gomemlimit} = %v, MemLimitChanges %d", v, snap.Actions.MemLimitChanges)
	}
}
