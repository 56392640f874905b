package vm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// CPIOWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// Linux kernel unpacks as an initramfs. Parent directories are added
// automatically before their children, as the kernel requires.
type CPIOWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	n    int64 // bytes written so far
	err  error
}

// NewCPIOWriter returns a writer appending an archive to w. Call Close to
// write the trailer and flush.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{w: bufio.NewWriterSize(w, 1<<16), dirs: map[string]bool{".": true, "": true}}
}

// cpio mode bits (the same as the kernel's S_IF*).
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
	cpioCharDev = 0o020000
)

type cpioHeader struct {
	mode       uint32
	nlink      uint32
	mtime      uint32
	size       uint32
	rmaj, rmin uint32
	name       string
}

// clean turns name into the archive's form: relative, slash-separated, no dots.
func cpioClean(name string) (string, error) {
	c := path.Clean("/" + filepath.ToSlash(name))
	if c == "/" {
		return "", fmt.Errorf("cpio: invalid entry name %q", name)
	}
	return c[1:], nil
}

func (c *CPIOWriter) header(h cpioHeader) {
	if c.err != nil {
		return
	}
	c.ino++
	// 13 fields of 8 hex digits after the magic: ino, mode, uid, gid, nlink,
	// mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
	s := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, h.mode, 0, 0, h.nlink, h.mtime, h.size, 0, 0, h.rmaj, h.rmin, len(h.name)+1, 0)
	c.write([]byte(s))
	c.write([]byte(h.name))
	c.write([]byte{0})
	c.pad()
}

func (c *CPIOWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

// pad aligns the stream to 4 bytes.
func (c *CPIOWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// parents adds the missing parent directories of the cleaned name.
func (c *CPIOWriter) parents(name string) {
	dir := path.Dir(name)
	if c.dirs[dir] {
		return
	}
	c.parents(dir)
	c.dirs[dir] = true
	c.header(cpioHeader{mode: cpioDir | 0o755, nlink: 2, name: dir})
}

func mtime(t time.Time) uint32 {
	if t.IsZero() || t.Unix() < 0 || t.Unix() > 1<<32-1 {
		return 0
	}
	return uint32(t.Unix())
}

// Dir adds a directory with permission bits perm.
func (c *CPIOWriter) Dir(name string, perm fs.FileMode) error {
	n, err := cpioClean(name)
	if err != nil {
		return err
	}
	if c.dirs[n] {
		return c.err
	}
	c.parents(n)
	c.dirs[n] = true
	c.header(cpioHeader{mode: cpioDir | uint32(perm.Perm()), nlink: 2, name: n})
	return c.err
}

// Bytes adds a regular file holding data.
func (c *CPIOWriter) Bytes(name string, perm fs.FileMode, data []byte) error {
	n, err := cpioClean(name)
	if err != nil {
		return err
	}
	if int64(len(data)) > 1<<32-1 {
		return fmt.Errorf("cpio: %s: file too large for newc", name)
	}
	c.parents(n)
	c.header(cpioHeader{mode: cpioRegular | uint32(perm.Perm()), nlink: 1, size: uint32(len(data)), name: n})
	c.write(data)
	c.pad()
	return c.err
}

// File adds the host file src as name, keeping its permission bits and mtime.
func (c *CPIOWriter) File(name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("cpio: %s is not a regular file", src)
	}
	if st.Size() > 1<<32-1 {
		return fmt.Errorf("cpio: %s: file too large for newc", src)
	}
	n, err := cpioClean(name)
	if err != nil {
		return err
	}
	c.parents(n)
	c.header(cpioHeader{mode: cpioRegular | uint32(st.Mode().Perm()), nlink: 1, mtime: mtime(st.ModTime()), size: uint32(st.Size()), name: n})
	if c.err != nil {
		return c.err
	}
	copied, err := io.Copy(c.w, io.LimitReader(f, st.Size()))
	c.n += copied
	if err != nil {
		c.err = err
		return err
	}
	if copied != st.Size() {
		c.err = fmt.Errorf("cpio: %s changed size while archiving", src)
		return c.err
	}
	c.pad()
	return c.err
}

// Symlink adds a symbolic link name pointing to target.
func (c *CPIOWriter) Symlink(name, target string) error {
	n, err := cpioClean(name)
	if err != nil {
		return err
	}
	c.parents(n)
	c.header(cpioHeader{mode: cpioSymlink | 0o777, nlink: 1, size: uint32(len(target)), name: n})
	c.write([]byte(target))
	c.pad()
	return c.err
}

// CharDev adds a character device node.
func (c *CPIOWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	n, err := cpioClean(name)
	if err != nil {
		return err
	}
	c.parents(n)
	c.header(cpioHeader{mode: cpioCharDev | uint32(perm.Perm()), nlink: 1, rmaj: major, rmin: minor, name: n})
	return c.err
}

// Tree adds the host directory src (recursively) as name: directories,
// regular files and symbolic links; other file types are an error. It
// returns the number of bytes of file data added.
func (c *CPIOWriter) Tree(name, src string) (int64, error) {
	var total int64
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := path.Join(filepath.ToSlash(name), filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return c.Dir(dst, info.Mode())
		case info.Mode().IsRegular():
			total += info.Size()
			return c.File(dst, p)
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return c.Symlink(dst, t)
		default:
			return fmt.Errorf("cpio: %s: unsupported file type %v", p, info.Mode().Type())
		}
	})
	return total, err
}

