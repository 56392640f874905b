package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// v1Hierarchy makes the runs' cgroups as children of the lab's own v1
// memory cgroup (v1 allows processes beside child cgroups).
type v1Hierarchy struct {
	parent string
}

func (h *v1Hierarchy) version() string { return "v1" }
func (h *v1Hierarchy) close() error    { return nil }

// newRun makes parent/name with the given limit and no swap (the swap limit
// equals the memory limit where memsw exists), and asks the kernel to move a
// joining task's charges with it. v1 has no memory.high.
func (h *v1Hierarchy) newRun(name string, limit, high uint64) (runCgroup, error) {
	if high > 0 {
		return nil, errors.New("memory.high does not exist on cgroup v1")
	}
	dir := filepath.Join(h.parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	cg := &v1Cgroup{path: dir}
	if err := cg.setLimit(limit, 0); err != nil {
		cg.remove()
		return nil, err
	}
	// Deprecated in recent kernels but still honoured; the worker's start-up
	// memory follows it into the cgroup. Not essential, so errors are ignored.
	_ = cg.write("memory.move_charge_at_immigrate", "1")
	return cg, nil
}

// v1Cgroup is a child memory cgroup on the cgroup v1 hierarchy, made for
// one run and removed after it.
type v1Cgroup struct {
	path string
}

func (cg *v1Cgroup) dir() string             { return cg.path }
func (cg *v1Cgroup) file(name string) string { return filepath.Join(cg.path, name) }
func (cg *v1Cgroup) write(name, v string) error {
	return os.WriteFile(cg.file(name), []byte(v), 0)
}

// startIn does nothing on v1: the worker joins its cgroup as its first
// action, and move_charge_at_immigrate brings its start-up memory along.
func (cg *v1Cgroup) startIn(*exec.Cmd) (func(), error) { return func() {}, nil }

// setLimit sets memory.limit_in_bytes and memory.memsw.limit_in_bytes to
// limit, in the order the kernel requires (memory ≤ memsw at every step).
// Lowering below what cannot be reclaimed fails with EBUSY on v1; setLimit
// then retries every 10 ms for up to wait.
func (cg *v1Cgroup) setLimit(limit uint64, wait time.Duration) error {
	v := strconv.FormatUint(limit, 10)
	_, err := os.Stat(cg.file("memory.memsw.limit_in_bytes"))
	hasSwap := err == nil
	files := []string{"memory.limit_in_bytes"}
	if hasSwap {
		files = append(files, "memory.memsw.limit_in_bytes")
	}
	writeAll := func(files ...string) error {
		for _, f := range files {
			if err := cg.write(f, v); err != nil {
				return err
			}
		}
		return nil
	}
	deadline := time.Now().Add(wait)
	for {
		err := writeAll(files...)
		if errors.Is(err, syscall.EINVAL) && hasSwap {
			// Raising: memsw must grow first.
			err = writeAll(files[1], files[0])
		}
		if err == nil || !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("setting %s to %d: %w", cg.path, limit, err)
			}
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counters reads the oom_kill counter of memory.oom_control (kernel ≥ 4.13;
// 0 on older kernels, where only the worker's SIGKILL tells) and
// memory.max_usage_in_bytes.
func (cg *v1Cgroup) counters() (cgCounters, error) {
	var c cgCounters
	file := cg.file("memory.oom_control")
	b, err := os.ReadFile(file)
	if err != nil {
		return c, err
	}
	var ev cgroupstat.Events
	if err := cgroupstat.ParseOOMControl(file, b, &ev); err != nil {
		return c, err
	}
	c.OOMKills = ev.OOMKill
	c.Peak, err = readUint(cg.file("memory.max_usage_in_bytes"))
	return c, err
}

// remove kills what is left in the cgroup, empties its charges and removes
// it, retrying while the kernel finishes the kills.
func (cg *v1Cgroup) remove() error {
	return removeCgroup(cg.path, func() { _ = cg.write("memory.force_empty", "0") })
}

// removeCgroup kills the processes left in dir and removes it, retrying
// while the kernel finishes the kills; beforeRmdir runs before each attempt.
func removeCgroup(dir string, beforeRmdir func()) error {
	var err error
	for range 100 {
		if b, rerr := os.ReadFile(filepath.Join(dir, "cgroup.procs")); rerr == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, perr := strconv.Atoi(f); perr == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if beforeRmdir != nil {
			beforeRmdir()
		}
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// readUint reads a file holding one decimal number.
func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
}
