//go:build unix

package memwatch

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTruncateUTF8(t *testing.T) {
	s := []byte("ab€d") // € is 3 bytes: a b [e2 82 ac] d
	for n, want := range map[int]string{0: "", 1: "a", 2: "ab", 3: "ab", 4: "ab", 5: "ab€", 6: "ab€d", 99: "ab€d"} {
		if got := string(truncateUTF8(s, n)); got != want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", s, n, got, want)
		}
	}
}

// TestTerminationMessageText checks the message for a fixture snapshot
// turned critical: the episode's start, the verdict, the largest parts
// with their reclaim notes, the Go line and the shed advice.
func TestTerminationMessageText(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fixture is read through the Linux cgroup reader")
	}
	s := fixtureSnapshot(t, "testdata/v1-limit")
	s.Level = LevelCritical
	since := s.Time.Add(-4 * time.Second)
	s.Actions.Shed = ShedSignal{Bytes: 40 * mib, Reason: shedReasonNear}
	msg := string(appendTerminationMessage(nil, s, since))
	lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")
	want := []string{
		"memwatch: memory critical since 2025-11-27T00:35:56Z (still critical at 2025-11-27T00:36:00Z)",
		s.Verdict(),
		"largest parts of the cgroup's usage (211.3 MiB):",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Fatalf("line %d = %q, want %q\nmessage:\n%s", i, lines[i], w, msg)
		}
	}
	parts := largestParts(&s.Attribution, 5)
	if len(parts) != 5 || len(lines) != 3+5+2 {
		t.Fatalf("%d parts, %d lines:\n%s", len(parts), len(lines), msg)
	}
	for i, p := range parts {
		l := lines[3+i]
		if !strings.HasPrefix(l, "  "+p.Name()+" ") || !strings.Contains(l, FormatBytes(p.Bytes)) ||
			strings.HasSuffix(l, " ") || strings.Contains(l, "reclaimable") != (p.Reclaim == Reclaimable) {
			t.Errorf("part line %q for %+v", l, p)
		}
	}
	if g := lines[8]; !strings.HasPrefix(g, "Go: live heap "+FormatBytes(liveHeap(&s.Go))) || !strings.Contains(g, "GC cycle ") {
		t.Errorf("Go line %q", g)
	}
	if l := lines[9]; l != "shedding advised: 40.0 MiB of live heap ("+shedReasonNear+")" {
		t.Errorf("shed line %q", l)
	}

	// Bounded at 4096 bytes, cut at a rune boundary.
	s.Actions.Shed.Reason = strings.Repeat("é", 3000)
	long := appendTerminationMessage(nil, s, s.Time)
	if len(long) > terminationMax || len(long) < terminationMax-1 || !utf8.Valid(long) {
		t.Fatalf("long message: %d bytes, valid UTF-8 %v", len(long), utf8.Valid(long))
	}
	if !strings.HasPrefix(string(long), "memwatch: memory critical since 2025-11-27T00:36:00Z\n") {
		t.Fatalf("long message starts %q", long[:80])
	}
}

// TestWatcherTerminationMessage drives a Watcher on a fixture tree through
// the levels: written when critical, kept at warn, cleared at ok, written
// again on the next critical.
func TestWatcherTerminationMessage(t *testing.T) {
	root, cg := fixtureV1(t)
	const limit = 512 * mib
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := New(slowOpts(root, WithMeasure(MeasureUsage), WithPollCheck(0), WithTerminationMessage(path))...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	step := func(frac float64) {
		t.Helper()
		writeCg(t, cg, "memory.usage_in_bytes", uint64(frac*limit))
		w.sampleNow()
	}
	if m := read(); m != "" {
		t.Fatalf("message written at ok: %q", m)
	}
	step(0.85)
	if m := read(); m != "" {
		t.Fatalf("message written at warn: %q", m)
	}
	step(0.95)
	s := w.Latest()
	m := read()
	if !strings.HasPrefix(m, "memwatch: memory critical since "+s.Time.UTC().Format(time.RFC3339)+"\n"+s.Verdict()+"\n") {
		t.Fatalf("message at critical:\n%s\nsnapshot verdict: %s", m, s.Verdict())
	}
	step(0.84) // warn: kept
	if read() != m {
		t.Fatal("message changed at warn")
	}
	step(0.5) // ok: cleared
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("message not cleared at ok: %v %v", fi.Size(), err)
	}
	step(0.96)
	if m2 := read(); !strings.Contains(m2, "usage is 96.0% of limit") {
		t.Fatalf("message at the second critical:\n%s", m2)
	}
}

