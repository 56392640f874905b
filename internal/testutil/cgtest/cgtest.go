// Package cgtest creates real memory cgroups for tests and runs child
// processes inside them. It serves tests only.
//
// Create makes a fresh child memory cgroup (optionally with a limit, a v2
// memory.high, no swap, or a limited parent) under the test process's own
// memory cgroup, on whichever cgroup version serves the memory controller
// (v1, the hybrid layout, or v2). It skips the test with a reason when that is
// impossible (not root, no memory controller, read-only cgroupfs) and removes
// everything it made when the test ends: remaining processes are killed, v1
// charges are force-emptied and the directories are removed.
//
// Cgroup.Start runs an *exec.Cmd inside the cgroup from its first
// instruction, so no memory of the program is charged elsewhere: on v2 with
// clone3(CLONE_INTO_CGROUP) (SysProcAttr.UseCgroupFD), on v1 through a shim
// (this test binary re-executed: it joins the cgroup, then execs the program;
// see the package's init function).
//
// Workload describes a helper process (the current test binary re-executed
// with -test.run=^TestHelperProcess$) that allocates anonymous memory, Go heap
// and page cache, prints "ready" and waits. A package using it declares
//
//	func TestHelperProcess(t *testing.T) { cgtest.RunHelper(probes) }
//
// which does nothing in a normal test run. Probes are functions the helper
// runs on request inside the cgroup (for example a reader printing its own
// view of the cgroup), so discovery code is exercised from within.
//
// Nothing here is needed outside tests; the package imports only the standard
// library and golang.org/x/sys/unix.
package cgtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// MiB is one mebibyte.
const MiB = 1 << 20

// Environment variables of the helper and shim conventions.
const (
	// EnvHelper carries the JSON Workload to a helper process; RunHelper acts
	// only when it is set.
	EnvHelper = "MEMWATCH_CGTEST_HELPER"
	envJoin   = "MEMWATCH_CGTEST_JOIN"  // shim: cgroup.procs file to join
	envExec   = "MEMWATCH_CGTEST_EXEC"  // shim: program to exec after joining
	envErrFD  = "MEMWATCH_CGTEST_ERRFD" // shim: descriptor to report a failure on
)

// Default bounds of the waits in this package.
const (
	cleanupTimeout = 20 * time.Second
	readyTimeout   = 2 * time.Minute
	probeTimeout   = 30 * time.Second
	stopTimeout    = 30 * time.Second
	defaultHold    = 5 * time.Minute
)

// ErrTimeout is returned (wrapped) by waits that ran out of time.
var ErrTimeout = errors.New("cgtest: timed out")

type config struct {
	limit, high, swap, parentLimit             uint64
	hasLimit, hasHigh, hasSwap, hasParentLimit bool
	parent                                     string
}

// Option configures Create.
type Option func(*config)

// WithLimit sets the hard limit of the new cgroup: memory.limit_in_bytes (v1)
// or memory.max (v2).
func WithLimit(bytes uint64) Option {
	return func(c *config) { c.limit, c.hasLimit = bytes, true }
}

// WithHigh sets memory.high (the v2 throttling point). On v1, which has no
// such knob, Create skips the test.
func WithHigh(bytes uint64) Option {
	return func(c *config) { c.high, c.hasHigh = bytes, true }
}

// WithSwapLimit bounds the swap the cgroup may use beyond its memory: v1
// memory.memsw.limit_in_bytes = limit + bytes (needs WithLimit), v2
// memory.swap.max = bytes. Without swap accounting in the kernel the option is
// logged and ignored (SwapLimited reports false).
func WithSwapLimit(bytes uint64) Option {
	return func(c *config) { c.swap, c.hasSwap = bytes, true }
}

// WithNoSwap forbids swap (WithSwapLimit(0)): an OOM test then does not
// depend on whether the host has swap.
func WithNoSwap() Option { return WithSwapLimit(0) }

// WithParentLimit creates an intermediate parent cgroup with this hard limit
// and the test cgroup inside it, for tests of limits set by an ancestor.
func WithParentLimit(bytes uint64) Option {
	return func(c *config) { c.parentLimit, c.hasParentLimit = bytes, true }
}

// WithParent creates the cgroup under dir (a directory of a mounted memory
// cgroup hierarchy) instead of under the test process's own memory cgroup.
func WithParent(dir string) Option {
	return func(c *config) { c.parent = dir }
}

