package kfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Root is the directory kernel paths are resolved under: "/" in production,
// a fixture tree in tests (the readers' WithRoot option). Paths are given
// whole, as Join returns them, so that errors name the file a reader knows.
//
// Under a root other than "/" resolution is contained, as if the process
// were chrooted there: a ".." component stops at the root and a symbolic
// link, absolute or relative, resolves inside it. On Linux 5.6+ the kernel
// does this itself (openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
// elsewhere, and where openat2 is refused (older kernels, seccomp filters),
// the links are followed one by one in user space with the same rules (at
// most 40 links, then ELOOP, as the kernel counts) and the final open does
// not follow a link. A path that lies lexically outside the root is refused
// with ErrOutsideRoot.
//
// Every open is non-blocking and close-on-exec, and only regular files are
// accepted: a FIFO, a device, a socket or a directory in place of a kernel
// file is refused with a *NotRegularError before any read, so a hostile
// tree can neither block the caller nor feed it an endless stream. procfs
// and cgroupfs files are all regular files.
type Root struct {
	dir string // absolute and clean; "" means "/"
	// in opens a path relative to dir contained in it (unix: openat2 or
	// the user-space walk); nil for the real root. Only NewRoot sets it,
	// so a program that reads the real root through the zero Root and
	// never calls NewRoot does not link the containment code (12.5 KB of
	// binary in an auto program).
	in opener
}

// NewRoot returns the root at dir, made absolute; "" and "/" are the real
// root.
func NewRoot(dir string) Root {
	if dir == "" || dir == "/" {
		return Root{}
	}
	if abs, err := absPath(dir); err == nil {
		dir = abs
	}
	dir = filepath.Clean(dir)
	if dir == "/" {
		return Root{}
	}
	return Root{dir: dir, in: openContained}
}

// Dir returns the root directory ("/" for the real root).
func (r Root) Dir() string {
	if r.dir == "" {
		return "/"
	}
	return r.dir
}

// IsHost reports whether r is the real root "/".
func (r Root) IsHost() bool { return r.dir == "" }

// Join returns the path under r of p, a path as the process sees it (for
// example "/proc/self/cgroup"). It is lexical: filepath.Join cleans ".."
// components away, so p must not hold any (the readers refuse such paths
// before they get here).
func (r Root) Join(p string) string { return filepath.Join(r.Dir(), p) }

// ErrOutsideRoot is wrapped by the *os.PathError of a path that does not
// lie under the Root it is opened in.
var ErrOutsideRoot = errors.New("path lies outside the root")

// ErrNotRegular is matched (errors.Is) by every *NotRegularError.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError reports a path that is not a regular file where a kernel
// file was expected (kernel pseudo-files in procfs and cgroupfs are regular
// files): it is refused before any read.
type NotRegularError struct {
	Path string
	// Mode holds the file's type bits (fs.ModeNamedPipe, fs.ModeDir...).
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("open %s: %s, not a regular file", e.Path, typeName(e.Mode))
}

// Is makes errors.Is(err, ErrNotRegular) hold.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