// TestTerminationMessageRefresh: while the level stays critical the
// message is rewritten at most every terminationRefresh, keeping the
// episode's start.
func TestTerminationMessageRefresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tm := newTerminationMessage(terminationConfig{on: true, path: path}, slog.New(slog.DiscardHandler))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(sec int) *Snapshot {
		return &Snapshot{Time: t0.Add(time.Duration(sec) * time.Second), Level: LevelCritical}
	}
	first := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		l, _, _ := strings.Cut(string(b), "\n")
		return l
	}
	tm.observe(snap(0))
	if l := first(); l != "memwatch: memory critical since 2025-01-01T00:00:00Z" {
		t.Fatalf("first line %q", l)
	}
	tm.observe(snap(2))
	if l := first(); l != "memwatch: memory critical since 2025-01-01T00:00:00Z" {
		t.Fatalf("rewritten within terminationRefresh: %q", l)
	}
	tm.observe(snap(6))
	if l := first(); l != "memwatch: memory critical since 2025-01-01T00:00:00Z (still critical at 2025-01-01T00:00:06Z)" {
		t.Fatalf("not refreshed: %q", l)
	}
}

// TestTerminationMessageNotWritable: the Watcher never creates the file,
// never writes through a symbolic link, into a directory or a FIFO; it logs
// a missing file at Debug and other failures once at Warn.
func TestTerminationMessageNotWritable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux file semantics")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	msg := []byte("memwatch: memory critical\n")
	for _, p := range []string{missing, link, dir, fifo} {
		done := make(chan error, 1)
		go func() { done <- writeTerminationFile(p, msg) }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: written", p)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the write blocks", p)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the missing file was created: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "original" {
		t.Errorf("written through the symbolic link: %q", b)
	}

	snap := &Snapshot{Time: time.Now(), Level: LevelCritical}
	for _, c := range []struct {
		path, want string
	}{
		{missing, "DEBUG memwatch: no termination message file"},
		{link, "WARN memwatch: cannot write the termination message"},
	} {
		rec := &recorder{}
		tm := newTerminationMessage(terminationConfig{on: true, path: c.path}, slog.New(rec))
		for i := range 3 {
			snap.Time = snap.Time.Add(time.Duration(i) * time.Minute)
			snap.Level = LevelCritical - Level(i%2) // critical, warn, critical
			tm.observe(snap)
		}
		if len(rec.recs) != 1 || !strings.HasPrefix(rec.recs[0], c.want) {
			t.Errorf("%s: logged %q, want one %q", c.path, rec.recs, c.want)
		}
	}
}

// BenchmarkTerminationMessage measures what the sampling goroutine spends
// when the level turns critical: formatting the message and replacing the
// file's content, on the test's temporary directory (the node's disk in
// production). "in-place" is writeTerminationFile; "o_trunc" is the
// alternative it was chosen over (open with O_TRUNC, then write), for the
// ratio:
//
//	go test ./memwatch/ -run '^$' -bench TerminationMessage -benchtime 200x -count 3
func BenchmarkTerminationMessage(b *testing.B) {
	s := fixtureSnapshot(b, "testdata/v1-limit")
	s.Level = LevelCritical
	oTrunc := func(path string, msg []byte) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(msg)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	for _, c := range []struct {
		name  string
		write func(string, []byte) error
	}{{"in-place", writeTerminationFile}, {"o_trunc", oTrunc}} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "termination-log")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				b.Fatal(err)
			}
			var buf []byte
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Time = s.Time.Add(time.Second) // messages of slightly different lengths
				buf = appendTerminationMessage(buf[:0], s, s.Time.Add(-time.Duration(i%20)*time.Second))
				if err := c.write(path, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes")
			if got, _ := os.ReadFile(path); !bytes.Equal(got, buf) {
				b.Fatal("file content differs")
			}
		})
	}
}
