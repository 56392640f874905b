package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-memwatch/memwatch/memwatch"
	"golang.org/x/sys/unix"
)

// runWorker is the service under test. It joins its cgroup before anything
// else, applies its policy, then serves requests until the run ends,
// reporting progress on stdout. It returns the exit status.
func runWorker(raw string) int {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "oomlab worker: bad %s: %v\n", envWorker, err)
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	fail := func(err error) int {
		_ = out.Encode(progress{Done: true, Err: err.Error()})
		return 1
	}
	procs := filepath.Join(cfg.CgroupDir, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fail(fmt.Errorf("joining the cgroup: %w", err))
	}

	c := newCache(uint64(cfg.Scenario.Cache * float64(cfg.Limit)))
	var ev events
	w, stopPolicy, err := applyPolicy(cfg, c, &ev)
	if err != nil {
		return fail(err)
	}
	defer stopPolicy()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	var offHeap []byte
	if cfg.Scenario.Mmap > 0 {
		if offHeap, err = mapAndTouch(uint64(cfg.Scenario.Mmap * float64(cfg.Limit))); err != nil {
			return fail(err)
		}
		defer unix.Munmap(offHeap)
	}
	churnErr := make(chan error, 1)
	if cfg.Scenario.PageCache {
		wg.Go(func() { churnErr <- churnPageCache(ctx, cfg.PageCacheFile) })
	}
	var limitSeen atomic.Int64
	if cfg.Scenario.StartLimit > 1 {
		wg.Go(func() { watchMemLimit(ctx, int64(cfg.Limit), &limitSeen) })
	}
	var sidecarGone atomic.Pointer[string]
	if cfg.Scenario.Sidecar > 0 {
		stop, err := startSidecar(cfg, &sidecarGone)
		if err != nil {
			return fail(err)
		}
		defer stop()
	}
	if cfg.Scenario.Spike > 0 {
		wg.Go(func() { spike(ctx, cfg, &ev) })
	}

	var ops atomic.Uint64
	var sink atomic.Uint64
	for i := range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			rng := uint64(i)*0x9E3779B97F4A7C15 + 1
			var n, sum uint64
			for ctx.Err() == nil {
				sum += request(c, &rng, cfg.Garbage)
				if n++; n == 64 {
					ops.Add(n)
					n = 0
				}
			}
			ops.Add(n)
			sink.Add(sum)
		})
	}

	var snap memwatch.Snapshot
	m := newMeter()
	start := time.Now()
	ramp := cfg.Duration / 2
	base := m.read(0)
	steady := false
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-tick.C:
		case err = <-churnErr:
			if err == nil {
				err = errors.New("page-cache churn stopped")
			}
		}
		elapsed := time.Since(start)
		c.setRamp(min(1, float64(elapsed)/float64(ramp)))
		now := m.read(ops.Load())
		if !steady && elapsed >= ramp {
			steady, base = true, now
		}
		done := elapsed >= cfg.Duration || err != nil
		p := progress{
			Elapsed:    elapsed,
			Steady:     steady,
			SteadyWall: now.at.Sub(base.at),
			Ops:        now.ops - base.ops,
			CPU:        now.cpu - base.cpu,
			GCCPU:      gcFraction(base, now),
			CacheBytes: c.bytes(),
			ShedBytes:  c.shedBytes.Load(),
			ShedCalls:  c.shedCalls.Load(),
			MemLimit:   now.memLimit,
			GOGC:       now.gogc,
			LimitSeen:  limitSeen.Load(),
			SpikeAt:    ev.spikeAt.Load(),
			SpikeDone:  ev.spikeDone.Load(),
			SpikeWarn:  ev.spikeWarn.Load(),
			SpikeShed:  ev.spikeShed.Load(),
			Done:       done,
		}
		if l := ev.spikeLevel.Load(); l != nil {
			p.SpikeLevel = *l
		}
		if g := sidecarGone.Load(); g != nil {
			p.SidecarGone = *g
		}
		if w != nil && w.LatestInto(&snap) {
			a := &snap.Actions
			p.Actions = actionCounts{MemLimit: a.MemLimitChanges, GOGC: a.GOGCChanges,
				FreeOSMemory: a.FreeOSMemoryCount, Shed: a.ShedAdvisories}
		}
		if err != nil {
			p.Err = err.Error()
		}
		if err := out.Encode(p); err != nil || done {
			runtime.KeepAlive(offHeap)
			if err != nil || p.Err != "" {
				return 1
			}
			return 0
		}
	}
}

// events is what the worker records of memwatch's callbacks, for the spike
// scenario: the level in force and when the first warning and the first
// advice to shed reached the application after the spike began.
type events struct {
	watching   bool         // a memwatch policy: level is memwatch's
	level      atomic.Int32 // memwatch.Level
	spikeAt    atomic.Int64 // Unix ns
	spikeDone  atomic.Int64
	spikeLevel atomic.Pointer[string]
	spikeWarn  atomic.Int64
	spikeShed  atomic.Int64
}