// skipError is a reason to skip rather than fail.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

func skipf(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

// place is a cgroup directory with its identity.
type place struct {
	dir     string // directory on disk
	path    string // cgroup path as /proc/<pid>/cgroup shows it
	version int
	mount   string // mount point of the hierarchy
}

func (p place) child(name string) place {
	q := p
	q.dir = filepath.Join(p.dir, name)
	q.path = joinCgroupPath(p.path, name)
	return q
}

func (p place) up() (place, bool) {
	if p.dir == p.mount || p.path == "/" {
		return p, false
	}
	q := p
	q.dir = filepath.Dir(p.dir)
	q.path = filepath.Dir(p.path)
	return q, true
}

func joinCgroupPath(base, name string) string {
	if base == "/" {
		return "/" + name
	}
	return base + "/" + name
}

// Cgroup is a memory cgroup created for one test. It is removed when the test
// ends.
type Cgroup struct {
	t           testing.TB
	self        place
	parent      place // the intermediate parent made by WithParentLimit
	hasParent   bool
	swapLimited bool
}

var seq atomic.Uint64

func uniqueName(t testing.TB) string {
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return fmt.Sprintf("cgtest-%d-%d-%s", os.Getpid(), seq.Add(1), b.String())
}

// Create makes a fresh memory cgroup for the test and registers its removal
// with t.Cleanup. It skips the test (with the reason) when not running as
// root, when no memory controller is available or when the cgroup
// filesystem is read-only; other failures fail the test.
//
// On v2 the parent needs +memory in cgroup.subtree_control. Because a v2
// cgroup with processes cannot enable controllers for children ("no internal
// processes"), when the test process's own cgroup holds processes the new
// cgroup is created as its sibling (one level up) instead; the test is logged.
func Create(t testing.TB, opts ...Option) *Cgroup {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating memory cgroups")
	}
	base, err := locate(t, &cfg)
	if err != nil {
		skipOrFatal(t, "locate the memory cgroup", err)
	}
	if cfg.hasHigh && base.version == 1 {
		t.Skipf("needs cgroup v2: memory.high does not exist on v1 (memory hierarchy at %s)", base.mount)
	}
	if cfg.hasSwap && !cfg.hasLimit && base.version == 1 {
		t.Fatal("cgtest: WithSwapLimit needs WithLimit on cgroup v1 (memsw = limit + swap)")
	}
	c := &Cgroup{t: t}
	name := uniqueName(t)
	t.Cleanup(c.cleanup)
	at := base
	if cfg.hasParentLimit {
		c.parent = base.child(name + "-parent")
		if err := mkdirCgroup(c.parent); err != nil {
			skipOrFatal(t, "create parent cgroup", err)
		}
		c.hasParent = true
		if c.parent.version == 2 {
			if err := writeFile(c.parent.dir, "cgroup.subtree_control", "+memory"); err != nil {
				t.Fatalf("cgtest: enable memory for children of %s: %v", c.parent.dir, err)
			}
		}
		if err := writeFile(c.parent.dir, limitFile(c.parent.version), strconv.FormatUint(cfg.parentLimit, 10)); err != nil {
			t.Fatalf("cgtest: set parent limit: %v", err)
		}
		at = c.parent
	}
	c.self = at.child(name)
	if err := mkdirCgroup(c.self); err != nil {
		skipOrFatal(t, "create cgroup", err)
	}
	if cfg.hasLimit {
		if err := c.SetLimit(cfg.limit); err != nil {
			t.Fatalf("cgtest: %v", err)
		}
	}
	if cfg.hasHigh {
		if err := c.WriteFile("memory.high", strconv.FormatUint(cfg.high, 10)); err != nil {
			t.Fatalf("cgtest: %v", err)
		}
	}
	if cfg.hasSwap {
		file, value := "memory.swap.max", cfg.swap
		if c.self.version == 1 {
			file, value = "memory.memsw.limit_in_bytes", cfg.limit+cfg.swap
		}
		if _, err := os.Stat(filepath.Join(c.self.dir, file)); err != nil {
			t.Logf("cgtest: no swap accounting (%v): swap limit not applied", err)
		} else if err := c.WriteFile(file, strconv.FormatUint(value, 10)); err != nil {
			t.Fatalf("cgtest: %v", err)
		} else {
			c.swapLimited = true
		}
	}
	return c
}

