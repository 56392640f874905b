package memwatch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"
	"unicode/utf8"
)

// terminationConfig is what the termination message needs
// (WithTerminationMessage).
type terminationConfig struct {
	on   bool
	path string
}

func (c *terminationConfig) validate() []error {
	if c.on && !filepath.IsAbs(c.path) {
		return []error{errorf("WithTerminationMessage(%q): need an absolute path", c.path)}
	}
	return nil
}

const (
	// terminationMax is the most Kubernetes keeps of a termination message
	// (4096 bytes per container).
	terminationMax = 4096
	// terminationRefresh is how often the message is rewritten while the
	// level stays critical.
	terminationRefresh = 5 * time.Second
)

// errNotRegular: the termination message path is not a regular file.
var errNotRegular = errors.New("not a regular file")

// terminationMessage writes the container's termination message
// (WithTerminationMessage): the explanation when the level turns critical,
// refreshed while it stays critical, cleared when it is back to ok. It runs
// on the sampling goroutine: a write is one open, one write of at most 4 KiB
// and one close.
type terminationMessage struct {
	cfg terminationConfig
	log *slog.Logger

	prev      Level
	since     time.Time // when the critical episode began (zero: none)
	lastWrite time.Time
	written   bool // the file holds a message of ours
	failed    bool // a failure was logged
	buf       []byte
}

// newTerminationMessage returns nil when the option is off.
func newTerminationMessage(cfg terminationConfig, log *slog.Logger) *terminationMessage {
	if !cfg.on {
		return nil
	}
	return &terminationMessage{cfg: cfg, log: log}
}

// observe writes or clears the message for a judged sample.
func (t *terminationMessage) observe(s *Snapshot) {
	prev := t.prev
	t.prev = s.Level
	switch s.Level {
	case LevelCritical:
		if t.since.IsZero() {
			t.since = s.Time
		}
		if prev != LevelCritical || s.Time.Sub(t.lastWrite) >= terminationRefresh {
			t.buf = appendTerminationMessage(t.buf[:0], s, t.since)
			t.write(t.buf, s.Time)
		}
	case LevelOK:
		t.since = time.Time{}
		if t.written {
			t.write(nil, s.Time)
		}
	}
	// Warn keeps the message (the danger is not over); unknown (no limit
	// known) leaves it as it is.
}

// write replaces the file's content with msg (nil clears it).
func (t *terminationMessage) write(msg []byte, now time.Time) {
	t.lastWrite = now
	err := writeTerminationFile(t.cfg.path, msg)
	if err == nil {
		t.written = len(msg) > 0
		return
	}
	if t.failed {
		return
	}
	t.failed = true
	if errors.Is(err, fs.ErrNotExist) {
		t.log.Debug("memwatch: no termination message file; not writing one", "path", t.cfg.path)
		return
	}
	t.log.Warn("memwatch: cannot write the termination message", "path", t.cfg.path, "err", err)
}

// appendTerminationMessage appends the termination message for s (a
// critical episode that began at since) to b, at most terminationMax bytes,
// cut at a UTF-8 boundary:
//
//	memwatch: memory critical since 2025-11-27T00:36:00Z (still critical at 2025-11-27T00:36:04Z)
//	usage is 95% of limit (486.4 MiB of 512.0 MiB), working set 86%; ...
//	largest parts of the cgroup's usage (486.4 MiB):
//	  go_heap_live               180.0 MiB
//	  page_cache_inactive         48.0 MiB  reclaimable
//	Go: live heap 180.0 MiB, GOMEMLIMIT 460.0 MiB, GC cycle 41, CPU limiter last engaged in cycle 40
//	shedding advised: 40.0 MiB of live heap (live heap × (1+minGOGC/100) exceeds the heap budget)
func appendTerminationMessage(b []byte, s *Snapshot, since time.Time) []byte {
	start := len(b)
	const ts = time.RFC3339
	b = fmt.Appendf(b, "memwatch: memory critical since %s", since.UTC().Format(ts))
	if !s.Time.Equal(since) {
		b = fmt.Appendf(b, " (still critical at %s)", s.Time.UTC().Format(ts))
	}
	b = append(b, '\n')
	b = append(b, s.Verdict()...)
	b = append(b, '\n')

	a := &s.Attribution
	if parts := largestParts(a, 5); len(parts) > 0 {
		of := "the cgroup's usage"
		switch a.Base {
		case BaseProcess:
			of = "the process's RSS"
		case BaseGo:
			of = "the Go runtime's memory"
		}
		b = fmt.Appendf(b, "largest parts of %s (%s):\n", of, FormatBytes(a.Total))
		for _, p := range parts {
			line := fmt.Appendf(nil, "  %-24s %11s  %s", p.Name(), FormatBytes(p.Bytes), reclaimNote(p.Reclaim))
			for len(line) > 0 && line[len(line)-1] == ' ' {
				line = line[:len(line)-1]
			}
			b = append(append(b, line...), '\n')
		}
	}

	g := &s.Go
	b = fmt.Appendf(b, "Go: live heap %s", FormatBytes(liveHeap(g)))
	if g.HasLimit() {
		b = fmt.Appendf(b, ", GOMEMLIMIT %s", FormatBytes(uint64(g.GOMEMLIMIT)))
	} else {
		b = append(b, ", no GOMEMLIMIT"...)
	}
	if g.GCCPUWindowSeconds > 0 {
		b = fmt.Appendf(b, ", GC CPU %.0f%%", 100*g.GCCPUFraction)
	}
	b = fmt.Appendf(b, ", GC cycle %d", g.GCCycles)
	if g.GCLimiterLastEnabled > 0 {
		b = fmt.Appendf(b, ", CPU limiter last engaged in cycle %d", g.GCLimiterLastEnabled)
	}
	b = append(b, '\n')
	if sig := s.Actions.Shed; sig.Bytes > 0 {
		b = fmt.Appendf(b, "shedding advised: %s of live heap (%s)\n", FormatBytes(sig.Bytes), sig.Reason)
	}
	return truncateUTF8(b, start+terminationMax)
}

// truncateUTF8 cuts b to at most n bytes without splitting a UTF-8
// sequence.
func truncateUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}