// afterSpike stores now in t if the spike has begun and t is not yet set.
func (ev *events) afterSpike(t *atomic.Int64) {
	if ev.spikeAt.Load() != 0 {
		t.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// applyPolicy sets the worker's memory policy up and returns what undoes it.
func applyPolicy(cfg workerConfig, c *cache, ev *events) (w *memwatch.Watcher, stop func(), err error) {
	p := cfg.Policy
	switch {
	case p.Base == policyNone:
		return nil, func() {}, nil
	case p.Base == policyStatic:
		// automemlimit's documented default: 90% of the cgroup limit, set
		// once at start.
		if _, err := memlimit.Set(memlimit.WithRatio(0.9), memlimit.WithProvider(memlimit.FromCgroup)); err != nil {
			return nil, nil, fmt.Errorf("automemlimit: %w", err)
		}
		return nil, func() {}, nil
	case p.memwatch():
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		interval := cfg.Interval
		if p.Interval > 0 {
			interval = p.Interval
		}
		ev.watching = true
		opts := []memwatch.WatcherOption{
			memwatch.WithLogger(log),
			memwatch.WithInterval(interval),
			memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()),
			memwatch.WithFreeOSMemory(0, 0),
			memwatch.OnLevel(func(_, new memwatch.Level, _ *memwatch.Snapshot) {
				ev.level.Store(int32(new))
				if new >= memwatch.LevelWarn {
					ev.afterSpike(&ev.spikeWarn)
				}
			}),
		}
		if p.sheds() {
			opts = append(opts, memwatch.OnShed(func(sig memwatch.ShedSignal, _ *memwatch.Snapshot) {
				ev.afterSpike(&ev.spikeShed)
				c.shed(sig.Bytes)
			}))
		}
		if p.NoEvents {
			opts = append(opts, memwatch.WithEvents(false))
		}
		if p.HasPollCheck {
			opts = append(opts, memwatch.WithPollCheck(p.PollCheck))
		}
		if p.gogc() && p.Aim == 0 {
			opts = append(opts, memwatch.WithAdaptiveGOGC(memwatch.DefaultGOGCPolicy()))
		}
		w, err := memwatch.New(opts...)
		if err != nil {
			return nil, nil, err
		}
		if err := w.Start(context.Background()); err != nil {
			w.Stop()
			return nil, nil, err
		}
		if p.gogc() && p.Aim > 0 {
			stopAim := aimGOGC(w, p.Aim)
			return w, func() { stopAim(); w.Stop() }, nil
		}
		return w, w.Stop, nil
	}
	return nil, nil, fmt.Errorf("unknown policy %q", p.Name)
}

// aimGOGC is the lab's stand-in for an adaptive GOGC that aims below the
// budget: on every new snapshot of w it sets GOGC to
// DefaultGOGCPolicy().Decide(s, aim × budget), with the library's rule of
// changing it only when it moves by more than 1%. It polls the publication
// every 2 ms (samples are at least 10 ms apart), so it acts at most 2 ms
// after the library would. The returned function stops it and restores
// GOGC 100 (workers start with the default).
func aimGOGC(w *memwatch.Watcher, aim float64) (stop func()) {
	const orig = 100
	pol := memwatch.DefaultGOGCPolicy()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var snap memwatch.Snapshot
		var last time.Time
		cur := orig
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if !w.LatestInto(&snap) || snap.Time.Equal(last) {
				continue
			}
			last = snap.Time
			v := orig
			if b := snap.Actions.MemLimitBudget; b > 0 && b < memwatch.NoMemLimit {
				v = pol.Decide(&snap, uint64(aim*float64(b)))
			}
			if math.Abs(float64(v-cur)) > 0.01*float64(cur) {
				debug.SetGCPercent(v)
				cur = v
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		debug.SetGCPercent(orig)
	}
}

// spike is the spike scenario's one large request: at SpikeAt it allocates
// Spike×L at once, touches every page (fresh memory from the OS is charged
// when touched) and holds it for SpikeHold, then drops it.
func spike(ctx context.Context, cfg workerConfig, ev *events) {
	s := cfg.Scenario
	at := time.Duration(s.SpikeAt * float64(cfg.Duration))
	hold := time.Duration(s.SpikeHold * float64(cfg.Duration))
	start := time.Now()
	select {
	case <-ctx.Done():
		return
	case <-time.After(at):
	}
	if ev.watching {
		level := memwatch.Level(ev.level.Load()).String()
		ev.spikeLevel.Store(&level)
	}
	ev.spikeAt.Store(time.Now().UnixNano())
	buf := make([]byte, uint64(s.Spike*float64(cfg.Limit)))
	for i := 0; i < len(buf); i += os.Getpagesize() {
		buf[i] = 1
	}
	ev.spikeDone.Store(time.Now().UnixNano())
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(start.Add(at + hold))):
	}
	runtime.KeepAlive(buf)
}

