package memcg

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// This is a small discovery of the memory cgroup, independent of package
// cgroupstat on purpose: the tests of cgroupstat set themselves up with this
// package and must not use cgroupstat to do it.

// place is a cgroup directory with its identity.
type place struct {
	dir     string // directory on disk
	path    string // cgroup path as /proc/<pid>/cgroup shows it
	version int
	mount   string // mount point of the hierarchy
	root    string // the hierarchy path mounted there (mountinfo field 4)
}

func (p place) child(name string) place {
	q := p
	q.dir = filepath.Join(p.dir, name)
	q.path = joinCgroupPath(p.path, name)
	return q
}

func (p place) up() (place, bool) {
	if p.dir == p.mount || p.path == "/" {
		return p, false
	}
	q := p
	q.dir = filepath.Dir(p.dir)
	q.path = filepath.Dir(p.path)
	return q, true
}

// at returns the place of another cgroup path of the same hierarchy (a
// path as /proc/<pid>/cgroup shows it), or false when that path lies
// outside what is mounted.
func (p place) at(cgroupPath string) (place, bool) {
	rel, ok := under(cgroupPath, p.root)
	if !ok {
		return place{}, false
	}
	q := p
	q.dir = path.Join(p.mount, rel)
	q.path = cgroupPath
	return q, true
}

func joinCgroupPath(base, name string) string {
	if base == "/" {
		return "/" + name
	}
	return base + "/" + name
}

// memoryCgroup is the memory controller's line of /proc/<pid>/cgroup.
type memoryCgroup struct {
	version int    // 1 or 2
	path    string // without " (deleted)"
}

// parseProcCgroup picks the memory controller from /proc/<pid>/cgroup (file
// names it in errors): the v1 line listing "memory" if there is one, else the
// v2 line "0::path".
func parseProcCgroup(file, data string) (memoryCgroup, error) {
	var v2 memoryCgroup
	hasV2 := false
	n := 0
	for line := range strings.SplitSeq(data, "\n") {
		n++
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, p, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return memoryCgroup{}, kfile.Errorf(file, n, "not id:controllers:path: %q", line)
		}
		p = strings.TrimSuffix(p, " (deleted)")
		if id == "0" && ctrls == "" {
			v2, hasV2 = memoryCgroup{version: 2, path: p}, true
			continue
		}
		if slices.Contains(strings.Split(ctrls, ","), "memory") {
			return memoryCgroup{version: 1, path: p}, nil
		}
	}
	if !hasV2 {
		return memoryCgroup{}, unavailablef("no memory controller in %s", file)
	}
	return v2, nil
}

// mountEntry is one cgroup or cgroup2 mount of /proc/self/mountinfo.
type mountEntry struct {
	root   string // field 4: the hierarchy path mounted
	point  string // field 5: where
	fstype string
	opts   []string // super options
}

// parseMountinfo returns the cgroup and cgroup2 mounts of a mountinfo file
// (file names it in errors).
func parseMountinfo(file, data string) ([]mountEntry, error) {
	var out []mountEntry
	n := 0
	for line := range strings.SplitSeq(data, "\n") {
		n++
		if line == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			return nil, kfile.Errorf(file, n, "not a mountinfo line: %q", line)
		}
		if g[0] != "cgroup" && g[0] != "cgroup2" {
			continue
		}
		out = append(out, mountEntry{
			root:   unescapeMount(f[3]),
			point:  unescapeMount(f[4]),
			fstype: g[0],
			opts:   strings.Split(g[2], ","),
		})
	}
	return out, nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return s[0] <= '3'
}

// resolve finds the directory of the memory cgroup: a mount of the right
// type (for v1 one with the memory option) whose root contains the path.
func resolve(mc memoryCgroup, mounts []mountEntry) (place, error) {
	found := false
	for _, m := range mounts {
		if mc.version == 1 && (m.fstype != "cgroup" || !slices.Contains(m.opts, "memory")) {
			continue
		}
		if mc.version == 2 && m.fstype != "cgroup2" {
			continue
		}
		found = true
		rel, ok := under(mc.path, m.root)
		if !ok {
			continue
		}
		return place{
			dir:     path.Join(m.point, rel),
			path:    mc.path,
			version: mc.version,
			mount:   m.point,
			root:    m.root,
		}, nil
	}
	if !found {
		return place{}, unavailablef("memory cgroup hierarchy (v%d) is not mounted", mc.version)
	}
	return place{}, unavailablef("cgroup path %q lies outside every visible mount of the memory hierarchy (another cgroup namespace?)", mc.path)
}

// placeOf identifies a directory given by WithParent: the cgroup mount with
// the longest mount point containing it.
func placeOf(dir string, mounts []mountEntry) (place, error) {
	dir = path.Clean(dir)
	best := -1
	for i, m := range mounts {
		if m.fstype == "cgroup" && !slices.Contains(m.opts, "memory") {
			continue
		}
		if _, ok := under(dir, m.point); ok && (best < 0 || len(m.point) > len(mounts[best].point)) {
			best = i
		}
	}
	if best < 0 {
		return place{}, unavailablef("%s is not in a mounted memory cgroup hierarchy", dir)
	}
	m := mounts[best]
	rel, _ := under(dir, m.point)
	version := 1
	if m.fstype == "cgroup2" {
		version = 2
	}
	return place{dir: dir, path: path.Join(m.root, rel), version: version, mount: m.point, root: m.root}, nil
}

// under returns p relative to base ("" when equal) if p lies in base.
func under(p, base string) (string, bool) {
	p, base = path.Clean(p), path.Clean(base)
	if base == "/" {
		return strings.TrimPrefix(p, "/"), strings.HasPrefix(p, "/")
	}
	if p == base {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, base+"/")
	return rest, ok
}
