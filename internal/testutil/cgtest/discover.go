package cgtest

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// This is a small discovery of the memory cgroup, independent of package
// cgroupstat on purpose: the tests of cgroupstat must not use cgroupstat to
// set themselves up.

// memoryCgroup is the memory controller's line of /proc/<pid>/cgroup.
type memoryCgroup struct {
	version int    // 1 or 2
	path    string // without " (deleted)"
}

// parseProcCgroup picks the memory controller from /proc/<pid>/cgroup: the
// v1 line listing "memory" if there is one, else the v2 line "0::path".
func parseProcCgroup(data string) (memoryCgroup, error) {
	var v2 memoryCgroup
	hasV2 := false
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, p, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return memoryCgroup{}, fmt.Errorf("malformed /proc/self/cgroup line %q", line)
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
		return memoryCgroup{}, skipf("no memory controller in /proc/self/cgroup")
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

// parseMountinfo returns the cgroup and cgroup2 mounts.
func parseMountinfo(data string) ([]mountEntry, error) {
	var out []mountEntry
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			return nil, fmt.Errorf("malformed /proc/self/mountinfo line %q", line)
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
		}, nil
	}
	if !found {
		return place{}, skipf("memory cgroup hierarchy (v%d) is not mounted", mc.version)
	}
	return place{}, skipf("cgroup path %q lies outside every visible mount of the memory hierarchy (another cgroup namespace?)", mc.path)
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
		return place{}, skipf("%s is not in a mounted memory cgroup hierarchy", dir)
	}
	m := mounts[best]
	rel, _ := under(dir, m.point)
	version := 1
	if m.fstype == "cgroup2" {
		version = 2
	}
	return place{dir: dir, path: path.Join(m.root, rel), version: version, mount: m.point}, nil
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
