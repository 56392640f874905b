package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// v1Cgroup is a child memory cgroup on the cgroup v1 hierarchy, made for
// one run and removed after it.
type v1Cgroup struct {
	dir string
}

// v1Parent returns the directory of this process's own v1 memory cgroup,
// under which the runs' cgroups are made.
func v1Parent() (string, error) {
	loc, err := cgroupstat.Discover()
	if err != nil {
		return "", err
	}
	if loc.Version != cgroupstat.V1 {
		return "", fmt.Errorf("the memory controller is served by cgroup %s here; oomlab drives the v1 hierarchy "+
			"(memory.limit_in_bytes, oom_control) and needs a v1 or hybrid host", loc.Version)
	}
	if loc.ReadOnly {
		return "", fmt.Errorf("%s is mounted read-only", loc.MountPoint)
	}
	return loc.Dir, nil
}

// newV1Cgroup makes parent/name with the given limit and no swap (the swap
// limit equals the memory limit where memsw exists), and asks the kernel to
// move a joining task's charges with it.
func newV1Cgroup(parent, name string, limit uint64) (*v1Cgroup, error) {
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	cg := &v1Cgroup{dir: dir}
	if err := cg.setLimit(limit, 0); err != nil {
		cg.remove()
		return nil, err
	}
	// Deprecated in recent kernels but still honoured; the worker's start-up
	// memory follows it into the cgroup. Not essential, so errors are ignored.
	_ = cg.write("memory.move_charge_at_immigrate", "1")
	return cg, nil
}

func (cg *v1Cgroup) path(file string) string { return filepath.Join(cg.dir, file) }

func (cg *v1Cgroup) write(file, value string) error {
	return os.WriteFile(cg.path(file), []byte(value), 0)
}

// setLimit sets memory.limit_in_bytes and memory.memsw.limit_in_bytes to
// limit, in the order the kernel requires (memory ≤ memsw at every step).
// Lowering below what cannot be reclaimed fails with EBUSY on v1; setLimit
// then retries every 10 ms for up to wait.
func (cg *v1Cgroup) setLimit(limit uint64, wait time.Duration) error {
	v := strconv.FormatUint(limit, 10)
	_, err := os.Stat(cg.path("memory.memsw.limit_in_bytes"))
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
				return fmt.Errorf("setting %s to %d: %w", cg.dir, limit, err)
			}
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// oomKills is the oom_kill counter of memory.oom_control (kernel ≥ 4.13;
// 0 on older kernels, where only the worker's SIGKILL tells).
func (cg *v1Cgroup) oomKills() (uint64, error) {
	file := cg.path("memory.oom_control")
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	var ev cgroupstat.Events
	if err := cgroupstat.ParseOOMControl(file, b, &ev); err != nil {
		return 0, err
	}
	return ev.OOMKill, nil
}

func (cg *v1Cgroup) readUint(file string) (uint64, error) {
	b, err := os.ReadFile(cg.path(file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
}

// remove kills what is left in the cgroup, empties its charges and removes
// it, retrying while the kernel finishes the kills.
func (cg *v1Cgroup) remove() error {
	var err error
	for range 100 {
		if b, rerr := os.ReadFile(cg.path("cgroup.procs")); rerr == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, perr := strconv.Atoi(f); perr == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		_ = cg.write("memory.force_empty", "0")
		if err = os.Remove(cg.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
