package memwatch

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// Each entry point takes the options that mean something to it, so that a
// meaningless option does not compile:
//
//   - [NewSampler] and [Read] take a [SamplerOption] (where and how to read);
//   - [New] takes a [WatcherOption]: every SamplerOption (the Watcher owns a
//     Sampler), plus sampling, levels, callbacks and actions.
//
// Option values are checked by NewSampler, Read and New, which return an
// error naming the option instead of silently replacing a bad value.

// SamplerOption configures [NewSampler] and [Read]. Every SamplerOption is
// also a [WatcherOption].
type SamplerOption interface {
	WatcherOption
	applySampler(*samplerConfig)
}

// WatcherOption configures [New].
type WatcherOption interface {
	applyWatcher(*watcherConfig)
}

// samplerConfig is what a Sampler needs.
type samplerConfig struct {
	// root is the directory under which /proc and /sys are resolved ("/" in
	// production; a fixture tree in tests).
	root string
	// procRoot and cgRoot are the readers' WithRoot options, set only by
	// WithRoot (nil: the real root), so that a program that never calls
	// WithRoot does not link the containment code of the readers' roots
	// (12.5 KB of binary).
	procRoot procstat.Option
	cgRoot   cgroupstat.Option
	// readMemStats is runtime.ReadMemStats when every Sample must also call
	// it (WithExactMemStats), nil otherwise: set only by that option, so
	// that a program that never calls it does not link ReadMemStats.
	readMemStats func(*runtime.MemStats)
}

// watcherConfig is what New needs: the sampler's configuration and that of
// each part of the Watcher.
type watcherConfig struct {
	sampler  samplerConfig
	tracker  trackerConfig
	actuator actuatorConfig
	// callbacks is the *handlers the On... options fill (see handlersOf).
	callbacks unsafe.Pointer
	// The operator's reports: log lines and the termination message
	// (lastwords.go, termination.go).
	lastWords   lastWordsConfig
	termination terminationConfig

	logger      *slog.Logger
	events      bool
	fullEvery   int
	stopTimeout time.Duration
	queueSize   int
	// pollEvery is how often, between samples, the Watcher re-reads usage
	// and limit alone (poll-only mode); 0 disables the check.
	pollEvery time.Duration

	errs []error // option values that cannot be used
}

type samplerOption func(*samplerConfig)

func (f samplerOption) applySampler(c *samplerConfig) { f(c) }
func (f samplerOption) applyWatcher(c *watcherConfig) { f(&c.sampler) }

type watcherOption func(*watcherConfig)

func (f watcherOption) applyWatcher(c *watcherConfig) { f(c) }

func defaultSamplerConfig() samplerConfig { return samplerConfig{root: "/"} }

// Defaults of the Watcher options.
const (
	// DefaultInterval is the nominal sampling interval (WithInterval).
	DefaultInterval = time.Second
	// DefaultMinInterval is the floor of the adaptive interval
	// (WithMinInterval).
	DefaultMinInterval = 100 * time.Millisecond
	// MinInterval is the shortest interval WithInterval and
	// WithMinInterval accept: sampling more often costs CPU for no
	// protection (the kernel wake-ups are faster anyway).
	MinInterval = 10 * time.Millisecond
	// DefaultPollCheck is how often a Watcher without kernel wake-ups
	// re-reads usage and limit between samples (WithPollCheck).
	DefaultPollCheck = 50 * time.Millisecond
)

func defaultWatcherConfig() watcherConfig {
	return watcherConfig{
		sampler: defaultSamplerConfig(),
		tracker: trackerConfig{
			measure:     MeasureWorkingSet,
			warn:        0.80,
			critical:    0.90,
			hyst:        0.05,
			interval:    DefaultInterval,
			minInterval: DefaultMinInterval,
		},
		actuator: actuatorConfig{
			lookupEnv: os.LookupEnv,
			exit:      os.Exit,
		},
		lastWords:   lastWordsConfig{every: LastWordsInterval},
		events:      true,
		fullEvery:   5,
		stopTimeout: 2 * time.Second,
		queueSize:   64,
		pollEvery:   DefaultPollCheck,
	}
}

// procOpts returns the procstat options of c: its root, if any.
func (c *samplerConfig) procOpts() []procstat.Option {
	if c.procRoot == nil {
		return nil
	}
	return []procstat.Option{c.procRoot}
}

