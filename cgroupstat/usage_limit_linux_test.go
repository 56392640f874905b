//go:build linux

package cgroupstat

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadUsageLimitMatchesReadFull: on every fixture that opens, the quick
// usage/limit read gives the Usage and Limit of a full read, before and
// after the v1 hierarchical limit is known, and fails after Close.
func TestReadUsageLimitMatchesReadFull(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "fuzz" || e.Name() == "capture" {
			continue
		}
		r, err := Open(WithRoot(filepath.Join("testdata", e.Name())))
		if err != nil {
			continue // fixtures of discovery and open failures
		}
		var s Stats
		for i := range 2 { // before and after a full read
			if i == 1 {
				if err := r.ReadFull(&s); err != nil {
					break
				}
			} else if err := r.ReadCheap(&s); err != nil {
				break
			}
			u, l, err := r.ReadUsageLimit()
			if err != nil || u != s.Usage || l != s.Limit {
				t.Errorf("%s (read %d): ReadUsageLimit = %d, %d, %v; the reads say %d, %d", e.Name(), i, u, l, err, s.Usage, s.Limit)
			}
			checked++
		}
		r.Close()
		if _, _, err := r.ReadUsageLimit(); err == nil {
			t.Errorf("%s: ReadUsageLimit after Close succeeded", e.Name())
		}
	}
	if checked == 0 {
		t.Fatal("no fixture checked")
	}
}

// TestReadEventCountsMatchesReadFull: on every v2 fixture with a
// memory.events, ReadEventCounts gives the counters ReadFull does; on v1 and
// after Close it fails, and it allocates nothing.
func TestReadEventCountsMatchesReadFull(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	checked, v1 := 0, 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "fuzz" || e.Name() == "capture" {
			continue
		}
		r, err := Open(WithRoot(filepath.Join("testdata", e.Name())))
		if err != nil {
			continue
		}
		var s Stats
		if err := r.ReadFull(&s); err != nil {
			r.Close()
			continue
		}
		var c EventCounts
		err = r.ReadEventCounts(&c)
		switch {
		case s.Version == V1:
			if err == nil {
				t.Errorf("%s: ReadEventCounts on v1 succeeded", e.Name())
			}
			v1++
		case s.Events.HasEvents:
			if err != nil || c != s.Events.EventCounts {
				t.Errorf("%s: ReadEventCounts = %+v, %v; ReadFull says %+v", e.Name(), c, err, s.Events.EventCounts)
			}
			if n := testing.AllocsPerRun(10, func() { r.ReadEventCounts(&c) }); n != 0 {
				t.Errorf("%s: ReadEventCounts allocates %v times", e.Name(), n)
			}
			checked++
		}
		r.Close()
		if err := r.ReadEventCounts(&c); err == nil {
			t.Errorf("%s: ReadEventCounts after Close succeeded", e.Name())
		}
	}
	if checked == 0 || v1 == 0 {
		t.Fatalf("checked %d v2 and %d v1 fixtures, want both", checked, v1)
	}
}
