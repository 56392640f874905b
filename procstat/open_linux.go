package procstat

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Open opens <root>/proc/<pid>/statm (default root "/", pid "self") for
// repeated reading and returns a Reader for that process. The other files are
// opened on first use. Close the Reader when done.
func Open(opts ...Option) (*Reader, error) {
	o, dir, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	ps := o.pageSize
	if ps == 0 {
		ps = unix.Getpagesize()
	}
	statm, err := o.fs.Open(filepath.Join(dir, "statm"), statmBufSize)
	if err != nil {
		return nil, fmt.Errorf("procstat: open: %w", err)
	}
	return &Reader{
		pageSize:      uint64(ps),
		fs:            o.fs,
		statm:         statm,
		statusPath:    filepath.Join(dir, "status"),
		smapsPath:     filepath.Join(dir, "smaps_rollup"),
		meminfoPath:   filepath.Join(o.root, "proc", "meminfo"),
		clearRefsPath: filepath.Join(dir, "clear_refs"),
	}, nil
}
