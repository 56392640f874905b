// Package auto starts a memwatch Watcher that keeps GOMEMLIMIT under the
// container's memory limit, when imported for its side effect:
//
//	import _ "github.com/go-memwatch/memwatch/memwatch/auto"
//
// Its init creates and starts a Watcher with default options and
// memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()): on every
// sample GOMEMLIMIT is set to the cgroup limit minus the measured non-Go
// memory minus a slack (see memwatch.MemLimitPolicy.Decide). Without a
// cgroup memory limit (a laptop, an unlimited container) GOMEMLIMIT is left
// alone, and a GOMEMLIMIT given in the environment always wins.
//
// # Last words
//
// No setting can save a process whose live heap outgrows its limit; auto
// cannot shed load for it, but it makes the death explicable. It logs the
// Watcher's last words (see "Last words" in memwatch.Watcher) at Warn and
// Error: when the level turns critical, with the verdict and the largest
// parts of the memory; when the live heap must shrink and nothing sheds it;
// when the GC CPU limiter lets the heap overshoot GOMEMLIMIT. Lines below
// Warn are dropped by default, and nothing is logged while memory is fine.
//
// The lines go to the application's slog.Default(), looked up for each
// record: auto's init runs before main, so a service that installs a JSON
// handler with slog.SetDefault gets them as JSON lines, with its own
// attributes and level. Without slog.SetDefault they reach the standard
// logger (the log package, standard error by default). logto=stderr sends
// them to a text handler on standard error instead.
//
// It also writes memwatch's explanation to the Kubernetes termination
// message file, /dev/termination-log, when the level turns critical, and
// clears it when memory is back to ok (memwatch.WithTerminationMessage), so
// that `kubectl describe pod` shows it under Last State after an OOM kill.
// Where the file does not exist nothing is written; it is never created.
//
// # Configuration
//
// The environment variable MEMWATCH_AUTO configures it: "off" (or "0",
// "false", "no") disables it; otherwise it is a comma-separated list of
// key=value settings:
//
//	slack=64MiB       MemLimitPolicy.SlackBytes (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB ×1000)
//	ratio=0.05        MemLimitPolicy.SlackRatio, in [0, 1)
//	headroom=0.2      MemLimitPolicy.MinHeadroomOverLive, ≥ 0
//	host=true         MemLimitPolicy.FallbackToHostRAM
//	gogc=true         also adapt GOGC (memwatch.WithAdaptiveGOGC(memwatch.DefaultGOGCPolicy()))
//	interval=1s       memwatch.WithInterval
//	log=info          the lowest level logged: debug, info, warn (default), error, or off
//	logto=stderr      where the lines go: default (slog.Default() at each record) or stderr (a text handler)
//	termination=off   the termination message: on (default, /dev/termination-log), off, or an absolute path
//
// log=<level> applies to either destination (with the default one, the
// application's handler filters by its own level as well); a program that
// relied on it to log to standard error adds logto=stderr.
//
// An invalid MEMWATCH_AUTO is reported once on stderr and leaves the
// Watcher off. The Watcher runs for the life of the process; Watcher returns
// it (nil when off or when it failed to start, see Err).
package auto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
)

// EnvVar is the name of the configuration variable.
const EnvVar = "MEMWATCH_AUTO"

var (
	watcher *memwatch.Watcher
	initErr error
)

func init() {
	watcher, initErr = start(os.Getenv(EnvVar))
	if initErr != nil && !errors.Is(initErr, errOff) {
		fmt.Fprintf(os.Stderr, "memwatch/auto: %v; not started\n", initErr)
	}
}

// Watcher returns the Watcher started by init, or nil when MEMWATCH_AUTO is
// "off" or it could not start (see Err).
func Watcher() *memwatch.Watcher { return watcher }

// Err returns why the Watcher is not running: an invalid MEMWATCH_AUTO or a
// failure of memwatch.New or Start; nil when it runs or was turned off.
func Err() error {
	if errors.Is(initErr, errOff) {
		return nil
	}
	return initErr
}

var errOff = errors.New("turned off by " + EnvVar)

// config is a parsed MEMWATCH_AUTO.
type config struct {
	off      bool
	policy   memwatch.MemLimitPolicy
	gogc     bool
	interval time.Duration // 0: memwatch default
	level    slog.Level
	noLog    bool
	stderr   bool   // logto=stderr
	termPath string // termination message file; "" with noTerm
	noTerm   bool
}

