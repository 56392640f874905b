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
	"github.com/go-memwatch/memwatch/procstat"
)

// update rewrites the golden files: go test ./memwatch/ -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenCases are the snapshots rendered to testdata/<name>.{txt,json}.golden.
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
	return cases
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	// Error messages name fixture files by absolute path: make them
	// relative to the package directory.
	if wd, err := os.Getwd(); err == nil {
		got = bytes.ReplaceAll(got, []byte(wd+string(filepath.Separator)), nil)
	}
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

func TestGoldenText(t *testing.T) {
	for name, snap := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := snap.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if s := snap.String(); s != b.String() {
				t.Error("String() differs from WriteText")
			}
			checkGolden(t, filepath.Join("testdata", name+".txt.golden"), b.Bytes())
		})
	}
}

func TestGoldenJSON(t *testing.T) {
	for name, snap := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := json.Indent(&b, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			b.WriteByte('\n')
			checkGolden(t, filepath.Join("testdata", name+".json.golden"), b.Bytes())
		})
	}
}

// requiredKeys must be present (possibly null) in every JSON rendering.
var requiredKeys = []string{
	"cgroup.version", "cgroup.path", "cgroup.limit_bytes", "cgroup.high_bytes", "cgroup.usage_bytes",
	"cgroup.working_set_bytes", "cgroup.inactive_file_bytes", "cgroup.anon_bytes", "cgroup.file_bytes",
	"cgroup.events.oom_kill", "cgroup.stat.anon_bytes", "cgroup.psi.some", "process.rss_bytes", "go.alloc_bytes", "go.sys_bytes", "go.heap_live_bytes",
	"go.gomemlimit_bytes", "host.mem_total_bytes", "attribution", "level", "sampling.mode",
	"gap.base", "headroom.limit_bytes",
}

func lookup(m map[string]any, dotted string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(dotted, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestJSONSchema(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(t *testing.T, path string, v any)
	walk = func(t *testing.T, path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(t, path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(t, path, x)
			}
		case float64:
			if strings.HasSuffix(path, "_bytes") && v != float64(int64(v)) {
				t.Errorf("%s = %v is not an integer", path, v)
			}
		}
	}
	for name, snap := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := snap.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range requiredKeys {
				if _, ok := lookup(m, k); !ok {
					t.Errorf("missing key %s", k)
				}
			}
			walk(t, "", m)

			// Null semantics.
			lim, _ := lookup(m, "cgroup.limit_bytes")
			if snap.Cgroup.Available && snap.Attribution.Headroom.HasLimit {
				if lim != float64(snap.Cgroup.Stats.Limit) {
					t.Errorf("limit_bytes %v, want %d", lim, snap.Cgroup.Stats.Limit)
				}
			} else if lim != nil {
				t.Errorf("limit_bytes %v without a limit, want null", lim)
			}
			if lvl, _ := lookup(m, "level"); lvl != snap.Level.String() {
				t.Errorf("level %v", lvl)
			}
			// The attribution object lists every part in order; known parts
			// sum to gap.total_bytes.
			attr, _ := lookup(m, "attribution")
			var sum float64
			for _, p := range snap.Attribution.Parts {
				v, ok := attr.(map[string]any)[p.Name()]
				if !ok {
					t.Errorf("attribution.%s missing", p.Name())
				}
				if (v == nil) == p.Known {
					t.Errorf("attribution.%s = %v, known %v", p.Name(), v, p.Known)
				}
				if f, ok := v.(float64); ok {
					sum += f
				}
			}
			if total, _ := lookup(m, "gap.total_bytes"); total != sum {
				t.Errorf("attribution sums to %v, gap.total_bytes %v", sum, total)
			}
			// Key order of the attribution object is the part order.
			i := bytes.Index(raw, []byte(`"attribution":{`))
			prev := -1
			for _, p := range snap.Attribution.Parts {
				j := bytes.Index(raw[i:], []byte(`"`+p.Name()+`":`))
				if j <= prev {
					t.Errorf("attribution.%s out of order", p.Name())
				}
				prev = j
			}
		})
	}
}

func TestJSONUnavailableViews(t *testing.T) {
	snap := goldenCases(t)["go-only"]
	raw, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cgroup.version", "cgroup.usage_bytes", "process.rss_bytes", "host.mem_total_bytes",
		"cgroup.events.oom_kill", "cgroup.stat.anon_bytes", "cgroup.psi.source", "cgroup.psi.some"} {
		if v, _ := lookup(m, k); v != nil {
			t.Errorf("%s = %v for an unavailable view, want null", k, v)
		}
	}
	if v, _ := lookup(m, "cgroup.error"); v != cgroupstat.ErrUnsupported.Error() {
		t.Errorf("cgroup.error = %v", v)
	}
	if v, _ := lookup(m, "cgroup.available"); v != false {
		t.Errorf("cgroup.available = %v", v)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{140 * mi, "140.0 MiB"}, {1023 * mi, "1023.0 MiB"}, {1 << 30, "1.00 GiB"},
		{24 << 30, "24.0 GiB"}, {1 << 40, "1.00 TiB"}, {^uint64(0), "16.0 EiB"},
	} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := formatSigned(-140 * mi); got != "-140.0 MiB" {
		t.Errorf("formatSigned = %q", got)
	}
	if got := formatSigned(-1 << 63); got != "-8.00 EiB" {
		t.Errorf("formatSigned(min) = %q", got)
	}
}

func TestVerdict(t *testing.T) {
	cases := goldenCases(t)
	for name, want := range map[string]string{
		"v1-limit":     "usage is 41% of limit (211.3 MiB of 512.0 MiB), working set 32%; 48.1 MiB is page cache, reclaimable (48.1 MiB dirty, after writeback); non-Go memory 36.8 MiB; other processes 21.0 MiB",
		"go-only":      "Go runtime view only; retained 94.9 MiB",
		"v2-synthetic": "usage is 96% of limit (1.12 GiB of 1.17 GiB), working set 86%; 50.0 MiB above memory.high (throttled); 270.0 MiB is page cache, reclaimable (10.0 MiB dirty, after writeback); non-Go memory 334.0 MiB; other processes 80.0 MiB; 2 OOM kills",
	} {
		if got := cases[name].Verdict(); got != want {
			t.Errorf("%s verdict:\n got %q\nwant %q", name, got, want)
		}
	}
	if got := cases["proc-only"].Verdict(); !strings.HasPrefix(got, "no memory cgroup; RSS ") {
		t.Errorf("proc-only verdict %q", got)
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
