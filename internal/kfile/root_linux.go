package kfile

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// pathFlags open a path only to fstat it (no read access needed).
const pathFlags = unix.O_PATH | unix.O_CLOEXEC

// noOpenat2 is set once openat2 is found missing (ENOSYS, Linux < 5.6) or
// refused by a seccomp filter (EPERM): resolution then falls back to user
// space.
var noOpenat2 atomic.Bool

// openContained opens rel under dir with flags: with openat2 and
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so that no "..", symbolic link or
// /proc magic link leads out of it.
func openContained(dir, rel string, flags int) (int, error) {
	if !noOpenat2.Load() {
		d, err := openPlain(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
		if err != nil {
			return -1, err
		}
		how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		// EAGAIN: a rename or mount raced with the resolution; retry a
		// few times.
		for try := 0; ; try++ {
			fd, err := unix.Openat2(d, rel, &how)
			if err == unix.EINTR || (err == unix.EAGAIN && try < 16) {
				continue
			}
			if err == unix.ENOSYS || err == unix.EPERM {
				noOpenat2.Store(true)
				break
			}
			unix.Close(d)
			return fd, err
		}
		unix.Close(d)
	}
	return openResolved(dir, rel, flags)
}
