package cgtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helper is a running workload helper process started by StartWorkload.
type Helper struct {
	*Child
	stdin  *os.File
	lines  chan string
	stderr *syncBuffer
	ready  bool
	early  []string // lines printed before "ready" (errors)
	mu     sync.Mutex
}

// StartWorkload starts the workload in the cgroup and waits (bounded) until
// the helper is ready or has exited (for example OOM-killed while
// allocating). Ready tells which. A helper that neither becomes ready nor
// exits within two minutes fails the test.
func (c *Cgroup) StartWorkload(t testing.TB, w Workload) *Helper {
	t.Helper()
	cmd := w.Cmd(t)
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	h := &Helper{stdin: inW, lines: make(chan string, 16), stderr: &syncBuffer{}}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, h.stderr
	t.Cleanup(func() { inR.Close(); outW.Close(); outR.Close() })
	h.Child = c.Start(t, cmd)
	// Registered after Start's cleanup, so it runs first: closing stdin lets
	// the helper exit by itself before it is killed.
	t.Cleanup(func() { h.stdin.Close() })
	inR.Close()
	outW.Close()
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) }) // runs first: unblocks the reader
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			select {
			case h.lines <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				h.Wait(stopTimeout) // exited before ready; reap it
				return h
			}
			if line == "ready" {
				h.ready = true
				return h
			}
			h.early = append(h.early, line)
		case <-timer.C:
			h.Kill()
			t.Fatalf("cgtest: helper %d neither ready nor exited after %v (output %q, stderr %q)",
				h.Pid(), readyTimeout, h.early, h.stderr.String())
		}
	}
}

// Ready reports whether the helper finished its allocations and is waiting.
func (h *Helper) Ready() bool { return h.ready }

// Output returns what the helper printed before "ready" (error lines) and
// its standard error so far, for failure messages.
func (h *Helper) Output() string {
	return fmt.Sprintf("stdout %q, stderr %q", h.early, h.stderr.String())
}

// Probe asks the helper to run the named probe (see Probes) and decodes its
// JSON result into v. It is bounded in time.
func (h *Helper) Probe(name string, v any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.ready || h.Exited() {
		return fmt.Errorf("cgtest: probe %s: helper %d is not running (%s)", name, h.Pid(), h.Output())
	}
	if _, err := fmt.Fprintf(h.stdin, "probe %s\n", name); err != nil {
		return fmt.Errorf("cgtest: probe %s: %w", name, err)
	}
	timer := time.NewTimer(probeTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-h.lines:
		if !ok {
			return fmt.Errorf("cgtest: probe %s: helper exited (%s)", name, h.Output())
		}
		if msg, isErr := strings.CutPrefix(line, "error "); isErr {
			return fmt.Errorf("cgtest: probe %s in helper: %s", name, msg)
		}
		payload, ok := strings.CutPrefix(line, "probe ")
		if !ok {
			return fmt.Errorf("cgtest: probe %s: unexpected line %q", name, line)
		}
		return json.Unmarshal([]byte(payload), v)
	case <-timer.C:
		return fmt.Errorf("%w: probe %s in helper %d", ErrTimeout, name, h.Pid())
	}
}

// Stop closes the helper's standard input, which makes it exit, and waits
// for it (bounded). It returns the exit error (nil for a clean exit).
func (h *Helper) Stop() error {
	h.mu.Lock()
	h.stdin.Close()
	h.mu.Unlock()
	return h.Wait(stopTimeout)
}

// syncBuffer is a bytes.Buffer safe for the exec copying goroutine and
// readers, bounded to 64 KiB.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
