//go:build linux

package memwatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
)

// envTerminationHelper makes the test binary run the termination helper:
// its value is the termination message file.
const envTerminationHelper = "MEMWATCH_TERMINATION_HELPER"

// TestTerminationHelperProcess is the helper body; it does nothing in a
// normal run. It runs a Watcher with WithTerminationMessage and a logger
// on standard error, then keeps 2 MiB blocks of Go heap, every page
// written, 25 ms apart, until the kernel kills it.
func TestTerminationHelperProcess(t *testing.T) {
	path := os.Getenv(envTerminationHelper)
	if path == "" {
		return
	}
	w, err := New(WithTerminationMessage(path), WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	if err := w.Start(context.Background()); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	limit := w.Latest().Cgroup.Stats.Limit
	fmt.Println("started", w.Latest().Sampling.Mode, limit)
	var keep [][]byte
	for total := uint64(0); total < 2*limit; total += 2 << 20 {
		b := make([]byte, 2<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
		time.Sleep(25 * time.Millisecond)
	}
	fmt.Println("not killed after allocating twice the limit", len(keep))
	os.Exit(3)
}

// TestTerminationMessageOOMKill runs a child with a Watcher and
// WithTerminationMessage in a real 128 MiB memory cgroup and lets it
// allocate Go heap until the kernel OOM-kills it: the file must hold the
// child's critical verdict, with its cgroup limit and its largest parts.
func TestTerminationMessageOOMKill(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: drives a child into an OOM kill")
	}
	const limit = 128 << 20
	cg := cgtest.Create(t, cgtest.WithLimit(limit), cgtest.WithNoSwap())
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestTerminationHelperProcess$")
	cmd.Env = append(os.Environ(), envTerminationHelper+"="+path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ch := cg.Start(t, cmd)
	err = ch.Wait(2 * time.Minute)
	kills, kerr := cg.OOMKills()
	if !ch.Killed() || kerr != nil || kills == 0 {
		t.Fatalf("child not OOM-killed: %v (SIGKILL %v, oom_kill %d %v)\nstdout %s\nstderr %s",
			err, ch.Killed(), kills, kerr, out.String(), errOut.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(b)
	t.Logf("child stdout: %s", strings.TrimSpace(out.String()))
	t.Logf("termination message left by the OOM-killed child (%d bytes):\n%s", len(b), msg)
	for _, want := range []string{
		"memwatch: memory critical since ",
		"% of limit (",
		" of 128.0 MiB)",
		"largest parts of the cgroup's usage",
		"go_heap_live",
		"Go: live heap ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("termination message lacks %q", want)
		}
	}
	if len(b) > terminationMax {
		t.Errorf("termination message of %d bytes", len(b))
	}
	// The child's last words on standard error, at the default level.
	if !strings.Contains(errOut.String(), "level=WARN msg=\"memwatch: memory critical\"") {
		t.Errorf("no critical line on the child's standard error:\n%s", errOut.String())
	}
}
