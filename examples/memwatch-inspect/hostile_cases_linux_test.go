//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The hostile corpus: fixture trees captured from real kernels, each
// mutated in one thing. This file holds the table; hostile_linux_test.go
// builds the roots, runs memwatch-inspect on them and checks the class
// invariants.

// base is a committed fixture tree the cases start from.
type base struct {
	name    string // short name, first element of the case names
	dir     string // the fixture, relative to this package
	version int
	cg      string // the cgroup's directory, relative to the root
	usageF  string // its usage file's name
	files   []kernelFile
	// What the unmutated tree reads (filled by loadBases from a plain
	// memwatch.Read of the committed fixture).
	usage, limit, rss, failcnt uint64
}

// role is what losing a file costs, by the rules of issue 11 ("degrade per
// field").
type role uint8

const (
	// roleView: the view cannot be read without it (/proc/self/cgroup,
	// mountinfo, statm; the cgroup's usage and limits).
	roleView role = iota
	// roleCgroupDetail: a cgroup file beyond usage and limit; its loss
	// degrades the fields that need it, the cgroup's usage and limit stay.
	roleCgroupDetail
	// roleHost: /proc/meminfo; its loss loses MemTotal only.
	roleHost
	// roleProcDetail: /proc/self/status, the process breakdown; RSS stays.
	roleProcDetail
)

// shape is how a file's content is built, for the value mutations.
type shape uint8

const (
	shapeUsage shape = iota // one number that is not a limit: usage, peak, swap, kmem, failcnt
	shapeLimit              // one number or "max": a limit
	shapeKeyed              // "key value" lines: memory.stat, memory.events, oom_control
	shapePSI                // "some avg10=… total=…"
	shapeKB                 // "Key:   N kB" lines: meminfo, status
	shapeStatm              // seven page counts
	shapeText               // /proc/self/cgroup, mountinfo
)

// kernelFile is a file the readers open, relative to the root.
type kernelFile struct {
	rel   string
	shape shape
	role  role
	// ownLimit: the cgroup's own hard limit or an ancestor's (a value of 0
	// there is a limit of 0, "max" no limit).
	ownLimit bool
	// absentOK: the file's absence has a meaning for the kernel (an
	// ancestor without memory.max or memory.high), so removing it is no
	// error.
	absentOK bool
}

// hostileCase is one mutated root.
type hostileCase struct {
	name   string
	base   *base
	mutate func(c *caseTree)
	// want is the exit status: exitOK, exitPartial, or anyStatus (0 or 2,
	// the class invariant).
	want int
	// checks state what the issue requires of this case beyond the class
	// invariants, on the JSON output.
	checks []check
	// escape: the case points outside the root; a canary tree lies there
	// and must stay unopened and unreported.
	escape bool
}

// anyStatus accepts exitOK or exitPartial.
const anyStatus = -1

// check is one requirement on the decoded JSON; it returns "" when met.
type check struct {
	name string
	fn   func(j jsonDoc) string
}

// Values written into numeric fields: the kernel's "no limit" word, a
// negative, zero, 2^64−1 and 2^63.
var numberValues = []string{"max", "-1", "0", "18446744073709551615", "9223372036854775808"}

