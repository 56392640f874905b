package memcg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrUnavailable is wrapped by the errors of Create that mean memory cgroups
// cannot be made here at all (not Linux, not root, no memory controller,
// read-only cgroup filesystem, ...), as opposed to failures. The error's
// text is the reason.
var ErrUnavailable = errors.New("memory cgroups unavailable")

// ErrTimeout is wrapped by waits that ran out of time.
var ErrTimeout = errors.New("memcg: timed out")

// unavailableError is a reason why memory cgroups cannot be used here.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string        { return e.reason }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailablef(format string, args ...any) error {
	return &unavailableError{reason: fmt.Sprintf(format, args...)}
}

// removeTimeout bounds Group.Remove.
const removeTimeout = 20 * time.Second

type config struct {
	limit, high, swap, parentLimit             uint64
	hasLimit, hasHigh, hasSwap, hasParentLimit bool
	parent                                     string
	logf                                       func(format string, args ...any)
}

// Option configures Create.
type Option func(*config)

// WithLimit sets the hard limit of the new cgroup: memory.limit_in_bytes (v1)
// or memory.max (v2).
func WithLimit(bytes uint64) Option {
	return func(c *config) { c.limit, c.hasLimit = bytes, true }
}

// WithHigh sets memory.high (the v2 throttling point). On v1, which has no
// such knob, Create fails with ErrUnavailable.
func WithHigh(bytes uint64) Option {
	return func(c *config) { c.high, c.hasHigh = bytes, true }
}

// WithSwapLimit bounds the swap the cgroup may use beyond its memory: v1
// memory.memsw.limit_in_bytes = limit + bytes (needs WithLimit), v2
// memory.swap.max = bytes. Without swap accounting in the kernel the option is
// logged and ignored (Group.SwapLimited reports false).
func WithSwapLimit(bytes uint64) Option {
	return func(c *config) { c.swap, c.hasSwap = bytes, true }
}

// WithNoSwap forbids swap (WithSwapLimit(0)): an OOM then does not depend on
// whether the host has swap.
func WithNoSwap() Option { return WithSwapLimit(0) }

// WithParentLimit creates an intermediate parent cgroup with this hard limit
// and the new cgroup inside it, for limits set by an ancestor.
func WithParentLimit(bytes uint64) Option {
	return func(c *config) { c.parentLimit, c.hasParentLimit = bytes, true }
}

// WithParent creates the cgroup under dir (a directory of a mounted memory
// cgroup hierarchy) instead of under the calling process's own memory
// cgroup.
func WithParent(dir string) Option {
	return func(c *config) { c.parent = dir }
}

// WithLogf receives what Create decided on its own and a caller may want to
// know: a swap limit not applied for lack of swap accounting, a v2 cgroup
// created as a sibling of the process's cgroup. By default nothing is
// logged.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// Group is a memory cgroup made by Create, with the intermediate parent of
// WithParentLimit if any. Remove deletes it.
type Group struct {
	self        place
	parent      place // the intermediate parent made by WithParentLimit
	hasParent   bool
	swapLimited bool
}

var seq atomic.Uint64

