package memwatch

import (
	"context"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestWatcherOptionsValidated(t *testing.T) {
	inf := DefaultMemLimitPolicy()
	inf.MinHeadroomOverLive = math.Inf(1)
	nanRatio := DefaultMemLimitPolicy()
	nanRatio.SlackRatio = math.NaN()
	for _, c := range []struct {
		opts []WatcherOption
		want string // in the error: the option's name
	}{
		{[]WatcherOption{WithThresholds(0.9, 0.8)}, "WithThresholds"},
		{[]WatcherOption{WithThresholds(0, 0.5)}, "WithThresholds"},
		{[]WatcherOption{WithThresholds(0.5, 1.5)}, "WithThresholds"},
		{[]WatcherOption{WithThresholds(math.NaN(), 0.9)}, "WithThresholds"},
		{[]WatcherOption{WithHysteresis(-0.1)}, "WithHysteresis"},
		{[]WatcherOption{WithHysteresis(math.NaN())}, "WithHysteresis"},
		{[]WatcherOption{WithHysteresis(0.8)}, "WithHysteresis"},
		{[]WatcherOption{WithInterval(0)}, "WithInterval"},
		{[]WatcherOption{WithInterval(5 * time.Millisecond)}, "WithInterval"},
		{[]WatcherOption{WithMinInterval(time.Millisecond)}, "WithMinInterval"},
		{[]WatcherOption{WithMeasure(Measure(9))}, "WithMeasure"},
		{[]WatcherOption{WithFullEvery(0)}, "WithFullEvery"},
		{[]WatcherOption{WithStopTimeout(0)}, "WithStopTimeout"},
		{[]WatcherOption{WithPollCheck(-time.Second)}, "WithPollCheck"},
		{[]WatcherOption{WithAdaptiveMemLimit(inf)}, "MinHeadroomOverLive"},
		{[]WatcherOption{WithAdaptiveMemLimit(nanRatio)}, "SlackRatio"},
		{[]WatcherOption{WithWontFitPolicy(WontFitAction(7))}, "WithWontFitPolicy"},
		{[]WatcherOption{WithTerminationMessage("termination-log")}, "WithTerminationMessage"},
	} {
		w, err := New(c.opts...)
		if err == nil {
			w.Stop()
			t.Errorf("New accepted the options wanting %s", c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q does not name %s", err, c.want)
		}
	}
	// Several bad values: each is reported.
	_, err := New(WithInterval(time.Nanosecond), WithFullEvery(-1))
	if err == nil || !strings.Contains(err.Error(), "WithInterval") || !strings.Contains(err.Error(), "WithFullEvery") {
		t.Errorf("joined error %v", err)
	}
	// Good edge values are accepted: the floor, a floor above the nominal
	// interval (lowered to it), the poll check off.
	w, err := New(WithRoot("testdata/proc-only"), WithInterval(MinInterval), WithMinInterval(time.Hour), WithPollCheck(0))
	if err != nil {
		t.Fatal(err)
	}
	if w.cfg.tracker.minInterval != MinInterval {
		t.Errorf("min interval %v, want it lowered to the interval", w.cfg.tracker.minInterval)
	}
	w.Stop()
	w, err = New(WithRoot("testdata/proc-only"), WithTerminationMessage(""))
	if err != nil {
		t.Fatal(err)
	}
	if p := w.term.cfg.path; p != DefaultTerminationMessagePath {
		t.Errorf("termination message path %q, want the default", p)
	}
	w.Stop()
}

func TestStartNilContext(t *testing.T) {
	w, err := New(WithRoot("testdata/proc-only"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	//lint:ignore SA1012 the nil context is the point of the test
	if err := w.Start(nil); err == nil || errors.Is(err, ErrStarted) { //nolint:staticcheck
		t.Fatalf("Start(nil) = %v", err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("Start after a refused nil context: %v", err)
	}
}

// TestOptionsTypeChecked type-checks small programs against this package's
// compiled export data: an option that means nothing to an entry point must
// not compile (the mistake Read(OnLevel(f)) made silently before).
func TestOptionsTypeChecked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds export data with the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command: ", err)
	}
	out, err := exec.Command(gobin, "list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "=")
		exports[path] = file
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(f)
	})
	check := func(body string) error {
		src := "package p\nimport (\n\"time\"\n\"github.com/go-memwatch/memwatch/memwatch\"\n)\nvar _ = time.Second\nfunc f() {\n" + body + "\n}\n"
		file, err := parser.ParseFile(fset, "p.go", src, 0)
		if err != nil {
			t.Fatalf("parse %q: %v", body, err)
		}
		conf := types.Config{Importer: imp}
		_, err = conf.Check("p", fset, []*ast.File{file}, nil)
		return err
	}
	for _, ok := range []string{
		`memwatch.Read(memwatch.WithRoot("/"), memwatch.WithExactMemStats(true))`,
		`memwatch.NewSampler(memwatch.WithRoot("/"))`,
		`memwatch.New(memwatch.WithRoot("/"), memwatch.WithInterval(time.Second), memwatch.OnLevel(nil), memwatch.WithAdaptiveMemLimit(memwatch.DefaultMemLimitPolicy()))`,
		`opts := []memwatch.WatcherOption{memwatch.WithRoot("/"), memwatch.OnShed(nil)}; memwatch.New(opts...)`,
	} {
		if err := check(ok); err != nil {
			t.Errorf("%s: does not compile: %v", ok, err)
		}
	}
	for _, bad := range []string{
		`memwatch.Read(memwatch.OnLevel(nil))`,
		`memwatch.Read(memwatch.WithInterval(time.Second))`,
		`memwatch.NewSampler(memwatch.WithAdaptiveGOGC(memwatch.DefaultGOGCPolicy()))`,
		`memwatch.NewSampler(memwatch.WithEvents(false))`,
	} {
		if err := check(bad); err == nil {
			t.Errorf("%s: compiles, want a type error", bad)
		}
	}
}
