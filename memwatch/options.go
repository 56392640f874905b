package memwatch

import (
	"log/slog"
	"time"
)

// Option configures NewSampler and Read (and, later, the Watcher).
type Option func(*options)

// options collects every setting of the package. It is one struct because Go
// cannot split a struct across files: each part of the package adds its
// fields in its own section below and its With... functions in its own file.
type options struct {
	// ---- sampler options (snapshot.go, options.go) ----

	// root is the directory under which /proc and /sys are resolved ("/" in
	// production; a fixture tree in tests).
	root string
	// exactMemStats makes every Sample also call runtime.ReadMemStats, which
	// stops the world, to fill the MemStats-compatible fields exactly.
	exactMemStats bool

	// ---- watcher options (watcher.go and friends add their fields here) ----

	interval, minInterval time.Duration
	logger                *slog.Logger
	warn, critical, hyst  float64
	basis                 Basis
	fullEvery             int
	events                bool
	stopTimeout           time.Duration
	queueSize             int
	onLevel               func(old, new Level, s *Snapshot)
	onOOMKill             func(delta uint64, s *Snapshot)
	onLimitChange         func(old, new uint64, s *Snapshot)
	onHigh                func(s *Snapshot)

	// ---- action options (actions.go) ----

	memLimitPolicy    *MemLimitPolicy
	gogcPolicy        *GOGCPolicy
	freeOS            bool
	freeOSMinInterval time.Duration
	freeOSMinBytes    uint64
	onShed            func(sig ShedSignal, s *Snapshot)
	overrideEnvLimit  bool
	lookupEnv         func(string) (string, bool)
	wontFit           WontFitAction
	exit              func(code int)
}

func defaultOptions() options {
	return options{
		root:        "/",
		interval:    time.Second,
		minInterval: 100 * time.Millisecond,
		warn:        0.80,
		critical:    0.90,
		hyst:        0.05,
		basis:       BasisWorkingSet,
		fullEvery:   5,
		events:      true,
		stopTimeout: 2 * time.Second,
		queueSize:   64,
		lookupEnv:   defaultLookupEnv,
		exit:        defaultExit,
	}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.root == "" {
		o.root = "/"
	}
	return o
}

// WithRoot resolves every kernel path (/proc/..., /sys/fs/cgroup/...) under
// dir, like a chroot. The default is "/". Tests point it at fixture trees
// copied from real kernels; the Go runtime view is always the live one.
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithExactMemStats makes each Sample also call runtime.ReadMemStats and take
// GoStats.Alloc, Sys and HeapReleased from it. ReadMemStats stops the world
// (milliseconds with a large heap while the GC runs); the default (false)
// derives those fields from runtime/metrics by the runtime's documented
// mapping, which never stops the world.
func WithExactMemStats(exact bool) Option { return func(o *options) { o.exactMemStats = exact } }