// startSidecar starts the sidecar scenario's second process: this program
// again, as a child, so it is born in the worker's cgroup. It dies with the
// worker (Pdeathsig). gone receives how it ended if it ends before stop is
// called; stop kills it and waits.
func startSidecar(cfg workerConfig, gone *atomic.Pointer[string]) (stop func(), err error) {
	s := cfg.Scenario
	raw, err := json.Marshal(sidecarConfig{
		Bytes: uint64(s.Sidecar * float64(cfg.Limit)),
		From:  time.Duration(s.SidecarFrom * float64(cfg.Duration)),
		To:    time.Duration(s.SidecarTo * float64(cfg.Duration)),
	})
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(workerEnv(), envSidecar+"="+string(raw))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the sidecar: %w", err)
	}
	var stopping atomic.Bool
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		err := cmd.Wait()
		if !stopping.Load() {
			msg := "exited"
			if err != nil {
				msg = err.Error()
			}
			gone.Store(&msg)
		}
	}()
	return func() {
		stopping.Store(true)
		_ = cmd.Process.Kill()
		<-exited
	}, nil
}

// runSidecar is the sidecar: it maps raw's Bytes of anonymous memory and
// touches it linearly between From and To after its start, then holds it
// until killed.
func runSidecar(raw string) int {
	var cfg sidecarConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "oomlab sidecar: bad %s: %v\n", envSidecar, err)
		return 2
	}
	b, err := unix.Mmap(-1, 0, int(cfg.Bytes), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		fmt.Fprintf(os.Stderr, "oomlab sidecar: mmap %d bytes: %v\n", cfg.Bytes, err)
		return 1
	}
	page := os.Getpagesize()
	start := time.Now()
	touched := 0
	for touched < len(b) {
		time.Sleep(10 * time.Millisecond)
		frac := 1.0
		if span := cfg.To - cfg.From; span > 0 {
			frac = min(1, max(0, float64(time.Since(start)-cfg.From)/float64(span)))
		}
		for upTo := int(frac * float64(len(b))); touched < upTo; touched += page {
			b[touched] = 1
		}
	}
	for {
		time.Sleep(time.Hour)
	}
}

// mapAndTouch maps anonymous memory the Go runtime does not know about (as
// cgo or a memory-mapped index would) and touches every page.
func mapAndTouch(n uint64) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", n, err)
	}
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	return b, nil
}

// churnPageCache reads the file in 1 MiB chunks, round and round, and
// rewrites every eighth chunk, syncing every 8 MiB written: clean and dirty
// page cache charged to the cgroup at about 200 MiB/s.
func churnPageCache(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	const chunk = 1 << 20
	size := fi.Size() / chunk * chunk
	if size == 0 {
		return fmt.Errorf("%s: smaller than 1 MiB", path)
	}
	buf := make([]byte, chunk)
	var off int64
	var n, dirty int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for range 2 {
			if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
				return err
			}
			if n++; n%8 == 0 {
				buf[0]++
				if _, err := f.WriteAt(buf, off); err != nil {
					return err
				}
				if dirty += chunk; dirty >= 8<<20 {
					if err := unix.Fdatasync(int(f.Fd())); err != nil {
						return fmt.Errorf("fdatasync %s: %w", path, err)
					}
					dirty = 0
				}
			}
			off = (off + chunk) % size
		}
	}
}

// watchMemLimit records when GOMEMLIMIT first goes to or below limit.
func watchMemLimit(ctx context.Context, limit int64, seen *atomic.Int64) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if debug.SetMemoryLimit(-1) <= limit {
			seen.Store(time.Now().UnixNano())
			return
		}
	}
}

// meter reads the process's CPU time and the runtime's GC CPU estimate.
type meter struct {
	samples []metrics.Sample
}

type reading struct {
	at              time.Time
	ops             uint64
	cpu             float64 // process user+sys seconds
	gc, total, idle float64 // runtime/metrics /cpu/classes/... seconds
	gogc            int     // /gc/gogc:percent (read, never set: that would race the policy)
	memLimit        int64   // /gc/gomemlimit:bytes
}

func newMeter() *meter {
	return &meter{samples: []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"},
		{Name: "/gc/gogc:percent"},
		{Name: "/gc/gomemlimit:bytes"},
	}}
}

func (m *meter) read(ops uint64) reading {
	metrics.Read(m.samples)
	r := reading{at: time.Now(), ops: ops}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		r.cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	vals := []*float64{&r.gc, &r.total, &r.idle}
	for i, s := range m.samples {
		switch {
		case i < len(vals) && s.Value.Kind() == metrics.KindFloat64:
			*vals[i] = s.Value.Float64()
		case s.Name == "/gc/gogc:percent" && s.Value.Kind() == metrics.KindUint64:
			r.gogc = int(s.Value.Uint64())
		case s.Name == "/gc/gomemlimit:bytes" && s.Value.Kind() == metrics.KindUint64:
			r.memLimit = int64(min(s.Value.Uint64(), math.MaxInt64))
		}
	}
	return r
}

// gcFraction is the GC's share of the CPU the Go runtime used (total minus
// idle) between two readings, from the runtime's own estimates.
func gcFraction(a, b reading) float64 {
	used := (b.total - b.idle) - (a.total - a.idle)
	if used <= 0 {
		return 0
	}
	return (b.gc - a.gc) / used
}