// cgOpts returns the cgroupstat options of c: its root, if any.
func (c *samplerConfig) cgOpts() []cgroupstat.Option {
	if c.cgRoot == nil {
		return nil
	}
	return []cgroupstat.Option{c.cgRoot}
}

func buildSamplerConfig(opts []SamplerOption) samplerConfig {
	c := defaultSamplerConfig()
	for _, o := range opts {
		if o != nil {
			o.applySampler(&c)
		}
	}
	if c.root == "" {
		c.root = "/"
	}
	return c
}

// buildWatcherConfig applies opts to the defaults and checks the result.
func buildWatcherConfig(opts []WatcherOption) (watcherConfig, error) {
	c := defaultWatcherConfig()
	for _, o := range opts {
		if o != nil {
			o.applyWatcher(&c)
		}
	}
	if c.sampler.root == "" {
		c.sampler.root = "/"
	}
	t := &c.tracker
	if !(t.warn > 0 && t.warn < t.critical && t.critical <= 1) { // false for NaN
		c.errs = append(c.errs, errorf("WithThresholds(%v, %v): need 0 < warn < critical ≤ 1", t.warn, t.critical))
	}
	if !(t.hyst >= 0 && t.hyst < t.warn) {
		c.errs = append(c.errs, errorf("WithHysteresis(%v): need 0 ≤ hysteresis < warn (%v)", t.hyst, t.warn))
	}
	if t.interval < MinInterval {
		c.errs = append(c.errs, errorf("WithInterval(%v): below the %v floor", t.interval, MinInterval))
	}
	if t.minInterval < MinInterval {
		c.errs = append(c.errs, errorf("WithMinInterval(%v): below the %v floor", t.minInterval, MinInterval))
	}
	if t.minInterval > t.interval {
		t.minInterval = t.interval // a floor above the nominal interval means "never faster"
	}
	if t.measure > MeasureGoMemLimit {
		c.errs = append(c.errs, errorf("WithMeasure(%d): unknown measure", t.measure))
	}
	if c.fullEvery < 1 {
		c.errs = append(c.errs, errorf("WithFullEvery(%d): need ≥ 1", c.fullEvery))
	}
	if c.stopTimeout <= 0 {
		c.errs = append(c.errs, errorf("WithStopTimeout(%v): need > 0", c.stopTimeout))
	}
	if c.pollEvery < 0 || (c.pollEvery > 0 && c.pollEvery < time.Millisecond) {
		c.errs = append(c.errs, errorf("WithPollCheck(%v): need 0 (off) or ≥ 1ms", c.pollEvery))
	}
	c.errs = append(c.errs, c.actuator.validate()...)
	c.errs = append(c.errs, c.termination.validate()...)
	if len(c.errs) > 0 {
		return c, errorf("memwatch: %w", errors.Join(c.errs...))
	}
	return c, nil
}

// ---- Sampler options (also accepted by New) ----

// WithRoot resolves every kernel path (/proc/..., /sys/fs/cgroup/...) under
// dir, like a chroot. The default is "/". Tests point it at fixture trees
// copied from real kernels; the Go runtime view is always the live one.
func WithRoot(dir string) SamplerOption {
	return samplerOption(func(c *samplerConfig) {
		c.root = dir
		c.procRoot, c.cgRoot = procstat.WithRoot(dir), cgroupstat.WithRoot(dir)
	})
}

// WithExactMemStats makes each Sample also call [runtime.ReadMemStats] and
// take GoStats.Alloc, Sys and HeapReleased from it. ReadMemStats stops the
// world (milliseconds with a large heap while the GC runs); the default
// (false) derives those fields from [runtime/metrics] by the runtime's
// documented mapping, which never stops the world.
func WithExactMemStats(exact bool) SamplerOption {
	return samplerOption(func(c *samplerConfig) {
		c.readMemStats = nil
		if exact {
			c.readMemStats = runtime.ReadMemStats
		}
	})
}

// ---- Watcher options: sampling and levels ----

// WithInterval sets the nominal sampling interval (default
// [DefaultInterval], at least [MinInterval]). The Watcher samples more
// often as the forecast time to the limit shrinks (see [Watcher]).
func WithInterval(d time.Duration) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.tracker.interval = d })
}

