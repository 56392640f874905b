//go:build unix

package kfile

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

var errLoop error = unix.ELOOP

// Flags of every open: never block (a FIFO without a writer would block a
// plain open for reading forever, one without a reader an open for
// writing), never leak into a child, never become a controlling terminal.
const (
	readFlags  = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	writeFlags = unix.O_WRONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
)

func (r Root) openRegular(path string) (*os.File, error) { return r.openFile("open", path, readFlags) }

func (r Root) openWrite(path string) (*os.File, error) { return r.openFile("open", path, writeFlags) }

// openFile opens path in r with flags and keeps the descriptor only if it
// is a regular file, in blocking mode again (O_NONBLOCK means nothing to a
// regular file; cleared, os.File does not try to poll it).
func (r Root) openFile(op, path string, flags int) (*os.File, error) {
	rel, err := r.rel(op, path)
	if err != nil {
		return nil, err
	}
	fd, err := r.openIn(rel, flags)
	if err != nil {
		return nil, &os.PathError{Op: op, Path: path, Err: err}
	}
	m, err := fdType(fd)
	if err == nil && !m.IsRegular() {
		err = &NotRegularError{Path: path, Mode: m}
	}
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		unix.Close(fd)
		if _, ok := err.(*NotRegularError); !ok {
			err = &os.PathError{Op: "fstat", Path: path, Err: err}
		}
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func (r Root) stat(path string) (fs.FileMode, error) { return r.statFlags("stat", path, pathFlags) }

func (r Root) lstat(path string) (fs.FileMode, error) {
	return r.statFlags("lstat", path, pathFlags|unix.O_NOFOLLOW)
}

func (r Root) statFlags(op, path string, flags int) (fs.FileMode, error) {
	rel, err := r.rel(op, path)
	if err != nil {
		return 0, err
	}
	fd, err := r.openIn(rel, flags)
	if err == unix.ELOOP && flags&unix.O_NOFOLLOW != 0 {
		return fs.ModeSymlink, nil // without O_PATH support for links (BSD)
	}
	if err != nil {
		return 0, &os.PathError{Op: op, Path: path, Err: err}
	}
	defer unix.Close(fd)
	m, err := fdType(fd)
	if err != nil {
		return 0, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	return m, nil
}

// fdType returns the type bits of an open descriptor.
func fdType(fd int) (fs.FileMode, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstat(fd, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		break
	}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG:
		return 0, nil
	case unix.S_IFDIR:
		return fs.ModeDir, nil
	case unix.S_IFIFO:
		return fs.ModeNamedPipe, nil
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice, nil
	case unix.S_IFBLK:
		return fs.ModeDevice, nil
	case unix.S_IFSOCK:
		return fs.ModeSocket, nil
	case unix.S_IFLNK:
		return fs.ModeSymlink, nil
	}
	return fs.ModeIrregular, nil
}

// absPath is filepath.Abs with getwd in place of [os.Getwd].
func absPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	wd, err := getwd()
	if err != nil {
		return "", err
	}
	return filepath.Join(wd, p), nil
}

// getwd is [os.Getwd] without its last resort for a working directory
// longer than PATH_MAX (a walk up the tree reading directories, where the
// getcwd system call fails): $PWD when it names the working directory,
// else getcwd. os.Getwd, through filepath.Abs, linked 12.7 KB of machine
// code into every auto program (os.File.readdir, dirent parsing), 31 KB of
// binary.
func getwd() (string, error) {
	if pwd := os.Getenv("PWD"); len(pwd) > 0 && pwd[0] == '/' {
		var dot, d unix.Stat_t
		if err := unix.Stat(".", &dot); err != nil {
			return "", &os.PathError{Op: "stat", Path: ".", Err: err}
		}
		if unix.Stat(pwd, &d) == nil && d.Dev == dot.Dev && d.Ino == dot.Ino {
			return pwd, nil
		}
	}
	for {
		wd, err := unix.Getwd()
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", os.NewSyscallError("getwd", err)
		}
		return wd, nil
	}
}

// opener opens rel under dir, contained in dir, with flags.
type opener func(dir, rel string, flags int) (int, error)

// openIn opens rel under r with flags: contained under a root made by
// NewRoot, plainly under the real root.
func (r Root) openIn(rel string, flags int) (int, error) {
	if r.in == nil {
		return openPlain("/"+rel, flags)
	}
	return r.in(r.dir, rel, flags)
}

// openPlain opens an absolute path with flags, retrying on EINTR.
func openPlain(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// openResolved opens rel under dir after resolving its links in user space
// (resolveInRoot); the last component is not followed, so a link swapped in
// meanwhile fails (ELOOP) instead of leading out.
func openResolved(dir, rel string, flags int) (int, error) {
	base := ""
	if flags&unix.O_NOFOLLOW != 0 {
		// The last component itself is wanted, link or not: resolve its
		// parent only.
		rel, base = filepath.Split(rel)
	}
	p, err := resolveInRoot(dir, rel)
	if err == nil && base != "" {
		p = filepath.Join(p, base)
	}
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			return -1, pe.Err
		}
		return -1, err
	}
	return openPlain(p, flags|unix.O_NOFOLLOW)
}

// ForceUserSpaceResolution makes resolution under a test root skip openat2,
// as on kernels without it, until restore is called: for tests of the
// fallback. Not safe to use while other goroutines open files.
func ForceUserSpaceResolution() (restore func()) {
	was := noOpenat2.Swap(true)
	return func() { noOpenat2.Store(was) }
}
