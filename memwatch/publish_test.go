package memwatch

import (
	"sync"
	"testing"
	"time"
)

// TestPublication: readers copying while the sampler publishes always get
// a whole snapshot (never one being rewritten), and neither side waits for
// the other. Each published snapshot carries the same number in three
// places; a torn copy would mix two.
func TestPublication(t *testing.T) {
	p := newPublication()
	if p.copyInto(new(Snapshot)) {
		t.Fatal("copy before any publication")
	}
	const n = 20000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			var s Snapshot
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !p.copyInto(&s) {
					continue
				}
				v := s.Go.GCCycles
				if s.Cgroup.Stats.Usage != v || uint64(s.Time.UnixNano()) != v {
					t.Errorf("torn copy: %d %d %d", v, s.Cgroup.Stats.Usage, s.Time.UnixNano())
					return
				}
			}
		})
	}
	for i := uint64(1); i <= n; i++ {
		sl := p.acquire()
		sl.snap.Go.GCCycles = i
		sl.snap.Cgroup.Stats.Usage = i
		sl.snap.Time = time.Unix(0, int64(i))
		p.publish(sl)
	}
	close(stop)
	wg.Wait()
	var s Snapshot
	if !p.copyInto(&s) || s.Go.GCCycles != n {
		t.Fatalf("last copy %d, want %d", s.Go.GCCycles, n)
	}
	// A slot given back unpublished is reused; the published one is not.
	sl := p.acquire()
	p.release(sl)
	if got := p.acquire(); got != sl || got == p.latest.Load() {
		t.Fatal("released slot not reused, or the published slot handed out")
	}
}
