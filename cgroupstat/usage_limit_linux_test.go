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
