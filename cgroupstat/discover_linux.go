package cgroupstat

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// under joins a path shown by the kernel (absolute in the process's view)
// to the configured root.
func (o *options) under(p string) string { return o.fs.Join(p) }

// maxMountinfo bounds /proc/self/mountinfo: a line is about 150 bytes, so
// this is some 50000 mounts, beyond any real host.
const maxMountinfo = 8 << 20

// discover is the portable part of Discover: it only reads files under
// o.fs, so fixture trees drive it on any system.
func discover(o options) (Location, error) {
	cgFile := o.under("/proc/self/cgroup")
	b, err := o.fs.ReadOnce(cgFile, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && noEntry(o, cgFile) {
			return Location{}, &DiscoveryError{File: cgFile, Reason: "missing (no cgroup support in the kernel, or /proc not mounted)", Err: ErrNoCgroup}
		}
		return Location{}, &DiscoveryError{File: cgFile, Reason: "cannot read", Err: err}
	}
	var lines []CgroupLine
	if err := ParseProcCgroup(cgFile, b, &lines); err != nil {
		return Location{}, err
	}
	var memLine, v2Line *CgroupLine
	for i := range lines {
		l := &lines[i]
		if l.ID != 0 && l.Has("memory") && memLine == nil {
			memLine = l
		}
		if l.ID == 0 && len(l.Controllers) == 0 && v2Line == nil {
			v2Line = l
		}
	}
	loc := Location{Version: V1}
	if memLine == nil {
		if v2Line == nil {
			return Location{}, &DiscoveryError{File: cgFile, Reason: "no line lists the memory controller and there is no cgroup2 (0::) line", Err: ErrNoCgroup}
		}
		memLine, loc.Version = v2Line, V2
	}
	loc.Path, loc.Deleted = memLine.Path, memLine.Deleted

	miFile := o.under("/proc/self/mountinfo")
	b, err = o.fs.ReadOnce(miFile, maxMountinfo)
	if err != nil {
		return Location{}, &DiscoveryError{File: miFile, Reason: "cannot read", Err: err}
	}
	var mounts []Mount
	if err := ParseMountinfo(miFile, b, &mounts); err != nil {
		return Location{}, err
	}
	var hasV1, hasV2 bool
	for i := range mounts {
		switch mounts[i].FSType {
		case "cgroup":
			hasV1 = true
		case "cgroup2":
			hasV2 = true
		}
	}
	loc.Hybrid = hasV1 && hasV2

	m, rel, n := pickMount(mounts, loc.Version, loc.Path)
	switch {
	case n == 0 && loc.Version == V1:
		return Location{}, &DiscoveryError{File: miFile, Reason: "no cgroup (v1) mount with the memory controller", Err: ErrNotMounted}
	case n == 0:
		return Location{}, &DiscoveryError{File: miFile, Reason: "no cgroup2 mount", Err: ErrNotMounted}
	case m == nil:
		return Location{}, &DiscoveryError{File: miFile,
			Reason: fmt.Sprintf("%s cgroup path %q is not inside the root of any of its %d mount(s) (%s)", loc.Version, loc.Path, n, mountRoots(mounts, loc.Version)),
			Err:    ErrOutsideMount}
	}
	loc.MountPoint = o.under(m.MountPoint)
	loc.MountRoot = m.Root
	loc.Dir = filepath.Join(loc.MountPoint, rel)
	loc.ReadOnly = m.ReadOnly()
	loc.AncestorsHidden = m.Root != "/" || !isHierarchyRoot(o, loc.Version, loc.MountPoint)

	switch {
	case loc.Version == V2:
		loc.UnifiedDir = loc.Dir
	case loc.Hybrid && v2Line != nil && !v2Line.Deleted:
		if um, urel, _ := pickMount(mounts, V2, v2Line.Path); um != nil {
			loc.UnifiedDir = filepath.Join(o.under(um.MountPoint), urel)
		}
	}

	if loc.Version == V2 && !loc.Deleted {
		d, err := memoryDir(o, &loc)
		if err != nil {
			return Location{}, err
		}
		loc.Dir = d
	}
	return loc, nil
}

