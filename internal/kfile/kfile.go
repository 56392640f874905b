// Package kfile reads small kernel pseudo-files (procfs, cgroupfs) cheaply and
// parses them without allocating.
//
// A File is opened once and re-read with pread at offset 0 into a buffer it
// owns, so steady-state reads allocate nothing. The parse helpers work on the
// returned byte slices and report problems as *ParseError, which names the
// file and the line.
package kfile

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// ParseError reports malformed content in a kernel file. It names the file
// (as opened, including any test root), the 1-based line (0 when the problem
// is not tied to one line) and the reason.
type ParseError struct {
	File   string
	Line   int
	Reason string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("parse %s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("parse %s: %s", e.File, e.Reason)
}

// Errorf returns a *ParseError for file at line with a formatted reason.
//
// It is not inlined: inlined, each of its 66 call sites in the parsers
// carried its own allocation of the error and call of fmt.Sprintf, about
// 13.6 KB of the binary of every program importing memwatch/auto
// (scripts/binsize.sh), for error paths.
//
//go:noinline
func Errorf(file string, line int, format string, args ...any) *ParseError {
	return &ParseError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// MaxCount is the largest byte count or event counter a kernel memory
// file can print. The kernel keeps them in signed longs (a page counter is
// at most LONG_MAX / PAGE_SIZE pages, memory.stat clamps negative per-CPU
// sums at 0), so a value at or above 2^63 is not a reading but a fault: a
// wrong file, or a "no value" encoding such as 2^64−1 (−1). Only limit
// files may exceed it, and they are normalised to "no limit".
const MaxCount = 1<<63 - 1

// maxSize bounds how large a pseudo-file may grow the buffer; kernel memory
// files are a few KiB, so anything larger is a wrong file, not a big one.
const maxSize = 1 << 20

// File is a kernel file opened once and re-read from offset 0 on each Read.
// It is not safe for concurrent use.
type File struct {
	f     *os.File // owns the descriptor (and closes it if the File is lost)
	fd    sysFD    // f's descriptor, for pread without the os.File layers
	path  string
	buf   []byte
	reads uint64
}

// Open opens path for repeated reading, as Root.Open does under the real
// root "/": non-blocking, and only if it is a regular file. size is the
// initial buffer size; the buffer grows (rarely, allocating once) when a
// read fills it, up to 1 MiB.
func Open(path string, size int) (*File, error) { return Root{}.Open(path, size) }

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Fd returns the underlying descriptor (for eventfd/inotify registration),
// or ^uintptr(0) after Close. It stays owned by the File.
func (f *File) Fd() uintptr {
	if f.f == nil {
		return ^uintptr(0)
	}
	return f.fd.uintptr(f.f)
}

// Reads returns how many times Read was called, for tests that check which
// files a reader touches.
func (f *File) Reads() uint64 { return f.reads }

// Read re-reads the whole file from offset 0 and returns its content. The
// slice is valid until the next Read or Close.
//
// It costs one pread when the content fits the buffer: a read shorter than
// the buffer is taken as the whole file. That holds for regular files and
// for the kernel files this module re-reads, which all print one record
// (procfs single_open files such as statm, status, meminfo, smaps_rollup and
// /proc/pressure/*; cgroupfs control files, a kernfs seq_file with one
// record): the kernel hands the whole record to a read large enough for it
// (fs/seq_file.c, seq_read_iter). It does not hold for files of many
// records (mountinfo, smaps), which the kernel may cut at a page: read those
// with ReadOnce.
func (f *File) Read() ([]byte, error) {
	if f.f == nil {
		return nil, &os.PathError{Op: "read", Path: f.path, Err: os.ErrInvalid}
	}
	f.reads++
	for {
		n, err := f.fd.pread(f.f, f.buf)
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n < len(f.buf) {
			return f.buf[:n], nil
		}
		if len(f.buf) >= maxSize {
			return nil, &ParseError{File: f.path, Reason: fmt.Sprintf("file larger than %d bytes", maxSize)}
		}
		f.buf = make([]byte, 2*len(f.buf))
	}
}

// Close closes the file. Closing a nil or closed File is a no-op.
func (f *File) Close() error {
	if f == nil || f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// ReadOnce reads a whole small file with a single open (cold paths), as
// Root.ReadOnce does under the real root, bounded at 1 MiB.
func ReadOnce(path string) ([]byte, error) { return Root{}.ReadOnce(path, 0) }

// Lines iterates over b line by line without allocating. It calls fn with the
// 1-based line number and the line without its trailing newline; fn returns
// false to stop. Empty lines are passed too.
func Lines(b []byte, fn func(n int, line []byte) bool) {
	n := 0
	for len(b) > 0 {
		n++
		i := indexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		if !fn(n, line) {
			return
		}
	}
}

// NextField splits the first whitespace-separated field off s and returns it
// and the rest. Both are empty when s holds only whitespace.
func NextField(s []byte) (field, rest []byte) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return s[i:j], s[j:]
}

// TrimSpace trims ASCII white space from both ends of s.
func TrimSpace(s []byte) []byte {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// ParseUint parses a decimal unsigned integer with no sign and no spaces.
// It reports false on an empty string, a non-digit or overflow.
func ParseUint(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	if len(s) <= maxSafeDigits {
		var v uint64
		for _, c := range s {
			d := c - '0'
			if d > 9 {
				return 0, false
			}
			v = v*10 + uint64(d)
		}
		return v, true
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// maxSafeDigits is the most decimal digits that cannot overflow a uint64
// (10^19 − 1 < 2^64).
const maxSafeDigits = 19

// ParseInt parses a decimal integer with an optional leading '-'.
func ParseInt(s []byte) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	u, ok := ParseUint(s)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// ParseFixed parses a non-negative decimal with an optional fraction such as
// "12.34" (the PSI average format) into a float64 without allocating.
func ParseFixed(s []byte) (float64, bool) {
	i := indexByte(s, '.')
	if i < 0 {
		u, ok := ParseUint(s)
		return float64(u), ok
	}
	ip, ok := ParseUint(s[:i])
	if !ok {
		return 0, false
	}
	frac := s[i+1:]
	if len(frac) == 0 || len(frac) > 9 {
		return 0, false
	}
	fp, ok := ParseUint(frac)
	if !ok {
		return 0, false
	}
	div := 1.0
	for range frac {
		div *= 10
	}
	return float64(ip) + float64(fp)/div, true
}

// Equal reports whether b holds exactly the string s, without allocating.
func Equal(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i] != s[i] {
			return false
		}
	}
	return true
}

// Quote renders a short excerpt of b for error messages.
func Quote(b []byte) string {
	const max = 64
	s := string(b)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "?"))
}

// isSpace reports whether c is an ASCII space, tab, newline or carriage
// return. A table, not four comparisons: it is inlined at 74 sites of the
// parsers, where the comparison chains took 1.1 KB of the binary of every
// program importing memwatch/auto (scripts/binsize.sh).
func isSpace(c byte) bool { return spaceTab[c] }

var spaceTab = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }
