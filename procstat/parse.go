package procstat

import (
	"bytes"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// The parsers below are pure: they work on any operating system, allocate
// nothing unless they return an error, and leave the destination untouched
// when they fail. file only names the source in errors. A byte count or a
// count at or above 2^63 is an error (kfile.MaxCount: no kernel counter
// reaches it), and so is a known key seen twice.

// ParseStatm parses the content of /proc/<pid>/statm ("size resident shared
// text lib data dt", in pages) and converts it to bytes with pageSize.
//
// The line must hold at least 7 unsigned decimal fields; further numeric
// fields, should a kernel ever append some, are ignored. A page count whose
// byte value overflows uint64 is an error, not a wrap.
func ParseStatm(file string, b []byte, pageSize uint64, s *Statm) error {
	if pageSize == 0 {
		return kfile.Errorf(file, 0, "page size is 0")
	}
	if len(b) == 0 {
		return kfile.Errorf(file, 0, "empty file")
	}
	line, rest := nextLine(b)
	if len(kfile.TrimSpace(rest)) != 0 {
		return kfile.Errorf(file, 2, "unexpected content after the first line: %s", kfile.Quote(rest))
	}
	var v [7]uint64
	n := 0
	for {
		f, r := kfile.NextField(line)
		if len(f) == 0 {
			break
		}
		line = r
		u, ok := kfile.ParseUint(f)
		if !ok {
			return kfile.Errorf(file, 1, "field %d: bad number %s", n+1, kfile.Quote(f))
		}
		if n < len(v) {
			if u > kfile.MaxCount/pageSize {
				return kfile.Errorf(file, 1, "field %d: %d pages of %d bytes is at or above 2^63 bytes", n+1, u, pageSize)
			}
			v[n] = u * pageSize
		}
		n++
	}
	if n < len(v) {
		return kfile.Errorf(file, 1, "wrong field count: %d fields, want 7", n)
	}
	// v[4] (lib) and v[6] (dt) are always 0 since Linux 2.6.
	*s = Statm{Size: v[0], Resident: v[1], Shared: v[2], Text: v[3], Data: v[5]}
	return nil
}

// ParseStatus parses the memory lines of /proc/<pid>/status ("VmRSS:\t  1234
// kB"): sizes must be in kB and are converted to bytes; Threads is a plain
// count. Lines with other keys are ignored, so any kernel's status parses.
// Threads is required (every task prints it, kernel threads included); the
// memory lines are optional and recorded in Present. A known key seen twice
// is an error.
func ParseStatus(file string, b []byte, s *Status) error {
	var t Status
	var p *uint64
	field := func(key []byte) (bit StatusFields) {
		p, bit = statusField(&t, key)
		return bit
	}
	if err := parseKBLines(file, b, 1, &t.Present, HasThreads, &p, field); err != nil {
		return err
	}
	if t.Present&HasThreads == 0 {
		return kfile.Errorf(file, 0, "missing required field Threads")
	}
	*s = t
	return nil
}

func statusField(s *Status, key []byte) (*uint64, StatusFields) {
	switch string(key) {
	case "VmRSS":
		return &s.VmRSS, HasVmRSS
	case "RssAnon":
		return &s.RssAnon, HasRssAnon
	case "RssFile":
		return &s.RssFile, HasRssFile
	case "RssShmem":
		return &s.RssShmem, HasRssShmem
	case "VmHWM":
		return &s.VmHWM, HasVmHWM
	case "VmSwap":
		return &s.VmSwap, HasVmSwap
	case "VmPeak":
		return &s.VmPeak, HasVmPeak
	case "VmSize":
		return &s.VmSize, HasVmSize
	case "Threads":
		return &s.Threads, HasThreads
	}
	return nil, 0
}

// ParseSmapsRollup parses /proc/<pid>/smaps_rollup: a "[rollup]" header line
// followed by "Key:   1234 kB" lines, converted to bytes. Unknown keys are
// ignored; Rss is required. An empty file (what a kernel thread or an exited
// process shows) is an error.
func ParseSmapsRollup(file string, b []byte, s *SmapsRollup) error {
	if len(kfile.TrimSpace(b)) == 0 {
		return kfile.Errorf(file, 0, "empty file (no address space: kernel thread or exited process?)")
	}
	header, b := nextLine(b)
	if last := lastField(header); !kfile.Equal(last, "[rollup]") {
		return kfile.Errorf(file, 1, "header does not end in [rollup]: %s", kfile.Quote(header))
	}
	var t SmapsRollup
	var p *uint64
	field := func(key []byte) (bit SmapsFields) {
		p, bit = smapsField(&t, key)
		return bit
	}
	if err := parseKBLines(file, b, 2, &t.Present, 0, &p, field); err != nil {
		return err
	}
	if t.Present&HasRss == 0 {
		return kfile.Errorf(file, 0, "missing required field Rss")
	}
	*s = t
	return nil
}

func smapsField(s *SmapsRollup, key []byte) (*uint64, SmapsFields) {
	switch string(key) {
	case "Rss":
		return &s.Rss, HasRss
	case "Pss":
		return &s.Pss, HasPss
	case "Pss_Dirty":
		return &s.PssDirty, HasPssDirty
	case "Pss_Anon":
		return &s.PssAnon, HasPssAnon
	case "Pss_File":
		return &s.PssFile, HasPssFile
	case "Pss_Shmem":
		return &s.PssShmem, HasPssShmem
	case "Shared_Clean":
		return &s.SharedClean, HasSharedClean
	case "Shared_Dirty":
		return &s.SharedDirty, HasSharedDirty
	case "Private_Clean":
		return &s.PrivateClean, HasPrivateClean
	case "Private_Dirty":
		return &s.PrivateDirty, HasPrivateDirty
	case "Referenced":
		return &s.Referenced, HasReferenced
	case "Anonymous":
		return &s.Anonymous, HasAnonymous
	case "LazyFree":
		return &s.LazyFree, HasLazyFree
	case "AnonHugePages":
		return &s.AnonHugePages, HasAnonHugePages
	case "ShmemPmdMapped":
		return &s.ShmemPmdMapped, HasShmemPmdMapped
	case "FilePmdMapped":
		return &s.FilePmdMapped, HasFilePmdMapped
	case "Swap":
		return &s.Swap, HasSwap
	case "SwapPss":
		return &s.SwapPss, HasSwapPss
	case "Locked":
		return &s.Locked, HasLocked
	}
	return nil, 0
}

// ParseMeminfo parses /proc/meminfo ("MemTotal:       24683656 kB"),
// converting kB to bytes. Unknown keys (including the unit-less HugePages_*
// counts) are ignored. MemTotal is required and must not be 0.
func ParseMeminfo(file string, b []byte, m *Meminfo) error {
	var t Meminfo
	var p *uint64
	field := func(key []byte) (bit MeminfoFields) {
		p, bit = meminfoField(&t, key)
		return bit
	}
	if err := parseKBLines(file, b, 1, &t.Present, 0, &p, field); err != nil {
		return err
	}
	if t.Present&HasMemTotal == 0 {
		return kfile.Errorf(file, 0, "missing required field MemTotal")
	}
	if t.MemTotal == 0 {
		return kfile.Errorf(file, 0, "MemTotal is 0")
	}
	*m = t
	return nil
}

func meminfoField(m *Meminfo, key []byte) (*uint64, MeminfoFields) {
	switch string(key) {
	case "MemTotal":
		return &m.MemTotal, HasMemTotal
	case "MemFree":
		return &m.MemFree, HasMemFree
	case "MemAvailable":
		return &m.MemAvailable, HasMemAvailable
	case "Buffers":
		return &m.Buffers, HasBuffers
	case "Cached":
		return &m.Cached, HasCached
	case "SwapTotal":
		return &m.SwapTotal, HasSwapTotal
	case "SwapFree":
		return &m.SwapFree, HasSwapFree
	}
	return nil, 0
}

// parseKBLines parses the "Key:   1234 kB" lines of b, the content of the
// file named file, whose first line is line number firstLine. Blank lines are
// skipped; every other line needs a colon. field returns the Present bit of a
// key, or 0 for a key to ignore, and points *dst at the key's field. A known
// key seen twice is an error. Values are kB converted to bytes, except for
// the keys whose bit is in counts, which are plain counts. Each value is
// stored in **dst and its bit set in *present.
//
// field hands the field over in *dst rather than returning it: a pointer
// returned through a func value would move the caller's struct to the heap.
func parseKBLines[F ~uint8 | ~uint16 | ~uint32 | ~uint64](file string, b []byte, firstLine int, present *F, counts F, dst **uint64, field func(key []byte) F) error {
	for n := firstLine; len(b) > 0; n++ {
		var line []byte
		line, b = nextLine(b)
		if len(kfile.TrimSpace(line)) == 0 {
			continue
		}
		key, val, ok := splitKey(line)
		if !ok {
			return kfile.Errorf(file, n, "no ':' in line %s", kfile.Quote(line))
		}
		bit := field(key)
		if bit == 0 {
			continue
		}
		if *present&bit != 0 {
			return kfile.Errorf(file, n, "%s: duplicate key", key)
		}
		var v uint64
		var err error
		if bit&counts != 0 {
			v, err = parseCount(file, n, key, val)
		} else {
			v, err = parseKB(file, n, key, val)
		}
		if err != nil {
			return err
		}
		**dst = v
		*present |= bit
	}
	return nil
}

// nextLine splits b at the first newline.
func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// splitKey splits "Key: value" at the first colon.
func splitKey(line []byte) (key, val []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return nil, nil, false
	}
	return line[:i], line[i+1:], true
}

