//go:build !linux

package memcg

import (
	"errors"
	"os/exec"
	"time"
)

// errUnsupported: memory cgroups exist only on Linux.
var errUnsupported = errors.New("memcg: memory cgroups need Linux")

func locate(*config) (place, error) {
	return place{}, unavailablef("needs Linux: memory cgroups do not exist on this operating system")
}

func mkdirCgroup(place) error            { return errUnsupported }
func startInside(place, *exec.Cmd) error { return errUnsupported }
func killAll(place, time.Time) error     { return errUnsupported }
func rmdirRetry(string, time.Time) error { return errUnsupported }

// ProcessCgroup returns the memory cgroup path of a process; it needs Linux.
func ProcessCgroup(int) (string, error) { return "", errUnsupported }
