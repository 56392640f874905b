package memwatch

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
)

// guard runs fn and fails the test if it has not returned after d: a
// blocking open or read fails the test instead of hanging the run.
func guard(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<16)
		t.Fatalf("still running after %v:\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// renders checks that the snapshot renders: JSON that parses back, and
// text without NaN or infinities.
func renders(t *testing.T, s *Snapshot) map[string]any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	txt := s.String()
	for _, bad := range []string{"NaN", "Inf", "%!"} {
		if strings.Contains(txt, bad) {
			t.Errorf("text holds %q:\n%s", bad, txt)
		}
	}
	return m
}

func jsonAt(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// TestSamplerDegradesPerPart breaks each optional cgroup file of a v1
// fixture in turn while a Sampler reads it: the view stays available with
// the same usage and limit; memory.stat and the counters keep their last
// good values with the error; PSI, peak and swap read as unknown; the JSON
// says null and the reason; repaired, every part comes back.
func TestSamplerDegradesPerPart(t *testing.T) {
	root := fixture.Copy(t, "testdata/v1-limit")
	cg := filepath.Join(root, "sys/fs/cgroup/memory/mwsnap")
	s, err := NewSampler(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var good Snapshot
	if err := s.Sample(&good, true); err != nil || !good.Cgroup.Available || good.Cgroup.Stats.Degraded() != nil {
		t.Fatalf("clean sample: %v, %+v", err, good.Cgroup)
	}
	gst := &good.Cgroup.Stats
	for _, c := range []struct {
		file, bad string
		part      cgroupstat.Part
		carried   bool
		jsonNull  string // a key that must be null while the part fails
	}{
		{"memory.stat", "total_rss x\n", cgroupstat.PartStat, true, ""},
		{"memory.oom_control", "under_oom 0\n", cgroupstat.PartEvents, true, ""},
		{"memory.failcnt", "max\n", cgroupstat.PartFailcnt, true, ""},
		{"memory.kmem.usage_in_bytes", "9223372036854775808\n", cgroupstat.PartKernel, true, ""},
		{"memory.max_usage_in_bytes", "\n", cgroupstat.PartPeak, false, "cgroup.peak_bytes"},
		{"memory.memsw.usage_in_bytes", "12\x00\n", cgroupstat.PartSwap, false, "cgroup.swap_bytes"},
		{"../../../../../proc/pressure/memory", "some avg10=0.00\n", cgroupstat.PartPSI, false, "cgroup.psi.source"},
	} {
		t.Run(c.part.String(), func(t *testing.T) {
			path := filepath.Join(cg, c.file)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			write(t, path, c.bad)
			for _, full := range []bool{true, false} {
				var snap Snapshot
				if err := s.Sample(&snap, full); err != nil {
					t.Fatal(err)
				}
				st := &snap.Cgroup.Stats
				if !snap.Cgroup.Available || st.Usage != gst.Usage || st.Limit != gst.Limit {
					t.Fatalf("full=%v: view %v, usage %d limit %d; want %d %d", full, snap.Cgroup.Available, st.Usage, st.Limit, gst.Usage, gst.Limit)
				}
				if e := st.Errs[c.part]; e == nil || !strings.Contains(e.Error(), filepath.Clean(path)) {
					t.Errorf("full=%v: Errs[%s] = %v, want an error naming %s", full, c.part, e, path)
				}
				if snap.Err() != nil {
					t.Errorf("a degraded part made the view an error: %v", snap.Err())
				}
				m := renders(t, &snap)
				if e, _ := jsonAt(m, "cgroup.errors."+c.part.String()).(string); e == "" {
					t.Errorf("cgroup.errors.%s is not the reason", c.part)
				}
				if c.jsonNull != "" && jsonAt(m, c.jsonNull) != nil {
					t.Errorf("%s = %v while %s fails, want null", c.jsonNull, jsonAt(m, c.jsonNull), c.part)
				}
				if state := partState(st, c.part); (state == "last good") != c.carried {
					t.Errorf("full=%v: %s is %q", full, c.part, state)
				}
				if !strings.Contains(snap.String(), c.part.String()) {
					t.Errorf("text does not name %s:\n%s", c.part, snap.String())
				}
				switch c.part {
				case cgroupstat.PartStat:
					if st.Stat != gst.Stat || !st.HasWorkingSet() || st.WorkingSet != gst.WorkingSet {
						t.Errorf("memory.stat not carried: %+v", st.Stat)
					}
				case cgroupstat.PartEvents, cgroupstat.PartFailcnt:
					if st.Events != gst.Events {
						t.Errorf("events %+v, want the last good %+v", st.Events, gst.Events)
					}
				case cgroupstat.PartKernel:
					if st.Stat.Kernel != gst.Stat.Kernel || st.Stat.Present != gst.Stat.Present {
						t.Errorf("kmem not carried: %d", st.Stat.Kernel)
					}
				case cgroupstat.PartPSI:
					if st.PSI.Source != cgroupstat.PSINone {
						t.Errorf("PSI %+v carried, want none", st.PSI)
					}
				}
			}
			write(t, path, string(orig))
			var snap Snapshot
			if err := s.Sample(&snap, true); err != nil || snap.Cgroup.Stats.Degraded() != nil {
				t.Errorf("repaired: %v, %v", err, snap.Cgroup.Stats.Degraded())
			}
		})
	}

	// The usage is the view: without it the view is unavailable (a real
	// failure), the breakdowns are kept for the samples after it.
	usage := filepath.Join(cg, "memory.usage_in_bytes")
	orig, _ := os.ReadFile(usage)
	write(t, usage, "max\n")
	var snap Snapshot
	if err := s.Sample(&snap, true); err != nil {
		t.Fatal(err)
	}
	if snap.Cgroup.Available || snap.Cgroup.Unsupported() || snap.Err() == nil {
		t.Errorf("usage of max: view %+v, want a failure", snap.Cgroup.ViewStatus)
	}
	renders(t, &snap)
	write(t, usage, string(orig))
	if err := s.Sample(&snap, false); err != nil || !snap.Cgroup.Available || snap.Cgroup.Stats.Stat != gst.Stat {
		t.Errorf("after the failure: %v, available %v, breakdown kept %v", err, snap.Cgroup.Available, snap.Cgroup.Stats.Stat == gst.Stat)
	}
}

// TestLimitZero: a limit of 0 (the kernel accepts it) has no percentage:
// JSON and text render, the percentages are null, the level is critical.
func TestLimitZero(t *testing.T) {
	root := fixture.Copy(t, "testdata/v1-limit")
	write(t, filepath.Join(root, "sys/fs/cgroup/memory/mwsnap/memory.limit_in_bytes"), "0\n")
	snap, err := Read(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	h := &snap.Attribution.Headroom
	if !h.HasLimit || h.Limit != 0 || h.HasUsagePercent || h.HasWorkingSetPercent {
		t.Fatalf("headroom %+v", h)
	}
	m := renders(t, snap)
	for _, k := range []string{"headroom.usage_percent", "headroom.working_set_percent"} {
		if jsonAt(m, k) != nil {
			t.Errorf("%s = %v, want null", k, jsonAt(m, k))
		}
	}
	if v, ok := jsonAt(m, "cgroup.limit_bytes").(float64); !ok || v != 0 {
		t.Errorf("cgroup.limit_bytes = %v, want 0", jsonAt(m, "cgroup.limit_bytes"))
	}
	tr := newLevelTracker(trackerConfig{warn: 0.8, critical: 0.9, hyst: 0.05, interval: time.Second, minInterval: time.Millisecond})
	for _, usage := range []uint64{0, 1 << 20} {
		snap.Cgroup.Stats.Usage, snap.Cgroup.Stats.WorkingSet = usage, usage
		tr.observe(snap)
		if snap.Level != LevelCritical {
			t.Errorf("usage %d at a limit of 0: level %v, want critical", usage, snap.Level)
		}
	}
	// By hand, with nothing charged.
	var zero Snapshot
	zero.Cgroup.Available = true
	zero.Attribution = Attribute(&zero)
	renders(t, &zero)
}

// TestWorkingSetUnknown: without inactive_file the working set is null in
// JSON, absent in text, and the level is judged on the usage.
func TestWorkingSetUnknown(t *testing.T) {
	root := degradedFixture(t)
	snap, err := Read(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	st := &snap.Cgroup.Stats
	if !snap.Cgroup.Available || st.HasWorkingSet() || st.WorkingSet != 0 || st.Errs[cgroupstat.PartWorkingSet] == nil {
		t.Fatalf("working set %d known %v err %v", st.WorkingSet, st.HasWorkingSet(), st.Errs[cgroupstat.PartWorkingSet])
	}
	if m := renders(t, snap); jsonAt(m, "cgroup.working_set_bytes") != nil {
		t.Error("working_set_bytes is not null")
	}
	if snap.Attribution.Parts[PartPageCacheInactive].Known {
		t.Error("page_cache_inactive known without inactive_file")
	}
	st.Limit = st.Usage * 100 / 85 // usage at 85%: warn on the usage
	tr := newLevelTracker(trackerConfig{warn: 0.8, critical: 0.9, hyst: 0.05, interval: time.Second, minInterval: time.Millisecond})
	tr.observe(snap)
	if snap.Level != LevelWarn {
		t.Errorf("level %v judged without a working set, want warn (on the usage)", snap.Level)
	}
}

// TestMeminfoLosesMemTotalOnly: a missing, unreadable or endless
// proc/meminfo makes the host view unavailable and nothing else.
func TestMeminfoLosesMemTotalOnly(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(t *testing.T, p string)
	}{
		{"missing", func(t *testing.T, p string) {}},
		{"fifo", func(t *testing.T, p string) {
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"char-device", func(t *testing.T, p string) {
			if err := unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil { // /dev/zero
				t.Skipf("mknod: %v", err)
			}
		}},
		{"link-to-dev-zero", func(t *testing.T, p string) {
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", func(t *testing.T, p string) { write(t, p, "MemTotal: lots\n") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fixture.Copy(t, "testdata/v1-limit")
			p := filepath.Join(root, "proc/meminfo")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			c.spoil(t, p)
			guard(t, 10*time.Second, func() {
				s, err := NewSampler(WithRoot(root))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				for _, full := range []bool{true, false, true} {
					var snap Snapshot
					if err := s.Sample(&snap, full); err != nil {
						t.Fatal(err)
					}
					if !snap.Process.Available || !snap.Cgroup.Available || snap.Host.Available || snap.Host.Err == nil {
						t.Fatalf("views: process %v cgroup %v (%v) host %v (%v)", snap.Process.Available, snap.Cgroup.Available,
							snap.Cgroup.Err, snap.Host.Available, snap.Host.Err)
					}
					if !strings.Contains(snap.Host.Err.Error(), p) {
						t.Errorf("host error %v does not name %s", snap.Host.Err, p)
					}
					renders(t, &snap)
				}
			})
		})
	}
}

// TestHostileRootsRead puts FIFOs, devices and loops in place of the files
// every view needs: Read returns within seconds, the view fails with a
// reason naming the file, the other views are read, and the snapshot
// renders.
func TestHostileRootsRead(t *testing.T) {
	for _, c := range []struct{ rel, view string }{
		{"proc/self/statm", "process"},
		{"proc/self/status", ""}, // breakdown only: the process view stays
		{"sys/fs/cgroup/memory/mwsnap/memory.usage_in_bytes", "cgroup"},
		{"sys/fs/cgroup/memory/mwsnap/memory.limit_in_bytes", "cgroup"},
		{"proc/self/cgroup", "cgroup"},
		{"proc/self/mountinfo", "cgroup"},
	} {
		for _, kind := range []string{"fifo", "loop", "dir"} {
			t.Run(filepath.Base(c.rel)+"/"+kind, func(t *testing.T) {
				root := fixture.Copy(t, "testdata/v1-limit")
				p := filepath.Join(root, c.rel)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				switch kind {
				case "fifo":
					if err := unix.Mkfifo(p, 0o644); err != nil {
						t.Fatal(err)
					}
				case "loop":
					if err := os.Symlink(filepath.Base(p), p); err != nil {
						t.Fatal(err)
					}
				case "dir":
					if err := os.Mkdir(p, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				guard(t, 10*time.Second, func() {
					snap, err := Read(WithRoot(root))
					if err != nil {
						t.Fatal(err)
					}
					renders(t, snap)
					views := map[string]*ViewStatus{"process": &snap.Process.ViewStatus, "cgroup": &snap.Cgroup.ViewStatus}
					for name, v := range views {
						if name == c.view {
							if v.Available || v.Err == nil || v.Unsupported() || !strings.Contains(v.Err.Error(), p) {
								t.Errorf("%s view: %+v, want a failure naming %s", name, *v, p)
							}
							continue
						}
						if !v.Available {
							t.Errorf("%s view unavailable: %v", name, v.Err)
						}
					}
					if c.view == "" && (snap.Process.Err == nil || !strings.Contains(snap.Process.Err.Error(), p)) {
						t.Errorf("process breakdown error %v does not name %s", snap.Process.Err, p)
					}
				})
			})
		}
	}
}

// TestNoLimitView: a process in the cgroup v2 root has no memory limit: the
// cgroup view says so, as an expected absence, not a failure.
func TestNoLimitView(t *testing.T) {
	const src = "../cgroupstat/testdata/v2-nolimit"
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		t.Skip("the cgroupstat fixtures are not here: the test binary runs away from the sources (the QEMU VM ships this package's testdata only)")
	}
	root := fixture.Copy(t, src)
	write(t, filepath.Join(root, "proc/self/cgroup"), "0::/\n")
	snap, err := Read(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	c := &snap.Cgroup
	if c.Available || !c.NoLimit() || !c.Unsupported() || snap.Err() != nil || !errors.Is(c.Err, cgroupstat.ErrNoLimit) {
		t.Fatalf("cgroup view %+v, snapshot error %v", c.ViewStatus, snap.Err())
	}
	if v := snap.Verdict(); !strings.HasPrefix(v, "no memory limit") {
		t.Errorf("verdict %q", v)
	}
	if m := renders(t, snap); !strings.Contains(jsonAt(m, "cgroup.error").(string), "root cgroup") {
		t.Errorf("cgroup.error %v does not give the reason", jsonAt(m, "cgroup.error"))
	}
}
