package cgroupstat_test

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// Every parser is fuzzed: it must never panic, and reject bad input only
// with a *ParseError. Seeds are the real files of the fixtures (found by
// name) plus a few edge cases; the corpus grown by fuzzing is kept in
// testdata/fuzz/<FuzzName>/.

// fxSeeds adds every fixture file whose path ends in one of the suffixes.
func fxSeeds(f *testing.F, suffixes ...string) {
	f.Helper()
	n := 0
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "fuzz" || d.Name() == "capture") {
			return filepath.SkipDir
		}
		for _, s := range suffixes {
			if !d.IsDir() && strings.HasSuffix(filepath.ToSlash(p), s) {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				f.Add(b)
				n++
				break
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	if n == 0 {
		f.Fatalf("no seed files ending in %v", suffixes)
	}
}

func fxIsParseError(t *testing.T, err error) {
	t.Helper()
	var pe *cgroupstat.ParseError
	if err != nil && (!errors.As(err, &pe) || pe.File != "f") {
		t.Fatalf("error %v (%T) is not a *ParseError naming the file", err, err)
	}
}

func FuzzParseProcCgroup(f *testing.F) {
	fxSeeds(f, "/proc/self/cgroup")
	f.Add([]byte("3:cpu,cpuacct:/a:b:c\n0::/x (deleted)\n"))
	f.Add([]byte("4:memory:/../sibling\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var lines []cgroupstat.CgroupLine
		err := cgroupstat.ParseProcCgroup("f", b, &lines)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		for _, l := range lines {
			if !strings.HasPrefix(l.Path, "/") || l.ID < 0 {
				t.Fatalf("accepted %+v", l)
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	fxSeeds(f, "/proc/self/mountinfo")
	f.Add([]byte(`36 35 98:0 /mnt\134x /a\011b\040c rw,noatime master:1 - ext3 /dev/root rw,errors=continue` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var mounts []cgroupstat.Mount
		err := cgroupstat.ParseMountinfo("f", b, &mounts)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		for _, m := range mounts {
			if !strings.HasPrefix(m.MountPoint, "/") || m.FSType == "" || m.ID < 0 || m.ParentID < 0 {
				t.Fatalf("accepted %+v", m)
			}
		}
	})
}

func FuzzParseMemStat(f *testing.F) {
	fxSeeds(f, "/memory.stat")
	f.Add([]byte("kernel_stack 18446744073709551615\nslab_reclaimable 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []cgroupstat.Version{cgroupstat.V1, cgroupstat.V2} {
			var m cgroupstat.MemStat
			err := cgroupstat.ParseMemStat("f", b, v, &m)
			fxIsParseError(t, err)
			if err == nil && v == cgroupstat.V1 && m.Present&(cgroupstat.StatKernelStack|cgroupstat.StatKernelFromParts) != 0 {
				t.Fatalf("v1 reported v2-only fields: %+v", m)
			}
		}
	})
}

func FuzzParseEvents(f *testing.F) {
	fxSeeds(f, "/memory.events", "/memory.events.local")
	f.Fuzz(func(t *testing.T, b []byte) {
		var e cgroupstat.EventCounts
		fxIsParseError(t, cgroupstat.ParseEvents("f", b, &e))
	})
}

func FuzzParsePSI(f *testing.F) {
	fxSeeds(f, "/memory.pressure", "/proc/pressure/memory")
	f.Add([]byte("some avg10=100.00 avg60=0.5 avg300=0.000000001 total=18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p cgroupstat.PSI
		err := cgroupstat.ParsePSI("f", b, &p)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		for _, x := range []float64{p.Some.Avg10, p.Some.Avg60, p.Some.Avg300, p.Full.Avg10, p.Full.Avg60, p.Full.Avg300} {
			if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("accepted average %v in %+v", x, p)
			}
		}
	})
}

func FuzzParseOOMControl(f *testing.F) {
	fxSeeds(f, "/memory.oom_control")
	f.Fuzz(func(t *testing.T, b []byte) {
		var e cgroupstat.Events
		fxIsParseError(t, cgroupstat.ParseOOMControl("f", b, &e))
	})
}

func FuzzParseProcs(f *testing.F) {
	fxSeeds(f, "/cgroup.procs")
	f.Add([]byte("1\n0\n2147483647\n\n"))
	f.Add([]byte("12 34\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var pids []int
		err := cgroupstat.ParseProcs("f", b, &pids)
		fxIsParseError(t, err)
		for _, p := range pids {
			if p < 0 || p > math.MaxInt32 {
				t.Fatalf("accepted pid %d", p)
			}
		}
	})
}
