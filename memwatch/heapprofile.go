package memwatch

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"
)

// heapProfileConfig is what the heap profiler needs (WithHeapProfiles).
type heapProfileConfig struct {
	on    bool
	dir   string
	keep  int
	every time.Duration
	// newProfiler makes the profiler (newHeapProfiler), set by the option so
	// that a program without it links neither the profiler nor the
	// profile writer (runtime/pprof's package initialization is linked
	// anyway: about 50 KB, measured with scripts/binsize.sh).
	newProfiler func(heapProfileConfig, *slog.Logger) profiler
	// write writes the heap profile (writeHeapProfile; tests replace it).
	write func(io.Writer) error
}

// profiler is the heap profiler as the Watcher sees it.
type profiler interface {
	observe(s *Snapshot)
	close()
}

// validate checks the values, applies the defaults and makes dir absolute.
func (c *heapProfileConfig) validate() []error {
	if !c.on {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("WithHeapProfiles: "+format, args...))
	}
	switch fi, err := os.Stat(c.dir); {
	case c.dir == "":
		bad("Dir is empty")
	case err != nil:
		bad("Dir %q: %v", c.dir, err)
	case !fi.IsDir():
		bad("Dir %q: not a directory", c.dir)
	default:
		abs, err := filepath.Abs(c.dir)
		if err != nil {
			bad("Dir %q: %v", c.dir, err)
		}
		c.dir = abs
	}
	switch {
	case c.keep < 0:
		bad("Keep %d: need ≥ 0 (0: %d)", c.keep, DefaultHeapProfilesKept)
	case c.keep == 0:
		c.keep = DefaultHeapProfilesKept
	}
	switch {
	case c.every < 0:
		bad("MinInterval %v: need ≥ 0 (0: %v)", c.every, DefaultHeapProfileInterval)
	case c.every == 0:
		c.every = DefaultHeapProfileInterval
	}
	return errs
}

// Heap profile file names: heapProfilePrefix + UTC time + "-" + level +
// heapProfileSuffix, so that names sort by time.
const (
	heapProfilePrefix     = "memwatch-heap-"
	heapProfileSuffix     = ".pprof"
	heapProfileTimeFormat = "20060102T150405.000Z"
	// heapProfileStaleTmp is the age after which a temporary file of ours
	// is a leftover (its writer was killed) and is removed.
	heapProfileStaleTmp = 10 * time.Minute
)

// profileRequest is one profile to write.
type profileRequest struct {
	level Level
	at    time.Time
}

// heapProfiler decides on the sampling goroutine when a heap profile is
// due (WithHeapProfiles) and writes it on a goroutine of its own, one at a
// time; a profile due meanwhile waits for the running write.
type heapProfiler struct {
	cfg heapProfileConfig
	log *slog.Logger

	// State of the sampling goroutine.
	prev  Level
	taken [2]bool      // warn, critical profile due this episode
	last  [2]time.Time // when the last profile of each level was started

	mu      sync.Mutex
	running bool
	closed  bool
	pending []profileRequest
	wg      sync.WaitGroup
	written int // profiles written (tests)
}

func newHeapProfiler(cfg heapProfileConfig, log *slog.Logger) profiler {
	return &heapProfiler{cfg: cfg, log: log}
}

// writeHeapProfile writes the heap profile in the pprof format (debug 0:
// gzip-compressed protobuf; no runtime.ReadMemStats, so no stop-the-world).
func writeHeapProfile(w io.Writer) error { return pprof.Lookup("heap").WriteTo(w, 0) }

// observe starts a profile when the level of a judged sample rose to warn
// or critical for the first time in the episode and the last one of that
// level is old enough.
func (p *heapProfiler) observe(s *Snapshot) {
	prev := p.prev
	p.prev = s.Level
	if s.Level == LevelOK {
		p.taken = [2]bool{}
		return
	}
	if s.Level <= prev || s.Level < LevelWarn {
		return
	}
	i := int(s.Level - LevelWarn)
	if p.taken[i] {
		return
	}
	p.taken[i] = true
	if !p.last[i].IsZero() && s.Time.Sub(p.last[i]) < p.cfg.every {
		p.log.Debug("memwatch: heap profile skipped: the last one is recent", "level", s.Level, "last", p.last[i])
		return
	}
	p.last[i] = s.Time
	p.start(profileRequest{level: s.Level, at: s.Time})
}

// start writes r on the profile goroutine, or queues it behind the running
// write (at most one per level waits).
func (p *heapProfiler) start(r profileRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.running {
		p.pending = slices.DeleteFunc(p.pending, func(q profileRequest) bool { return q.level == r.level })
		p.pending = append(p.pending, r)
		return
	}
	p.running = true
	p.wg.Add(1)
	go p.loop(r)
}

func (p *heapProfiler) loop(r profileRequest) {
	defer p.wg.Done()
	for {
		p.write(r)
		p.mu.Lock()
		if p.closed || len(p.pending) == 0 {
			p.running, p.pending = false, nil
			p.mu.Unlock()
			return
		}
		r = p.pending[0]
		p.pending = p.pending[1:]
		p.mu.Unlock()
	}
}

// close stops starting profiles and waits for a running write.
func (p *heapProfiler) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

// write writes one profile under a temporary name, renames it into place
// and removes the oldest beyond the number kept.
func (p *heapProfiler) write(r profileRequest) {
	name := heapProfilePrefix + r.at.UTC().Format(heapProfileTimeFormat) + "-" + r.level.String() + heapProfileSuffix
	path := filepath.Join(p.cfg.dir, name)
	tmp := path + ".tmp"
	t0 := time.Now()
	err := p.writeFile(tmp)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		p.log.Warn("memwatch: heap profile not written", "path", path, "err", err)
		return
	}
	took := time.Since(t0)
	p.mu.Lock()
	p.written++
	p.mu.Unlock()
	p.log.Info("memwatch: heap profile written", "path", path, "level", r.level, "took", took.String())
	p.prune()
}

func (p *heapProfiler) writeFile(tmp string) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	err = p.cfg.write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// prune removes our profiles beyond the newest cfg.keep, and temporary
// files of ours left by a writer that was killed. Other files are never
// touched.
func (p *heapProfiler) prune() {
	ents, err := os.ReadDir(p.cfg.dir) // sorted by name, so by time
	if err != nil {
		p.log.Warn("memwatch: cannot list the heap profiles", "dir", p.cfg.dir, "err", err)
		return
	}
	var profiles []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, heapProfilePrefix) || !e.Type().IsRegular() {
			continue
		}
		switch {
		case strings.HasSuffix(name, heapProfileSuffix):
			profiles = append(profiles, name)
		case strings.HasSuffix(name, heapProfileSuffix+".tmp"):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > heapProfileStaleTmp {
				os.Remove(filepath.Join(p.cfg.dir, name))
			}
		}
	}
	for _, name := range profiles[:max(len(profiles)-p.cfg.keep, 0)] {
		if err := os.Remove(filepath.Join(p.cfg.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("memwatch: cannot remove an old heap profile", "path", name, "err", err)
		}
	}
}