func typeName(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// rel returns path relative to the root ("." for the root itself), or an
// error naming path when it is not under the root.
func (r Root) rel(op, path string) (string, error) {
	if r.dir == "" {
		// The real root: a relative path is relative to the working
		// directory, as for any open.
		abs, err := absPath(path)
		if err != nil || !filepath.IsAbs(abs) {
			return "", &os.PathError{Op: op, Path: path, Err: ErrOutsideRoot}
		}
		return abs[1:], nil
	}
	c := filepath.Clean(path)
	switch {
	case c == r.dir:
		return ".", nil
	case strings.HasPrefix(c, r.dir+string(filepath.Separator)):
		return c[len(r.dir)+1:], nil
	}
	return "", &os.PathError{Op: op, Path: path, Err: ErrOutsideRoot}
}

// maxLinks is how many symbolic links one resolution may follow (the
// kernel's MAXSYMLINKS).
const maxLinks = 40

// resolveInRoot resolves rel (relative to dir) as the kernel resolves a
// path with RESOLVE_IN_ROOT: ".." stops at dir, and every symbolic link,
// absolute or relative, is followed inside dir. It returns a path under dir
// whose components are not symbolic links as far as they exist (open it
// with O_NOFOLLOW); a missing component ends the walk and the rest is
// appended, for the open to fail on. A loop or too many links is ELOOP.
func resolveInRoot(dir, rel string) (string, error) {
	var done []string                                 // resolved components
	todo := strings.Split(filepath.ToSlash(rel), "/") // components left
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(dir, filepath.Join(done...), c)
		fi, err := os.Lstat(p)
		if err != nil {
			// Missing (or unreadable): the open reports it.
			done = append(done, c)
			done = append(done, todo...)
			break
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > maxLinks {
			return "", &os.PathError{Op: "open", Path: filepath.Join(dir, rel), Err: errLoop}
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		target = filepath.ToSlash(target)
		if strings.HasPrefix(target, "/") {
			done = done[:0] // absolute: from the root
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return filepath.Join(dir, filepath.Join(done...)), nil
}

// Open opens path, which must lie under r, for repeated reading (see File):
// non-blocking, close-on-exec, contained in r, and only if it is a regular
// file. size is the initial buffer size.
func (r Root) Open(path string, size int) (*File, error) {
	f, err := r.openRegular(path)
	if err != nil {
		return nil, err
	}
	if size < 64 {
		size = 64
	}
	if size > maxSize {
		size = maxSize
	}
	return &File{f: f, fd: newSysFD(f), path: path, buf: make([]byte, size)}, nil
}

// Reopen opens f's path again, as Open does, and swaps the new descriptor
// in, keeping f's buffer: for a kernel file that was removed and may be
// back (memory.pressure, which the kernel removes while PSI is off for the
// cgroup: reads through the old descriptor then fail with ENODEV). On
// failure f is left as it was.
func (r Root) Reopen(f *File) error {
	nf, err := r.openRegular(f.path)
	if err != nil {
		return err
	}
	if f.f != nil {
		f.f.Close()
	}
	f.f, f.fd = nf, newSysFD(nf)
	return nil
}

// ReadOnce reads the whole file at path, which must lie under r, with one
// open (cold paths), opened as Open does. max bounds the size (0: 1 MiB): a
// larger file is a *ParseError, found before more than max+1 bytes are
// allocated.
func (r Root) ReadOnce(path string, max int) ([]byte, error) {
	if max <= 0 {
		max = maxSize
	}
	f, err := r.openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, min(4096, max+1))
	for {
		if len(b) == cap(b) {
			if len(b) > max {
				return nil, &ParseError{File: path, Reason: fmt.Sprintf("file larger than %d bytes", max)}
			}
			b = append(b, 0)[:len(b)]
			if cap(b) > max+1 {
				b = b[: len(b) : max+1]
			}
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			if len(b) > max {
				return nil, &ParseError{File: path, Reason: fmt.Sprintf("file larger than %d bytes", max)}
			}
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Stat returns the type bits of what path, which must lie under r,
// resolves to inside r (links followed as Open follows them), or the
// error; fs.ErrNotExist when there is nothing.
func (r Root) Stat(path string) (fs.FileMode, error) { return r.stat(path) }

// Lstat returns the type bits of path itself, which must lie under r: a
// symbolic link is not followed at the last component (its parents are
// resolved as Open resolves them). It tells a missing file from a link
// that leads nowhere.
func (r Root) Lstat(path string) (fs.FileMode, error) { return r.lstat(path) }

// Exists reports whether path resolves to anything inside r.
func (r Root) Exists(path string) bool {
	_, err := r.stat(path)
	return err == nil
}

// IsDir reports whether path resolves to a directory inside r.
func (r Root) IsDir(path string) bool {
	m, err := r.stat(path)
	return err == nil && m.IsDir()
}

// WriteOnce writes b to the regular file at path, which must lie under r,
// opened write-only and non-blocking (a FIFO without a reader fails instead
// of blocking), contained as Open is.
func (r Root) WriteOnce(path string, b []byte) error {
	f, err := r.openWrite(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