// dirName makes a directory name from label that is unique on the host:
// label reduced to [A-Za-z0-9_-] and 64 bytes, the pid and a sequence number.
func dirName(label string) string {
	var b strings.Builder
	for _, r := range label {
		if b.Len() >= 64 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s-%d-%d", b.String(), os.Getpid(), seq.Add(1))
}

// Create makes a fresh memory cgroup, its directory named after label (for
// example a test name; made unique), under the calling process's own memory
// cgroup (or WithParent's directory). The error wraps ErrUnavailable when
// memory cgroups cannot be made here; on any error nothing is left behind.
//
// On v2 the parent needs +memory in cgroup.subtree_control. Because a v2
// cgroup with processes cannot enable controllers for children ("no internal
// processes"), when the process's own cgroup holds processes the new cgroup
// is created as its sibling (one level up) instead; WithLogf hears of it.
func Create(label string, opts ...Option) (*Group, error) {
	cfg := config{logf: func(string, ...any) {}}
	for _, o := range opts {
		o(&cfg)
	}
	base, err := locate(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.hasHigh && base.version == 1 {
		return nil, unavailablef("needs cgroup v2: memory.high does not exist on v1 (memory hierarchy at %s)", base.mount)
	}
	if cfg.hasSwap && !cfg.hasLimit && base.version == 1 {
		return nil, errors.New("memcg: WithSwapLimit needs WithLimit on cgroup v1 (memsw = limit + swap)")
	}
	g := &Group{}
	if err := g.create(base, dirName(label), &cfg); err != nil {
		if rerr := g.Remove(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	return g, nil
}

func (g *Group) create(base place, name string, cfg *config) error {
	at := base
	if cfg.hasParentLimit {
		parent := base.child(name + "-parent")
		if err := mkdirCgroup(parent); err != nil {
			return err
		}
		g.parent, g.hasParent = parent, true
		if parent.version == 2 {
			if err := writeFile(parent.dir, "cgroup.subtree_control", "+memory"); err != nil {
				return fmt.Errorf("memcg: enable memory for children of %s: %w", parent.dir, err)
			}
		}
		if err := writeFile(parent.dir, limitFile(parent.version), strconv.FormatUint(cfg.parentLimit, 10)); err != nil {
			return fmt.Errorf("memcg: parent limit: %w", err)
		}
		at = parent
	}
	self := at.child(name)
	if err := mkdirCgroup(self); err != nil {
		return err
	}
	g.self = self
	if cfg.hasLimit {
		if err := g.SetLimit(cfg.limit); err != nil {
			return err
		}
	}
	if cfg.hasHigh {
		if err := g.WriteFile("memory.high", strconv.FormatUint(cfg.high, 10)); err != nil {
			return err
		}
	}
	if cfg.hasSwap {
		file, value := "memory.swap.max", cfg.swap
		if self.version == 1 {
			file, value = "memory.memsw.limit_in_bytes", cfg.limit+cfg.swap
		}
		if _, err := os.Stat(filepath.Join(self.dir, file)); err != nil {
			cfg.logf("memcg: no swap accounting (%v): swap limit not applied", err)
		} else if err := g.WriteFile(file, strconv.FormatUint(value, 10)); err != nil {
			return err
		} else {
			g.swapLimited = true
		}
	}
	return nil
}

func limitFile(version int) string {
	if version == 1 {
		return "memory.limit_in_bytes"
	}
	return "memory.max"
}

// Dir returns the cgroup's directory on disk.
func (g *Group) Dir() string { return g.self.dir }

// Path returns the cgroup path as /proc/<pid>/cgroup shows it for a member.
func (g *Group) Path() string { return g.self.path }

// Version returns 1 or 2: the cgroup version serving the memory controller.
func (g *Group) Version() int { return g.self.version }

// ParentDir returns the directory of the intermediate parent created by
// WithParentLimit, or "" when there is none.
func (g *Group) ParentDir() string {
	if !g.hasParent {
		return ""
	}
	return g.parent.dir
}

// SwapLimited reports whether a swap limit option took effect.
func (g *Group) SwapLimited() bool { return g.swapLimited }

// Remove kills every process left in the cgroup (and in the intermediate
// parent), lets v1 reclaim what is still charged (memory.force_empty) and
// removes the directories, child first. It waits at most 20 seconds for
// the processes to die and the directories to become removable. Removing a
// removed Group does nothing.
func (g *Group) Remove() error {
	deadline := time.Now().Add(removeTimeout)
	var dirs []place
	if g.self.dir != "" {
		dirs = append(dirs, g.self)
	}
	if g.hasParent {
		dirs = append(dirs, g.parent)
	}
	var errs []error
	for _, p := range dirs {
		if _, err := os.Stat(p.dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := killAll(p, deadline); err != nil {
			errs = append(errs, fmt.Errorf("memcg: remove %s: %w", p.dir, err))
		}
		if p.version == 1 {
			// Reclaim what is still charged (page cache) so the charges do
			// not linger in the parent; failure (EBUSY) is harmless.
			_ = writeFile(p.dir, "memory.force_empty", "0")
		}
		if err := rmdirRetry(p.dir, deadline); err != nil {
			errs = append(errs, fmt.Errorf("memcg: remove: %w", err))
		}
	}
	return errors.Join(errs...)
}
