package cgroupstat_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/kfile"
)

// The tests below put hostile things in place of every file a Reader reads,
// in copies of the fixtures, and go through the public API (Open, ReadFull).
// Whatever they find, Open and the reads must return within a few seconds
// (fxGuard), never panic, never state a number from outside the tree, and
// fail only as documented: a usage or limit file fails Open with a typed
// error naming it; any other file makes its part unknown with that error.

// fxGuard runs fn and fails the test if it has not returned after d: a
// blocking open or read fails the test instead of hanging the run.
func fxGuard(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<16)
		t.Fatalf("still running after %v:\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

// fxFileKind says how a file is parsed, which decides which contents are
// valid.
type fxFileKind int

const (
	fxCount fxFileKind = iota // usage or counter: a number below 2^63
	fxLimit                   // a number or "max"
	fxKeys                    // "key value" lines
	fxPSI                     // a pressure file
)

// fxTarget is a file of a fixture, its kind, and the part it feeds
// (cgroupstat.NumParts: required, Open fails).
type fxTarget struct {
	fixture, rel string
	kind         fxFileKind
	part         cgroupstat.Part
	key          string // fxKeys: a key the reader uses, to repeat and spoil
}

const fxRequired = cgroupstat.NumParts

var fxTargets = []fxTarget{
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.usage_in_bytes", fxCount, fxRequired, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.limit_in_bytes", fxLimit, fxRequired, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.max_usage_in_bytes", fxCount, cgroupstat.PartPeak, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.memsw.usage_in_bytes", fxCount, cgroupstat.PartSwap, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", fxLimit, cgroupstat.PartSwap, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.kmem.usage_in_bytes", fxCount, cgroupstat.PartKernel, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.failcnt", fxCount, cgroupstat.PartFailcnt, ""},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.stat", fxKeys, cgroupstat.PartStat, "total_rss"},
	{"docker-v1-container", "sys/fs/cgroup/memory/memory.oom_control", fxKeys, cgroupstat.PartEvents, "under_oom"},
	{"docker-v1-container", "proc/pressure/memory", fxPSI, cgroupstat.PartPSI, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.current", fxCount, fxRequired, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.max", fxLimit, fxRequired, ""},
	{"v2-nested", "sys/fs/cgroup/mw/memory.max", fxLimit, fxRequired, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.high", fxLimit, fxRequired, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.peak", fxCount, cgroupstat.PartPeak, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.swap.current", fxCount, cgroupstat.PartSwap, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.swap.max", fxLimit, cgroupstat.PartSwap, ""},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.stat", fxKeys, cgroupstat.PartStat, "anon"},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.events", fxKeys, cgroupstat.PartEvents, "oom"},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.events.local", fxKeys, cgroupstat.PartEventsLocal, "max"},
	{"v2-nested", "sys/fs/cgroup/mw/test/memory.pressure", fxPSI, cgroupstat.PartPSI, ""},
}

// fxHostile is one thing to put in place of a file: made by make, and
// accepted or not for a file of each kind.
type fxHostile struct {
	name  string
	make  func(t *testing.T, path string, orig []byte, key string)
	valid func(kind fxFileKind) bool
}