// bases returns the fixture trees: v1 (host-shaped, memory.limit_in_bytes
// 512 MiB) and v2 (a child cgroup with memory.max 256 MiB under a parent
// with its own memory.max, memory.high and memory.swap.max files).
func bases() []*base {
	v1cg := "sys/fs/cgroup/memory/mwsnap"
	v1 := &base{name: "v1", dir: "../../memwatch/testdata/v1-limit", version: 1, cg: v1cg, usageF: "memory.usage_in_bytes", files: []kernelFile{
		{rel: "proc/self/cgroup", shape: shapeText, role: roleView},
		{rel: "proc/self/mountinfo", shape: shapeText, role: roleView},
		{rel: "proc/self/statm", shape: shapeStatm, role: roleView},
		{rel: "proc/self/status", shape: shapeKB, role: roleProcDetail},
		{rel: "proc/meminfo", shape: shapeKB, role: roleHost},
		{rel: "proc/pressure/memory", shape: shapePSI, role: roleCgroupDetail},
		{rel: v1cg + "/memory.usage_in_bytes", shape: shapeUsage, role: roleView},
		{rel: v1cg + "/memory.limit_in_bytes", shape: shapeLimit, role: roleView, ownLimit: true},
		{rel: v1cg + "/memory.max_usage_in_bytes", shape: shapeUsage, role: roleCgroupDetail},
		{rel: v1cg + "/memory.memsw.usage_in_bytes", shape: shapeUsage, role: roleCgroupDetail},
		{rel: v1cg + "/memory.memsw.limit_in_bytes", shape: shapeLimit, role: roleCgroupDetail},
		{rel: v1cg + "/memory.kmem.usage_in_bytes", shape: shapeUsage, role: roleCgroupDetail},
		{rel: v1cg + "/memory.failcnt", shape: shapeUsage, role: roleCgroupDetail},
		{rel: v1cg + "/memory.stat", shape: shapeKeyed, role: roleCgroupDetail},
		{rel: v1cg + "/memory.oom_control", shape: shapeKeyed, role: roleCgroupDetail},
	}}
	v2cg, v2p := "sys/fs/cgroup/mw/test", "sys/fs/cgroup/mw"
	v2 := &base{name: "v2", dir: "../../cgroupstat/testdata/v2-child-256m", version: 2, cg: v2cg, usageF: "memory.current", files: []kernelFile{
		{rel: "proc/self/cgroup", shape: shapeText, role: roleView},
		{rel: "proc/self/mountinfo", shape: shapeText, role: roleView},
		{rel: "proc/self/statm", shape: shapeStatm, role: roleView},
		{rel: "proc/self/status", shape: shapeKB, role: roleProcDetail},
		{rel: "proc/meminfo", shape: shapeKB, role: roleHost},
		{rel: v2cg + "/memory.current", shape: shapeUsage, role: roleView},
		{rel: v2cg + "/memory.max", shape: shapeLimit, role: roleView, ownLimit: true},
		{rel: v2p + "/memory.max", shape: shapeLimit, role: roleView, ownLimit: true, absentOK: true},
		// memory.high bounds the adaptive GOMEMLIMIT and the headroom like
		// the hard limit: an unreadable one cannot stand for "no high".
		{rel: v2cg + "/memory.high", shape: shapeLimit, role: roleView, absentOK: true},
		{rel: v2p + "/memory.high", shape: shapeLimit, role: roleView, absentOK: true},
		{rel: v2cg + "/memory.peak", shape: shapeUsage, role: roleCgroupDetail},
		{rel: v2cg + "/memory.swap.current", shape: shapeUsage, role: roleCgroupDetail},
		{rel: v2cg + "/memory.swap.max", shape: shapeLimit, role: roleCgroupDetail},
		{rel: v2p + "/memory.swap.max", shape: shapeLimit, role: roleCgroupDetail},
		{rel: v2cg + "/memory.stat", shape: shapeKeyed, role: roleCgroupDetail},
		{rel: v2cg + "/memory.events", shape: shapeKeyed, role: roleCgroupDetail},
		{rel: v2cg + "/memory.events.local", shape: shapeKeyed, role: roleCgroupDetail},
		{rel: v2cg + "/memory.pressure", shape: shapePSI, role: roleCgroupDetail},
	}}
	return []*base{v1, v2}
}

// short names a file in case names: its base name, with the cgroup's
// parent marked.
func (b *base) short(rel string) string {
	if filepath.Dir(rel) != b.cg && strings.HasPrefix(rel, "sys/") {
		return "parent." + filepath.Base(rel)
	}
	if strings.HasPrefix(rel, "proc/self/") {
		return "self." + filepath.Base(rel)
	}
	if rel == "proc/pressure/memory" {
		return "proc.pressure"
	}
	return filepath.Base(rel)
}

// hostileCases returns the whole table.
func hostileCases(bs []*base) []hostileCase {
	var cs []hostileCase
	for _, b := range bs {
		cs = append(cs, hostileCase{name: b.name + "/baseline", base: b, mutate: func(*caseTree) {}, want: exitOK,
			checks: []check{cgroupKept(b), processKept(b)}})
		for _, f := range b.files {
			cs = append(cs, contentCases(b, f)...)
			cs = append(cs, valueCases(b, f)...)
		}
		cs = append(cs, cgroupFileCases(b)...)
		cs = append(cs, mountinfoCases(b)...)
		cs = append(cs, escapeCases(b)...)
	}
	cs = append(cs, structureCases(bs)...)
	return cs
}

// keeps returns the checks that losing or spoiling f must pass: what
// issue 11 says survives it.
func keeps(b *base, f kernelFile) []check {
	switch f.role {
	case roleCgroupDetail, roleHost:
		return []check{cgroupKept(b)}
	case roleProcDetail:
		return []check{processKept(b), cgroupKept(b)}
	}
	return nil
}

