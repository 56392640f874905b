package main

import (
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// hierarchy is where the lab makes one memory cgroup per run: a child of its
// own v1 memory cgroup, or on cgroup v2 a leaf of a delegated subtree the lab
// itself stays out of.
type hierarchy interface {
	// version is "v1" or "v2", for the report.
	version() string
	// newRun makes the cgroup name for one run with the hard limit and, when
	// high > 0, memory.high (v2 only).
	newRun(name string, limit, high uint64) (runCgroup, error)
	// close removes what newHierarchy made (the v2 subtree).
	close() error
}

// runCgroup is the memory cgroup of one run.
type runCgroup interface {
	dir() string
	// setLimit changes the hard limit in place. v1 refuses to go below what
	// it cannot reclaim (EBUSY; retried for up to wait), v2 reclaims and,
	// failing, OOM-kills inside the write.
	setLimit(limit uint64, wait time.Duration) error
	// startIn makes cmd start inside the cgroup where the kernel can do that
	// (v2: clone3 with CLONE_INTO_CGROUP); the worker joins it first thing
	// anyway. It returns what to call after cmd.Start.
	startIn(cmd *exec.Cmd) (after func(), err error)
	counters() (cgCounters, error)
	remove() error
}

// newHierarchy finds this process's memory cgroup and prepares the runs'
// parent: on v1 that cgroup itself; on v2 a new cgroup beside it (or the
// directory given), with the memory controller enabled for its children and
// no process in it.
func newHierarchy(v2Parent string) (hierarchy, error) {
	loc, err := cgroupstat.Discover()
	if err != nil {
		return nil, err
	}
	if loc.ReadOnly {
		return nil, fmt.Errorf("%s is mounted read-only", loc.MountPoint)
	}
	switch loc.Version {
	case cgroupstat.V1:
		if v2Parent != "" {
			return nil, errors.New("-cgroup is for cgroup v2; the memory controller is served by v1 here")
		}
		return &v1Hierarchy{parent: loc.Dir}, nil
	case cgroupstat.V2:
		return newV2Hierarchy(loc, v2Parent)
	}
	return nil, fmt.Errorf("no memory cgroup found (cgroup %s)", loc.Version)
}
