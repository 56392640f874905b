// Package heapprof writes Go heap profiles when a [memwatch.Watcher] sees
// memory rise toward the cgroup limit, for `go tool pprof` after the fact:
//
//	p, err := heapprof.New(heapprof.Options{Dir: "/var/lib/myservice/profiles"})
//	...
//	w, err := memwatch.New(p.Option(), ...)
//
// A profile is written when the level rises to warn and when it rises to
// critical: at most one of each per episode (an episode ends when the level
// falls back to ok), and at most one per level every Options.MinInterval
// (one minute by default, so a level flapping around a threshold cannot
// fill the disk, while the critical profile is not held back by the warn
// one taken seconds before). Files are named
// memwatch-heap-20060102T150405.000Z-critical.pprof (UTC time of the
// sample, level), written under a temporary name and renamed when
// complete, and at most Options.Keep are kept: after each write the oldest
// files of this package beyond Keep are removed, and other files in the
// directory are never touched.
//
// # What a profile shows
//
// A profile is the pprof format of [runtime/pprof.Lookup]("heap").WriteTo
// (gzip-compressed protobuf): the Go heap's allocations sampled by the
// runtime (one every 512 KiB allocated on average,
// [runtime.MemProfileRate]), with their call stacks: in-use space and
// objects as of the last completed GC, and everything allocated since the
// process started. What it does not show: memory outside the Go heap,
// which is often what memwatch finds killing a process — cgo and C
// allocations, unix.Mmap, other processes of the container, page cache,
// tmpfs, kernel memory (the non-Go parts of the [memwatch.Attribution]) —
// nor the runtime's own overheads (goroutine stacks, metadata, free heap
// not yet returned). Read it beside the snapshot's attribution: a profile
// that accounts for far less than the usage points at those.
//
// # When and where it is written
//
// [Profiler.Option] registers a [memwatch.OnLevel] function, which the
// Watcher calls on its callback goroutine: off the sampling goroutine, one
// callback at a time. The profile is written there, synchronously, so
// there is no goroutine of this package to stop: [memwatch.Watcher.Stop]
// waits for a running write as for any callback (up to
// [memwatch.WithStopTimeout]; a write still running then finishes after
// Stop has returned). The Watcher's other callbacks wait for the
// write; at a rise to critical that includes [memwatch.OnShed] (the level
// change is queued first), so give p.Option() to New after your own
// OnLevel functions if they should run first. A level change the Watcher
// drops because its callback queue is full writes no profile.
//
// # Cost
//
// Writing a profile does not stop the world. Its cost follows the number of
// sampled allocation stacks, not the heap's bytes: BenchmarkHeapProfile
// measured 0.9–1.2 ms of CPU per profile with a 64 MiB heap and the same
// with 256 MiB (256 allocation stacks, 3.5–5 KiB profiles; 3 runs of 100
// profiles each), and 1.3–1.4 MB allocated per profile, mostly the gzip
// compressor's state: garbage at once, but charged while a process at
// critical is near its limit.
//
// This is a package of its own so that programs that do not write heap
// profiles do not link [runtime/pprof], whose package initialization alone
// (compress/flate, hash/crc32 and more) adds about 50 KB to every binary
// importing it.
package heapprof

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
)

// Options configures [New].
type Options struct {
	// Dir is the directory the profiles are written to. It must exist when
	// New is called; a relative path is made absolute then.
	Dir string
	// Keep is how many profiles are kept in Dir: after each write the
	// oldest files written by this package beyond Keep are removed (other
	// files are never touched). 0 means [DefaultKeep].
	Keep int
	// MinInterval is the shortest time between two profiles of the same
	// level, by the time of the samples. 0 means [DefaultMinInterval].
	MinInterval time.Duration
	// Logger receives "memwatch: heap profile written" at Info (with the
	// path, the level and the time taken), failures at Warn, and profiles
	// skipped by MinInterval at Debug. nil means no logging.
	Logger *slog.Logger
}

// Defaults of [Options].
const (
	DefaultKeep        = 5
	DefaultMinInterval = time.Minute
)

// File names: filePrefix + UTC time + "-" + level + fileSuffix, so that
// names sort by time.
const (
	filePrefix     = "memwatch-heap-"
	fileSuffix     = ".pprof"
	fileTimeFormat = "20060102T150405.000Z"
	// staleTmp is the age after which a temporary file of ours is a
	// leftover (its writer was killed) and is removed.
	staleTmp = 10 * time.Minute
)