// lastField returns the last whitespace-separated field of s.
func lastField(s []byte) []byte {
	s = kfile.TrimSpace(s)
	i := len(s)
	for i > 0 && s[i-1] != ' ' && s[i-1] != '\t' {
		i--
	}
	return s[i:]
}

// parseKB parses "   1234 kB" into bytes.
func parseKB(file string, n int, key, val []byte) (uint64, error) {
	num, rest := kfile.NextField(val)
	unit, rest := kfile.NextField(rest)
	if len(num) == 0 {
		return 0, kfile.Errorf(file, n, "%s: missing value", key)
	}
	if extra, _ := kfile.NextField(rest); len(extra) != 0 {
		return 0, kfile.Errorf(file, n, "%s: unexpected field %s after the unit", key, kfile.Quote(extra))
	}
	v, ok := kfile.ParseUint(num)
	if !ok {
		return 0, kfile.Errorf(file, n, "%s: bad number %s", key, kfile.Quote(num))
	}
	if !kfile.Equal(unit, "kB") {
		if len(unit) == 0 {
			return 0, kfile.Errorf(file, n, "%s: missing unit, want kB", key)
		}
		return 0, kfile.Errorf(file, n, "%s: unit %s, want kB", key, kfile.Quote(unit))
	}
	if v > kfile.MaxCount/1024 {
		return 0, kfile.Errorf(file, n, "%s: %d kB is at or above 2^63 bytes", key, v)
	}
	return v * 1024, nil
}

// parseCount parses a plain unsigned count such as "Threads:\t4".
func parseCount(file string, n int, key, val []byte) (uint64, error) {
	num, rest := kfile.NextField(val)
	if len(num) == 0 {
		return 0, kfile.Errorf(file, n, "%s: missing value", key)
	}
	if extra, _ := kfile.NextField(rest); len(extra) != 0 {
		return 0, kfile.Errorf(file, n, "%s: unexpected field %s after the count", key, kfile.Quote(extra))
	}
	v, ok := kfile.ParseUint(num)
	if !ok {
		return 0, kfile.Errorf(file, n, "%s: bad number %s", key, kfile.Quote(num))
	}
	if v > kfile.MaxCount {
		return 0, kfile.Errorf(file, n, "%s: %d is at or above 2^63", key, v)
	}
	return v, nil
}
