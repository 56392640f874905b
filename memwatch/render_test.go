package memwatch

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/go-memwatch/memwatch/procstat"
)

// update rewrites the golden files (go test ./memwatch/ -run Golden -update)
// and the generated key list of doc.go (go generate ./memwatch/).
var update = flag.Bool("update", false, "rewrite testdata/*.golden and doc.go's JSON key list")

// goldenCases are the snapshots rendered to testdata/<name>.{txt,json}.golden
// (text_test.go, json_test.go).
func goldenCases(t *testing.T) map[string]*Snapshot {
	cases := map[string]*Snapshot{
		// Real v1 kernel fixture: 512 MiB limit, Go heap, 40 MiB mmap,
		// another process, dirty page cache and shmem.
		"v1-limit": fixtureSnapshot(t, "testdata/v1-limit"),
		// The same process files with no cgroup to be found.
		"proc-only": fixtureSnapshot(t, "testdata/proc-only"),
	}
	// Only the Go view (as on macOS or Windows).
	g := fixtureGoStats(t, "testdata/v1-limit")
	goOnly := &Snapshot{
		Time: fixtureTime, Full: true, DetailTime: fixtureTime, Go: g,
		Process: ProcessStats{ViewStatus: ViewStatus{Err: procstat.ErrUnsupported}},
		Cgroup:  CgroupStats{ViewStatus: ViewStatus{Err: cgroupstat.ErrUnsupported}},
		Host:    HostStats{ViewStatus: ViewStatus{Err: procstat.ErrUnsupported}},
	}
	goOnly.Attribution = Attribute(goOnly)
	cases["go-only"] = goOnly

	// A synthetic v2 container under pressure (no v2 kernel on the capture
	// host): above memory.high, swap, PSI, OOM kills, Watcher fields set.
	st := v2Stats()
	st.Usage, st.WorkingSet = 1150*mi, 1030*mi
	st.Stat.Anon = 750 * mi
	st.HasPeak, st.Peak = true, 1190*mi
	st.HasSwap, st.SwapUsage, st.SwapLimit = true, 64*mi, 512*mi
	st.Events = cgroupstat.Events{EventCounts: cgroupstat.EventCounts{High: 412, Max: 9, OOM: 2, OOMKill: 2},
		Local: cgroupstat.EventCounts{High: 412, Max: 9}, HasLocal: true, HasEvents: true}
	st.PSI = cgroupstat.PSI{Source: cgroupstat.PSICgroup,
		Some: cgroupstat.PSILine{Avg10: 12.5, Avg60: 4.25, Avg300: 1.5, Total: 8123456},
		Full: cgroupstat.PSILine{Avg10: 3.75, Avg60: 1, Avg300: 0.5, Total: 2345678}}
	go2 := baseGo()
	go2.GOMEMLIMIT, go2.GOGC, go2.GCCycles, go2.Goroutines = 900*mi, 100, 1234, 321
	go2.HeapGoal, go2.GCCPUFraction, go2.GCCPUWindowSeconds = 400*mi, 0.31, 12
	v2 := &Snapshot{
		Time: fixtureTime, Full: false, DetailTime: fixtureTime.Add(-2 * time.Second),
		Level: LevelCritical, Sampling: Sampling{Mode: "close", Interval: 250 * time.Millisecond},
		Go: go2, Process: proc(700, 30, 28, 2),
		Cgroup: CgroupStats{ViewStatus: ViewStatus{Available: true},
			Location: cgroupstat.Location{Version: cgroupstat.V2, Path: st.Path, Dir: "/sys/fs/cgroup" + st.Path}, Stats: st},
		Host: HostStats{ViewStatus: ViewStatus{Available: true}, MemTotal: 16 << 30, MemAvailable: 9 << 30,
			Meminfo: procstat.Meminfo{MemTotal: 16 << 30, MemAvailable: 9 << 30, SwapTotal: 2 << 30, SwapFree: 2 << 30,
				Present: procstat.HasMemTotal | procstat.HasMemAvailable | procstat.HasSwapTotal | procstat.HasSwapFree}},
	}
	v2.Attribution = Attribute(v2)
	cases["v2-synthetic"] = v2
	cases["v1-degraded"] = fixtureSnapshot(t, degradedFixture(t))
	return cases
}

