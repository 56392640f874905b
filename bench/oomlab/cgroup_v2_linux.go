package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"golang.org/x/sys/unix"
)

// v2Hierarchy is a delegated subtree on cgroup v2: a cgroup the lab makes
// (oomlab-<pid>) with the memory controller enabled for its children, holding
// one leaf per run. v2 forbids processes in a cgroup that distributes a
// controller to its children ("no internal processes"), and the lab would
// otherwise be charged with its workers: it never joins the subtree, and the
// workers are started directly in their leaves (clone3 CLONE_INTO_CGROUP).
type v2Hierarchy struct {
	root string // the subtree: base/oomlab-<pid>
}

// newV2Hierarchy makes the subtree under base, by default the parent of the
// lab's own cgroup (its root when the lab runs in the root cgroup).
func newV2Hierarchy(loc cgroupstat.Location, base string) (*v2Hierarchy, error) {
	if base == "" {
		own := loc.UnifiedDir
		if own == "" {
			return nil, fmt.Errorf("cannot translate this process's cgroup2 path under %s; pass -cgroup", loc.MountPoint)
		}
		base = own
		if filepath.Clean(own) != filepath.Clean(loc.MountPoint) {
			base = filepath.Dir(own)
		}
	}
	ctl := filepath.Join(base, "cgroup.subtree_control")
	b, err := os.ReadFile(ctl)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(strings.Fields(string(b)), "memory") {
		if err := os.WriteFile(ctl, []byte("+memory"), 0); err != nil {
			return nil, fmt.Errorf("%s does not give its children the memory controller and enabling it failed "+
				"(a v2 cgroup with processes cannot; pass -cgroup with a cgroup that can): %w", base, err)
		}
	}
	h := &v2Hierarchy{root: filepath.Join(base, fmt.Sprintf("oomlab-%d", os.Getpid()))}
	if err := os.Mkdir(h.root, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(h.root, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
		_ = os.Remove(h.root)
		return nil, fmt.Errorf("enabling the memory controller in %s: %w", h.root, err)
	}
	return h, nil
}

func (h *v2Hierarchy) version() string { return "v2" }

func (h *v2Hierarchy) close() error { return removeCgroup(h.root, nil) }

// newRun makes root/name with memory.max = limit, memory.high = high (when
// > 0) and no swap.
func (h *v2Hierarchy) newRun(name string, limit, high uint64) (runCgroup, error) {
	cg := &v2Cgroup{path: filepath.Join(h.root, name)}
	if err := os.Mkdir(cg.path, 0o755); err != nil {
		return nil, err
	}
	err := cg.setLimit(limit, 0)
	if err == nil && high > 0 {
		err = cg.write("memory.high", strconv.FormatUint(high, 10))
	}
	if err == nil {
		// No escape into swap (the file is missing without swap accounting).
		if werr := cg.write("memory.swap.max", "0"); werr != nil && !errors.Is(werr, os.ErrNotExist) {
			err = werr
		}
	}
	if err != nil {
		_ = cg.remove()
		return nil, err
	}
	return cg, nil
}

// v2Cgroup is one run's leaf in the v2 subtree.
type v2Cgroup struct {
	path string
}

func (cg *v2Cgroup) dir() string             { return cg.path }
func (cg *v2Cgroup) file(name string) string { return filepath.Join(cg.path, name) }
func (cg *v2Cgroup) write(name, v string) error {
	return os.WriteFile(cg.file(name), []byte(v), 0)
}

// startIn starts cmd in the leaf with clone3's CLONE_INTO_CGROUP (Linux
// 5.7+), so every page the worker touches, from its first, is charged there.
func (cg *v2Cgroup) startIn(cmd *exec.Cmd) (func(), error) {
	fd, err := unix.Open(cg.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cg.path, err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return func() { unix.Close(fd) }, nil
}

// setLimit writes memory.max. Lowering it below the usage makes the writer
// reclaim and, when reclaim fails (anonymous memory without swap), the kernel
// OOM-kills in the cgroup before the write returns (cgroup-v2.rst,
// "memory.max"); there is no EBUSY to retry, so wait is not used.
func (cg *v2Cgroup) setLimit(limit uint64, _ time.Duration) error {
	if err := cg.write("memory.max", strconv.FormatUint(limit, 10)); err != nil {
		return fmt.Errorf("setting %s to %d: %w", cg.file("memory.max"), limit, err)
	}
	return nil
}

// counters reads memory.events, memory.peak (Linux 5.19+) and
// memory.pressure (when PSI is on).
func (cg *v2Cgroup) counters() (cgCounters, error) {
	c := cgCounters{HasV2: true}
	file := cg.file("memory.events")
	b, err := os.ReadFile(file)
	if err != nil {
		return c, err
	}
	var ev cgroupstat.EventCounts
	if err := cgroupstat.ParseEvents(file, b, &ev); err != nil {
		return c, err
	}
	c.OOMKills, c.High = ev.OOMKill, ev.High
	if c.Peak, err = readUint(cg.file("memory.peak")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	file = cg.file("memory.pressure")
	if b, err := os.ReadFile(file); err == nil {
		var psi cgroupstat.PSI
		if err := cgroupstat.ParsePSI(file, b, &psi); err != nil {
			return c, err
		}
		c.HasPressure = true
		c.StallSome = time.Duration(psi.Some.Total) * time.Microsecond
		c.StallFull = time.Duration(psi.Full.Total) * time.Microsecond
	}
	return c, nil
}

// remove kills what is left in the leaf and removes it (v2 removes a cgroup
// without processes even while pages are still charged to it).
func (cg *v2Cgroup) remove() error { return removeCgroup(cg.path, nil) }