// contentCases spoil the whole content of f, or put something that is not
// a regular file in its place.
func contentCases(b *base, f kernelFile) []hostileCase {
	name := func(m string) string { return b.name + "/" + b.short(f.rel) + "/" + m }
	view := f.role == roleView
	spoilt := anyStatus // a detail file that cannot be read: degraded fields, status 0 or 2
	if view {
		spoilt = exitPartial
	}
	k := keeps(b, f)
	missing := spoilt
	switch {
	case f.rel == "proc/self/cgroup":
		missing = exitOK // no /proc/self/cgroup: no cgroup support, merely unsupported
	case f.absentOK:
		missing = exitOK
	}
	if f.rel == "proc/self/cgroup" || f.rel == "proc/self/mountinfo" {
		// Content with no memory line (empty, /dev/null) reads as "not in
		// a memory cgroup" or "not mounted": unsupported, status 0.
		spoilt = anyStatus
	}
	cs := []hostileCase{
		{name: name("missing"), mutate: func(c *caseTree) { c.remove(f.rel) }, want: missing, checks: k},
		{name: name("empty"), mutate: func(c *caseTree) { c.put(f.rel, "") }, want: spoilt, checks: k},
		{name: name("junk"), mutate: func(c *caseTree) { c.put(f.rel, "garbage \x01\xfe\xff {}[] ::\n") }, want: spoilt, checks: k},
		{name: name("nul-inside"), mutate: func(c *caseTree) {
			c.edit(f.rel, func(s string) string { return s[:1] + "\x00" + s[1:] })
		}, want: anyStatus, checks: k},
		{name: name("nul-only"), mutate: func(c *caseTree) { c.put(f.rel, strings.Repeat("\x00", 4096)) }, want: spoilt, checks: k},
		{name: name("huge-digits"), mutate: func(c *caseTree) { c.put(f.rel, strings.Repeat("9", 2<<20)+"\n") }, want: spoilt, checks: k},
		{name: name("huge-tail"), mutate: func(c *caseTree) {
			c.edit(f.rel, func(s string) string { return s + strings.Repeat("\n", 2<<20) })
		}, want: anyStatus, checks: k},
		{name: name("crlf"), mutate: func(c *caseTree) {
			c.edit(f.rel, func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") })
		}, want: anyStatus, checks: k},
		{name: name("truncated"), mutate: func(c *caseTree) {
			c.edit(f.rel, func(s string) string { return s[:len(s)/2] })
		}, want: anyStatus, checks: k},
		{name: name("fifo"), mutate: func(c *caseTree) { c.fifo(f.rel) }, want: spoilt, checks: k},
		{name: name("directory"), mutate: func(c *caseTree) { c.remove(f.rel); c.mkdir(f.rel) }, want: spoilt, checks: k},
		{name: name("symlink-loop"), mutate: func(c *caseTree) {
			c.symlink(f.rel, filepath.Base(f.rel)+".loop")
			c.symlink(f.rel+".loop", filepath.Base(f.rel))
		}, want: spoilt, checks: k},
		{name: name("symlink-dev-zero"), mutate: func(c *caseTree) { c.symlink(f.rel, "/dev/zero") }, want: spoilt, checks: k},
		{name: name("symlink-dev-null"), mutate: func(c *caseTree) { c.symlink(f.rel, "/dev/null") }, want: spoilt, checks: k},
		{name: name("device-zero"), mutate: func(c *caseTree) { c.mknod(f.rel, 1, 5) }, want: spoilt, checks: k},
		{name: name("device-urandom"), mutate: func(c *caseTree) { c.mknod(f.rel, 1, 9) }, want: spoilt, checks: k},
		{name: name("mode-000"), mutate: func(c *caseTree) { c.chmod(f.rel, 0) }, want: anyStatus, checks: k},
	}
	if f.shape == shapeKeyed || f.shape == shapeKB || f.shape == shapePSI {
		// The first key again with another value: a parse error, never
		// "the last one wins".
		key := "" // the first line's
		switch f.rel {
		case "proc/self/status":
			key = "VmRSS:"
		case "proc/meminfo":
			key = "MemTotal:"
		}
		cs = append(cs, hostileCase{name: name("duplicate-key"), mutate: func(c *caseTree) {
			c.edit(f.rel, func(s string) string {
				for line := range strings.SplitSeq(s, "\n") {
					if strings.HasPrefix(line, key) {
						return s + withFirstNumber(line, "12345") + "\n"
					}
				}
				panic("no " + key + " line in " + f.rel)
			})
		}, want: exitPartial, checks: k})
	}
	for i := range cs {
		cs[i].base = b
	}
	return cs
}

// withFirstNumber replaces the first run of digits in line with v.
func withFirstNumber(line, v string) string {
	i := strings.IndexAny(line, "0123456789")
	if i < 0 {
		return line + " " + v
	}
	j := i
	for j < len(line) && line[j] >= '0' && line[j] <= '9' {
		j++
	}
	return line[:i] + v + line[j:]
}

// valueCases write the numberValues (and, per shape, other impossible
// values) into each numeric field of f.
func valueCases(b *base, f kernelFile) []hostileCase {
	var cs []hostileCase
	add := func(what string, want int, checks []check, mutate func(c *caseTree)) {
		cs = append(cs, hostileCase{name: b.name + "/" + b.short(f.rel) + "/" + what, base: b, mutate: mutate, want: want, checks: checks})
	}
	k := keeps(b, f)
	switch f.shape {
	case shapeUsage:
		for _, v := range numberValues {
			want, checks := anyStatus, k
			if f.role == roleView && (v == "max" || v == "-1" || v == "18446744073709551615") {
				// Only limit files may say "max"; a usage of 2^64−1 is
				// an error, not 16 EiB.
				want, checks = exitPartial, []check{usageNotStated}
			}
			add("value="+v, want, checks, func(c *caseTree) { c.put(f.rel, v+"\n") })
		}
	case shapeLimit:
		for _, v := range numberValues {
			want, checks := anyStatus, k
			switch {
			case f.ownLimit && v == "0":
				// A limit of 0 is a limit the kernel accepts.
				want, checks = exitOK, []check{limitIs(0)}
			case f.ownLimit && v == "max" && b.version == 2:
				want, checks = exitOK, []check{limitIs(b.limit)}
				if f.rel == b.cg+"/memory.max" {
					checks = []check{noLimit} // the parent says max too
				}
			}
			add("value="+v, want, checks, func(c *caseTree) { c.put(f.rel, v+"\n") })
		}
	case shapeKeyed:
		keys := keysOf(b, f.rel)
		for _, key := range keys {
			for _, v := range []string{"max", "9223372036854775808"} {
				add(key+"="+v, anyStatus, k, func(c *caseTree) { c.setKey(f.rel, key, v) })
			}
		}
		for _, v := range []string{"-1", "0", "18446744073709551615"} {
			checks := k
			if v == "0" && b.version == 1 && strings.HasSuffix(f.rel, "memory.stat") {
				// hierarchical_memory_limit 0 is a limit of 0.
				checks = []check{cgroupAvailable}
			}
			add("all-keys="+v, anyStatus, checks, func(c *caseTree) {
				for _, key := range keys {
					c.setKey(f.rel, key, v)
				}
			})
		}
	case shapePSI:
		for _, line := range []string{"some", "full"} {
			for _, v := range numberValues {
				add(line+".total="+v, anyStatus, k, func(c *caseTree) { c.setPSI(f.rel, line, "total", v) })
			}
			for _, field := range []string{"avg10", "avg60", "avg300"} {
				for _, v := range []string{"-1", "nan", "inf", "1e309", "101.00", "18446744073709551615.00", "max"} {
					add(line+"."+field+"="+v, anyStatus, k, func(c *caseTree) { c.setPSI(f.rel, line, field, v) })
				}
			}
		}
	case shapeKB:
		keys := []string{"VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "VmSwap"}
		if f.rel == "proc/meminfo" {
			keys = []string{"MemTotal", "MemAvailable", "SwapTotal", "SwapFree"}
		}
		// 2^54−1 kB is just below 2^64 bytes: 16 EiB, impossible.
		for _, key := range keys {
			for _, v := range []string{"max", "-1", "0", "18014398509481983", "9223372036854775808", "18446744073709551615"} {
				add(key+"="+v, anyStatus, k, func(c *caseTree) { c.setKB(f.rel, key, v) })
			}
		}
	case shapeStatm:
		// 2^52−1 pages of 4 KiB is just below 2^64 bytes.
		for i := range 7 {
			for _, v := range []string{"max", "-1", "4503599627370495", "9223372036854775808", "18446744073709551615"} {
				want := anyStatus
				if v == "max" || v == "-1" {
					want = exitPartial
				}
				add(fmt.Sprintf("field%d=%s", i+1, v), want, nil, func(c *caseTree) { c.setField(f.rel, i, v) })
			}
		}
	}
	return cs
}

// keysOf lists the keys of a "key value" file of the base.
func keysOf(b *base, rel string) []string {
	data, err := os.ReadFile(filepath.Join(b.dir, rel))
	if err != nil {
		panic(err)
	}
	var keys []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if k, _, ok := strings.Cut(line, " "); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// cgroupFileCases spoil /proc/self/cgroup in the ways of its format.
func cgroupFileCases(b *base) []hostileCase {
	line := "4:memory:/mwsnap"
	path := "/mwsnap"
	if b.version == 2 {
		line, path = "0::/mw/test", "/mw/test"
	}
	prefix := strings.TrimSuffix(line, path)
	set := func(content string) func(*caseTree) {
		return func(c *caseTree) {
			c.edit("proc/self/cgroup", func(s string) string {
				if !strings.Contains(s, line+"\n") {
					panic("no " + line + " in " + b.dir)
				}
				return strings.Replace(s, line+"\n", content, 1)
			})
		}
	}
	cs := []hostileCase{
		// A trailing slash is tolerated (issue 11).
		{name: "trailing-slash", mutate: set(line + "/\n"), want: exitOK, checks: []check{cgroupKept(b)}},
		{name: "double-slash", mutate: set(prefix + "/" + path + "\n"), want: anyStatus},
		{name: "dot-component", mutate: set(prefix + "/./" + path[1:] + "\n"), want: anyStatus},
		{name: "relative-path", mutate: set(prefix + path[1:] + "\n"), want: anyStatus},
		{name: "empty-path", mutate: set(prefix + "\n"), want: anyStatus},
		{name: "deleted-suffix", mutate: set(line + " (deleted)\n"), want: anyStatus},
		{name: "space-in-path", mutate: set(line + " x\n"), want: anyStatus},
		{name: "nul-in-path", mutate: set(line + "\x00x\n"), want: anyStatus},
		{name: "long-path", mutate: set(prefix + strings.Repeat("/a", 70000) + "\n"), want: anyStatus},
		{name: "no-colons", mutate: set(strings.ReplaceAll(line, ":", " ") + "\n"), want: anyStatus},
		{name: "bad-id", mutate: set("x" + line + "\n"), want: anyStatus},
		{name: "negative-id", mutate: set("-" + line + "\n"), want: anyStatus},
		{name: "extra-colon", mutate: set(prefix + "/mw:snap" + path + "\n"), want: anyStatus},
		{name: "duplicate-line", mutate: set(line + "\n" + prefix + "/other\n"), want: anyStatus},
		{name: "no-newline", mutate: func(c *caseTree) {
			c.edit("proc/self/cgroup", func(s string) string { return strings.TrimRight(s, "\n") })
		}, want: exitOK, checks: []check{cgroupKept(b)}},
		{name: "blank-lines", mutate: func(c *caseTree) {
			c.edit("proc/self/cgroup", func(s string) string { return "\n\n" + strings.ReplaceAll(s, "\n", "\n\n") })
		}, want: anyStatus},
	}
	if b.version == 1 {
		cs = append(cs,
			hostileCase{name: "memory-twice-in-line", mutate: set("4:memory,memory:/mwsnap\n"), want: anyStatus},
			hostileCase{name: "v2-line-lists-memory", mutate: func(c *caseTree) {
				c.edit("proc/self/cgroup", func(s string) string { return strings.Replace(s, "0::/", "0:memory:/", 1) })
			}, want: anyStatus},
		)
	}
	for i := range cs {
		cs[i].name = b.name + "/self.cgroup/" + cs[i].name
		cs[i].base = b
	}
	return cs
}

// mountinfoCases spoil the mountinfo line of the memory hierarchy.
func mountinfoCases(b *base) []hostileCase {
	line := "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
	mp := "/sys/fs/cgroup/memory"
	if b.version == 2 {
		line = "25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"
		mp = "/sys/fs/cgroup"
	}
	set := func(content string) func(*caseTree) {
		return func(c *caseTree) {
			c.edit("proc/self/mountinfo", func(s string) string {
				if !strings.Contains(s, line+"\n") {
					panic("no " + line + " in " + b.dir)
				}
				return strings.Replace(s, line+"\n", content, 1)
			})
		}
	}
	withMP := func(p string) string { return strings.Replace(line, " "+mp+" ", " "+p+" ", 1) + "\n" }
	withRoot := func(r string) string { return strings.Replace(line, " / "+mp+" ", " "+r+" "+mp+" ", 1) + "\n" }
	fields := strings.Fields(line)
	cs := []hostileCase{
		{name: "missing-fields", mutate: set(strings.Join(fields[:5], " ") + "\n"), want: anyStatus},
		{name: "no-separator", mutate: set(strings.Replace(line, " - ", " ", 1) + "\n"), want: anyStatus},
		{name: "separator-only", mutate: set(strings.Join(fields[:6], " ") + " -\n"), want: anyStatus},
		{name: "optional-fields", mutate: set(strings.Replace(line, " - ", " shared:7 master:3 propagate_from:2 - ", 1) + "\n"), want: exitOK, checks: []check{cgroupKept(b)}},
		{name: "octal-escape-valid", mutate: set(withMP(strings.Replace(mp, "/fs/", "/fs\\057", 1))), want: anyStatus},
		{name: "octal-escape-short", mutate: set(withMP(mp + "\\04")), want: anyStatus},
		{name: "octal-escape-not-octal", mutate: set(withMP(mp + "\\089")), want: anyStatus},
		{name: "octal-escape-over-255", mutate: set(withMP(mp + "\\777")), want: anyStatus},
		{name: "octal-escape-nul", mutate: set(withMP(mp + "\\000x")), want: anyStatus},
		{name: "trailing-backslash", mutate: set(withMP(mp + "\\")), want: anyStatus},
		{name: "mountpoint-relative", mutate: set(withMP(mp[1:])), want: anyStatus},
		{name: "mountpoint-root", mutate: set(withMP("/")), want: anyStatus},
		{name: "mountpoint-trailing-slash", mutate: set(withMP(mp + "/")), want: anyStatus},
		{name: "root-dotdot", mutate: set(withRoot("/..")), want: anyStatus},
		{name: "root-relative", mutate: set(withRoot("mwsnap")), want: anyStatus},
		{name: "root-trailing-slash", mutate: set(withRoot("//")), want: anyStatus},
		{name: "root-escaped-dotdot", mutate: set(withRoot("/\\056\\056")), want: anyStatus},
		{name: "no-memory-option", mutate: set(strings.Replace(strings.Replace(line, ",memory", "", 1), "cgroup2 cgroup2", "cgroup cgroup", 1) + "\n"), want: anyStatus},
		{name: "listed-twice", mutate: set(line + "\n" + line + "\n"), want: anyStatus},
		{name: "overmounted-elsewhere", mutate: set(line + "\n" + strings.Replace(withRoot("/nonexistent"), "35 31", "99 31", 1)), want: anyStatus},
		{name: "nul-in-line", mutate: set(strings.Replace(line, " - ", " \x00 - ", 1) + "\n"), want: anyStatus},
		{name: "long-line", mutate: set(strings.Replace(line, " - ", " "+strings.Repeat("x:1 ", 30000)+"- ", 1) + "\n"), want: anyStatus},
		{name: "bad-ids", mutate: set("x y z:w " + strings.Join(fields[3:], " ") + "\n"), want: anyStatus},
		{name: "empty-file", mutate: func(c *caseTree) { c.put("proc/self/mountinfo", "") }, want: anyStatus},
	}
	for i := range cs {
		cs[i].name = b.name + "/self.mountinfo/" + cs[i].name
		cs[i].base = b
	}
	return cs
}

// escapeCases point the reader outside the root in every way a path can:
// ".." in mount points (plain, octal-escaped, relative) and in cgroup
// paths, absolute and relative symlinks at each level. The canary tree
// (a copy of the base with canary numbers) lies at root/../outside.
func escapeCases(b *base) []hostileCase {
	var cs []hostileCase
	add := func(name string, mutate func(c *caseTree)) {
		cs = append(cs, hostileCase{name: b.name + "/escape/" + name, base: b, mutate: mutate, want: anyStatus, escape: true})
	}
	mpLine := "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
	mp := "/sys/fs/cgroup/memory"
	cgLine, cgPath := "4:memory:/mwsnap", "/mwsnap"
	mem := b.cg
	if b.version == 2 {
		mpLine = "25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"
		mp = "/sys/fs/cgroup"
		cgLine, cgPath = "0::/mw/test", "/mw/test"
	}
	setMP := func(p string) func(*caseTree) {
		return func(c *caseTree) {
			c.edit("proc/self/mountinfo", func(s string) string {
				return strings.Replace(s, mpLine, strings.Replace(mpLine, " "+mp+" ", " "+p+" ", 1), 1)
			})
		}
	}
	add("mountpoint-dotdot", setMP("/.."+"/outside"+mp))
	// From the mount point up to the root's parent.
	ups := strings.Count(mp, "/") + 1
	add("mountpoint-inner-dotdot", setMP(mp+strings.Repeat("/..", ups)+"/outside"+mp))
	add("mountpoint-octal-dotdot", setMP(strings.ReplaceAll(mp+strings.Repeat("/..", ups)+"/outside"+mp, "/", "\\057")))
	add("mountpoint-octal-dots", setMP(mp+strings.Repeat("/\\056\\056", ups)+"/outside"+mp))
	add("mountpoint-relative-dotdot", setMP("../outside"+mp))
	add("mountroot-dotdot", func(c *caseTree) {
		c.edit("proc/self/mountinfo", func(s string) string {
			return strings.Replace(s, mpLine, strings.Replace(mpLine, " / "+mp+" ", " /../outside "+mp+" ", 1), 1)
		})
	})
	setCg := func(p string) func(*caseTree) {
		return func(c *caseTree) {
			c.edit("proc/self/cgroup", func(s string) string {
				return strings.Replace(s, cgLine, strings.TrimSuffix(cgLine, cgPath)+p, 1)
			})
		}
	}
	up := strings.Repeat("/..", strings.Count(mem, "/")+2)
	add("cgroup-path-dotdot", setCg(cgPath+up+"/outside/"+mem))
	add("cgroup-path-relative-dotdot", setCg("../../../../../outside/"+mem))
	add("cgroup-path-octal-dotdot", setCg(cgPath+"/\\056\\056"+strings.Repeat("/\\056\\056", 6)+"/outside/"+mem))
	abs := func(c *caseTree, rel string) string { return filepath.Join(c.outside, rel) }
	rel := func(from, to string) string {
		// from a link at root/<from>: up to the root's parent, then outside/<to>.
		return strings.Repeat("../", strings.Count(from, "/")+1) + "outside/" + to
	}
	for _, target := range []string{mem, filepath.Dir(mem), "sys/fs/cgroup", "sys", "proc", "proc/self", "proc/meminfo",
		mem + "/memory.stat", mem + "/" + b.usageF} {
		add("symlink-abs/"+strings.ReplaceAll(target, "/", "."), func(c *caseTree) {
			c.remove(target)
			c.symlink(target, abs(c, target))
		})
		add("symlink-rel/"+strings.ReplaceAll(target, "/", "."), func(c *caseTree) {
			c.remove(target)
			c.symlink(target, rel(target, target))
		})
	}
	if b.version == 2 {
		add("symlink-abs/memory.pressure", func(c *caseTree) {
			c.remove(mem + "/memory.pressure")
			c.symlink(mem+"/memory.pressure", abs(c, mem+"/memory.pressure"))
		})
	}
	return cs
}

// structureCases change the layout: the root cgroup, a v2 hierarchy
// without the memory controller, optional files that only some kernels
// have.
func structureCases(bs []*base) []hostileCase {
	v1, v2 := bs[0], bs[1]
	v2files := func(c *caseTree, dir string, keep ...string) {
		ents, err := os.ReadDir(c.p(dir))
		if err != nil {
			panic(err)
		}
	next:
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "memory.") {
				continue
			}
			for _, k := range keep {
				if e.Name() == k {
					continue next
				}
			}
			c.remove(dir + "/" + e.Name())
		}
	}
	return []hostileCase{
		{
			// The process in the root cgroup of the host: 0::/, and the
			// root has no memory.current or memory.max. No limit, with the
			// reason: not an error (issue 11).
			name: "v2/root-cgroup", base: v2, want: exitOK, checks: []check{noLimit},
			mutate: func(c *caseTree) { c.put("proc/self/cgroup", "0::/\n") },
		},
		{
			// memory not enabled anywhere: cgroup.controllers and
			// subtree_control without it, no memory.* interface files but
			// the core memory.pressure. No limit, not an error.
			name: "v2/no-memory-controller", base: v2, want: exitOK, checks: []check{noLimit},
			mutate: func(c *caseTree) {
				v2files(c, v2.cg, "memory.pressure")
				v2files(c, "sys/fs/cgroup/mw", "memory.pressure")
				for _, d := range []string{v2.cg, "sys/fs/cgroup/mw", "sys/fs/cgroup"} {
					c.put(d+"/cgroup.controllers", "\n")
					c.put(d+"/cgroup.subtree_control", "\n")
				}
			},
		},
		{
			// memory enabled on the parent only (not in its
			// cgroup.subtree_control): the child has no memory.* files but
			// the core memory.pressure, its charges go to the parent, which
			// has no limit of its own here.
			name: "v2/memory-controller-parent-only", base: v2, want: exitOK, checks: []check{noLimit},
			mutate: func(c *caseTree) {
				v2files(c, v2.cg, "memory.pressure")
				c.dropWord(v2.cg+"/cgroup.controllers", "memory")
				c.dropWord("sys/fs/cgroup/mw/cgroup.subtree_control", "memory")
			},
		},
		{
			// v1 memory.failcnt without memory.oom_control (kernels before
			// 4.13 have no oom_kill line; sandboxes lack the file): failcnt
			// is still reported.
			name: "v1/failcnt-without-oom_control", base: v1, want: anyStatus, checks: []check{cgroupKept(v1), failcntKept(v1)},
			mutate: func(c *caseTree) { c.remove(v1.cg + "/memory.oom_control") },
		},
		{
			// memory.stat without the keys the working set needs: the
			// working set is unknown, usage and limit stay.
			name: "v1/stat-without-inactive_file", base: v1, want: anyStatus, checks: []check{cgroupKept(v1)},
			mutate: func(c *caseTree) { c.dropKeys(v1.cg+"/memory.stat", "total_inactive_file", "inactive_file") },
		},
		{
			name: "v1/stat-without-hierarchical_memory_limit", base: v1, want: anyStatus, checks: []check{cgroupKept(v1)},
			mutate: func(c *caseTree) {
				c.dropKeys(v1.cg+"/memory.stat", "hierarchical_memory_limit", "hierarchical_memsw_limit")
			},
		},
		{
			name: "v2/stat-without-inactive_file", base: v2, want: anyStatus, checks: []check{cgroupKept(v2)},
			mutate: func(c *caseTree) { c.dropKeys(v2.cg+"/memory.stat", "inactive_file") },
		},
		{
			name: "v2/stat-only-anon", base: v2, want: anyStatus, checks: []check{cgroupKept(v2)},
			mutate: func(c *caseTree) { c.put(v2.cg+"/memory.stat", "anon 798720\n") },
		},
		{
			// Every optional file gone at once: an emulated cgroupfs
			// (LXCFS, gVisor) with usage and limits only.
			name: "v2/usage-and-limit-only", base: v2, want: anyStatus, checks: []check{cgroupKept(v2)},
			mutate: func(c *caseTree) {
				v2files(c, v2.cg, "memory.current", "memory.max")
				v2files(c, "sys/fs/cgroup/mw", "memory.max")
			},
		},
		{
			name: "v1/usage-and-limit-only", base: v1, want: anyStatus, checks: []check{cgroupKept(v1)},
			mutate: func(c *caseTree) {
				ents, _ := os.ReadDir(c.p(v1.cg))
				for _, e := range ents {
					if n := e.Name(); strings.HasPrefix(n, "memory.") && n != "memory.usage_in_bytes" && n != "memory.limit_in_bytes" {
						c.remove(v1.cg + "/" + n)
					}
				}
			},
		},
		{
			// PSI switched off for the cgroup (cgroup.pressure 0): the
			// kernel removes memory.pressure.
			name: "v2/psi-off", base: v2, want: anyStatus, checks: []check{cgroupKept(v2)},
			mutate: func(c *caseTree) {
				c.remove(v2.cg + "/memory.pressure")
				c.put(v2.cg+"/cgroup.pressure", "0\n")
			},
		},
		{
			name: "v2/cgroup-dir-missing", base: v2, want: exitPartial,
			mutate: func(c *caseTree) { c.remove(v2.cg) },
		},
		{
			name: "v1/cgroup-dir-is-file", base: v1, want: exitPartial,
			mutate: func(c *caseTree) { c.remove(v1.cg); c.put(v1.cg, "not a directory\n") },
		},
		{
			name: "v1/cgroup-dir-fifo", base: v1, want: exitPartial,
			mutate: func(c *caseTree) { c.remove(v1.cg); c.fifo(v1.cg) },
		},
		{
			name: "v1/cgroup-dir-symlink-loop", base: v1, want: exitPartial,
			mutate: func(c *caseTree) { c.remove(v1.cg); c.symlink(v1.cg, "mwsnap") },
		},
		{
			name: "v1/proc-self-dir-missing", base: v1, want: exitPartial,
			mutate: func(c *caseTree) { c.remove("proc/self") },
		},
		{
			name: "v1/proc-missing", base: v1, want: exitPartial,
			mutate: func(c *caseTree) { c.remove("proc") },
		},
		{
			name: "v1/sys-missing", base: v1, want: anyStatus,
			mutate: func(c *caseTree) { c.remove("sys") },
		},
	}
}