func fxContent(f func(orig []byte, key string) string) func(t *testing.T, path string, orig []byte, key string) {
	return func(t *testing.T, path string, orig []byte, key string) {
		if err := os.WriteFile(path, []byte(f(orig, key)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fxSetKey replaces the value of key in a "key value" file (the first
// number of a one-number file when key is "").
func fxSetKey(orig []byte, key, val string) string {
	if key == "" {
		return val + "\n"
	}
	lines := strings.Split(string(orig), "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			lines[i] = key + " " + val
		}
	}
	return strings.Join(lines, "\n")
}

func never(fxFileKind) bool  { return false }
func always(fxFileKind) bool { return true }
func is(kinds ...fxFileKind) func(fxFileKind) bool {
	return func(k fxFileKind) bool {
		for _, x := range kinds {
			if k == x {
				return true
			}
		}
		return false
	}
}

var fxHostiles = []fxHostile{
	{"fifo", func(t *testing.T, p string, _ []byte, _ string) {
		fxRemove(t, p)
		if err := unix.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}, never},
	{"directory", func(t *testing.T, p string, _ []byte, _ string) {
		fxRemove(t, p)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}, never},
	{"char-device", func(t *testing.T, p string, _ []byte, _ string) {
		fxRemove(t, p)
		if err := unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil { // /dev/zero
			t.Skipf("mknod: %v", err)
		}
	}, never},
	{"link-to-dev-zero", func(t *testing.T, p string, _ []byte, _ string) {
		fxRemove(t, p)
		if err := os.Symlink("/dev/zero", p); err != nil {
			t.Fatal(err)
		}
	}, never},
	{"link-up-and-out", func(t *testing.T, p string, _ []byte, _ string) {
		// Resolved inside the root, this is the tree's own
		// proc/self/mountinfo: a wrong file, never the host's status.
		fxRemove(t, p)
		if err := os.Symlink(strings.Repeat("../", 20)+"proc/self/mountinfo", p); err != nil {
			t.Fatal(err)
		}
	}, never},
	{"link-loop", func(t *testing.T, p string, _ []byte, _ string) {
		fxRemove(t, p)
		if err := os.Symlink(filepath.Base(p)+".b", p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Base(p), p+".b"); err != nil {
			t.Fatal(err)
		}
	}, never},
	{"huge", fxContent(func([]byte, string) string { return strings.Repeat("1", 2<<20) }), never},
	{"empty", fxContent(func([]byte, string) string { return "" }), is(fxKeys)}, // memory.stat only, see below
	{"nul", fxContent(func(o []byte, k string) string { return fxSetKey(o, k, "12\x00") }), never},
	{"crlf", fxContent(func(o []byte, k string) string {
		if k == "" && len(o) > 0 && !strings.Contains(string(o), " ") {
			return strings.TrimSpace(string(o)) + "\r\n"
		}
		return strings.ReplaceAll(string(o), "\n", "\r\n")
	}), always},
	{"duplicate", fxContent(func(o []byte, k string) string {
		for _, l := range strings.Split(string(o), "\n") {
			if f := strings.Fields(l); len(f) > 0 && (f[0] == k || (k == "" && f[0] == "some")) {
				return string(o) + l + "\n"
			}
		}
		return string(o) + string(o) // a one-number file twice: "1\n1\n"
	}), never},
	{"max", fxContent(func(o []byte, k string) string { return fxSetKey(o, k, "max") }), is(fxLimit)},
	{"minus-one", fxContent(func(o []byte, k string) string { return fxSetKey(o, k, "-1") }), never},
	{"zero", fxContent(func(o []byte, k string) string { return fxSetKey(o, k, "0") }), is(fxCount, fxLimit, fxKeys)},
	{"2^64-1", fxContent(func(o []byte, k string) string { return fxSetKey(o, k, "18446744073709551615") }), is(fxLimit)},
	{"2^63", fxContent(func(o []byte, k string) string { return fxSetKey(o, k, "9223372036854775808") }), is(fxLimit)},
}

func fxRemove(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

func TestHostileFiles(t *testing.T) {
	fxHostileFiles(t)
	t.Run("user-space resolution", func(t *testing.T) {
		defer kfile.ForceUserSpaceResolution()()
		fxHostileFiles(t)
	})
}

func fxHostileFiles(t *testing.T) {
	for _, tg := range fxTargets {
		// One copy per file: each spoiler is undone before the next.
		root := fxCopy(t, tg.fixture)
		clean, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		if err != nil {
			t.Fatal(err)
		}
		var want cgroupstat.Stats
		if err := clean.ReadFull(&want); err != nil {
			t.Fatal(err)
		}
		clean.Close()
		path := filepath.Join(root, tg.rel)
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range fxHostiles {
			t.Run(tg.fixture+"/"+filepath.Base(tg.rel)+"/"+h.name, func(t *testing.T) {
				defer fxRestore(t, path, orig)
				h.make(t, path, orig, tg.key)
				valid := h.valid(tg.kind)
				if h.name == "empty" && tg.part != cgroupstat.PartStat {
					valid = false // the event files need their keys
				}
				fxGuard(t, 10*time.Second, func() { fxCheckHostile(t, root, path, tg, valid, &want) })
			})
		}
	}
}

// fxRestore puts back a file a spoiler replaced (and the second link of a
// loop).
func fxRestore(t *testing.T, path string, orig []byte) {
	t.Helper()
	fxRemove(t, path+".b")
	fxRemove(t, path)
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fxCheckHostile opens the tree at root with the file at path spoiled and
// checks the outcome: Open fails naming the file (a required one), or the
// file's part alone is unknown with an error naming it.
func fxCheckHostile(t *testing.T, root, path string, tg fxTarget, valid bool, want *cgroupstat.Stats) {
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if tg.part == fxRequired {
		if valid {
			if err != nil {
				t.Fatalf("Open refused a valid %s: %v", tg.rel, err)
			}
			r.Close()
			return
		}
		if err == nil {
			r.Close()
			t.Fatalf("Open accepted it")
		}
		fxNamesFile(t, err, path)
		return
	}
	if err != nil {
		t.Fatalf("Open failed on an optional file: %v", err)
	}
	defer r.Close()
	var s cgroupstat.Stats
	for range 2 { // the priming read and a later one agree
		if err := r.ReadFull(&s); err != nil {
			t.Fatalf("ReadFull failed on an optional file: %v", err)
		}
	}
	if s.Usage != want.Usage || s.Limit != want.Limit || s.High != want.High {
		t.Errorf("usage %d limit %d high %d, want %d %d %d", s.Usage, s.Limit, s.High, want.Usage, want.Limit, want.High)
	}
	perr := s.Errs[tg.part]
	if valid {
		// memory.stat empty: read, with every field absent, so the
		// working set is unknown with that reason.
		if perr != nil {
			t.Fatalf("Errs[%s] = %v for a valid file", tg.part, perr)
		}
		return
	}
	if perr == nil {
		t.Fatalf("Errs[%s] = nil, want the reason (stats %+v)", tg.part, s)
	}
	fxNamesFile(t, perr, path)
	fxCheckPartUnknown(t, &s, tg.part)
	for p, e := range s.Errs {
		p := cgroupstat.Part(p)
		if p != tg.part && e != nil && !(p == cgroupstat.PartWorkingSet && tg.part == cgroupstat.PartStat) {
			t.Errorf("Errs[%s] = %v; only %s was spoiled", p, e, tg.part)
		}
	}
}

// fxNamesFile checks that err is one of the typed errors and names path.
func fxNamesFile(t *testing.T, err error, path string) {
	t.Helper()
	var (
		pe *cgroupstat.ParseError
		nr *cgroupstat.NotRegularError
		fe *fs.PathError
		de *cgroupstat.DiscoveryError
	)
	switch {
	case errors.As(err, &pe):
		if pe.File != path {
			t.Errorf("ParseError names %s, want %s", pe.File, path)
		}
	case errors.As(err, &nr):
		if nr.Path != path {
			t.Errorf("NotRegularError names %s, want %s", nr.Path, path)
		}
	case errors.As(err, &fe):
		if fe.Path != path {
			t.Errorf("PathError names %s, want %s", fe.Path, path)
		}
	default:
		t.Errorf("error %v (%T) is not a ParseError, NotRegularError or PathError", err, err)
	}
	if errors.As(err, &de) && de.File != path {
		t.Errorf("DiscoveryError names %s, want %s", de.File, path)
	}
}

// TestHostileDiscoveryFiles spoils the files discovery reads:
// /proc/self/cgroup and mountinfo fail Open naming them; proc/meminfo loses
// MemTotal only; cgroup.controllers and memory.use_hierarchy fall back to
// what the files themselves say. Nothing blocks.
func TestHostileDiscoveryFiles(t *testing.T) {
	for _, c := range []struct {
		fixture, rel string
		check        func(t *testing.T, r *cgroupstat.Reader, err error, path string)
	}{
		{"docker-v1-host", "proc/self/cgroup", fxOpenFailsNaming},
		{"docker-v1-host", "proc/self/mountinfo", fxOpenFailsNaming},
		{"v2-nested", "proc/self/mountinfo", fxOpenFailsNaming},
		{"docker-v1-host", "proc/meminfo", func(t *testing.T, r *cgroupstat.Reader, err error, path string) {
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if r.MemTotal() != 0 || r.MemTotalErr() == nil {
				t.Errorf("MemTotal %d, %v; want 0 and the reason", r.MemTotal(), r.MemTotalErr())
			}
			fxNamesFile(t, r.MemTotalErr(), path)
		}},
		{"v2-no-memory-controller", "sys/fs/cgroup/mw/test/cgroup.controllers", func(t *testing.T, r *cgroupstat.Reader, err error, path string) {
			// Unreadable: memory.current decides, and /mw/test has none.
			if err != nil || !strings.HasSuffix(r.Location().Dir, "sys/fs/cgroup/mw") {
				t.Errorf("Open: %v; want /mw read", err)
			}
		}},
		{"hybrid", "sys/fs/cgroup/memory/mwfix/memory.use_hierarchy", func(t *testing.T, r *cgroupstat.Reader, err error, path string) {
			// Unreadable: the ancestor counts (the safe side).
			var s cgroupstat.Stats
			if err != nil || r.ReadFull(&s) != nil || s.Limit != 268435456 {
				t.Errorf("Open: %v; want the ancestor's 256 MiB limit", err)
			}
		}},
	} {
		root := fxCopy(t, c.fixture)
		path := filepath.Join(root, c.rel)
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range fxHostiles {
			if h.valid(fxKeys) && h.name != "empty" {
				continue // content some key file takes: not a spoiler here
			}
			t.Run(c.fixture+"/"+filepath.Base(c.rel)+"/"+h.name, func(t *testing.T) {
				defer fxRestore(t, path, orig)
				h.make(t, path, orig, "")
				fxGuard(t, 10*time.Second, func() {
					r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
					if r != nil {
						defer r.Close()
					}
					if h.name == "empty" && strings.HasSuffix(c.rel, "proc/self/cgroup") {
						if !errors.Is(err, cgroupstat.ErrNoCgroup) {
							t.Errorf("empty /proc/self/cgroup: %v, want ErrNoCgroup", err)
						}
						return
					}
					if h.name == "empty" && strings.HasSuffix(c.rel, "mountinfo") {
						if !errors.Is(err, cgroupstat.ErrNotMounted) {
							t.Errorf("empty mountinfo: %v, want ErrNotMounted", err)
						}
						return
					}
					c.check(t, r, err, path)
				})
			})
		}
	}
}

func fxOpenFailsNaming(t *testing.T, r *cgroupstat.Reader, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Open accepted a spoiled %s: %+v", path, r.Location())
	}
	fxNamesFile(t, err, path)
}

// TestWithRootContains: no path from mountinfo or /proc/self/cgroup, and no
// link in the tree, leads out of the root.
func TestWithRootContains(t *testing.T) {
	fxWithRootContains(t)
	t.Run("user-space resolution", func(t *testing.T) {
		defer kfile.ForceUserSpaceResolution()()
		fxWithRootContains(t)
	})
}

func fxWithRootContains(t *testing.T) {
	t.Run("dot-dot mount point", func(t *testing.T) {
		for _, mp := range []string{`/sys/fs/cgroup/memory/../../../../sys/fs/cgroup/memory`, `/sys/fs/cgroup/\056\056/cgroup/memory`, `/sys/fs/cgroup//memory`} {
			root := fxCopy(t, "docker-v1-host")
			mi := filepath.Join(root, "proc/self/mountinfo")
			b, _ := os.ReadFile(mi)
			fxRewrite(t, mi, strings.Replace(string(b), " /sys/fs/cgroup/memory ", " "+mp+" ", 1))
			_, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			var pe *cgroupstat.ParseError
			if !errors.As(err, &pe) || pe.File != mi || !strings.Contains(pe.Reason, "mount point") {
				t.Errorf("mount point %s: %v, want a *ParseError naming the mountinfo", mp, err)
			}
		}
	})
	t.Run("dot-dot cgroup path", func(t *testing.T) {
		for _, p := range []string{"/docker/../..", "/docker/./x", "/../docker"} {
			root := fxCopy(t, "docker-v1-host")
			fxRewrite(t, filepath.Join(root, "proc/self/cgroup"), "4:memory:"+p+"\n")
			if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); !errors.Is(err, cgroupstat.ErrOutsideMount) {
				t.Errorf("cgroup path %s: %v, want ErrOutsideMount", p, err)
			}
		}
	})
	t.Run("trailing slash", func(t *testing.T) {
		root := fxCopy(t, "docker-v1-host")
		want, err := cgroupstat.Discover(cgroupstat.WithRoot(root))
		if err != nil {
			t.Fatal(err)
		}
		cg := filepath.Join(root, "proc/self/cgroup")
		b, _ := os.ReadFile(cg)
		fxRewrite(t, cg, strings.Replace(string(b), "memory:"+want.Path+"\n", "memory:"+want.Path+"/\n", 1))
		r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		if err != nil || r.Location() != want {
			t.Fatalf("with a trailing slash: %v, %+v; want %+v", err, r, want)
		}
		r.Close()
	})
	t.Run("links", func(t *testing.T) {
		host, herr := cgroupstat.Open()
		var hs cgroupstat.Stats
		if herr == nil {
			host.ReadFull(&hs)
			host.Close()
		}
		for _, target := range []string{"/sys/fs/cgroup/memory", "../../../../../../sys/fs/cgroup/memory", "/proc/self/root/sys/fs/cgroup/memory"} {
			root := fxCopy(t, "docker-v1-host")
			mnt := filepath.Join(root, "sys/fs/cgroup/memory")
			fxRemove(t, mnt)
			if err := os.Symlink(target, mnt); err != nil {
				t.Fatal(err)
			}
			fxGuard(t, 10*time.Second, func() {
				r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
				if err == nil {
					var s cgroupstat.Stats
					r.ReadFull(&s)
					r.Close()
					t.Fatalf("link %s: Open read %+v (the host's usage is %d)", target, s, hs.Usage)
				}
				if !errors.Is(err, unix.ELOOP) && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("link %s: %v, want a loop or a missing file inside the root", target, err)
				}
			})
		}
		// An absolute link resolves inside the root, as in a chroot.
		root := fxCopy(t, "docker-v1-host")
		mnt := filepath.Join(root, "sys/fs/cgroup/memory")
		if err := os.Rename(mnt, filepath.Join(root, "elsewhere")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/elsewhere", mnt); err != nil {
			t.Fatal(err)
		}
		r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		if err != nil {
			t.Fatalf("a link inside the root: %v", err)
		}
		defer r.Close()
		var s cgroupstat.Stats
		if err := r.ReadFull(&s); err != nil || s.Usage != 38518784 {
			t.Errorf("read %d, %v through /elsewhere; want the fixture's 38518784", s.Usage, err)
		}
	})
}

// TestNoLimit: a process that no cgroup below the root accounts for has no
// memory limit: ErrNoLimit (an ErrNoCgroup) with the reason, never a
// failure to read.
func TestNoLimit(t *testing.T) {
	for _, c := range []struct {
		name   string
		edit   func(t *testing.T, root string)
		noLim  bool
		reason string
	}{
		{"v2 root cgroup", func(t *testing.T, root string) {
			fxRewrite(t, filepath.Join(root, "proc/self/cgroup"), "0::/\n")
		}, true, "root cgroup"},
		{"no memory controller in the hierarchy", func(t *testing.T, root string) {
			for _, d := range []string{"sys/fs/cgroup/mw", "sys/fs/cgroup/mw/test"} {
				ms, _ := filepath.Glob(filepath.Join(root, d, "memory.*"))
				for _, m := range ms {
					fxRemove(t, m)
				}
				fxRewrite(t, filepath.Join(root, d, "cgroup.controllers"), "cpu pids\n")
			}
			fxRewrite(t, filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"), "cpuset cpu io pids\n")
		}, true, "no memory controller"},
		{"memory not enabled below the root", func(t *testing.T, root string) {
			for _, d := range []string{"sys/fs/cgroup/mw", "sys/fs/cgroup/mw/test"} {
				ms, _ := filepath.Glob(filepath.Join(root, d, "memory.*"))
				for _, m := range ms {
					fxRemove(t, m)
				}
				fxRewrite(t, filepath.Join(root, d, "cgroup.controllers"), "\n")
			}
		}, true, "not enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fxCopy(t, "v2-nolimit")
			c.edit(t, root)
			_, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			var de *cgroupstat.DiscoveryError
			if !errors.Is(err, cgroupstat.ErrNoLimit) || !errors.Is(err, cgroupstat.ErrNoCgroup) || !errors.As(err, &de) || !strings.Contains(de.Reason, c.reason) {
				t.Errorf("Open: %v; want ErrNoLimit saying %q", err, c.reason)
			}
		})
	}
	t.Run("memory not enabled in a namespace", func(t *testing.T) {
		// The container's cgroup is the mount's top: its memory is charged
		// to an ancestor nobody here can see, which may well have a limit.
		root := fxCopy(t, "v2-ns")
		ms, _ := filepath.Glob(filepath.Join(root, "sys/fs/cgroup/memory.*"))
		for _, m := range ms {
			fxRemove(t, m)
		}
		fxRewrite(t, filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"), "cpu\n")
		_, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		if !errors.Is(err, cgroupstat.ErrNoCgroup) || errors.Is(err, cgroupstat.ErrNoLimit) {
			t.Errorf("Open: %v; want ErrNoCgroup, not ErrNoLimit", err)
		}
	})
	t.Run("controller listed, files missing", func(t *testing.T) {
		// cgroup.controllers says memory: a missing memory.current is a
		// broken cgroup, not a reason to read the parent.
		root := fxCopy(t, "v2-nolimit")
		fxRemove(t, filepath.Join(root, "sys/fs/cgroup/mw/test/memory.current"))
		_, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		var de *cgroupstat.DiscoveryError
		if !errors.As(err, &de) || !strings.HasSuffix(de.File, "mw/test/memory.current") || errors.Is(err, cgroupstat.ErrNoCgroup) {
			t.Errorf("Open: %v; want a failure naming mw/test/memory.current", err)
		}
	})
}

// TestEventControlMustBeRegular: cgroup.event_control is opened for writing
// by a Watcher; a FIFO there would block that open, so it is not offered.
func TestEventControlMustBeRegular(t *testing.T) {
	root := fxCopy(t, "hybrid")
	ec := filepath.Join(root, "sys/fs/cgroup/memory/mwfix/app/cgroup.event_control")
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil || r.Files().EventControl != ec {
		t.Fatalf("Open: %v, EventControl %q", err, r.Files().EventControl)
	}
	r.Close()
	fxRemove(t, ec)
	if err := unix.Mkfifo(ec, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil || r.Files().EventControl != "" {
		t.Fatalf("Open: %v, EventControl %q for a FIFO", err, r.Files().EventControl)
	}
	r.Close()
}

// TestFailcntWithoutOOMControl: v1 memory.failcnt is read whether or not
// memory.oom_control exists or reads.
func TestFailcntWithoutOOMControl(t *testing.T) {
	root := fxCopy(t, "docker-v1-container")
	dir := filepath.Join(root, "sys/fs/cgroup/memory")
	fxRewrite(t, filepath.Join(dir, "memory.failcnt"), "17\n")
	for _, spoil := range []func(p string){
		func(p string) { fxRemove(t, p) },
		func(p string) { fxRewrite(t, p, "garbage\n") },
	} {
		oc := filepath.Join(dir, "memory.oom_control")
		orig, _ := os.ReadFile(oc)
		spoil(oc)
		r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		if err != nil {
			t.Fatal(err)
		}
		var s cgroupstat.Stats
		if err := r.ReadFull(&s); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if !s.Events.HasFailcnt || s.Events.Failcnt != 17 || s.Events.HasEvents || s.Errs[cgroupstat.PartEvents] == nil {
			t.Errorf("events %+v, errs %v; want failcnt 17 and oom_control unknown", s.Events, s.Errs)
		}
		fxRewrite(t, oc, string(orig))
	}
}
