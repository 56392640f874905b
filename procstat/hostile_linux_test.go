package procstat

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

	"github.com/go-memwatch/memwatch/internal/kfile"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
)

// guard runs fn and fails the test if it has not returned after d: a
// blocking open or read fails the test instead of hanging the run.
func guard(t *testing.T, d time.Duration, fn func()) {
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

// spoilers put something that is not a readable /proc file at a path.
var spoilers = []struct {
	name string
	make func(t *testing.T, p string)
}{
	{"fifo", func(t *testing.T, p string) { mustDo(t, unix.Mkfifo(p, 0o644)) }},
	{"directory", func(t *testing.T, p string) { mustDo(t, os.Mkdir(p, 0o755)) }},
	{"char-device", func(t *testing.T, p string) {
		if err := unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil { // /dev/zero
			t.Skipf("mknod: %v", err)
		}
	}},
	{"link-to-dev-zero", func(t *testing.T, p string) { mustDo(t, os.Symlink("/dev/zero", p)) }},
	{"link-loop", func(t *testing.T, p string) {
		mustDo(t, os.Symlink(filepath.Base(p)+".b", p))
		mustDo(t, os.Symlink(filepath.Base(p), p+".b"))
	}},
	{"huge", func(t *testing.T, p string) { mustDo(t, os.WriteFile(p, []byte(strings.Repeat("1 ", 1<<20)), 0o644)) }},
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkRefused checks that err is a typed error naming path.
func checkRefused(t *testing.T, err error, path string) {
	t.Helper()
	var (
		nr *NotRegularError
		pe *ParseError
		fe *fs.PathError
	)
	switch {
	case err == nil:
		t.Errorf("%s accepted", path)
	case errors.As(err, &nr):
		if nr.Path != path {
			t.Errorf("NotRegularError names %s, want %s", nr.Path, path)
		}
	case errors.As(err, &pe):
		if pe.File != path {
			t.Errorf("ParseError names %s, want %s", pe.File, path)
		}
	case errors.As(err, &fe):
		if fe.Path != path {
			t.Errorf("PathError names %s, want %s", fe.Path, path)
		}
	default:
		t.Errorf("%s: %v (%T) is not a typed error naming the file", path, err, err)
	}
}

// TestHostileProcFiles puts a FIFO, a directory, /dev/zero, links out of
// the root and in a loop, and a huge file in place of each /proc file: the
// reads fail with a typed error naming the file, within seconds, and the
// other files stay readable (a spoiled meminfo loses meminfo only).
func TestHostileProcFiles(t *testing.T) {
	for _, name := range []string{"statm", "status", "smaps_rollup", "meminfo", "clear_refs"} {
		for _, sp := range spoilers {
			if name == "clear_refs" && sp.name == "huge" {
				continue // written, not read: any regular file takes "5"
			}
			t.Run(name+"/"+sp.name, func(t *testing.T) {
				root := fixture.Copy(t, filepath.Join("testdata", fixGo))
				self := filepath.Join(root, "proc", "self")
				// The fixture has no clear_refs; a regular one accepts "5".
				mustDo(t, os.WriteFile(filepath.Join(self, "clear_refs"), nil, 0o644))
				p := filepath.Join(self, name)
				if name == "meminfo" {
					p = filepath.Join(root, "proc", "meminfo")
				}
				mustDo(t, os.RemoveAll(p))
				sp.make(t, p)
				guard(t, 10*time.Second, func() { checkHostile(t, root, name, p) })
			})
		}
	}
}

func checkHostile(t *testing.T, root, name, p string) {
	r, err := Open(WithRoot(root), WithPageSize(fixturePageSize))
	if name == "statm" && err != nil {
		checkRefused(t, err, p) // opened by Open: refused there, unless huge
		return
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	var (
		sm Statm
		st Status
		sr SmapsRollup
		mi Meminfo
	)
	errs := map[string]error{
		"statm":        r.ReadStatm(&sm),
		"status":       r.ReadStatus(&st),
		"smaps_rollup": r.ReadSmapsRollup(&sr),
		"meminfo":      r.ReadMeminfo(&mi),
		"clear_refs":   r.ResetPeakRSS(),
	}
	for f, e := range errs {
		if f == name {
			checkRefused(t, e, p)
			continue
		}
		if e != nil {
			t.Errorf("%s failed with %s spoiled: %v", f, name, e)
		}
	}
	if name == "clear_refs" {
		var rp *ResetPeakError
		if !errors.As(errs[name], &rp) || rp.Path != p {
			t.Errorf("ResetPeakRSS: %v, want a *ResetPeakError naming %s", errs[name], p)
		}
	}
}

// TestWithRootContainsProc: links in the tree resolve inside the root.
func TestWithRootContainsProc(t *testing.T) {
	for _, userSpace := range []bool{false, true} {
		if userSpace {
			defer kfile.ForceUserSpaceResolution()()
		}
		root := fixture.Copy(t, filepath.Join("testdata", fixGo))
		// /proc/self → an absolute link to the tree's own pid directory.
		mustDo(t, os.Rename(filepath.Join(root, "proc", "self"), filepath.Join(root, "proc", "42")))
		mustDo(t, os.Symlink("/proc/42", filepath.Join(root, "proc", "self")))
		r, err := Open(WithRoot(root), WithPageSize(fixturePageSize))
		if err != nil {
			t.Fatalf("user space %v: %v", userSpace, err)
		}
		var sm Statm
		if err := r.ReadStatm(&sm); err != nil || sm.Resident == 0 {
			t.Errorf("user space %v: statm %+v, %v", userSpace, sm, err)
		}
		r.Close()
		// A link to the host's /proc/self is the tree's, which has none.
		mustDo(t, os.Remove(filepath.Join(root, "proc", "self")))
		mustDo(t, os.Symlink("../../../../../../../proc/1", filepath.Join(root, "proc", "self")))
		if _, err := Open(WithRoot(root)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("user space %v: Open through a link out: %v, want not-exist inside the root", userSpace, err)
		}
	}
}