// WithMinInterval sets the floor of the adaptive interval (default
// [DefaultMinInterval], at least [MinInterval]; a floor above the nominal
// interval is lowered to it). Kernel wake-ups may sample sooner, but not
// more often than every tenth of the floor.
func WithMinInterval(d time.Duration) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.tracker.minInterval = d })
}

// WithPollCheck sets how often, at most, a Watcher that has no kernel
// usage thresholds (a read-only cgroupfs, as in most containers, or cgroup
// v2) re-reads only the cgroup's usage and limit between samples — two
// preads, a few microseconds — and samples at once when usage rose into a
// higher threshold band or the limit changed (default [DefaultPollCheck];
// 0 turns the check off, leaving the adaptive interval alone). The check
// runs that often only close to a threshold: further below, the period is
// the time the usage would need to reach the next threshold growing by two
// limits per second, up to the sampling interval. Without a limit only
// the samples run. With v1 usage thresholds from the kernel the check is
// not needed and does not run.
func WithPollCheck(d time.Duration) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.pollEvery = d })
}

// WithLogger sets the logger of the Watcher (default: discard, so that a
// library's Watcher stays silent unless given one). What it logs at Warn and
// Error is what an operator must see before an OOM kill (see "Last words"
// in [Watcher]), rate-limited and quiet while memory is fine; dropped or
// panicking callbacks are logged at Warn/Error, the actions' changes at
// Info, a missing cgroup at Debug.
func WithLogger(l *slog.Logger) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.logger = l })
}

// WithThresholds sets the warn and critical levels as fractions of the limit
// (defaults 0.80 and 0.90). New fails unless 0 < warn < critical ≤ 1.
func WithThresholds(warn, critical float64) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.tracker.warn, c.tracker.critical = warn, critical })
}

// WithHysteresis sets how far (as a fraction of the limit, default 0.05) the
// measure must fall below a threshold before the level drops back. New
// fails unless 0 ≤ h < warn.
func WithHysteresis(h float64) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.tracker.hyst = h })
}

// WithMeasure chooses what is compared with the limit (default
// [MeasureWorkingSet]).
func WithMeasure(m Measure) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.tracker.measure = m })
}

// WithFullEvery makes every n-th sample a full one (memory.stat, events,
// PSI, /proc/self/status, meminfo; default 5, New fails below 1). At
// [LevelWarn] and above, and after a kernel wake-up, every sample is full.
func WithFullEvery(n int) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.fullEvery = n })
}

// WithEvents enables or disables kernel wake-ups (default enabled; see
// [Watcher]). Disabled, the Watcher only polls.
func WithEvents(on bool) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.events = on })
}

// WithStopTimeout bounds how long Stop waits for a running callback (default
// 2s; New fails unless > 0); a callback still running then is abandoned
// (see [Watcher.Stop]).
func WithStopTimeout(d time.Duration) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.stopTimeout = d })
}

// ---- Watcher options: callbacks ----
//
// Each On... option may be given more than once: every function is called,
// in the order the options were given, one at a time (see "Callbacks" in
// [Watcher]). A nil function is ignored.

// OnLevel registers a function called when the Level changes (including
// the first judgement, from [LevelUnknown]). It may be given more than
// once.
func OnLevel(f func(old, new Level, s *Snapshot)) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if f != nil {
			h := handlersToAdd(c)
			h.onLevel = append(h.onLevel, f)
		}
	})
}

// OnOOMKill registers a function called when the cgroup's oom_kill counter
// rises (v2 memory.events, v1 memory.oom_control; seen on full samples)
// with the increase. The kill may have hit another process of the cgroup.
// It may be given more than once.
func OnOOMKill(f func(delta uint64, s *Snapshot)) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if f != nil {
			h := handlersToAdd(c)
			h.onOOMKill = append(h.onOOMKill, f)
		}
	})
}

// OnLimitChange registers a function called when the effective hard limit
// changes. A missing limit is [cgroupstat.Unlimited]. It may be given more
// than once.
func OnLimitChange(f func(old, new uint64, s *Snapshot)) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if f != nil {
			h := handlersToAdd(c)
			h.onLimitChange = append(h.onLimitChange, f)
		}
	})
}