func skipOrFatal(t testing.TB, what string, err error) {
	t.Helper()
	var s *skipError
	if errors.As(err, &s) {
		t.Skip("cgtest: " + s.reason)
	}
	t.Fatalf("cgtest: %s: %v", what, err)
}

func limitFile(version int) string {
	if version == 1 {
		return "memory.limit_in_bytes"
	}
	return "memory.max"
}

func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// Dir returns the cgroup's directory on disk.
func (c *Cgroup) Dir() string { return c.self.dir }

// Path returns the cgroup path as /proc/<pid>/cgroup shows it for a member.
func (c *Cgroup) Path() string { return c.self.path }

// Version returns 1 or 2: the cgroup version serving the memory controller.
func (c *Cgroup) Version() int { return c.self.version }

// ParentDir returns the directory of the intermediate parent created by
// WithParentLimit, or "" when there is none.
func (c *Cgroup) ParentDir() string {
	if !c.hasParent {
		return ""
	}
	return c.parent.dir
}

// SwapLimited reports whether a swap limit option took effect.
func (c *Cgroup) SwapLimited() bool { return c.swapLimited }

// ReadFile returns the content of a file of the cgroup (for example
// "memory.stat"), failing the test if it cannot be read. Call it from the
// test's goroutine.
func (c *Cgroup) ReadFile(name string) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.self.dir, name))
	if err != nil {
		c.t.Fatalf("cgtest: %v", err)
	}
	return string(b)
}

// WriteFile writes value to a file of the cgroup.
func (c *Cgroup) WriteFile(name, value string) error {
	return writeFile(c.self.dir, name, value)
}

// SetLimit changes the hard limit (memory.limit_in_bytes on v1, memory.max
// on v2), also while processes run.
func (c *Cgroup) SetLimit(bytes uint64) error {
	return c.WriteFile(limitFile(c.self.version), strconv.FormatUint(bytes, 10))
}

// Usage returns memory.usage_in_bytes (v1) or memory.current (v2).
func (c *Cgroup) Usage() (uint64, error) {
	name := "memory.current"
	if c.self.version == 1 {
		name = "memory.usage_in_bytes"
	}
	p := filepath.Join(c.self.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgtest: %s: %w", p, err)
	}
	return v, nil
}

// OOMKills returns the cgroup's OOM-kill counter: oom_kill of
// memory.oom_control (v1, kernel 4.13+) or of memory.events (v2).
func (c *Cgroup) OOMKills() (uint64, error) {
	name := "memory.events"
	if c.self.version == 1 {
		name = "memory.oom_control"
	}
	return c.keyed(name, "oom_kill")
}

// Stat returns one key of memory.stat (for example "total_rss" on v1 or
// "anon" on v2).
func (c *Cgroup) Stat(key string) (uint64, error) {
	return c.keyed("memory.stat", key)
}

