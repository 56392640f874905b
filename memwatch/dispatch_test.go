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
		onLimitChange: func(old, _ uint64, _ *Snapshot) {
			switch old {
			case 1:
				panic("boom")
			case 2:
				runtime.Goexit()
			}
			ran <- "limit"
		},
		onHigh: func(*Snapshot) { ran <- "high" },
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
