package cgroupstat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// allFiles returns every file r holds open.
func allFiles(r *Reader) []*kfile.File {
	var out []*kfile.File
	for _, f := range []*kfile.File{r.usage, r.peak, r.swapCur, r.memswUse, r.memswLim, r.stat,
		r.events, r.eventsLoc, r.failcnt, r.oomCtl, r.kmem, r.psi} {
		if f != nil {
			out = append(out, f)
		}
	}
	for _, c := range [][]chainFile{r.limits, r.highs, r.swapMaxes} {
		for i := range c {
			out = append(out, c[i].f)
		}
	}
	return out
}

// TestAppendFilesIsWhatReadsRead keeps appendFiles, the file list the
// memwatch floor benchmarks pread, equal to what ReadCheap and ReadFull
// read: on every fixture that opens, each listed file is read exactly once
// and no other open file at all.
func TestAppendFilesIsWhatReadsRead(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "fuzz" || e.Name() == "capture" {
			continue
		}
		r, err := Open(WithRoot(filepath.Join("testdata", e.Name())))
		if err != nil {
			continue // the fixtures of discovery and open failures
		}
		opened++
		for _, full := range []bool{false, true} {
			listed := map[*kfile.File]bool{}
			for _, f := range r.appendFiles(nil, full) {
				if listed[f] {
					t.Errorf("%s: appendFiles(full=%v) lists %s twice", e.Name(), full, f.Path())
				}
				listed[f] = true
			}
			all := allFiles(r)
			before := make([]uint64, len(all))
			for i, f := range all {
				before[i] = f.Reads()
			}
			var s Stats
			read := r.ReadCheap
			if full {
				read = r.ReadFull
			}
			if err := read(&s); err != nil {
				t.Fatalf("%s: full=%v: %v", e.Name(), full, err)
			}
			for i, f := range all {
				want := uint64(0)
				if listed[f] {
					want = 1
				}
				if got := f.Reads() - before[i]; got != want {
					t.Errorf("%s: full=%v read %s %d times; appendFiles says %d", e.Name(), full, f.Path(), got, want)
				}
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got := r.appendFiles(nil, true); len(got) != 0 {
			t.Errorf("%s: appendFiles after Close = %d files", e.Name(), len(got))
		}
	}
	if opened < 5 {
		t.Fatalf("only %d fixtures opened", opened)
	}
}
