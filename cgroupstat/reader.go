package cgroupstat

import "errors"

// TODO(helper): stub signatures; replace the bodies.
var errTODO = errors.New("cgroupstat: not implemented yet")

type options struct {
	root     string
	memTotal uint64
}

// Option configures Discover and Open.
type Option func(*options)

// WithRoot resolves every path (/proc/..., /sys/fs/cgroup/...) under dir, like a
// chroot. The default is "/".
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// WithMemTotal sets the host memory size used to treat too-large limits as
// unlimited, instead of reading MemTotal from <root>/proc/meminfo.
func WithMemTotal(bytes uint64) Option { return func(o *options) { o.memTotal = bytes } }

// Discover locates the process's memory cgroup without opening its files.
func Discover(opts ...Option) (Location, error) { return Location{}, errTODO }

// Reader reads one memory cgroup repeatedly. It is not safe for concurrent use.
type Reader struct {
	loc Location
}

// Open discovers the memory cgroup and opens its files once.
func Open(opts ...Option) (*Reader, error) { return nil, errTODO }

// Location returns where the cgroup was found.
func (r *Reader) Location() Location { return r.loc }

// MemTotal returns the host memory size in bytes used for normalisation.
func (r *Reader) MemTotal() uint64 { return 0 }

// ReadCheap fills usage, limits, high, peak, swap and the working set
// (with the InactiveFile of the last full read). It does not allocate.
func (r *Reader) ReadCheap(s *Stats) error { return errTODO }

// ReadFull does ReadCheap and also reads memory.stat, the event counters and
// PSI. It does not allocate in steady state.
func (r *Reader) ReadFull(s *Stats) error { return errTODO }

// Close releases the open files. It is safe to call more than once.
func (r *Reader) Close() error { return nil }
