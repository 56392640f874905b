package cgtest

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/memcg"
)

// MiB is one mebibyte.
const MiB = 1 << 20

// Default bounds of the waits in this package.
const (
	cleanupTimeout = 20 * time.Second
	readyTimeout   = 2 * time.Minute
	probeTimeout   = 30 * time.Second
	stopTimeout    = 30 * time.Second
	defaultHold    = 5 * time.Minute
)

// ErrTimeout is returned (wrapped) by waits that ran out of time.
var ErrTimeout = memcg.ErrTimeout

// Option configures Create.
type Option = memcg.Option

// WithLimit sets the hard limit of the new cgroup: memory.limit_in_bytes (v1)
// or memory.max (v2).
func WithLimit(bytes uint64) Option { return memcg.WithLimit(bytes) }

// WithHigh sets memory.high (the v2 throttling point). On v1, which has no
// such knob, Create skips the test.
func WithHigh(bytes uint64) Option { return memcg.WithHigh(bytes) }

// WithSwapLimit bounds the swap the cgroup may use beyond its memory: v1
// memory.memsw.limit_in_bytes = limit + bytes (needs WithLimit), v2
// memory.swap.max = bytes. Without swap accounting in the kernel the option is
// logged and ignored (SwapLimited reports false).
func WithSwapLimit(bytes uint64) Option { return memcg.WithSwapLimit(bytes) }

// WithNoSwap forbids swap (WithSwapLimit(0)): an OOM test then does not
// depend on whether the host has swap.
func WithNoSwap() Option { return memcg.WithNoSwap() }

// WithParentLimit creates an intermediate parent cgroup with this hard limit
// and the test cgroup inside it, for tests of limits set by an ancestor.
func WithParentLimit(bytes uint64) Option { return memcg.WithParentLimit(bytes) }

// WithParent creates the cgroup under dir (a directory of a mounted memory
// cgroup hierarchy) instead of under the test process's own memory cgroup.
func WithParent(dir string) Option { return memcg.WithParent(dir) }

// Cgroup is a memory cgroup created for one test. It is removed when the test
// ends.
type Cgroup struct {
	t testing.TB
	g *memcg.Group
}

// Create makes a fresh memory cgroup for the test (see memcg.Create) and
// registers its removal with t.Cleanup. It skips the test (with the reason)
// when memory cgroups cannot be made here (not root, no memory controller,
// read-only cgroup filesystem, not Linux); other failures fail the test.
// What Create decides on its own (a v2 sibling, no swap accounting) is
// logged.
func Create(t testing.TB, opts ...Option) *Cgroup {
	t.Helper()
	opts = append(opts[:len(opts):len(opts)], memcg.WithLogf(t.Logf))
	g, err := memcg.Create("cgtest-"+t.Name(), opts...)
	if errors.Is(err, memcg.ErrUnavailable) {
		t.Skip("cgtest: " + err.Error())
	}
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Errorf("cgtest: cleanup: %v", err)
		}
	})
	return &Cgroup{t: t, g: g}
}

// Dir returns the cgroup's directory on disk.
func (c *Cgroup) Dir() string { return c.g.Dir() }

// Path returns the cgroup path as /proc/<pid>/cgroup shows it for a member.
func (c *Cgroup) Path() string { return c.g.Path() }

// Version returns 1 or 2: the cgroup version serving the memory controller.
func (c *Cgroup) Version() int { return c.g.Version() }

// ParentDir returns the directory of the intermediate parent created by
// WithParentLimit, or "" when there is none.
func (c *Cgroup) ParentDir() string { return c.g.ParentDir() }

// SwapLimited reports whether a swap limit option took effect.
func (c *Cgroup) SwapLimited() bool { return c.g.SwapLimited() }

// ReadFile returns the content of a file of the cgroup (for example
// "memory.stat"), failing the test if it cannot be read. Call it from the
// test's goroutine.
func (c *Cgroup) ReadFile(name string) string {
	c.t.Helper()
	b, err := c.g.ReadFile(name)
	if err != nil {
		c.t.Fatalf("cgtest: %v", err)
	}
	return string(b)
}

// WriteFile writes value to a file of the cgroup.
func (c *Cgroup) WriteFile(name, value string) error { return c.g.WriteFile(name, value) }

// SetLimit changes the hard limit (memory.limit_in_bytes on v1, memory.max
// on v2), also while processes run.
func (c *Cgroup) SetLimit(bytes uint64) error { return c.g.SetLimit(bytes) }

// Usage returns memory.usage_in_bytes (v1) or memory.current (v2).
func (c *Cgroup) Usage() (uint64, error) { return c.g.Usage() }

// OOMKills returns the cgroup's OOM-kill counter: oom_kill of
// memory.oom_control (v1, kernel 4.13+) or of memory.events (v2).
func (c *Cgroup) OOMKills() (uint64, error) { return c.g.OOMKills() }

// Stat returns one key of memory.stat (for example "total_rss" on v1 or
// "anon" on v2).
func (c *Cgroup) Stat(key string) (uint64, error) { return c.g.Stat(key) }

// Procs returns the pids in the cgroup's cgroup.procs.
func (c *Cgroup) Procs() ([]int, error) { return c.g.Procs() }

// Child is a process started inside a cgroup by Cgroup.Start.
type Child = memcg.Process

// Start starts cmd inside the cgroup, from the program's first instruction
// (see memcg.Group.Start), and registers a cleanup that kills and reaps it.
// It fails the test if the command cannot be started.
func (c *Cgroup) Start(t testing.TB, cmd *exec.Cmd) *Child {
	t.Helper()
	ch, err := c.g.Start(cmd)
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	t.Cleanup(func() {
		ch.Kill()
		if err := ch.Wait(cleanupTimeout); errors.Is(err, ErrTimeout) {
			t.Errorf("cgtest: %v", err)
		}
	})
	return ch
}
