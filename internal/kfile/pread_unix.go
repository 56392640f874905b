//go:build unix

package kfile

import (
	"os"
	"syscall"
)

// sysFD is an open file's descriptor, read with pread(2) directly: one
// system call per Read, without the locking of os.File and without the
// second read that os.File.ReadAt needs to see EOF.
type sysFD int

func newSysFD(f *os.File) sysFD {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(u uintptr) { fd = int(u) })
	}
	return sysFD(fd)
}

func (fd sysFD) uintptr(*os.File) uintptr { return uintptr(fd) }

// pread reads into b from offset 0 with one pread(2), retried on EINTR.
func (fd sysFD) pread(_ *os.File, b []byte) (int, error) {
	for {
		n, err := syscall.Pread(int(fd), b, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}
