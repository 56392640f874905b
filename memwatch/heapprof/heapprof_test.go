package heapprof

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a slog.Handler keeping "LEVEL msg" lines.
type recorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Level.String()+" "+rec.Message)
	return nil
}

// count returns how many lines start with prefix.
func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.recs {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// profiles lists the names of this package's files in dir.
func profiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), filePrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func name(at time.Time, l memwatch.Level) string {
	return filePrefix + at.UTC().Format(fileTimeFormat) + "-" + l.String() + fileSuffix
}

// fakeProfile is a write function that writes a few bytes.
func fakeProfile(w io.Writer) error { _, err := io.WriteString(w, "profile"); return err }

// fixture is a copy of the memwatch package's v1 fixture tree, whose cgroup
// has a 512 MiB limit.
type fixture struct {
	root, cg string
}

const (
	mib   = 1 << 20
	limit = 512 * mib
)

func newFixture(t *testing.T) fixture {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: the fixture is read through the Linux cgroup reader")
	}
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../testdata/v1-limit")); err != nil {
		t.Fatal(err)
	}
	return fixture{root: root, cg: filepath.Join(root, "sys/fs/cgroup/memory/mwsnap")}
}

// setUsage writes the cgroup's usage as a fraction of the limit.
func (f fixture) setUsage(t *testing.T, frac float64) {
	t.Helper()
	b := fmt.Appendf(nil, "%d\n", uint64(frac*limit))
	if err := os.WriteFile(filepath.Join(f.cg, "memory.usage_in_bytes"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// watch starts a Watcher with p on the fixture at usage frac, which judges
// the level from its first sample (at Start) and then samples no more,
// waits until p has been called with that first level, and stops the
// Watcher. It returns the level and the sample's time.
func (f fixture) watch(t *testing.T, p *Profiler, frac float64) (memwatch.Level, time.Time) {
	t.Helper()
	f.setUsage(t, frac)
	type call struct {
		level memwatch.Level
		at    time.Time
	}
	after := make(chan call, 1)
	w, err := memwatch.New(memwatch.WithRoot(f.root), memwatch.WithMeasure(memwatch.MeasureUsage),
		memwatch.WithInterval(time.Hour), memwatch.WithMinInterval(time.Hour),
		memwatch.WithEvents(false), memwatch.WithPollCheck(0),
		p.Option(),
		// Called after p's function: p is done with the change.
		memwatch.OnLevel(func(_, n memwatch.Level, s *memwatch.Snapshot) { after <- call{n, s.Time} }))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-after:
		return c.level, c.at
	case <-time.After(10 * time.Second):
		t.Fatal("no level change after 10s")
	}
	return 0, time.Time{}
}

// TestWatcherProfiles: through real Watchers, a profile when the level
// rises to warn and one when it rises to critical, once per episode; a new
// episode within MinInterval gets none. The files are gzip-compressed
// pprof heap profiles.
func TestWatcherProfiles(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	rec := &recorder{}
	p, err := New(Options{Dir: dir, MinInterval: time.Hour, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	// One Watcher after the other, each judging its first sample (from
	// LevelUnknown), as after a restart of the Watcher.
	var want []string
	for i, c := range []struct {
		frac    float64
		level   memwatch.Level
		profile bool
	}{
		{0.85, memwatch.LevelWarn, true},
		{0.95, memwatch.LevelCritical, true},
		{0.95, memwatch.LevelCritical, false}, // same episode
		{0.50, memwatch.LevelOK, false},       // the episode ends
		{0.85, memwatch.LevelWarn, false},     // a new one within MinInterval
		{0.95, memwatch.LevelCritical, false},
	} {
		level, at := f.watch(t, p, c.frac)
		if level != c.level {
			t.Fatalf("step %d: level %v at %v, want %v", i, level, c.frac, c.level)
		}
		if c.profile {
			want = append(want, name(at, level))
		}
		if got := profiles(t, dir); !slices.Equal(got, want) {
			t.Fatalf("step %d: profiles %q, want %q", i, got, want)
		}
	}
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not gzip: %v", name, err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The profile's string table names the heap sample types.
		if !bytes.Contains(raw, []byte("inuse_space")) || !bytes.Contains(raw, []byte("alloc_space")) {
			t.Fatalf("%s: no heap sample types in the profile", name)
		}
	}
	if n := rec.count("INFO memwatch: heap profile written"); n != 2 {
		t.Fatalf("%d 'heap profile written' lines, want 2: %q", n, rec.recs)
	}
	if n := rec.count("DEBUG memwatch: heap profile skipped"); n != 2 {
		t.Fatalf("%d 'heap profile skipped' lines, want 2: %q", n, rec.recs)
	}
}

// TestEpisodes: the decisions alone, on hand-made level changes. Each level
// has its own MinInterval; an episode ends only at ok; falls and changes
// from and to unknown write nothing.
func TestEpisodes(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Options{Dir: dir, Keep: 100})
	if err != nil {
		t.Fatal(err)
	}
	p.write = fakeProfile
	const (
		unknown = memwatch.LevelUnknown
		ok      = memwatch.LevelOK
		warn    = memwatch.LevelWarn
		crit    = memwatch.LevelCritical
	)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i, c := range []struct {
		after    time.Duration
		old, new memwatch.Level
		profile  bool
	}{
		{0, unknown, ok, false},
		{time.Second, ok, warn, true},
		{2 * time.Second, warn, crit, true}, // not held back by the warn one
		{3 * time.Second, crit, warn, false},
		{4 * time.Second, warn, crit, false}, // same episode
		{5 * time.Second, crit, unknown, false},
		{6 * time.Second, unknown, crit, false}, // unknown does not end the episode
		{7 * time.Second, crit, ok, false},
		{30 * time.Second, ok, crit, false}, // a new episode, within a minute of the last critical
		{31 * time.Second, crit, ok, false},
		{61 * time.Second, ok, warn, true}, // a minute after the last warn one
		{62 * time.Second, warn, crit, true},
		{63 * time.Second, crit, ok, false},
		{64 * time.Second, ok, unknown, false},
		{65 * time.Second, unknown, ok, false},
		{130 * time.Second, ok, crit, true},
		{131 * time.Second, crit, warn, false}, // a fall to warn is no rise
		{132 * time.Second, warn, ok, false},
	} {
		at := t0.Add(c.after)
		p.levelChanged(c.old, c.new, &memwatch.Snapshot{Time: at, Level: c.new})
		if c.profile {
			want = append(want, name(at, c.new))
		}
		if got := profiles(t, dir); !slices.Equal(got, want) {
			t.Fatalf("step %d (%v→%v at +%v): profiles %q, want %q", i, c.old, c.new, c.after, got, want)
		}
	}
}

// TestKept: at most Keep of our profiles stay in the directory, the newest;
// other files and leftovers younger than staleTmp are left alone, older
// leftovers removed.
func TestKept(t *testing.T) {
	dir := t.TempDir()
	for name, age := range map[string]time.Duration{
		"notes.pprof":       0,
		"memwatch-heap.txt": 0,
		filePrefix + "20000101T000000.000Z-warn.pprof.tmp": time.Hour,
		filePrefix + "20000101T000001.000Z-warn.pprof.tmp": time.Minute,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(Options{Dir: dir, Keep: 2, MinInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	p.write = fakeProfile
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Second)
		p.levelChanged(memwatch.LevelOK, memwatch.LevelCritical, &memwatch.Snapshot{Time: at, Level: memwatch.LevelCritical})
		p.levelChanged(memwatch.LevelCritical, memwatch.LevelOK, &memwatch.Snapshot{Time: at, Level: memwatch.LevelOK})
	}
	got := profiles(t, dir)
	want := []string{
		filePrefix + "20000101T000001.000Z-warn.pprof.tmp",
		filePrefix + "20250101T000002.000Z-critical.pprof",
		filePrefix + "20250101T000003.000Z-critical.pprof",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	for _, other := range []string{"notes.pprof", "memwatch-heap.txt"} {
		if _, err := os.Stat(filepath.Join(dir, other)); err != nil {
			t.Errorf("%s: %v", other, err)
		}
	}
}

// TestWriteFails: a failed write leaves no file, temporary or not, and is
// logged at Warn.
func TestWriteFails(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	p, err := New(Options{Dir: dir, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	p.write = func(w io.Writer) error {
		io.WriteString(w, "partial")
		return errors.New("disk full")
	}
	p.levelChanged(memwatch.LevelOK, memwatch.LevelWarn, &memwatch.Snapshot{Time: time.Now(), Level: memwatch.LevelWarn})
	if got := profiles(t, dir); len(got) != 0 {
		t.Fatalf("files left: %q", got)
	}
	if n := rec.count("WARN memwatch: heap profile not written"); n != 1 {
		t.Fatalf("log %q", rec.recs)
	}
}

// TestStopWaitsForProfile: the Watcher's Stop returns only once the running
// profile write has finished (goleak then finds no goroutine left).
func TestStopWaitsForProfile(t *testing.T) {
	f := newFixture(t)
	f.setUsage(t, 0.95)
	p, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	var finished bool
	p.write = func(io.Writer) error {
		close(started)
		<-release
		finished = true
		return nil
	}
	w, err := memwatch.New(memwatch.WithRoot(f.root), memwatch.WithMeasure(memwatch.MeasureUsage),
		memwatch.WithInterval(time.Hour), memwatch.WithMinInterval(time.Hour), memwatch.WithEvents(false),
		memwatch.WithStopTimeout(time.Minute), p.Option())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-started
	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a profile was being written")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	if !finished {
		t.Fatal("Stop returned before the write finished")
	}
}

func TestNewValidated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "Dir is empty"},
		{Options{Dir: filepath.Join(t.TempDir(), "missing")}, "no such file"},
		{Options{Dir: file}, "not a directory"},
		{Options{Dir: t.TempDir(), Keep: -1}, "Keep -1"},
		{Options{Dir: t.TempDir(), MinInterval: -time.Second}, "MinInterval -1s"},
	} {
		p, err := New(c.o)
		if err == nil {
			t.Errorf("New accepted %+v: %+v", c.o, p)
			continue
		}
		if !strings.HasPrefix(err.Error(), "heapprof: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %q, want heapprof: and %q", c.o, err, c.want)
		}
	}
	// Each bad field is named; the missing directory's error is kept.
	_, err := New(Options{Dir: filepath.Join(t.TempDir(), "missing"), Keep: -2, MinInterval: -time.Minute})
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "Keep -2") ||
		!strings.Contains(err.Error(), "MinInterval -1m0s") {
		t.Errorf("joined error %v", err)
	}
	// Defaults, and a relative directory made absolute.
	t.Chdir(t.TempDir())
	if err := os.Mkdir("profiles", 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Dir: "profiles"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p.dir) || filepath.Base(p.dir) != "profiles" || p.keep != DefaultKeep || p.every != DefaultMinInterval || p.log == nil {
		t.Errorf("profiler %+v", p)
	}
}