// OnHigh registers a function called when usage crosses memory.high upward
// or the v2 memory.events "high" counter rises: the kernel is throttling
// the cgroup (v2 only; v1 has no memory.high). It may be given more than
// once.
func OnHigh(f func(s *Snapshot)) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if f != nil {
			h := handlersToAdd(c)
			h.onHigh = append(h.onHigh, f)
		}
	})
}

// OnShed registers a function called (through the callback goroutine, see
// [Watcher]) when [ShedAdvice] against the memory budget starts advising to
// shed live data, or when the advised amount grows by more than 10% (and 1
// MiB) over the last call; not on every sample. The budget is that of the
// [WithAdaptiveMemLimit] policy ([DefaultMemLimitPolicy] without it).
// s.Actions holds the same signal. It may be given more than once.
func OnShed(f func(sig ShedSignal, s *Snapshot)) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if f != nil {
			h := handlersToAdd(c)
			h.onShed = append(h.onShed, f)
		}
	})
}

// ---- Watcher options: actions (see actuator.go) ----

// WithAdaptiveMemLimit makes the Watcher set GOMEMLIMIT
// ([runtime/debug.SetMemoryLimit]) to p.Decide of every sample. The limit
// is changed only when the decision moves by more than 1% or 1 MiB
// (whichever is larger), so the runtime is not churned by noise. When the
// decision has no limit (Set false: no cgroup limit and no host fallback)
// the GOMEMLIMIT in force at Start is put back. Stop restores the
// GOMEMLIMIT in force at Start.
//
// A GOMEMLIMIT given in the environment wins: the Watcher then leaves the
// limit alone (Actions.MemLimitReason says so) unless
// WithOverrideEnvGOMEMLIMIT(true). New fails when p has a value outside
// its documented range (see [MemLimitPolicy]).
//
// memwatch owns only what it changes. When GOMEMLIMIT changes outside it
// (another library, an operator's debug.SetMemoryLimit), the next sample
// notices, logs once at Warn, and the Watcher stops managing the limit
// for good; Stop then leaves the other value in place. Of two Watchers in
// one process, the first manages GOMEMLIMIT and the second waits (its
// Actions.MemLimitReason says so) until the first stops, then takes over:
// a reload may start the new Watcher before stopping the old one. A sample
// whose cgroup view fails to read keeps GOMEMLIMIT as it is (and says so);
// only a known absence of a limit puts the original back. GOGC
// ([WithAdaptiveGOGC]) follows the same rules.
func WithAdaptiveMemLimit(p MemLimitPolicy) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.actuator.memLimit = &p })
}

// WithAdaptiveGOGC makes the Watcher set GOGC ([runtime/debug.SetGCPercent])
// to p.Decide(s, budget) on every sample, where budget is the
// MemLimitDecision Budget of the [WithAdaptiveMemLimit] policy
// ([DefaultMemLimitPolicy] without that option). GOGC is changed only when
// the value moves by more than 1%. Without a budget (no limit) the GOGC in
// force at Start is put back. When GOGC is off at Start (GOGC=off) the
// Watcher leaves it off. Stop restores the GOGC in force at Start.
//
// The trade: a raised GOGC lets the heap grow to the budget between
// collections, so the process holds about as much memory as it may. A
// limit lowered below what the process holds (an in-place resize) cannot be
// followed, however often it is re-read: cgroup v2 OOM-kills the process in
// the write that lowers memory.max, v1 refuses the write. In bench/oomlab,
// with a steady heap and the limit halved, this option died in 10 of 10
// runs on cgroup v2 where WithAdaptiveMemLimit alone survived 10 of 10;
// aiming GOGC at 70% or 50% of the budget instead saved 0 and 5 of 10 and
// doubled to tripled the GC's CPU (see "OOM lab findings" in
// docs/ARCHITECTURE.md). Use it where limits do not shrink under a running
// process.
func WithAdaptiveGOGC(p GOGCPolicy) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.actuator.gogc = &p })
}

// WithFreeOSMemory makes the Watcher call [runtime/debug.FreeOSMemory] at
// [LevelCritical] when [FreeOSMemoryWorthIt](s, minBytes), at most once per
// minInterval (values ≤ 0 mean 10s). FreeOSMemory forces a full GC; it runs
// on its own goroutine so sampling never waits for it, and never twice at
// once. Stop waits for a running one.
func WithFreeOSMemory(minInterval time.Duration, minBytes uint64) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if minInterval <= 0 {
			minInterval = 10 * time.Second
		}
		c.actuator.freeOS, c.actuator.freeOSMinInterval, c.actuator.freeOSMinBytes = true, minInterval, minBytes
		c.actuator.freeOSMemory = debug.FreeOSMemory
	})
}