func (c *Cgroup) keyed(name, key string) (uint64, error) {
	p := filepath.Join(c.self.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return lookupKey(p, b, key)
}

// lookupKey finds "key value" in a flat-keyed kernel file.
func lookupKey(file string, b []byte, key string) (uint64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cgtest: %s: key %s: %w", file, key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("cgtest: %s: no key %q (kernel too old?)", file, key)
}

// Procs returns the pids in the cgroup's cgroup.procs.
func (c *Cgroup) Procs() ([]int, error) { return readProcs(c.self.dir) }

func readProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgtest: %s/cgroup.procs: %w", dir, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// cleanup kills what remains in the cgroups and removes them, child first.
func (c *Cgroup) cleanup() {
	deadline := time.Now().Add(cleanupTimeout)
	var dirs []place
	if c.self.dir != "" {
		dirs = append(dirs, c.self)
	}
	if c.hasParent {
		dirs = append(dirs, c.parent)
	}
	for _, p := range dirs {
		if _, err := os.Stat(p.dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := killAll(p, deadline); err != nil {
			c.t.Errorf("cgtest: cleanup %s: %v", p.dir, err)
		}
		if p.version == 1 {
			// Reclaim what is still charged (page cache) so the charges do
			// not linger in the parent; failure (EBUSY) is harmless.
			_ = writeFile(p.dir, "memory.force_empty", "0")
		}
		if err := rmdirRetry(p.dir, deadline); err != nil {
			c.t.Errorf("cgtest: cleanup: %v", err)
		}
	}
}

// Child is a process started inside a cgroup by Cgroup.Start.
type Child struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error         // from cmd.Wait, valid after done
	elapsed time.Duration // valid after done
}

// Start starts cmd inside the cgroup, from the program's first instruction,
// and registers a cleanup that kills and reaps it. It fails the test if the
// command cannot be started. The Cmd must not have been started; on v2 its
// SysProcAttr gains UseCgroupFD, on v1 its Path, Env and ExtraFiles are
// rewritten to run it through the joining shim.
func (c *Cgroup) Start(t testing.TB, cmd *exec.Cmd) *Child {
	t.Helper()
	if err := startInside(c.self, cmd); err != nil {
		t.Fatalf("cgtest: start %v in %s: %v", cmd.Args, c.self.dir, err)
	}
	ch := &Child{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		ch.err = cmd.Wait()
		ch.elapsed = time.Since(ch.started)
		close(ch.done)
	}()
	t.Cleanup(func() {
		ch.Kill()
		if err := ch.Wait(cleanupTimeout); errors.Is(err, ErrTimeout) {
			t.Errorf("cgtest: %v", err)
		}
	})
	return ch
}

// Pid returns the process id.
func (ch *Child) Pid() int { return ch.cmd.Process.Pid }

// Cmd returns the command.
func (ch *Child) Cmd() *exec.Cmd { return ch.cmd }

// Done is closed when the process has exited and been reaped.
func (ch *Child) Done() <-chan struct{} { return ch.done }

// Exited reports whether the process has exited.
func (ch *Child) Exited() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// Wait waits at most timeout for the process to exit and returns the error of
// exec.Cmd.Wait (nil for exit status 0, *exec.ExitError otherwise). If the
// process is still running it returns an error wrapping ErrTimeout and leaves
// the process alone (the test's cleanup kills it).
func (ch *Child) Wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ch.done:
		return ch.err
	case <-timer.C:
		return fmt.Errorf("%w: pid %d %v still running after %v", ErrTimeout, ch.Pid(), ch.cmd.Args, timeout)
	}
}

// Kill sends SIGKILL (no-op once exited).
func (ch *Child) Kill() {
	if !ch.Exited() {
		_ = ch.cmd.Process.Kill()
	}
}

// Elapsed returns the time from start to exit (0 while running).
func (ch *Child) Elapsed() time.Duration {
	if !ch.Exited() {
		return 0
	}
	return ch.elapsed
}

func (ch *Child) waitStatus() (syscall.WaitStatus, bool) {
	if !ch.Exited() || ch.cmd.ProcessState == nil {
		var zero syscall.WaitStatus
		return zero, false
	}
	ws, ok := ch.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws, ok
}

// ExitCode returns the exit status, or -1 while running or when killed by a
// signal.
func (ch *Child) ExitCode() int {
	if !ch.Exited() || ch.cmd.ProcessState == nil {
		return -1
	}
	return ch.cmd.ProcessState.ExitCode()
}

// Signal returns the signal that terminated the process, or 0 (while
// running, or when it exited normally).
func (ch *Child) Signal() syscall.Signal {
	ws, ok := ch.waitStatus()
	if !ok || !ws.Signaled() {
		return 0
	}
	return ws.Signal()
}

// Killed reports whether the process died of SIGKILL: the OOM killer's
// signal (confirm with Cgroup.OOMKills, since anyone may send SIGKILL).
func (ch *Child) Killed() bool { return ch.Signal() == syscall.SIGKILL }

// Workload is what a helper process does: touch AnonMiB of anonymous memory
// (mmap, every page written), allocate and touch HeapMiB of Go heap, write
// PageCacheMiB to a file in Dir (fsynced, so it is clean page cache), then
// print "ready" and serve probe requests until its standard input is closed
// or Hold elapses (default 5 minutes). The zero Workload only starts and
// waits.
type Workload struct {
	AnonMiB      int
	HeapMiB      int
	PageCacheMiB int
	// Dir receives the page-cache file; Cmd sets it to t.TempDir() when
	// PageCacheMiB > 0 and it is empty. Use a disk-backed directory: files
	// on tmpfs count as shmem, not page cache.
	Dir  string
	Hold time.Duration
	// OOMScoreAdj, when not 0, is written to /proc/self/oom_score_adj
	// before allocating. 1000 makes the helper the OOM killer's first
	// choice in its cgroup; raising needs no privilege, lowering needs
	// CAP_SYS_RESOURCE.
	OOMScoreAdj int
}

