package procstat

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets check that the parsers never panic, fail only with a
// *ParseError naming the given file, leave the destination untouched on
// error, and uphold their documented guarantees on success. Seeds: every
// fixture file plus the hand-made corpus in testdata/fuzz/<target>/.

// fixtureFiles returns the contents of testdata/*/proc/**/<base>.
func fixtureFiles(f *testing.F, base string) [][]byte {
	f.Helper()
	var out [][]byte
	for _, pattern := range []string{"testdata/*/proc/*/" + base, "testdata/*/proc/" + base} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no fixture named %s", base)
	}
	return out
}

func checkFuzzError(t *testing.T, file string, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if pe.File != file || pe.Reason == "" || pe.Line < 0 {
		t.Fatalf("ParseError %+v: want File %q, a reason and a line >= 0", pe, file)
	}
}

func FuzzParseStatm(f *testing.F) {
	for _, b := range fixtureFiles(f, "statm") {
		f.Add(b, uint64(4096))
		f.Add(b, uint64(65536))
	}
	f.Fuzz(func(t *testing.T, b []byte, pageSize uint64) {
		const file = "fuzz/statm"
		s := Statm{Size: 1, Resident: 2, Shared: 3, Text: 4, Data: 5}
		err := ParseStatm(file, b, pageSize, &s)
		if err != nil {
			checkFuzzError(t, file, err)
			if s != (Statm{1, 2, 3, 4, 5}) {
				t.Fatalf("destination modified on error: %+v", s)
			}
			return
		}
		for _, v := range []uint64{s.Size, s.Resident, s.Shared, s.Text, s.Data} {
			if v%pageSize != 0 {
				t.Fatalf("%d is not a multiple of the page size %d", v, pageSize)
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, b := range fixtureFiles(f, "status") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const file = "fuzz/status"
		s := Status{VmRSS: 7}
		err := ParseStatus(file, b, &s)
		if err != nil {
			checkFuzzError(t, file, err)
			if s != (Status{VmRSS: 7}) {
				t.Fatalf("destination modified on error: %+v", s)
			}
			return
		}
		if s.Present&HasThreads == 0 {
			t.Fatalf("success without Threads: %+v", s)
		}
		for _, v := range []uint64{s.VmRSS, s.RssAnon, s.RssFile, s.RssShmem, s.VmHWM, s.VmSwap, s.VmPeak, s.VmSize} {
			if v%1024 != 0 {
				t.Fatalf("%d bytes is not a whole number of kB", v)
			}
		}
	})
}

func FuzzParseSmapsRollup(f *testing.F) {
	for _, b := range fixtureFiles(f, "smaps_rollup") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const file = "fuzz/smaps_rollup"
		s := SmapsRollup{Rss: 7}
		err := ParseSmapsRollup(file, b, &s)
		if err != nil {
			checkFuzzError(t, file, err)
			if s != (SmapsRollup{Rss: 7}) {
				t.Fatalf("destination modified on error: %+v", s)
			}
			return
		}
		if s.Present&HasRss == 0 || s.Rss%1024 != 0 {
			t.Fatalf("success without a valid Rss: %+v", s)
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	for _, b := range fixtureFiles(f, "meminfo") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const file = "fuzz/meminfo"
		m := Meminfo{MemTotal: 7}
		err := ParseMeminfo(file, b, &m)
		if err != nil {
			checkFuzzError(t, file, err)
			if m != (Meminfo{MemTotal: 7}) {
				t.Fatalf("destination modified on error: %+v", m)
			}
			return
		}
		if m.Present&HasMemTotal == 0 || m.MemTotal == 0 || m.MemTotal%1024 != 0 {
			t.Fatalf("success without a valid MemTotal: %+v", m)
		}
	})
}