// Close writes the trailer and flushes. The underlying writer is not closed.
func (c *CPIOWriter) Close() error {
	c.header(cpioHeader{nlink: 1, name: "TRAILER!!!"})
	// The kernel reads the archive in 512-byte blocks happily either way;
	// pad to 512 like cpio(1) does.
	if r := c.n % 512; r != 0 && c.err == nil {
		c.write(make([]byte, 512-r))
	}
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// errCPIO is returned by ReadCPIO for malformed archives.
var errCPIO = errors.New("cpio: malformed newc archive")

// CPIOEntry is one entry read back by ReadCPIO.
type CPIOEntry struct {
	Name   string
	Mode   uint32 // type and permission bits
	RMajor uint32
	RMinor uint32
	Data   []byte // file content or symlink target
	MTime  uint32
	NLink  uint32
}

// ReadCPIO parses a newc archive (up to the trailer). It exists to test
// CPIOWriter and to inspect initramfs images.
func ReadCPIO(r io.Reader) ([]CPIOEntry, error) {
	br := bufio.NewReader(r)
	var off int64
	read := func(n int64) ([]byte, error) {
		// Grow with the data actually there: a header may claim 4 GiB.
		b, err := io.ReadAll(io.LimitReader(br, n))
		if err == nil && int64(len(b)) < n {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("%w: at offset %d: %v", errCPIO, off, err)
		}
		off += n
		return b, nil
	}
	skipPad := func() error {
		if r := off % 4; r != 0 {
			_, err := read(4 - r)
			return err
		}
		return nil
	}
	var out []CPIOEntry
	for {
		h, err := read(110)
		if err != nil {
			return out, err
		}
		if string(h[:6]) != "070701" {
			return out, fmt.Errorf("%w: bad magic %q at offset %d", errCPIO, h[:6], off-110)
		}
		var f [13]uint32
		for i := range f {
			var v uint64
			for _, ch := range h[6+8*i : 14+8*i] {
				d := -1
				switch {
				case ch >= '0' && ch <= '9':
					d = int(ch - '0')
				case ch >= 'a' && ch <= 'f':
					d = int(ch-'a') + 10
				case ch >= 'A' && ch <= 'F':
					d = int(ch-'A') + 10
				}
				if d < 0 {
					return out, fmt.Errorf("%w: bad hex in header at offset %d", errCPIO, off-110)
				}
				v = v<<4 | uint64(d)
			}
			f[i] = uint32(v)
		}
		nameb, err := read(int64(f[11]))
		if err != nil {
			return out, err
		}
		if len(nameb) == 0 || nameb[len(nameb)-1] != 0 {
			return out, fmt.Errorf("%w: name not NUL-terminated at offset %d", errCPIO, off)
		}
		name := string(nameb[:len(nameb)-1])
		if err := skipPad(); err != nil {
			return out, err
		}
		if name == "TRAILER!!!" {
			return out, nil
		}
		data, err := read(int64(f[6]))
		if err != nil {
			return out, err
		}
		if err := skipPad(); err != nil {
			return out, err
		}
		out = append(out, CPIOEntry{Name: name, Mode: f[1], NLink: f[4], MTime: f[5], RMajor: f[9], RMinor: f[10], Data: data})
	}
}
