package auto

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
)

func TestParse(t *testing.T) {
	def := memwatch.DefaultMemLimitPolicy()
	const term = memwatch.DefaultTerminationMessagePath
	for _, c := range []struct {
		in   string
		want config
	}{
		{"", config{policy: def, level: slog.LevelWarn, termPath: term}},
		{"on", config{policy: def, level: slog.LevelWarn, termPath: term}},
		{"off", config{off: true, policy: def, level: slog.LevelWarn, termPath: term}},
		{" OFF ", config{off: true, policy: def, level: slog.LevelWarn, termPath: term}},
		{"slack=64MiB,ratio=0.05,log=debug", config{policy: memwatch.MemLimitPolicy{
			SlackBytes: 64 << 20, SlackRatio: 0.05, MinHeadroomOverLive: def.MinHeadroomOverLive}, level: slog.LevelDebug, termPath: term}},
		{"slack=500MB, headroom=0.2 ,host=true,gogc=1,interval=250ms,log=off", config{policy: memwatch.MemLimitPolicy{
			SlackBytes: 500e6, SlackRatio: def.SlackRatio, MinHeadroomOverLive: 0.2, FallbackToHostRAM: true},
			gogc: true, interval: 250 * time.Millisecond, level: slog.LevelWarn, noLog: true, termPath: term}},
		{"slack=1.5GiB,ratio=0", config{policy: memwatch.MemLimitPolicy{
			SlackBytes: 3 << 29, MinHeadroomOverLive: def.MinHeadroomOverLive}, level: slog.LevelWarn, termPath: term}},
		{"log=info,", config{policy: def, level: slog.LevelInfo, termPath: term}},
		{"log=info,logto=stderr", config{policy: def, level: slog.LevelInfo, stderr: true, termPath: term}},
		{"logto=stderr,logto=default", config{policy: def, level: slog.LevelWarn, termPath: term}},
		{"termination=off", config{policy: def, level: slog.LevelWarn, noTerm: true}},
		{"termination=off,termination=on", config{policy: def, level: slog.LevelWarn, termPath: term}},
		{"termination=/run/Last Words", config{policy: def, level: slog.LevelWarn, termPath: "/run/Last Words"}},
	} {
		got, err := parse(c.in)
		if err != nil {
			t.Errorf("parse(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"slack", "slack=", "slack=64XB", "slack=MiB", "slack=-1MiB", "slack=1e30GiB",
		"ratio=1", "ratio=-0.1", "ratio=NaN", "headroom=-1", "headroom=Inf",
		"host=maybe", "interval=0s", "interval=soon", "log=loud", "color=blue",
		"logto=syslog", "termination=", "termination=relative/path",
	} {
		if _, err := parse(in); err == nil {
			t.Errorf("parse(%q) succeeded", in)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "4096": 4096, "4096B": 4096, "1KiB": 1024, "64MiB": 64 << 20, "64M": 64 << 20,
		"2GiB": 2 << 30, "1TiB": 1 << 40, "1KB": 1000, "1.5MB": 1.5e6, "1 GiB": 1 << 30,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// TestStartOff checks that "off" starts nothing and an invalid value is an
// error.
func TestStartOff(t *testing.T) {
	if w, err := start("off"); w != nil || err != errOff {
		t.Errorf("start(off) = %v, %v", w, err)
	}
	if w, err := start("ratio=2"); w != nil || err == nil {
		t.Errorf("start(ratio=2) = %v, %v", w, err)
	}
}

// TestInitWatcher checks the Watcher started by init in this test binary
// (MEMWATCH_AUTO as the test was run with).
func TestInitWatcher(t *testing.T) {
	w := Watcher()
	if w == nil {
		if Err() != nil {
			t.Fatalf("auto watcher failed: %v", Err())
		}
		t.Skipf("%s=%q turned it off", EnvVar, os.Getenv(EnvVar))
	}
	s := w.Latest()
	if s == nil || !s.Actions.Enabled || s.Actions.MemLimitReason == "" {
		t.Fatalf("auto watcher snapshot: %+v", s)
	}
}
