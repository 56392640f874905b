package procstat

import (
	"errors"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// Option configures Open.
type Option func(*options)

type options struct {
	root     string     // fs.Dir() (resolve)
	fs       kfile.Root // the real root unless WithRoot
	pid      int
	pidSet   bool
	pageSize int
}

// WithRoot resolves /proc under dir instead of "/" (an empty dir means "/"),
// for fixture trees such as testdata/<name>/proc/self/statm. Resolution is
// contained in dir as in a chroot: a symbolic link, absolute or relative,
// resolves inside it, and ".." stops at it. Every file is opened
// non-blocking and must be a regular file (a FIFO or a device in place of
// /proc/meminfo is refused with a *NotRegularError naming it).
func WithRoot(dir string) Option {
	// Only here, so that the containment code (kfile.NewRoot) is linked
	// only into programs that use WithRoot: 12.5 KB of binary.
	return func(o *options) { o.fs = kfile.NewRoot(dir) }
}

// WithPID reads /proc/<pid> instead of /proc/self. pid must be positive.
func WithPID(pid int) Option {
	return func(o *options) { o.pid, o.pidSet = pid, true }
}

// WithPageSize overrides the page size used to convert statm's page counts to
// bytes (default: the running kernel's, from getpagesize). Use it with
// fixtures captured on a machine with another page size.
func WithPageSize(n int) Option {
	return func(o *options) { o.pageSize = n }
}

// Initial buffer sizes; kfile grows a buffer (once) if a file is larger.
const (
	statmBufSize   = 256  // 7 numbers of at most 20 digits
	statusBufSize  = 4096 // ~1.5 KiB, more with many NUMA nodes
	smapsBufSize   = 2048 // ~0.7 KiB
	meminfoBufSize = 4096 // ~1.5 KiB
)

// Reader reads the memory files of one process. statm is opened by Open;
// status, smaps_rollup and meminfo are opened on first use. Files stay open
// and are re-read with pread at offset 0 into buffers the Reader owns, so
// steady-state reads allocate nothing.
//
// A Reader is safe for concurrent use; reads are serialized.
type Reader struct {
	mu       sync.Mutex
	closed   bool
	pageSize uint64

	fs      kfile.Root
	statm   *kfile.File
	status  *kfile.File
	smaps   *kfile.File
	meminfo *kfile.File

	statusPath    string
	smapsPath     string
	meminfoPath   string
	clearRefsPath string
}

// ResetPeakError reports that the peak RSS (VmHWM) could not be reset
// through clear_refs. Err is the underlying *os.PathError (or a
// *NotRegularError when clear_refs is not a regular file); errors.Is works
// with fs.ErrPermission and syscall errnos such as EACCES, EROFS or EINVAL
// (kernels before 4.0 do not know the "5" command).
type ResetPeakError struct {
	Path string
	Err  error
}

func (e *ResetPeakError) Error() string {
	return "procstat: reset peak RSS via " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ResetPeakError) Unwrap() error { return e.Err }

// resolve applies opts and returns the validated options and the process
// directory <root>/proc/<pid>.
func resolve(opts []Option) (options, string, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.pageSize < 0 {
		return o, "", errors.New("procstat: negative page size " + strconv.Itoa(o.pageSize))
	}
	pid := "self"
	if o.pidSet {
		if o.pid <= 0 {
			return o, "", errors.New("procstat: invalid pid " + strconv.Itoa(o.pid))
		}
		pid = strconv.Itoa(o.pid)
	}
	o.root = o.fs.Dir()
	return o, filepath.Join(o.root, "proc", pid), nil
}

// PageSize returns the page size the Reader converts statm with.
func (r *Reader) PageSize() uint64 { return r.pageSize }

// ReadStatm reads /proc/<pid>/statm into s. It is the hot path: one pread
// into a reused buffer and a hand parse, no allocation.
func (r *Reader) ReadStatm(s *Statm) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.statm == nil {
		return ErrClosed
	}
	b, err := r.statm.Read()
	if err != nil {
		return err
	}
	return ParseStatm(r.statm.Path(), b, r.pageSize, s)
}

// ReadStatus reads the memory fields of /proc/<pid>/status into s. The file
// is opened on the first call; later calls allocate nothing.
func (r *Reader) ReadStatus(s *Status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.lazy(&r.status, r.statusPath, statusBufSize)
	if err != nil {
		return err
	}
	b, err := f.Read()
	if err != nil {
		return err
	}
	return ParseStatus(f.Path(), b, s)
}

// ReadSmapsRollup reads /proc/<pid>/smaps_rollup into s. The kernel walks
// every mapping to produce it, so it costs far more than ReadStatm; use it on
// a slow path. The file is opened on the first call; later calls allocate
// nothing.
func (r *Reader) ReadSmapsRollup(s *SmapsRollup) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.lazy(&r.smaps, r.smapsPath, smapsBufSize)
	if err != nil {
		return err
	}
	b, err := f.Read()
	if err != nil {
		return err
	}
	return ParseSmapsRollup(f.Path(), b, s)
}

// ReadMeminfo reads the host totals of <root>/proc/meminfo into m. The file
// is opened on the first call; later calls allocate nothing.
func (r *Reader) ReadMeminfo(m *Meminfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.lazy(&r.meminfo, r.meminfoPath, meminfoBufSize)
	if err != nil {
		return err
	}
	b, err := f.Read()
	if err != nil {
		return err
	}
	return ParseMeminfo(f.Path(), b, m)
}

// lazy returns *fp, opening path into it on first use. A failed open is
// retried on the next call. r.mu must be held.
func (r *Reader) lazy(fp **kfile.File, path string, size int) (*kfile.File, error) {
	if r.closed || r.statm == nil {
		return nil, ErrClosed
	}
	if *fp == nil {
		f, err := r.fs.Open(path, size)
		if err != nil {
			return nil, err
		}
		*fp = f
	}
	return *fp, nil
}

// appendFiles appends statm and, when full, the status and meminfo files
// opened so far: what memwatch's cheap and full samples re-read.
//
//lint:ignore U1000 memwatch's floor benchmarks pull it in by go:linkname (readset_test.go).
func (r *Reader) appendFiles(dst []*kfile.File, full bool) []*kfile.File {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.statm == nil {
		return dst
	}
	dst = append(dst, r.statm)
	if full {
		for _, f := range [...]*kfile.File{r.status, r.meminfo} {
			if f != nil {
				dst = append(dst, f)
			}
		}
	}
	return dst
}

// ResetPeakRSS resets the process's peak RSS (VmHWM in status) to its current
// RSS by writing "5" to /proc/<pid>/clear_refs (Linux 4.0+). It needs write
// access to that file: a read-only /proc or a missing ptrace permission for
// another process makes it fail with a *ResetPeakError.
func (r *Reader) ResetPeakRSS() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.statm == nil {
		return ErrClosed
	}
	if err := r.fs.WriteOnce(r.clearRefsPath, []byte("5")); err != nil {
		return &ResetPeakError{Path: r.clearRefsPath, Err: err}
	}
	return nil
}

// Close closes the files. It is idempotent; later reads return ErrClosed.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, f := range []**kfile.File{&r.statm, &r.status, &r.smaps, &r.meminfo} {
		if err := (*f).Close(); err != nil {
			errs = append(errs, err)
		}
		*f = nil
	}
	return errors.Join(errs...)
}