// A Profiler writes heap profiles when the level of the Watcher it is given
// to ([Profiler.Option]) rises; see the package documentation. Give it to
// one Watcher at a time: the episodes it follows are that Watcher's.
type Profiler struct {
	dir   string
	keep  int
	every time.Duration
	log   *slog.Logger
	// write writes the heap profile (writeHeapProfile; tests replace it).
	write func(io.Writer) error

	mu    sync.Mutex   // held by levelChanged, write included
	taken [2]bool      // warn, critical profile due this episode
	last  [2]time.Time // sample time of the last profile of each level
}

// New checks o, applies its defaults and returns a Profiler. It fails when
// o.Dir is empty or not a directory, or o.Keep or o.MinInterval is
// negative; the error names each bad field.
func New(o Options) (*Profiler, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("heapprof: "+format, args...))
	}
	switch fi, err := os.Stat(o.Dir); {
	case o.Dir == "":
		bad("Dir is empty")
	case err != nil:
		bad("Dir %q: %w", o.Dir, err)
	case !fi.IsDir():
		bad("Dir %q: not a directory", o.Dir)
	default:
		abs, err := filepath.Abs(o.Dir)
		if err != nil {
			bad("Dir %q: %w", o.Dir, err)
		}
		o.Dir = abs
	}
	switch {
	case o.Keep < 0:
		bad("Keep %d: need ≥ 0 (0: %d)", o.Keep, DefaultKeep)
	case o.Keep == 0:
		o.Keep = DefaultKeep
	}
	switch {
	case o.MinInterval < 0:
		bad("MinInterval %v: need ≥ 0 (0: %v)", o.MinInterval, DefaultMinInterval)
	case o.MinInterval == 0:
		o.MinInterval = DefaultMinInterval
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Profiler{dir: o.Dir, keep: o.Keep, every: o.MinInterval, log: log, write: writeHeapProfile}, nil
}

// Option returns the [memwatch.WatcherOption] that makes a Watcher call p
// when its level changes ([memwatch.OnLevel]).
func (p *Profiler) Option() memwatch.WatcherOption { return memwatch.OnLevel(p.levelChanged) }

// writeHeapProfile writes the heap profile in the pprof format (debug 0:
// gzip-compressed protobuf; no runtime.ReadMemStats, so no stop-the-world).
func writeHeapProfile(w io.Writer) error { return pprof.Lookup("heap").WriteTo(w, 0) }

// levelChanged writes a profile when the level rose to warn or critical for
// the first time in the episode and the last one of that level is old
// enough.
func (p *Profiler) levelChanged(old, new memwatch.Level, s *memwatch.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if new == memwatch.LevelOK {
		p.taken = [2]bool{}
		return
	}
	if new <= old || new < memwatch.LevelWarn {
		return
	}
	i := int(new - memwatch.LevelWarn)
	if p.taken[i] {
		return
	}
	p.taken[i] = true
	if !p.last[i].IsZero() && s.Time.Sub(p.last[i]) < p.every {
		p.log.Debug("memwatch: heap profile skipped: the last one is recent", "level", new, "last", p.last[i])
		return
	}
	p.last[i] = s.Time
	p.writeProfile(new, s.Time)
}

// writeProfile writes one profile under a temporary name, renames it into
// place and removes the oldest beyond the number kept.
func (p *Profiler) writeProfile(level memwatch.Level, at time.Time) {
	path := filepath.Join(p.dir, filePrefix+at.UTC().Format(fileTimeFormat)+"-"+level.String()+fileSuffix)
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
	p.log.Info("memwatch: heap profile written", "path", path, "level", level, "took", time.Since(t0).String())
	p.prune()
}

func (p *Profiler) writeFile(tmp string) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	err = p.write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// prune removes our profiles beyond the newest p.keep, and temporary files
// of ours left by a writer that was killed. Other files are never touched.
func (p *Profiler) prune() {
	ents, err := os.ReadDir(p.dir) // sorted by name, so by time
	if err != nil {
		p.log.Warn("memwatch: cannot list the heap profiles", "dir", p.dir, "err", err)
		return
	}
	var profiles []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, filePrefix) || !e.Type().IsRegular() {
			continue
		}
		switch {
		case strings.HasSuffix(name, fileSuffix):
			profiles = append(profiles, name)
		case strings.HasSuffix(name, fileSuffix+".tmp"):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTmp {
				os.Remove(filepath.Join(p.dir, name))
			}
		}
	}
	for _, name := range profiles[:max(len(profiles)-p.keep, 0)] {
		if err := os.Remove(filepath.Join(p.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("memwatch: cannot remove an old heap profile", "path", name, "err", err)
		}
	}
}
