package memwatch

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

// TestDispatcherContains checks that a callback that panics or calls
// runtime.Goexit (t.FailNow in a test's callback does) is contained: it is
// logged, and the next callback still runs.
func TestDispatcherContains(t *testing.T) {
	var logs syncbuf.Buffer
	ran := make(chan string, 8)
	d := newDispatcher(handlers{
		onLimitChange: []func(old, new uint64, s *Snapshot){func(old, _ uint64, _ *Snapshot) {
			switch old {
			case 1:
				panic("boom")
			case 2:
				runtime.Goexit()
			}
			ran <- "limit"
		}},
		onHigh: []func(s *Snapshot){func(*Snapshot) { ran <- "high" }},
		loop:   (*dispatcher).loop, // as the On... options set it
	}, 8, newTestLogger(&logs))
	d.start()
	s := new(Snapshot)
	d.emit(event{kind: evLimit, old: 1}, s)
	d.emit(event{kind: evHigh}, s)
	d.emit(event{kind: evLimit, old: 2}, s)
	d.emit(event{kind: evHigh}, s)
	d.emit(event{kind: evLimit, old: 3}, s)
	for _, want := range []string{"high", "high", "limit"} {
		select {
		case got := <-ran:
			if got != want {
				t.Fatalf("callback %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("callback %q never ran:\n%s", want, logs.String())
		}
	}
	if !d.close(time.Second) {
		t.Fatal("dispatcher did not stop")
	}
	out := logs.String()
	if !strings.Contains(out, "callback panicked") || !strings.Contains(out, "panic=boom") || !strings.Contains(out, "dispatch_test.go") {
		t.Errorf("panic not logged with its stack:\n%s", out)
	}
	if !strings.Contains(out, "runtime.Goexit") {
		t.Errorf("Goexit not logged:\n%s", out)
	}
}

// TestDispatcherSeveral checks that an event calls every function of its
// kind in the order given, each with its own copy of the snapshot, and that
// a function that panics or calls runtime.Goexit does not keep the next
// ones of the same event from running.
func TestDispatcherSeveral(t *testing.T) {
	var logs syncbuf.Buffer
	ran := make(chan string, 16)
	seen := make(chan *Snapshot, 16)
	mk := func(name string) func(ShedSignal, *Snapshot) {
		return func(sig ShedSignal, s *Snapshot) {
			seen <- s
			if s.Level != LevelCritical {
				t.Errorf("%s: saw level %v: another function's change", name, s.Level)
			}
			s.Level = LevelOK // must not reach the next function
			switch {
			case name == "panics" && sig.Bytes == 1:
				panic("boom")
			case name == "exits" && sig.Bytes == 2:
				runtime.Goexit()
			}
			ran <- name
		}
	}
	d := newDispatcher(handlers{onShed: []func(ShedSignal, *Snapshot){mk("panics"), mk("exits"), mk("last")},
		loop: (*dispatcher).loop}, 8, newTestLogger(&logs))
	if !d.wants(evShed) || d.wants(evLevel) {
		t.Fatal("wants is wrong")
	}
	d.start()
	for _, b := range []uint64{1, 2, 3} {
		s := &Snapshot{Level: LevelCritical}
		s.Actions.Shed.Bytes = b
		d.emit(event{kind: evShed}, s)
	}
	want := []string{"exits", "last", "panics", "last", "panics", "exits", "last"}
	for i, w := range want {
		select {
		case got := <-ran:
			if got != w {
				t.Fatalf("call %d: %q, want %q (calls so far must be %q)", i, got, w, want[:i+1])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d (%q) never ran:\n%s", i, w, logs.String())
		}
	}
	if !d.close(time.Second) {
		t.Fatal("dispatcher did not stop")
	}
	close(seen)
	ptrs := map[*Snapshot]bool{}
	for s := range seen {
		ptrs[s] = true
	}
	if len(ptrs) != 9 {
		t.Errorf("%d distinct snapshots for 9 calls", len(ptrs))
	}
	if out := logs.String(); !strings.Contains(out, "panic=boom") || !strings.Contains(out, "runtime.Goexit") {
		t.Errorf("panic or Goexit not logged:\n%s", out)
	}
}

// TestDispatcherUnwanted checks that events nobody handles are not queued.
func TestDispatcherUnwanted(t *testing.T) {
	var logs syncbuf.Buffer
	d := newDispatcher(handlers{}, 1, newTestLogger(&logs))
	for range 4 {
		d.emit(event{kind: evLevel}, new(Snapshot))
	}
	if len(d.queue) != 0 || d.dropped.Load() != 0 {
		t.Fatalf("queued %d, dropped %d events nobody handles", len(d.queue), d.dropped.Load())
	}
	d.start()
	d.close(time.Second)
}
