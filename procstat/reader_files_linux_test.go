package procstat

import (
	"path/filepath"
	"testing"
)

// TestAppendFiles checks appendFiles, the list memwatch's floor benchmarks
// pread (through go:linkname): statm alone for a cheap read; statm, status
// and meminfo, each once the Reader has opened it, for a full one; nothing
// after Close.
func TestAppendFiles(t *testing.T) {
	r, err := Open(WithRoot(filepath.Join("testdata", fixGo)), WithPageSize(fixturePageSize))
	if err != nil {
		t.Fatal(err)
	}
	names := func(full bool) []string {
		var n []string
		for _, f := range r.appendFiles(nil, full) {
			n = append(n, filepath.Base(f.Path()))
		}
		return n
	}
	check := func(when string, full bool, want ...string) {
		t.Helper()
		got := names(full)
		if len(got) != len(want) {
			t.Fatalf("%s: appendFiles(full=%v) = %v, want %v", when, full, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: appendFiles(full=%v) = %v, want %v", when, full, got, want)
			}
		}
	}
	var sm Statm
	if err := r.ReadStatm(&sm); err != nil {
		t.Fatal(err)
	}
	check("after ReadStatm", false, "statm")
	check("after ReadStatm", true, "statm")
	var st Status
	if err := r.ReadStatus(&st); err != nil {
		t.Fatal(err)
	}
	check("after ReadStatus", true, "statm", "status")
	var mi Meminfo
	if err := r.ReadMeminfo(&mi); err != nil {
		t.Fatal(err)
	}
	check("after ReadMeminfo", false, "statm")
	check("after ReadMeminfo", true, "statm", "status", "meminfo")
	r.Close()
	check("after Close", true)
}