// memoryDir returns the cgroup2 directory whose memory files account for
// the process: its own cgroup when the memory controller is enabled there,
// else the nearest ancestor that has it (a cgroup2 cgroup without the
// controller has no memory.* interface files, and the kernel charges its
// memory to that ancestor). Whether a cgroup has the controller is read from
// its cgroup.controllers (the controllers its parent enabled for it; the
// root's lists those the hierarchy has), or, where that file is missing (an
// emulated cgroupfs), from the presence of memory.current.
//
// Reaching the hierarchy's root means no cgroup below it accounts for the
// process: ErrNoLimit, nothing limits it. Reaching the top of a mount that
// is not the hierarchy root (a cgroup namespace) means the accounting
// ancestor is invisible: ErrNoCgroup. A directory that does not exist at all
// (removed since /proc/self/cgroup was read) is left alone so that Open
// fails naming it.
func memoryDir(o options, loc *Location) (string, error) {
	d := loc.Dir
	if !o.fs.IsDir(d) {
		return d, nil
	}
	for {
		if isHierarchyRoot(o, V2, d) {
			reason := "the process is in the root cgroup, which has no memory.current or memory.max: nothing limits it"
			if d != loc.Dir {
				reason = "the memory controller is not enabled for this cgroup or any ancestor below the root: nothing limits it"
			}
			if has, known := controllersHave(o, d, "memory"); known && !has {
				reason = "the cgroup2 hierarchy has no memory controller (cgroup.controllers of the root lacks memory): nothing limits it"
			}
			return "", &DiscoveryError{File: filepath.Join(loc.Dir, "memory.current"), Reason: reason, Err: ErrNoLimit}
		}
		has, known := controllersHave(o, d, "memory")
		if !known {
			has = o.fs.Exists(filepath.Join(d, "memory.current"))
		}
		if has {
			return d, nil
		}
		if d == loc.MountPoint || filepath.Dir(d) == d {
			return "", &DiscoveryError{File: filepath.Join(d, "cgroup.controllers"),
				Reason: "the memory controller is not enabled for this cgroup or any visible ancestor (its memory is charged to an ancestor hidden by the mount)",
				Err:    ErrNoCgroup}
		}
		d = filepath.Dir(d)
	}
}

// controllersHave reports whether dir's cgroup.controllers lists ctrl, and
// whether the file could be read at all.
func controllersHave(o options, dir, ctrl string) (has, known bool) {
	b, err := o.fs.ReadOnce(filepath.Join(dir, "cgroup.controllers"), 0)
	if err != nil {
		return false, false
	}
	for f, rest := kfile.NextField(b); len(f) > 0; f, rest = kfile.NextField(rest) {
		if kfile.Equal(f, ctrl) {
			return true, true
		}
	}
	return false, true
}

// noEntry reports whether nothing at all is at path (not even a link that
// leads nowhere).
func noEntry(o options, path string) bool {
	_, err := o.fs.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// pickMount chooses the mount serving version v for the cgroup path and
// returns it with the path relative to its root. n counts the mounts of
// that hierarchy (0: not mounted). Among mounts whose root contains the path
// the longest root wins; for equal roots the first listed wins unless a later
// one has the same mount point (mounted over it, so the later one is what
// the path shows).
func pickMount(mounts []Mount, v Version, path string) (best *Mount, rel string, n int) {
	for i := range mounts {
		m := &mounts[i]
		if v == V1 && (m.FSType != "cgroup" || !hasOption(m.SuperOptions, "memory")) {
			continue
		}
		if v == V2 && m.FSType != "cgroup2" {
			continue
		}
		n++
		r, ok := relPath(m.Root, path)
		if !ok {
			continue
		}
		if best == nil || len(m.Root) > len(best.Root) || (m.Root == best.Root && m.MountPoint == best.MountPoint) {
			best, rel = m, r
		}
	}
	return best, rel, n
}

// relPath returns path relative to the mount root ("/" for the root itself).
// Paths with "." or ".." components (a cgroup outside the reader's cgroup
// namespace, or a mount whose root lies above it) cannot be translated: the
// names between are not known.
func relPath(root, path string) (string, bool) {
	if !cleanAbs(root) || !cleanAbs(path) {
		return "", false
	}
	switch {
	case root == "/":
		return path, true
	case path == root:
		return "/", true
	case strings.HasPrefix(path, root) && path[len(root)] == '/':
		return path[len(root):], true
	}
	return "", false
}

func mountRoots(mounts []Mount, v Version) string {
	var s []string
	for i := range mounts {
		m := &mounts[i]
		if (v == V1 && m.FSType == "cgroup" && hasOption(m.SuperOptions, "memory")) || (v == V2 && m.FSType == "cgroup2") {
			s = append(s, fmt.Sprintf("root %q at %q", m.Root, m.MountPoint))
		}
	}
	return strings.Join(s, ", ")
}

// isHierarchyRoot reports whether dir is the real root of its cgroup
// hierarchy, by the files the kernel creates only there (v1:
// cgroup.sane_behavior, release_agent) or everywhere but there (v2:
// cgroup.type, cgroup.events).
func isHierarchyRoot(o options, v Version, dir string) bool {
	if v == V1 {
		return o.fs.Exists(filepath.Join(dir, "cgroup.sane_behavior")) || o.fs.Exists(filepath.Join(dir, "release_agent"))
	}
	return !o.fs.Exists(filepath.Join(dir, "cgroup.type")) && !o.fs.Exists(filepath.Join(dir, "cgroup.events"))
}
