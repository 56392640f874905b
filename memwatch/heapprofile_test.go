package memwatch

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// profiles lists the heap profile names in dir.
func profiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), heapProfilePrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// waitWritten waits until the Watcher's profiler has written n profiles
// and is idle.
func waitWritten(t *testing.T, w *Watcher, n int) {
	t.Helper()
	waitProfiler(t, w.prof.(*heapProfiler), n)
}

func waitProfiler(t *testing.T, p *heapProfiler, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		written, running := p.written, p.running
		p.mu.Unlock()
		if written >= n && !running {
			if written > n {
				t.Fatalf("%d profiles written, want %d", written, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d profiles written after 10s, want %d", written, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatcherHeapProfiles: a profile when the level rises to warn and one
// when it rises to critical, once per episode; a new episode within
// MinInterval gets none. The files are gzip-compressed pprof profiles.
func TestWatcherHeapProfiles(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	dir := t.TempDir()
	rec := &recorder{}
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithPollCheck(0), WithLogger(slog.New(rec)),
		WithHeapProfiles(HeapProfileOptions{Dir: dir, MinInterval: time.Hour}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	step := func(frac float64) {
		t.Helper()
		writeCg(t, cg, "memory.usage_in_bytes", uint64(frac*limit))
		w.sampleNow()
	}
	step(0.5)
	if got := profiles(t, dir); len(got) != 0 {
		t.Fatalf("profiles at ok: %q", got)
	}
	step(0.85)
	waitWritten(t, w, 1)
	warnAt := w.Latest().Time
	step(0.95)
	waitWritten(t, w, 2)
	critAt := w.Latest().Time
	step(0.84) // same episode: no new profiles
	step(0.95)
	step(0.5) // the episode ends
	step(0.85)
	step(0.95) // a new episode within MinInterval: none
	waitWritten(t, w, 2)
	want := []string{
		heapProfilePrefix + warnAt.UTC().Format(heapProfileTimeFormat) + "-warn.pprof",
		heapProfilePrefix + critAt.UTC().Format(heapProfileTimeFormat) + "-critical.pprof",
	}
	if got := profiles(t, dir); !slices.Equal(got, want) {
		t.Fatalf("profiles %q, want %q", got, want)
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
	var written int
	for _, l := range rec.recs {
		if strings.HasPrefix(l, "INFO memwatch: heap profile written") {
			written++
		}
	}
	if written != 2 {
		t.Fatalf("%d 'heap profile written' lines, want 2: %q", written, rec.recs)
	}
}

// TestHeapProfilesKept: at most Keep of memwatch's profiles stay in the
// directory, the newest; other files and leftovers younger than
// heapProfileStaleTmp are left alone, older leftovers removed.
func TestHeapProfilesKept(t *testing.T) {
	dir := t.TempDir()
	for name, age := range map[string]time.Duration{
		"notes.pprof":       0,
		"memwatch-heap.txt": 0,
		heapProfilePrefix + "20000101T000000.000Z-warn.pprof.tmp": time.Hour,
		heapProfilePrefix + "20000101T000001.000Z-warn.pprof.tmp": time.Minute,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	cfg := heapProfileConfig{on: true, dir: dir, keep: 2, every: time.Nanosecond, newProfiler: newHeapProfiler,
		write: func(w io.Writer) error { _, err := io.WriteString(w, "profile"); return err }}
	if errs := cfg.validate(); errs != nil {
		t.Fatal(errs)
	}
	p := newHeapProfiler(cfg, slog.New(slog.DiscardHandler)).(*heapProfiler)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Second)
		p.observe(&Snapshot{Time: at, Level: LevelCritical})
		p.observe(&Snapshot{Time: at, Level: LevelOK})
		waitProfiler(t, p, i+1)
	}
	p.close()
	got := profiles(t, dir)
	want := []string{
		heapProfilePrefix + "20000101T000001.000Z-warn.pprof.tmp",
		heapProfilePrefix + "20250101T000002.000Z-critical.pprof",
		heapProfilePrefix + "20250101T000003.000Z-critical.pprof",
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

// TestStopWaitsForHeapProfile: Stop returns only once the running profile
// write has finished (goleak then finds no goroutine left).
func TestStopWaitsForHeapProfile(t *testing.T) {
	root, cg := fixtureV1(t)
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithPollCheck(0),
		WithHeapProfiles(HeapProfileOptions{Dir: t.TempDir()}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	started, release := make(chan struct{}), make(chan struct{})
	var finished bool
	w.prof.(*heapProfiler).cfg.write = func(io.Writer) error {
		close(started)
		<-release
		finished = true
		return nil
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeCg(t, cg, "memory.usage_in_bytes", 500*mib)
	w.sampleNow()
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

func TestHeapProfileOptionsValidated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    HeapProfileOptions
		want string
	}{
		{HeapProfileOptions{}, "Dir is empty"},
		{HeapProfileOptions{Dir: filepath.Join(t.TempDir(), "missing")}, "no such file"},
		{HeapProfileOptions{Dir: file}, "not a directory"},
		{HeapProfileOptions{Dir: t.TempDir(), Keep: -1}, "Keep -1"},
		{HeapProfileOptions{Dir: t.TempDir(), MinInterval: -time.Second}, "MinInterval -1s"},
	} {
		w, err := New(WithRoot("testdata/proc-only"), WithHeapProfiles(c.o))
		if err == nil {
			w.Stop()
			t.Errorf("New accepted %+v", c.o)
			continue
		}
		if !strings.Contains(err.Error(), "WithHeapProfiles") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %q, want WithHeapProfiles and %q", c.o, err, c.want)
		}
	}
	if _, err := New(WithRoot("testdata/proc-only"), WithTerminationMessage("termination-log")); err == nil ||
		!strings.Contains(err.Error(), "WithTerminationMessage") {
		t.Errorf("a relative termination message path: %v", err)
	}
	// Defaults and a relative directory made absolute.
	t.Chdir(t.TempDir())
	if err := os.Mkdir("profiles", 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := New(WithRoot(filepath.Join(origWD, "testdata/proc-only")), WithHeapProfiles(HeapProfileOptions{Dir: "profiles"}),
		WithTerminationMessage(""))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c := w.prof.(*heapProfiler).cfg
	if !filepath.IsAbs(c.dir) || c.keep != DefaultHeapProfilesKept || c.every != DefaultHeapProfileInterval {
		t.Errorf("config %+v", c)
	}
	if p := w.term.cfg.path; p != DefaultTerminationMessagePath {
		t.Errorf("termination message path %q", p)
	}
}

var origWD, _ = os.Getwd()