func start(env string) (*memwatch.Watcher, error) {
	c, err := parse(env)
	if err != nil {
		return nil, err
	}
	if c.off {
		return nil, errOff
	}
	var handler slog.Handler
	switch {
	case c.noLog:
		handler = slog.DiscardHandler
	case c.stderr:
		handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.level})
	default:
		handler = newDefaultHandler(c.level)
	}
	opts := []memwatch.WatcherOption{
		memwatch.WithAdaptiveMemLimit(c.policy),
		memwatch.WithLogger(slog.New(handler)),
	}
	if !c.noTerm {
		opts = append(opts, memwatch.WithTerminationMessage(c.termPath))
	}
	if c.gogc {
		opts = append(opts, memwatch.WithAdaptiveGOGC(memwatch.DefaultGOGCPolicy()))
	}
	if c.interval > 0 {
		opts = append(opts, memwatch.WithInterval(c.interval))
	}
	w, err := memwatch.New(opts...)
	if err != nil {
		return nil, err
	}
	if err := w.Start(context.Background()); err != nil {
		w.Stop()
		return nil, err
	}
	return w, nil
}

// parse reads a MEMWATCH_AUTO value.
func parse(v string) (config, error) {
	c := config{policy: memwatch.DefaultMemLimitPolicy(), level: slog.LevelWarn,
		termPath: memwatch.DefaultTerminationMessagePath}
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "off", "0", "false", "no":
		c.off = true
		return c, nil
	case "", "on", "1", "true", "yes":
		return c, nil
	}
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if !ok || val == "" {
			return c, fmt.Errorf("%s: %q: want key=value", EnvVar, item)
		}
		if err := c.set(key, val); err != nil {
			return c, err
		}
	}
	return c, nil
}

// set applies one key=value setting of MEMWATCH_AUTO. (A method rather
// than the body of parse's loop: each error return there copied the whole
// config: 2.3 KB of the binary of every program importing memwatch/auto,
// scripts/binsize.sh.)
func (c *config) set(key, val string) error {
	switch key {
	case "slack":
		n, err := parseBytes(val)
		if err != nil {
			return badValue(key, val, err.Error())
		}
		c.policy.SlackBytes = n
	case "ratio":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || !(f >= 0 && f < 1) {
			return badValue(key, val, "want a fraction in [0, 1)")
		}
		c.policy.SlackRatio = f
	case "headroom":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) {
			return badValue(key, val, "want a fraction ≥ 0")
		}
		c.policy.MinHeadroomOverLive = f
	case "host", "gogc":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return badValue(key, val, "want true or false")
		}
		if key == "host" {
			c.policy.FallbackToHostRAM = b
		} else {
			c.gogc = b
		}
	case "interval":
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return badValue(key, val, "want a positive duration such as 500ms")
		}
		c.interval = d
	case "log":
		switch strings.ToLower(val) {
		case "debug":
			c.level = slog.LevelDebug
		case "info":
			c.level = slog.LevelInfo
		case "warn", "warning":
			c.level = slog.LevelWarn
		case "error":
			c.level = slog.LevelError
		case "off", "none":
			c.noLog = true
		default:
			return badValue(key, val, "want debug, info, warn, error or off")
		}
	case "logto":
		switch strings.ToLower(val) {
		case "default", "slog":
			c.stderr = false
		case "stderr":
			c.stderr = true
		default:
			return badValue(key, val, "want default or stderr")
		}
	case "termination":
		switch strings.ToLower(val) {
		case "on", "true", "1", "yes":
			c.termPath, c.noTerm = memwatch.DefaultTerminationMessagePath, false
		case "off", "false", "0", "no":
			c.termPath, c.noTerm = "", true
		default:
			if !filepath.IsAbs(val) {
				return badValue(key, val, "want on, off or an absolute path")
			}
			c.termPath, c.noTerm = val, false
		}
	default:
		return fmt.Errorf("%s: unknown key %q (want slack, ratio, headroom, host, gogc, interval, log, logto or termination)", EnvVar, key)
	}
	return nil
}

// badValue is the error for an unusable value of key. It is not inlined:
// fmt.Errorf is, and its eight copies in parse cost 2.5 KB of the binary of
// every program importing memwatch/auto (scripts/binsize.sh).
//
//go:noinline
func badValue(key, val, why string) error {
	return fmt.Errorf("%s: %s=%q: %s", EnvVar, key, val, why)
}

// parseBytes reads "64MiB", "1.5GiB", "500MB", "1048576" or "4096B".
func parseBytes(s string) (uint64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult := 0.0
	switch strings.ToLower(unit) {
	case "", "b":
		mult = 1
	case "kib", "ki", "k":
		mult = 1 << 10
	case "mib", "mi", "m":
		mult = 1 << 20
	case "gib", "gi", "g":
		mult = 1 << 30
	case "tib", "ti", "t":
		mult = 1 << 40
	case "kb":
		mult = 1e3
	case "mb":
		mult = 1e6
	case "gb":
		mult = 1e9
	case "tb":
		mult = 1e12
	default:
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, errors.New("want a byte size such as 64MiB")
	}
	x := f * mult
	if x >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return uint64(x), nil
}
