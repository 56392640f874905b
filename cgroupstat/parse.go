package cgroupstat

import (
	"bytes"
	"strings"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// The parsers below are pure: they take the file name (used only in errors)
// and its content, compile on every operating system, never panic, and report
// malformed input as *ParseError naming the file and the 1-based line. The
// hot-path ones (ParseMemStat, ParseEvents, ParseOOMControl, ParsePSI) fill a
// caller-owned value and do not allocate unless they return an error.

// CgroupLine is one line of /proc/<pid>/cgroup: "ID:controllers:path".
type CgroupLine struct {
	// ID is the hierarchy ID; 0 is the cgroup2 (unified) hierarchy.
	ID int
	// Controllers lists the v1 controllers and named hierarchies of the line
	// ("memory", "cpu", "name=systemd"); it is empty for the cgroup2 line.
	Controllers []string
	// Path is the cgroup path relative to the reader's cgroup namespace
	// root, without the " (deleted)" suffix. It may start with "/.." when the
	// cgroup lies outside that namespace.
	Path string
	// Deleted is true when the kernel appended " (deleted)": the cgroup was
	// removed (only printed for cgroup2, for exiting tasks).
	Deleted bool
}

// Has reports whether the line lists controller.
func (l *CgroupLine) Has(controller string) bool {
	for _, c := range l.Controllers {
		if c == controller {
			return true
		}
	}
	return false
}

const deletedSuffix = " (deleted)"

// maxCgroupPath is PATH_MAX: no cgroup path the kernel prints is longer.
const maxCgroupPath = 4096

// ParseProcCgroup parses b, the content of the /proc/<pid>/cgroup file
// named file, into *out (reusing its storage). Blank lines are skipped. A
// trailing slash on a path is dropped ("/foo/" is "/foo", as some emulated
// procfs print it). A controller listed on two lines, or two cgroup2 (0::)
// lines, are an error: the kernel prints each hierarchy once, and either
// line could be the one that counts.
func ParseProcCgroup(file string, b []byte, out *[]CgroupLine) error {
	lines := (*out)[:0]
	var err error
	kfile.Lines(b, func(n int, line []byte) bool {
		if len(kfile.TrimSpace(line)) == 0 {
			return true
		}
		i := indexByte(line, ':')
		if i < 0 {
			err = kfile.Errorf(file, n, "want ID:controllers:path, got %s", kfile.Quote(line))
			return false
		}
		j := indexByte(line[i+1:], ':')
		if j < 0 {
			err = kfile.Errorf(file, n, "want ID:controllers:path, got %s", kfile.Quote(line))
			return false
		}
		j += i + 1
		id, ok := kfile.ParseUint(line[:i])
		if !ok || id > 1<<31-1 {
			err = kfile.Errorf(file, n, "bad hierarchy ID %s", kfile.Quote(line[:i]))
			return false
		}
		var ctrls []string
		if j > i+1 {
			ctrls = strings.Split(string(line[i+1:j]), ",")
			for _, c := range ctrls {
				if c == "" {
					err = kfile.Errorf(file, n, "empty controller name in %s", kfile.Quote(line[i+1:j]))
					return false
				}
			}
		}
		path := string(line[j+1:])
		deleted := strings.HasSuffix(path, deletedSuffix)
		if deleted {
			path = strings.TrimSuffix(path, deletedSuffix)
		}
		if !strings.HasPrefix(path, "/") {
			err = kfile.Errorf(file, n, "cgroup path %s is not absolute", kfile.Quote(line[j+1:]))
			return false
		}
		if len(path) > maxCgroupPath {
			// The kernel prints at most PATH_MAX bytes; a longer path is not
			// from a kernel, and walking its ancestors would take time
			// proportional to its length squared.
			err = kfile.Errorf(file, n, "cgroup path of %d bytes, longer than PATH_MAX (%d)", len(path), maxCgroupPath)
			return false
		}
		if p := strings.TrimRight(path, "/"); p != "" {
			path = p
		} else {
			path = "/"
		}
		for k := range lines {
			l := &lines[k]
			if id == 0 && len(ctrls) == 0 && l.ID == 0 && len(l.Controllers) == 0 {
				err = kfile.Errorf(file, n, "a second cgroup2 (0::) line")
				return false
			}
			for _, c := range ctrls {
				if l.Has(c) {
					err = kfile.Errorf(file, n, "controller %q listed again (first on line %d)", c, k+1)
					return false
				}
			}
		}
		for k, c := range ctrls {
			for _, c2 := range ctrls[:k] {
				if c == c2 {
					err = kfile.Errorf(file, n, "controller %q listed twice", c)
					return false
				}
			}
		}
		lines = append(lines, CgroupLine{ID: int(id), Controllers: ctrls, Path: path, Deleted: deleted})
		return true
	})
	*out = lines
	return err
}

// Mount is one line of /proc/<pid>/mountinfo (see proc(5)), with the path
// fields unescaped.
type Mount struct {
	ID, ParentID int
	// Device is the "major:minor" field.
	Device string
	// Root is the path of the mounted directory inside its filesystem
	// (field 4). For cgroupfs it is the cgroup path of the mount's top
	// directory relative to the reader's cgroup namespace; it starts with
	// "/.." when that directory lies above the namespace root.
	Root string
	// MountPoint is where it is mounted, relative to the process's root
	// (field 5).
	MountPoint string
	// Options are the per-mount options (field 6), e.g. "ro,nosuid,relatime".
	Options string
	// Optional holds the optional fields ("shared:1 master:2"), space
	// separated, possibly empty.
	Optional string
	// FSType, Source and SuperOptions follow the " - " separator.
	FSType       string
	Source       string
	SuperOptions string
}

// ReadOnly reports whether the mount or its superblock is read-only.
func (m *Mount) ReadOnly() bool {
	return hasOption(m.Options, "ro") || hasOption(m.SuperOptions, "ro")
}

// hasOption reports whether the comma-separated list opts holds opt exactly.
func hasOption(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}

// ParseMountinfo parses b, the content of the /proc/<pid>/mountinfo file
// named file, into *out (reusing its storage). The kernel escapes space, tab,
// newline and backslash in paths as \040, \011, \012 and \134; these octal
// escapes are decoded, and a backslash not followed by three octal digits is
// an error. A mount point must be a clean absolute path (no empty, "." or
// ".." component once decoded); the root field may start with "/.." (a
// mount from outside the reader's cgroup namespace). A mount ID seen twice
// is an error.
func ParseMountinfo(file string, b []byte, out *[]Mount) error {
	mounts := (*out)[:0]
	var err error
	ids := map[int]int{} // mount ID → line
	kfile.Lines(b, func(n int, line []byte) bool {
		if len(kfile.TrimSpace(line)) == 0 {
			return true
		}
		var f [6][]byte
		rest := line
		for k := range f {
			f[k], rest = kfile.NextField(rest)
			if len(f[k]) == 0 {
				err = kfile.Errorf(file, n, "want at least 6 fields before \" - \", got %s", kfile.Quote(line))
				return false
			}
		}
		var m Mount
		id, ok1 := kfile.ParseUint(f[0])
		parent, ok2 := kfile.ParseUint(f[1])
		if !ok1 || !ok2 || id > 1<<31-1 || parent > 1<<31-1 {
			err = kfile.Errorf(file, n, "bad mount IDs %s %s", kfile.Quote(f[0]), kfile.Quote(f[1]))
			return false
		}
		m.ID, m.ParentID = int(id), int(parent)
		if first, dup := ids[m.ID]; dup {
			err = kfile.Errorf(file, n, "mount ID %d seen before, on line %d", m.ID, first)
			return false
		}
		ids[m.ID] = n
		if indexByte(f[2], ':') < 0 {
			err = kfile.Errorf(file, n, "bad device %s, want major:minor", kfile.Quote(f[2]))
			return false
		}
		m.Device = string(f[2])
		var e error
		if m.Root, e = unescapeOctal(f[3]); e != nil {
			err = kfile.Errorf(file, n, "root %s: %v", kfile.Quote(f[3]), e)
			return false
		}
		if m.MountPoint, e = unescapeOctal(f[4]); e != nil {
			err = kfile.Errorf(file, n, "mount point %s: %v", kfile.Quote(f[4]), e)
			return false
		}
		if !cleanAbs(m.MountPoint) {
			// The kernel prints the mount point as a canonical path
			// (d_path): a "." or ".." component (escaped or not) or an empty
			// one is not a mount point but an attempt to read elsewhere.
			err = kfile.Errorf(file, n, "mount point %s is not a clean absolute path", kfile.Quote(f[4]))
			return false
		}
		m.Options = string(f[5])
		// Optional fields up to the "-" separator.
		var opt []byte
		for {
			var fld []byte
			fld, rest = kfile.NextField(rest)
			if len(fld) == 0 {
				err = kfile.Errorf(file, n, "no \" - \" separator in %s", kfile.Quote(line))
				return false
			}
			if kfile.Equal(fld, "-") {
				break
			}
			if len(opt) > 0 {
				opt = append(opt, ' ')
			}
			opt = append(opt, fld...)
		}
		m.Optional = string(opt)
		fstype, rest := kfile.NextField(rest)
		if len(fstype) == 0 {
			err = kfile.Errorf(file, n, "no filesystem type after \" - \" in %s", kfile.Quote(line))
			return false
		}
		if m.FSType, e = unescapeOctal(fstype); e != nil {
			err = kfile.Errorf(file, n, "filesystem type %s: %v", kfile.Quote(fstype), e)
			return false
		}
		src, rest := kfile.NextField(rest)
		if m.Source, e = unescapeOctal(src); e != nil {
			err = kfile.Errorf(file, n, "source %s: %v", kfile.Quote(src), e)
			return false
		}
		sopts, _ := kfile.NextField(rest)
		m.SuperOptions = string(sopts)
		mounts = append(mounts, m)
		return true
	})
	*out = mounts
	return err
}

// cleanAbs reports whether p is absolute with no empty, "." or ".."
// component (a single trailing slash only for "/").
func cleanAbs(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	if p == "/" {
		return true
	}
	for _, c := range strings.Split(p[1:], "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

type escapeError string

func (e escapeError) Error() string { return string(e) }

// unescapeOctal decodes the kernel's \ooo escapes.
func unescapeOctal(b []byte) (string, error) {
	if indexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+3 >= len(b) {
			return "", escapeError("truncated octal escape")
		}
		v := 0
		for _, d := range b[i+1 : i+4] {
			if d < '0' || d > '7' {
				return "", escapeError("backslash not followed by three octal digits")
			}
			v = v*8 + int(d-'0')
		}
		if v > 0xff {
			return "", escapeError("octal escape above \\377")
		}
		out = append(out, byte(v))
		i += 3
	}
	return string(out), nil
}

// ParseMemStat parses b, the content of the memory.stat file named file,
// into *out (which it resets first). v selects the key set: V2 reads the
// cgroup2 names (anon, file, kernel, inactive_file...), V1 the hierarchical
// total_* names (total_rss as Anon, total_cache as File, total_rss_huge as
// AnonTHP...) and hierarchical_memory_limit / hierarchical_memsw_limit. Keys
// are looked up by name, in any order; unknown keys are ignored but every
// line must be "key value" with an unsigned decimal value below 2^63 (see
// kfile.MaxCount), and no key may appear twice (which of the two would be
// the kernel's?). It does not allocate unless it returns an error.
func ParseMemStat(file string, b []byte, v Version, out *MemStat) error {
	*out = MemStat{}
	if v != V1 && v != V2 {
		return kfile.Errorf(file, 0, "unknown cgroup version %d", int(v))
	}
	it := newKeyUints(file, b)
	for it.next() {
		var bit StatFields
		if v == V2 {
			bit = out.setV2(it.key, it.val)
		} else {
			bit = out.setV1(it.key, it.val)
		}
		out.Present |= bit
	}
	if it.err != nil {
		return it.err
	}
	if v == V2 && out.Present&StatKernel == 0 {
		parts := StatKernelStack | StatPageTables | StatPercpu | StatSlabReclaimable | StatSlabUnreclaimable
		if out.Present&parts != 0 {
			out.Kernel = out.KernelStack + out.PageTables + out.Percpu + out.SlabReclaimable + out.SlabUnreclaimable
			out.Present |= StatKernel | StatKernelFromParts
		}
	}
	return nil
}

// setV2 stores a cgroup2 key's value and returns its bit (0: a key not
// read).
func (m *MemStat) setV2(key []byte, x uint64) StatFields {
	switch string(key) {
	case "anon":
		m.Anon = x
		return StatAnon
	case "file":
		m.File = x
		return StatFile
	case "active_anon":
		m.ActiveAnon = x
		return StatActiveAnon
	case "inactive_anon":
		m.InactiveAnon = x
		return StatInactiveAnon
	case "active_file":
		m.ActiveFile = x
		return StatActiveFile
	case "inactive_file":
		m.InactiveFile = x
		return StatInactiveFile
	case "unevictable":
		m.Unevictable = x
		return StatUnevictable
	case "shmem":
		m.Shmem = x
		return StatShmem
	case "file_mapped":
		m.FileMapped = x
		return StatFileMapped
	case "file_dirty":
		m.FileDirty = x
		return StatFileDirty
	case "file_writeback":
		m.FileWriteback = x
		return StatFileWriteback
	case "kernel":
		m.Kernel = x
		return StatKernel
	case "kernel_stack":
		m.KernelStack = x
		return StatKernelStack
	case "pagetables":
		m.PageTables = x
		return StatPageTables
	case "percpu":
		m.Percpu = x
		return StatPercpu
	case "sock":
		m.Sock = x
		return StatSock
	case "slab_reclaimable":
		m.SlabReclaimable = x
		return StatSlabReclaimable
	case "slab_unreclaimable":
		m.SlabUnreclaimable = x
		return StatSlabUnreclaimable
	case "anon_thp":
		m.AnonTHP = x
		return StatAnonTHP
	}
	return 0
}

// setV1 is setV2 for the v1 keys.
func (m *MemStat) setV1(key []byte, x uint64) StatFields {
	switch string(key) {
	case "total_rss":
		m.Anon = x
		return StatAnon
	case "total_cache":
		m.File = x
		return StatFile
	case "total_active_anon":
		m.ActiveAnon = x
		return StatActiveAnon
	case "total_inactive_anon":
		m.InactiveAnon = x
		return StatInactiveAnon
	case "total_active_file":
		m.ActiveFile = x
		return StatActiveFile
	case "total_inactive_file":
		m.InactiveFile = x
		return StatInactiveFile
	case "total_unevictable":
		m.Unevictable = x
		return StatUnevictable
	case "total_shmem":
		m.Shmem = x
		return StatShmem
	case "total_mapped_file":
		m.FileMapped = x
		return StatFileMapped
	case "total_dirty":
		m.FileDirty = x
		return StatFileDirty
	case "total_writeback":
		m.FileWriteback = x
		return StatFileWriteback
	case "total_swap":
		m.Swap = x
		return StatSwap
	case "total_rss_huge":
		m.AnonTHP = x
		return StatAnonTHP
	case "hierarchical_memory_limit":
		m.HierarchicalLimit = x
		return StatHierarchicalLimit
	case "hierarchical_memsw_limit":
		m.HierarchicalMemswLimit = x
		return StatHierarchicalMemswLimit
	}
	return 0
}

// keyUints iterates over b, the content of the file named file, as "key
// value" lines with an unsigned decimal value below 2^63 (kfile.MaxCount:
// no kernel counter reaches it): each call of next moves to the next such
// line and sets key and val. Blank lines are skipped; next stops at the
// first malformed line, or at a key seen before (the kernel prints each
// once: which of the two would be its?), and sets err to a *ParseError
// naming it.
type keyUints struct {
	file string
	b    []byte // what is left
	n    int    // the line number of the current line
	key  []byte
	val  uint64
	err  error
	seen keySet
}

func newKeyUints(file string, b []byte) keyUints {
	return keyUints{file: file, b: b, seen: keySet{all: b}}
}

// keySet remembers the keys of one file, to find a repeated one without
// allocating: an open-addressing hash table of the keys' offsets in the
// file (a key runs from its offset to the next space, tab, CR or newline,
// as kfile.NextField splits it).
type keySet struct {
	all  []byte // the whole file
	n    int
	slot [keySlots]uint32 // offset+1; 0 = empty
	big  map[string]struct{}
}

const keySlots = 256 // a power of two; memory.stat has about 60 keys

// add records key, a subslice of all, and reports whether an equal key was
// recorded before.
func (s *keySet) add(key []byte) (dup bool) {
	o := cap(s.all) - cap(key) // key's offset: it is a subslice of all
	if o < 0 || o >= len(s.all) {
		return false // not a key of the file (cannot happen: keyUints slices all)
	}
	off := uint32(o)
	if s.n >= keySlots*3/4 {
		// More keys than any kernel prints (memory.stat has about 60): a
		// map, allocated for such a file only.
		if s.big == nil {
			s.big = make(map[string]struct{}, 2*s.n)
			for _, o := range s.slot {
				if o != 0 {
					s.big[string(s.keyAt(o-1))] = struct{}{}
				}
			}
		}
		if _, ok := s.big[string(key)]; ok {
			return true
		}
		s.big[string(key)] = struct{}{}
		return false
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	for i := h & (keySlots - 1); ; i = (i + 1) & (keySlots - 1) {
		o := s.slot[i]
		if o == 0 {
			s.slot[i] = off + 1
			s.n++
			return false
		}
		if bytes.Equal(s.keyAt(o-1), key) {
			return true
		}
	}
}

// keyAt returns the key that starts at offset off of the file.
func (s *keySet) keyAt(off uint32) []byte {
	k, _ := kfile.NextField(s.all[off:])
	return k
}

func (it *keyUints) next() bool {
	for len(it.b) > 0 {
		it.n++
		b := it.b
		// The kernel's own form, "key value\n" with a single space, in one
		// pass: a key of bytes above ' ' (none of them white space), then 1
		// to 19 digits (which cannot overflow), then the end of the line.
		// Anything else takes the general path below, which gives the same
		// result for this form (FuzzKeyUints checks it).
		i := 0
		for i < len(b) && b[i] > ' ' {
			i++
		}
		if i > 0 && i < len(b) && b[i] == ' ' {
			start := i + 1
			j, v := start, uint64(0)
			for j < len(b) && j-start < 19 {
				d := b[j] - '0'
				if d > 9 {
					break
				}
				v = v*10 + uint64(d)
				j++
			}
			if j > start && (j == len(b) || b[j] == '\n') && v <= kfile.MaxCount {
				it.key, it.val = b[:i], v
				if j < len(b) {
					j++
				}
				it.b = b[j:]
				return it.record()
			}
		}
		var line []byte
		if k := indexByte(b, '\n'); k >= 0 {
			line, it.b = b[:k], b[k+1:]
		} else {
			line, it.b = b, nil
		}
		key, val, ok := keyValue(line)
		if !ok {
			if len(kfile.TrimSpace(line)) == 0 {
				continue
			}
			it.err = kfile.Errorf(it.file, it.n, "want \"key value\", got %s", kfile.Quote(line))
			return false
		}
		x, ok := kfile.ParseUint(val)
		if !ok {
			it.err = kfile.Errorf(it.file, it.n, "bad value %s for %s", kfile.Quote(val), kfile.Quote(key))
			return false
		}
		if x > kfile.MaxCount {
			it.err = kfile.Errorf(it.file, it.n, "impossible value %s for %s (at or above 2^63)", kfile.Quote(val), kfile.Quote(key))
			return false
		}
		it.key, it.val = key, x
		return it.record()
	}
	return false
}

// record adds the current key to the keys seen and reports true, or sets
// err and reports false when it was seen before.
func (it *keyUints) record() bool {
	if it.seen.add(it.key) {
		it.err = kfile.Errorf(it.file, it.n, "duplicate key %s", kfile.Quote(it.key))
		return false
	}
	return true
}

// keyValue splits "key value" (exactly two fields).
func keyValue(line []byte) (key, val []byte, ok bool) {
	key, rest := kfile.NextField(line)
	val, rest = kfile.NextField(rest)
	if len(key) == 0 || len(val) == 0 || len(kfile.TrimSpace(rest)) != 0 {
		return nil, nil, false
	}
	return key, val, true
}

// ParseEvents parses b, the content of a cgroup2 memory.events or
// memory.events.local file named file, into *out (which it resets first).
// Unknown keys are ignored (newer kernels add some, e.g. sock_throttled);
// low, high, max and oom are required (oom_kill, 4.13+, and oom_group_kill,
// 5.17+, are 0 when absent); a key seen twice is an error. It does not
// allocate unless it returns an error.
func ParseEvents(file string, b []byte, out *EventCounts) error {
	*out = EventCounts{}
	it := newKeyUints(file, b)
	var seen uint8
	for it.next() {
		x := it.val
		switch string(it.key) {
		case "low":
			out.Low, seen = x, seen|1
		case "high":
			out.High, seen = x, seen|2
		case "max":
			out.Max, seen = x, seen|4
		case "oom":
			out.OOM, seen = x, seen|8
		case "oom_kill":
			out.OOMKill = x
		case "oom_group_kill":
			out.OOMGroupKill = x
		}
	}
	if it.err == nil && seen != 15 {
		// Every kernel with memory.events prints these four: without
		// them the counters would read as zeros that were never counted.
		return kfile.Errorf(file, 0, "want the keys low, high, max and oom")
	}
	return it.err
}

// ParseOOMControl parses b, the content of a cgroup v1 memory.oom_control
// file named file: it sets out.OOMKillDisable, out.UnderOOM and
// out.OOMKill (the oom_kill counter, kernel 4.13+; 0 when absent) and leaves
// the other fields of out alone. oom_kill_disable and under_oom are
// required; a key seen twice is an error. It does not allocate unless it
// returns an error.
func ParseOOMControl(file string, b []byte, out *Events) error {
	out.OOMKillDisable, out.UnderOOM, out.OOMKill = false, false, 0
	it := newKeyUints(file, b)
	var seen uint8
	for it.next() {
		x := it.val
		switch string(it.key) {
		case "oom_kill_disable":
			out.OOMKillDisable, seen = x != 0, seen|1
		case "under_oom":
			out.UnderOOM, seen = x != 0, seen|2
		case "oom_kill":
			out.OOMKill = x
		}
	}
	if it.err == nil && seen != 3 {
		return kfile.Errorf(file, 0, "want the keys oom_kill_disable and under_oom")
	}
	return it.err
}

// ParsePSI parses b, the content of a pressure file named file (a cgroup's
// memory.pressure or /proc/pressure/memory), into out.Some and out.Full; it
// leaves out.Source alone. Each line is "some|full avg10=A avg60=A
// avg300=A total=T" with the averages in percent (at most 100) and the total
// stall time in microseconds (below 2^63); keys are matched by name. The
// "some" line is required; a missing "full" line leaves Full zero. A line
// kind or a key repeated is an error. It does not allocate unless it
// returns an error.
func ParsePSI(file string, b []byte, out *PSI) error {
	out.Some, out.Full = PSILine{}, PSILine{}
	var err error
	seenSome, seenFull := false, false
	kfile.Lines(b, func(n int, line []byte) bool {
		kind, rest := kfile.NextField(line)
		var dst *PSILine
		switch {
		case len(kind) == 0:
			return true
		case kfile.Equal(kind, "some") && !seenSome:
			dst, seenSome = &out.Some, true
		case kfile.Equal(kind, "full") && !seenFull:
			dst, seenFull = &out.Full, true
		case kfile.Equal(kind, "some") || kfile.Equal(kind, "full"):
			err = kfile.Errorf(file, n, "a second %s line", kind)
			return false
		default:
			err = kfile.Errorf(file, n, "want a some or full line, got %s", kfile.Quote(line))
			return false
		}
		var seen int
		for {
			var fld []byte
			fld, rest = kfile.NextField(rest)
			if len(fld) == 0 {
				break
			}
			eq := indexByte(fld, '=')
			if eq < 0 {
				err = kfile.Errorf(file, n, "want key=value, got %s", kfile.Quote(fld))
				return false
			}
			key, val := fld[:eq], fld[eq+1:]
			var ok bool
			bit := 0
			switch string(key) {
			case "avg10":
				dst.Avg10, ok = parseAvg(val)
				bit = 1
			case "avg60":
				dst.Avg60, ok = parseAvg(val)
				bit = 2
			case "avg300":
				dst.Avg300, ok = parseAvg(val)
				bit = 4
			case "total":
				dst.Total, ok = kfile.ParseUint(val)
				ok = ok && dst.Total <= kfile.MaxCount
				bit = 8
			default:
				ok = true // a future key
			}
			if seen&bit != 0 {
				err = kfile.Errorf(file, n, "duplicate key %s", kfile.Quote(key))
				return false
			}
			seen |= bit
			if !ok {
				err = kfile.Errorf(file, n, "bad value in %s", kfile.Quote(fld))
				return false
			}
		}
		if seen != 15 {
			err = kfile.Errorf(file, n, "want avg10, avg60, avg300 and total in %s", kfile.Quote(line))
			return false
		}
		return true
	})
	if err == nil && !seenSome {
		err = kfile.Errorf(file, 0, "no \"some\" line")
	}
	return err
}

// parseAvg parses a PSI average: a percentage of time, at most 100.
func parseAvg(b []byte) (float64, bool) {
	v, ok := kfile.ParseFixed(b)
	return v, ok && v <= 100
}

// parseMemTotal returns MemTotal from b, the content of the /proc/meminfo
// file named file, in bytes.
func parseMemTotal(file string, b []byte) (uint64, error) {
	var (
		total uint64
		found bool
		err   error
	)
	kfile.Lines(b, func(n int, line []byte) bool {
		key, rest := kfile.NextField(line)
		if !kfile.Equal(key, "MemTotal:") {
			return true
		}
		val, rest := kfile.NextField(rest)
		unit, rest := kfile.NextField(rest)
		if found {
			err = kfile.Errorf(file, n, "duplicate key MemTotal")
			return false
		}
		kb, ok := kfile.ParseUint(val)
		if !ok || !kfile.Equal(unit, "kB") || len(kfile.TrimSpace(rest)) != 0 || kb > kfile.MaxCount/1024 {
			err = kfile.Errorf(file, n, "want \"MemTotal: <n> kB\" below 2^63 bytes, got %s", kfile.Quote(line))
			return false
		}
		total, found = kb*1024, true
		return true
	})
	if err != nil {
		return 0, err
	}
	if !found || total == 0 {
		return 0, kfile.Errorf(file, 0, "no MemTotal line")
	}
	return total, nil
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// ParseProcs parses b, the content of a cgroup.procs (or v1 tasks) file
// named file: one decimal pid per line. It appends the pids to (*out)[:0];
// blank lines are skipped. A pid of 0 stands for a process the reader's pid
// namespace cannot see (v2 prints it that way) and is kept.
func ParseProcs(file string, b []byte, out *[]int) error {
	pids := (*out)[:0]
	var err error
	kfile.Lines(b, func(n int, line []byte) bool {
		line = kfile.TrimSpace(line)
		if len(line) == 0 {
			return true
		}
		pid, ok := kfile.ParseUint(line)
		if !ok || pid > 1<<31-1 {
			err = kfile.Errorf(file, n, "bad pid %s", kfile.Quote(line))
			return false
		}
		pids = append(pids, int(pid))
		return true
	})
	*out = pids
	return err
}