// Cmd returns the command running this workload in the current test binary
// (os.Executable() -test.run=^TestHelperProcess$ with EnvHelper set). The
// test package must declare TestHelperProcess calling RunHelper.
func (w Workload) Cmd(t testing.TB) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	if w.PageCacheMiB > 0 && w.Dir == "" {
		w.Dir = t.TempDir()
	}
	spec, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("cgtest: %v", err)
	}
	cmd := exec.Command(self, "-test.run=^TestHelperProcess$")
	cmd.Env = append(withoutEnv(os.Environ(), EnvHelper), EnvHelper+"="+string(spec))
	return cmd
}

func withoutEnv(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
outer:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue outer
			}
		}
		out = append(out, kv)
	}
	return out
}

// Probes are named functions a helper process runs on request (see
// Helper.Probe); the result is sent back as JSON.
type Probes map[string]func() (any, error)

// RunHelper runs the helper workload and exits the process when EnvHelper is
// set; otherwise it returns at once. Call it from TestHelperProcess.
func RunHelper(probes Probes) {
	spec, ok := os.LookupEnv(EnvHelper)
	if !ok {
		return
	}
	os.Unsetenv(EnvHelper)
	os.Exit(runHelper(spec, probes, os.Stdin, os.Stdout))
}

// Helper exit codes.
const (
	exitOK      = 0
	exitFailed  = 3 // the workload could not be set up
	exitHoldOut = 4 // Hold elapsed before stdin was closed
)

// keep holds the helper's memory so it is not collected.
var keep struct {
	anon []byte
	heap [][]byte
}

func runHelper(spec string, probes Probes, in io.Reader, out io.Writer) int {
	var w Workload
	if err := json.Unmarshal([]byte(spec), &w); err != nil {
		fmt.Fprintf(out, "error bad %s: %v\n", EnvHelper, err)
		return exitFailed
	}
	if err := allocate(w); err != nil {
		fmt.Fprintf(out, "error %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(out, "ready")
	hold := w.Hold
	if hold <= 0 {
		hold = defaultHold
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timer := time.NewTimer(hold)
	for {
		select {
		case <-timer.C:
			fmt.Fprintf(out, "error hold time %v elapsed\n", hold)
			return exitHoldOut
		case line, ok := <-lines:
			if !ok {
				return exitOK
			}
			name, isProbe := strings.CutPrefix(line, "probe ")
			if !isProbe {
				fmt.Fprintf(out, "error unknown command %q\n", line)
				continue
			}
			fmt.Fprintln(out, runProbe(probes, name))
		}
	}
}

func runProbe(probes Probes, name string) string {
	fn, ok := probes[name]
	if !ok {
		return fmt.Sprintf("error no probe %q", name)
	}
	v, err := fn()
	if err != nil {
		return "error " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "error " + err.Error()
	}
	return "probe " + string(b)
}

func allocate(w Workload) error {
	if w.OOMScoreAdj != 0 {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(w.OOMScoreAdj)), 0); err != nil {
			return err
		}
	}
	if w.AnonMiB > 0 {
		b, err := touchAnon(w.AnonMiB * MiB)
		if err != nil {
			return fmt.Errorf("anon %d MiB: %w", w.AnonMiB, err)
		}
		keep.anon = b
	}
	page := os.Getpagesize()
	for range w.HeapMiB {
		b := make([]byte, MiB)
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		keep.heap = append(keep.heap, b)
	}
	if w.PageCacheMiB > 0 {
		if err := writePageCache(w.Dir, w.PageCacheMiB); err != nil {
			return fmt.Errorf("page cache %d MiB: %w", w.PageCacheMiB, err)
		}
	}
	return nil
}

func writePageCache(dir string, mib int) error {
	f, err := os.CreateTemp(dir, "cgtest-pagecache-*")
	if err != nil {
		return err
	}
	buf := bytes.Repeat([]byte{0xa5}, MiB)
	for range mib {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

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
