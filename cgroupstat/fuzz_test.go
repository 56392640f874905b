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

// fxKeyCounts counts the first fields of b's lines that have at least two
// fields: the keys of a "key value" file, as an independent reading.
func fxKeyCounts(b []byte) map[string]int {
	n := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := fxFields(l); len(f) >= 2 {
			n[f[0]]++
		}
	}
	return n
}

// fxFields splits l at the white space of kernel files (space, tab, CR).
func fxFields(l string) []string {
	return strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' })
}

// fxNoRepeat fails the test when an accepted "key value" file repeats a
// key.
func fxNoRepeat(t *testing.T, b []byte) {
	t.Helper()
	for k, c := range fxKeyCounts(b) {
		if c > 1 {
			t.Fatalf("accepted key %q %d times in %q", k, c, b)
		}
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
	f.Add([]byte("4:memory:/foo/\n0::/a//\n"))
	f.Add([]byte("4:memory:/a\n5:cpu,memory:/b\n"))
	f.Add([]byte("0::/a\n0::/b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var lines []cgroupstat.CgroupLine
		err := cgroupstat.ParseProcCgroup("f", b, &lines)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		v2 := 0
		ctrls := map[string]bool{}
		for _, l := range lines {
			if !strings.HasPrefix(l.Path, "/") || l.ID < 0 || (l.Path != "/" && strings.HasSuffix(l.Path, "/")) {
				t.Fatalf("accepted %+v", l)
			}
			if l.ID == 0 && len(l.Controllers) == 0 {
				v2++
			}
			for _, c := range l.Controllers {
				if ctrls[c] {
					t.Fatalf("accepted controller %q twice in %q", c, b)
				}
				ctrls[c] = true
			}
		}
		if v2 > 1 {
			t.Fatalf("accepted %d cgroup2 lines in %q", v2, b)
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	fxSeeds(f, "/proc/self/mountinfo")
	f.Add([]byte(`36 35 98:0 /mnt\134x /a\011b\040c rw,noatime master:1 - ext3 /dev/root rw,errors=continue` + "\n"))
	f.Add([]byte(`35 31 0:32 / /sys/fs/cgroup/\056\056/memory rw - cgroup cgroup rw,memory` + "\n"))
	f.Add([]byte(`35 31 0:32 /.. /sys/fs/cgroup/../x rw - cgroup cgroup rw,memory` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var mounts []cgroupstat.Mount
		err := cgroupstat.ParseMountinfo("f", b, &mounts)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		ids := map[int]bool{}
		for _, m := range mounts {
			if !strings.HasPrefix(m.MountPoint, "/") || m.FSType == "" || m.ID < 0 || m.ParentID < 0 || ids[m.ID] {
				t.Fatalf("accepted %+v", m)
			}
			ids[m.ID] = true
			for _, c := range strings.Split(m.MountPoint, "/")[1:] {
				if (c == "" && m.MountPoint != "/") || c == "." || c == ".." {
					t.Fatalf("accepted mount point %q", m.MountPoint)
				}
			}
		}
	})
}

func FuzzParseMemStat(f *testing.F) {
	fxSeeds(f, "/memory.stat")
	f.Add([]byte("kernel_stack 18446744073709551615\nslab_reclaimable 18446744073709551615\n"))
	f.Add([]byte("anon 1\nfile 2\nanon 3\n"))
	f.Add([]byte("total_rss 1\r\ntotal_rss 1\n"))
	f.Add([]byte("inactive_file 9223372036854775808\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []cgroupstat.Version{cgroupstat.V1, cgroupstat.V2} {
			var m cgroupstat.MemStat
			err := cgroupstat.ParseMemStat("f", b, v, &m)
			fxIsParseError(t, err)
			if err != nil {
				continue
			}
			if v == cgroupstat.V1 && m.Present&(cgroupstat.StatKernelStack|cgroupstat.StatKernelFromParts) != 0 {
				t.Fatalf("v1 reported v2-only fields: %+v", m)
			}
			fxNoRepeat(t, b)
			for _, x := range []uint64{m.Anon, m.File, m.ActiveFile, m.InactiveFile, m.Shmem, m.SlabReclaimable, m.HierarchicalLimit} {
				if x > math.MaxInt64 {
					t.Fatalf("accepted %d in %q", x, b)
				}
			}
		}
	})
}

func FuzzParseEvents(f *testing.F) {
	fxSeeds(f, "/memory.events", "/memory.events.local")
	f.Add([]byte("low 0\nhigh 0\nmax 0\noom 0\noom 1\n"))
	f.Add([]byte("low 0\nhigh 0\nmax 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e cgroupstat.EventCounts
		err := cgroupstat.ParseEvents("f", b, &e)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		fxNoRepeat(t, b)
		keys := fxKeyCounts(b)
		for _, k := range []string{"low", "high", "max", "oom"} {
			if keys[k] != 1 {
				t.Fatalf("accepted %q without %s", b, k)
			}
		}
		if e.OOMKill > math.MaxInt64 || e.Max > math.MaxInt64 {
			t.Fatalf("accepted %+v", e)
		}
	})
}

func FuzzParsePSI(f *testing.F) {
	fxSeeds(f, "/memory.pressure", "/proc/pressure/memory")
	f.Add([]byte("some avg10=100.00 avg60=0.5 avg300=0.000000001 total=18446744073709551615\n"))
	f.Add([]byte("some avg10=1.00 avg60=0.5 avg300=0.1 total=1\nsome avg10=1.00 avg60=0.5 avg300=0.1 total=2\n"))
	f.Add([]byte("some avg10=1.00 avg10=2.00 avg60=0.5 avg300=0.1 total=1\n"))
	f.Add([]byte("some avg10=100.01 avg60=0.5 avg300=0.1 total=1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p cgroupstat.PSI
		err := cgroupstat.ParsePSI("f", b, &p)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		for _, x := range []float64{p.Some.Avg10, p.Some.Avg60, p.Some.Avg300, p.Full.Avg10, p.Full.Avg60, p.Full.Avg300} {
			if x < 0 || x > 100 || math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("accepted average %v in %+v", x, p)
			}
		}
		if p.Some.Total > math.MaxInt64 || p.Full.Total > math.MaxInt64 {
			t.Fatalf("accepted total in %+v", p)
		}
		kinds := map[string]int{}
		for _, l := range strings.Split(string(b), "\n") {
			f := fxFields(l)
			if len(f) == 0 {
				continue
			}
			if kinds[f[0]]++; kinds[f[0]] > 1 {
				t.Fatalf("accepted two %s lines in %q", f[0], b)
			}
			seen := map[string]bool{}
			for _, kv := range f[1:] {
				k, _, _ := strings.Cut(kv, "=")
				if seen[k] {
					t.Fatalf("accepted %s twice in %q", k, l)
				}
				seen[k] = true
			}
		}
	})
}

func FuzzParseOOMControl(f *testing.F) {
	fxSeeds(f, "/memory.oom_control")
	f.Add([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 1\noom_kill 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e cgroupstat.Events
		err := cgroupstat.ParseOOMControl("f", b, &e)
		fxIsParseError(t, err)
		if err != nil {
			return
		}
		fxNoRepeat(t, b)
		if keys := fxKeyCounts(b); keys["oom_kill_disable"] != 1 || keys["under_oom"] != 1 || e.OOMKill > math.MaxInt64 {
			t.Fatalf("accepted %q as %+v", b, e)
		}
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
