//go:build linux

package memwatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
)

// TestEventsWakeFilter: on cgroup v2 the Watcher watches memory.events with
// inotify. Its max counter rises on every reclaim while usage sits at
// memory.max (page cache included), hundreds of times a second, and each
// change used to bring a full sample. A change of max alone must not; a
// change of high (or oom, oom_kill) must, promptly.
func TestEventsWakeFilter(t *testing.T) {
	const src = "../cgroupstat/testdata/v2-child-256m"
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		t.Skip("the cgroupstat fixtures are not here: the test binary runs away from the sources (the QEMU VM ships this package's testdata only)")
	}
	root := fixture.Copy(t, src)
	events := filepath.Join(root, "sys/fs/cgroup/mw/test/memory.events")
	f, err := os.OpenFile(events, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// In place, one write of the same length: as the kernel changes it (a
	// truncating write would show the reader an empty file first).
	setEvents := func(high, max uint64) {
		t.Helper()
		b := fmt.Appendf(nil, "low 0\nhigh %d\nmax %04d\noom 0\noom_kill 0\noom_group_kill 0\n", high, max)
		if err := f.Truncate(int64(len(b))); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	setEvents(0, 0)
	highs := make(chan struct{}, 8)
	w, err := New(WithRoot(root), WithInterval(time.Minute), WithPollCheck(0),
		OnHigh(func(*Snapshot) { highs <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s0 := w.Latest()
	if !strings.Contains(s0.Sampling.Mode, "inotify") {
		t.Fatalf("mode %q: no inotify watch on the fixture's memory.events", s0.Sampling.Mode)
	}
	if !s0.Cgroup.Stats.Events.HasEvents {
		t.Fatalf("the first sample has no memory.events: %v", s0.Cgroup.Stats.Errs)
	}

	for i := uint64(1); i <= 10; i++ {
		setEvents(0, i*100) // 0100 … 1000: max is four digits wide, the file keeps its length
		time.Sleep(10 * time.Millisecond)
	}
	for deadline := time.Now().Add(10 * time.Second); w.stats.eventWakes.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the Watcher never woke for memory.events")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a sample it brought would be published by now
	if s := w.Latest(); !s.Time.Equal(s0.Time) {
		t.Errorf("changes of max alone brought a sample (%d memory.events wake-ups)", w.stats.eventWakes.Load())
	}

	setEvents(1, 1000)
	select {
	case <-highs:
	case <-time.After(10 * time.Second):
		t.Fatal("a rise of the high counter did not bring a sample and OnHigh")
	}
	if got := w.Latest().Cgroup.Stats.Events.High; got != 1 {
		t.Errorf("events.high %d after the wake-up, want 1", got)
	}
}
