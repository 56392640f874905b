//go:build !linux

package cgtest

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

// errUnsupported: memory cgroups exist only on Linux.
var errUnsupported = errors.New("cgtest: memory cgroups need Linux")

func locate(testing.TB, *config) (place, error) {
	return place{}, skipf("needs Linux: memory cgroups do not exist on this operating system")
}

func mkdirCgroup(place) error            { return errUnsupported }
func startInside(place, *exec.Cmd) error { return errUnsupported }
func touchAnon(int) ([]byte, error)      { return nil, errUnsupported }
func killAll(place, time.Time) error     { return errUnsupported }
func rmdirRetry(string, time.Time) error { return errUnsupported }

// ProcessCgroup returns the memory cgroup path of a process; it needs Linux.
func ProcessCgroup(int) (string, error) { return "", errUnsupported }