// WithOverrideEnvGOMEMLIMIT lets [WithAdaptiveMemLimit] change GOMEMLIMIT
// even when the environment sets GOMEMLIMIT (default false: the environment
// wins).
func WithOverrideEnvGOMEMLIMIT(override bool) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.actuator.overrideEnvLimit = override })
}

// WithWontFitPolicy sets what the Watcher does when the live heap alone no
// longer fits the memory budget (see [WontFitAction]). The budget is that of
// the [WithAdaptiveMemLimit] policy ([DefaultMemLimitPolicy] without it). To
// react in code, use [OnShed] and test ShedSignal.WontFit.
func WithWontFitPolicy(a WontFitAction) WatcherOption {
	return watcherOption(func(c *watcherConfig) { c.actuator.wontFit = a })
}

// handlersOf returns the callbacks of c, creating them on first use.
//
// They are kept behind an unsafe.Pointer on purpose. The option types are
// converted to interfaces, and the linker keeps every method of every type
// it can reach from such a type's descriptor (it cannot tell what reflection
// might call). Through the callbacks' parameter types that reached
// *Snapshot, whose String and MarshalJSON then linked the text and JSON
// renderings into every program importing memwatch/auto, rendering or not:
// 83 KB of a 1.5 MB budget (scripts/binsize.sh). An untyped pointer ends
// that chain; handlersOf is the only place that converts it.
func handlersOf(c *watcherConfig) *handlers {
	if c.callbacks == nil {
		c.callbacks = unsafe.Pointer(new(handlers))
	}
	return (*handlers)(c.callbacks)
}

// ---- Watcher options: reports for operators ----

// DefaultTerminationMessagePath is where Kubernetes reads a container's
// termination message (the container's terminationMessagePath default).
const DefaultTerminationMessagePath = "/dev/termination-log"

// WithTerminationMessage makes the Watcher write its explanation to the
// container's termination message file when the level turns critical, so
// that after an OOM kill `kubectl describe pod` shows it under Last State
// (default off; memwatch/auto turns it on). path "" means
// [DefaultTerminationMessagePath]; New fails unless the path is absolute.
// The path is the container's, not resolved under [WithRoot].
//
// The message is plain text of at most 4096 bytes (the Kubernetes limit),
// cut at a UTF-8 boundary: when the critical episode began, the
// [Snapshot.Verdict], the largest attribution parts and the Go runtime's
// state (live heap, GOMEMLIMIT, the GC CPU limiter, advice to shed). It is
// written when the level turns critical, rewritten at most every 5 seconds
// while it stays critical (so that the message read after a kill is recent),
// kept while the level is warn, and cleared (the file truncated to 0 bytes)
// when the level falls back to ok. Stop leaves it as it is.
//
// The Watcher never creates the file: when it does not exist, is not a
// regular file, is a symbolic link or cannot be opened for writing, nothing
// is written (logged once: at Debug when it does not exist, at Warn
// otherwise). Each write opens the file (O_WRONLY|O_NOFOLLOW), writes the
// message over the old one, cuts the file to its length and closes it, on
// the sampling goroutine: 16–110 µs with the formatting, on ext4 and a
// loaded machine (BenchmarkTerminationMessage), so the message is in the
// file before the next sample, however soon the kill comes.
//
// Kubernetes shows the file's content when it is not empty; with
// terminationMessagePolicy FallbackToLogsOnError it shows the log tail only
// when the file is empty, so a cleared message lets the logs speak.
func WithTerminationMessage(path string) WatcherOption {
	return watcherOption(func(c *watcherConfig) {
		if path == "" {
			path = DefaultTerminationMessagePath
		}
		c.termination = terminationConfig{on: true, path: path}
	})
}

// finite reports whether f is neither NaN nor ±Inf.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// errorf is fmt.Errorf, not inlined. Since Go 1.26 fmt.Errorf is inlined,
// and so is its allocation of an errors.New for a format without verbs:
// each call site carried that code, 2.5 KB of the binary of every program
// importing memwatch/auto over the 20 sites (scripts/binsize.sh), all of
// them error paths.
//
//go:noinline
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
