//go:build unix && !linux

package kfile

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noOpenat2 is always in effect here: resolution is in user space. (Tests
// set it on Linux to exercise the fallback.)
var noOpenat2 atomic.Bool

// pathFlags open a path only to fstat it.
const pathFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY

// openContained opens rel under dir with flags, resolving links inside dir
// in user space.
func openContained(dir, rel string, flags int) (int, error) {
	return openResolved(dir, rel, flags)
}