// degradedFixture is testdata/v1-limit, copied, with every optional part of
// the cgroup view broken in its own way, a limit of 0 (the kernel accepts
// it: percentages of it do not exist) and no proc/meminfo: the cgroup and
// process views stay available, each broken part unknown with its reason
// (failcnt is read although oom_control fails).
func degradedFixture(t *testing.T) string {
	t.Helper()
	root := fixture.Copy(t, "testdata/v1-limit")
	cg := filepath.Join(root, "sys/fs/cgroup/memory/mwsnap")
	stat, err := os.ReadFile(filepath.Join(cg, "memory.stat"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(stat), "\n") {
		if !strings.HasPrefix(l, "total_inactive_file ") {
			kept = append(kept, l)
		}
	}
	for name, content := range map[string]string{
		"memory.limit_in_bytes":       "0\n",
		"memory.stat":                 strings.Join(kept, ""),                     // working set unknown
		"memory.oom_control":          "oom_kill_disable 0\noom_kill_disable 0\n", // a duplicate key
		"memory.kmem.usage_in_bytes":  "18446744073709551615\n",                   // -1: impossible
		"memory.max_usage_in_bytes":   "max\n",                                    // a usage file cannot say max
		"memory.memsw.usage_in_bytes": "-1\n",
	} {
		if err := os.WriteFile(filepath.Join(cg, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "proc/pressure/memory"), []byte("some avg10=101.00 avg60=0.00 avg300=0.00 total=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "proc/meminfo")); err != nil {
		t.Fatal(err)
	}
	return root
}

// tmpDirs matches the directories of t.TempDir in renderings.
var tmpDirs = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/[^/"\s]+/[0-9]+`)

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	// Error messages name fixture files by absolute path: make them
	// relative to the package directory.
	if wd, err := os.Getwd(); err == nil {
		got = bytes.ReplaceAll(got, []byte(wd+string(filepath.Separator)), nil)
	}
	got = tmpDirs.ReplaceAll(got, []byte("$$TMP"))
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for id := PartID(0); id < NumParts; id++ {
		n := id.String()
		if !snake.MatchString(n) || seen[n] {
			t.Errorf("part %d name %q not unique snake_case", id, n)
		}
		seen[n] = true
	}
	if NumParts.String() != "invalid" {
		t.Error("out-of-range part has a name")
	}
	if len(noteNames) != 9 || Notes(1<<len(noteNames) - 1).Names()[len(noteNames)-1] != "no_heap_live" {
		t.Error("noteNames out of sync with the Notes bits")
	}
	for _, r := range []Reclaim{NotReclaimable, Reclaimable, Swappable, RuntimeReleasable, ReclaimUnknown} {
		if b, _ := r.MarshalText(); string(b) != r.String() || r.String() == "invalid" {
			t.Errorf("reclaim %d: %q", r, r)
		}
	}
	for _, b := range []Base{BaseGo, BaseProcess, BaseCgroup} {
		if b.String() == "" {
			t.Errorf("base %d unnamed", b)
		}
	}
}

func TestLevel(t *testing.T) {
	var zero Level
	if zero != LevelUnknown || zero.String() != "unknown" {
		t.Errorf("zero level %q", zero)
	}
	for _, l := range []Level{LevelUnknown, LevelOK, LevelWarn, LevelCritical} {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Level
		if err := back.UnmarshalText(b); err != nil || back != l || string(b) != l.String() {
			t.Errorf("level %v round trip: %q %v %v", l, b, back, err)
		}
	}
	if Level(9).String() != "Level(9)" {
		t.Errorf("invalid level String %q", Level(9))
	}
	if _, err := Level(9).MarshalText(); err == nil {
		t.Error("invalid level marshals")
	}
	var l Level
	if err := l.UnmarshalText([]byte("panic")); err == nil {
		t.Error("unknown level name accepted")
	}
	b, _ := json.Marshal(struct{ L Level }{LevelWarn})
	if string(b) != `{"L":"warn"}` {
		t.Errorf("json %s", b)
	}
}
