package cgroupstat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

func newOptions(opts []Option) options {
	o := options{root: "/"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.root == "" {
		o.root = "/"
	}
	return o
}

// under joins a path shown by the kernel (absolute in the process's view)
// to the configured root.
func (o *options) under(p string) string { return filepath.Join(o.root, p) }

// discover is the portable part of Discover: it only reads files under
// o.root, so fixture trees drive it on any system.
func discover(o options) (Location, error) {
	if abs, err := filepath.Abs(o.root); err == nil {
		o.root = abs
	}
	cgFile := o.under("/proc/self/cgroup")
	b, err := kfile.ReadOnce(cgFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
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
	b, err = kfile.ReadOnce(miFile)
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
	loc.AncestorsHidden = m.Root != "/" || !isHierarchyRoot(loc.Version, loc.MountPoint)

	switch {
	case loc.Version == V2:
		loc.UnifiedDir = loc.Dir
	case loc.Hybrid && v2Line != nil && !v2Line.Deleted:
		if um, urel, _ := pickMount(mounts, V2, v2Line.Path); um != nil {
			loc.UnifiedDir = filepath.Join(o.under(um.MountPoint), urel)
		}
	}

	if loc.Version == V2 && !loc.Deleted {
		// Without the memory controller enabled in its parent, a cgroup2
		// cgroup has no memory.* interface files and its charges go to the
		// nearest ancestor that has them: read that one. A directory that
		// does not exist at all (removed since /proc/self/cgroup was read) is
		// left alone so that Open fails naming it.
		if isDir(loc.Dir) {
			d := loc.Dir
			for !exists(filepath.Join(d, "memory.current")) {
				if d == loc.MountPoint || filepath.Dir(d) == d {
					reason := "the memory controller is not enabled for this cgroup or any visible ancestor"
					if isHierarchyRoot(V2, d) {
						reason += " (the root cgroup has no memory.current: nothing limits this process)"
					}
					return Location{}, &DiscoveryError{File: filepath.Join(loc.Dir, "memory.current"), Reason: reason, Err: ErrNoCgroup}
				}
				d = filepath.Dir(d)
			}
			loc.Dir = d
		}
	}
	return loc, nil
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
func isHierarchyRoot(v Version, dir string) bool {
	if v == V1 {
		return exists(filepath.Join(dir, "cgroup.sane_behavior")) || exists(filepath.Join(dir, "release_agent"))
	}
	return !exists(filepath.Join(dir, "cgroup.type")) && !exists(filepath.Join(dir, "cgroup.events"))
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
