package cgroupstat

// Discover locates the process's memory cgroup without opening its files
// (it reads /proc/self/cgroup and /proc/self/mountinfo under the root and
// checks for a few files). Errors are *DiscoveryError wrapping ErrNoCgroup,
// ErrNotMounted or ErrOutsideMount (or an I/O error), or *ParseError.
func Discover(opts ...Option) (Location, error) { return discover(newOptions(opts)) }

// Open discovers the memory cgroup, opens its files once and does a first
// full read, so that format problems surface here and ReadCheap starts with
// a known inactive_file (and, on v1, hierarchical_memory_limit). Missing
// optional files (memory.peak, swap accounting, memory.events.local, PSI...)
// are recorded as absent; a missing required file is a *DiscoveryError
// naming it (Reason "the cgroup was deleted" when the kernel said so).
func Open(opts ...Option) (*Reader, error) { return open(newOptions(opts)) }
