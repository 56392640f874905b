//go:build !linux

package cgroupstat

import "runtime"

// Discover locates the process's memory cgroup. Cgroups exist only on
// Linux: here it returns a *DiscoveryError wrapping ErrUnsupported.
func Discover(opts ...Option) (Location, error) {
	return Location{}, &DiscoveryError{File: "/proc/self/cgroup", Reason: "GOOS=" + runtime.GOOS, Err: ErrUnsupported}
}

// Open opens the process's memory cgroup. Cgroups exist only on Linux: here
// it returns a *DiscoveryError wrapping ErrUnsupported.
func Open(opts ...Option) (*Reader, error) {
	_, err := Discover(opts...)
	return nil, err
}

// ReadMembers lists the processes of a cgroup. Cgroups exist only on Linux:
// here it returns a *DiscoveryError wrapping ErrUnsupported.
func ReadMembers(loc Location, max int, opts ...Option) (Members, error) {
	_, err := Discover(opts...)
	return Members{}, err
}
