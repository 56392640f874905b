package memcg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// locate finds the directory under which the new cgroup is created.
func locate(cfg *config) (place, error) {
	if os.Geteuid() != 0 {
		return place{}, unavailablef("needs root: creating memory cgroups")
	}
	mounts, err := readMounts()
	if err != nil {
		return place{}, err
	}
	var base place
	if cfg.parent != "" {
		base, err = placeOf(cfg.parent, mounts)
	} else {
		var mc memoryCgroup
		mc, err = readProcCgroup("/proc/self/cgroup")
		if err != nil {
			return place{}, err
		}
		base, err = resolve(mc, mounts)
	}
	if err != nil {
		return place{}, err
	}
	if _, err := os.Stat(base.dir); err != nil {
		return place{}, unavailablef("memory cgroup directory: %v", err)
	}
	if base.version == 1 {
		return base, nil
	}
	return prepareV2(base, cfg.parent == "", cfg.logf)
}

func readMounts() ([]mountEntry, error) {
	const file = "/proc/self/mountinfo"
	mi, err := os.ReadFile(file)
	if err != nil {
		return nil, unavailablef("no %s: %v", file, err)
	}
	return parseMountinfo(file, string(mi))
}

func readProcCgroup(file string) (memoryCgroup, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return memoryCgroup{}, unavailablef("no %s: %v", file, err)
	}
	return parseProcCgroup(file, string(b))
}

// ProcessCgroup returns the memory cgroup path of a process as its
// /proc/<pid>/cgroup shows it (the v1 memory line, else the v2 line).
func ProcessCgroup(pid int) (string, error) {
	mc, err := readProcCgroup(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	return mc.path, nil
}

// prepareV2 makes sure children of base get the memory controller. When
// base holds processes (the caller's own cgroup) the controller cannot be
// enabled there ("no internal processes"); then, if allowed, the parent of
// base is used so the new cgroup becomes the caller's cgroup's sibling.
func prepareV2(base place, mayGoUp bool, logf func(string, ...any)) (place, error) {
	err := enableMemory(base)
	if err == nil {
		return base, nil
	}
	if !errors.Is(err, unix.EBUSY) || !mayGoUp {
		return place{}, err
	}
	up, ok := base.up()
	if !ok {
		return place{}, err
	}
	if err2 := enableMemory(up); err2 != nil {
		return place{}, unavailablef("cannot enable the memory controller for children of %s (%v: it has processes, the v2 \"no internal processes\" rule) nor of its parent (%v)", base.dir, err, err2)
	}
	logf("memcg: %s holds processes, so children cannot get the memory controller (v2 \"no internal processes\"); creating a sibling under %s", base.dir, up.dir)
	return up, nil
}

func enableMemory(p place) error {
	sub, err := os.ReadFile(filepath.Join(p.dir, "cgroup.subtree_control"))
	if err != nil {
		return unavailablef("read %s/cgroup.subtree_control: %v", p.dir, err)
	}
	if slices.Contains(strings.Fields(string(sub)), "memory") {
		return nil
	}
	ctl, err := os.ReadFile(filepath.Join(p.dir, "cgroup.controllers"))
	if err != nil {
		return unavailablef("read %s/cgroup.controllers: %v", p.dir, err)
	}
	if !slices.Contains(strings.Fields(string(ctl)), "memory") {
		return unavailablef("no memory controller available in %s (cgroup.controllers: %q)", p.dir, strings.TrimSpace(string(ctl)))
	}
	err = writeFile(p.dir, "cgroup.subtree_control", "+memory")
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EROFS), errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return unavailablef("cannot enable the memory controller: %v", err)
	}
	return err
}

func mkdirCgroup(p place) error {
	err := unix.Mkdir(p.dir, 0o755)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EROFS):
		return unavailablef("cgroup filesystem is read-only: mkdir %s: %v", p.dir, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return unavailablef("no permission to create a cgroup: mkdir %s: %v", p.dir, err)
	}
	return fmt.Errorf("memcg: mkdir %s: %w", p.dir, err)
}

// killAll SIGKILLs every process of the cgroup until cgroup.procs is empty.
func killAll(p place, deadline time.Time) error {
	if p.version == 2 {
		// cgroup.kill (5.14+) kills the whole cgroup at once.
		_ = writeFile(p.dir, "cgroup.kill", "1")
	}
	self := os.Getpid()
	for {
		pids, err := readProcs(p.dir)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if slices.Contains(pids, self) {
			// Never kill the caller: on v1 a process is listed when any of
			// its threads is inside.
			return fmt.Errorf("this process (%d) is in %s", self, p.dir)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in %s", pids, p.dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rmdirRetry removes a cgroup directory, retrying while it is busy.
func rmdirRetry(dir string, deadline time.Time) error {
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
