//go:build unix

package kfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// guard runs fn and fails the test if it does not return within d: a read
// that blocks must fail the test, not hang the run.
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
		t.Fatalf("blocked for %v:\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

// hostileTree builds a root with every kind of file a kernel file must not
// be, and links that try to lead out of the root. It returns the root.
func hostileTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "proc/self"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "sys/dir"), 0o755))
	must(os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("MemTotal: 1 kB\n"), 0o644))
	must(unix.Mkfifo(filepath.Join(root, "proc/self/fifo"), 0o644))
	ln, err := net.Listen("unix", filepath.Join(root, "proc/self/sock"))
	must(err)
	t.Cleanup(func() { ln.Close() })
	// Links: absolute and relative ones that would leave the root if
	// followed by the host's resolution, a loop, a chain within.
	must(os.Symlink("/dev/zero", filepath.Join(root, "proc/self/zero")))
	must(os.Symlink("../../../../../../../../dev/zero", filepath.Join(root, "proc/self/zero-rel")))
	must(os.Symlink("/proc/meminfo", filepath.Join(root, "proc/self/meminfo-abs")))
	must(os.Symlink("../meminfo", filepath.Join(root, "proc/self/meminfo-rel")))
	must(os.Symlink("loop-b", filepath.Join(root, "proc/self/loop-a")))
	must(os.Symlink("loop-a", filepath.Join(root, "proc/self/loop-b")))
	must(os.Symlink("/", filepath.Join(root, "escape")))
	must(os.Symlink("/proc/self/fd/0", filepath.Join(root, "proc/self/magic")))
	return root
}

// forEachResolver runs fn with the kernel's resolution (openat2) and with
// the user-space fallback.
func forEachResolver(t *testing.T, fn func(t *testing.T)) {
	t.Run("openat2", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("openat2 is Linux only")
		}
		fn(t)
	})
	t.Run("fallback", func(t *testing.T) {
		was := noOpenat2.Load()
		noOpenat2.Store(true)
		defer noOpenat2.Store(was)
		fn(t)
	})
}

func TestRootRefusesNonRegular(t *testing.T) {
	root := hostileTree(t)
	forEachResolver(t, func(t *testing.T) {
		r := NewRoot(root)
		for _, c := range []struct {
			rel  string
			mode fs.FileMode // type expected in the *NotRegularError; 0: another error
			why  error
		}{
			{"proc/self/fifo", fs.ModeNamedPipe, nil},
			{"sys/dir", fs.ModeDir, nil},
			{"proc/self", fs.ModeDir, nil},
			{"proc/self/sock", 0, nil}, // opening a socket fails (ENXIO) before fstat
			{"proc/self/zero", 0, fs.ErrNotExist},
			{"proc/self/zero-rel", 0, fs.ErrNotExist},
			{"proc/self/loop-a", 0, unix.ELOOP},
			{"escape/etc/passwd", 0, fs.ErrNotExist},
			{"proc/self/magic", 0, nil},
		} {
			p := filepath.Join(root, c.rel)
			guard(t, 5*time.Second, func() {
				f, err := r.Open(p, 64)
				if err == nil {
					b, _ := f.Read()
					f.Close()
					t.Errorf("Open(%s) succeeded, read %q", c.rel, b)
					return
				}
				if !strings.Contains(err.Error(), p) {
					t.Errorf("Open(%s): %v does not name the file", c.rel, err)
				}
				var nr *NotRegularError
				if c.mode != 0 && (!errors.As(err, &nr) || nr.Mode != c.mode || nr.Path != p || !errors.Is(err, ErrNotRegular)) {
					t.Errorf("Open(%s): %v, want a *NotRegularError of type %v", c.rel, err, c.mode)
				}
				if c.why != nil && !errors.Is(err, c.why) {
					t.Errorf("Open(%s): %v, want %v", c.rel, err, c.why)
				}
				if _, err2 := r.ReadOnce(p, 0); err2 == nil {
					t.Errorf("ReadOnce(%s) succeeded", c.rel)
				}
				if err2 := r.WriteOnce(p, []byte("5")); err2 == nil {
					t.Errorf("WriteOnce(%s) succeeded", c.rel)
				}
			})
		}
	})
}

func TestRootContainsLinks(t *testing.T) {
	root := hostileTree(t)
	forEachResolver(t, func(t *testing.T) {
		r := NewRoot(root)
		// Links resolve inside the root: the absolute one to the tree's own
		// proc/meminfo, not the host's.
		for _, rel := range []string{"proc/meminfo", "proc/self/meminfo-abs", "proc/self/meminfo-rel", "escape/proc/meminfo"} {
			b, err := r.ReadOnce(filepath.Join(root, rel), 0)
			if err != nil || string(b) != "MemTotal: 1 kB\n" {
				t.Errorf("ReadOnce(%s) = %q, %v; want the tree's meminfo", rel, b, err)
			}
		}
		if !r.IsDir(filepath.Join(root, "escape/proc/self")) || r.Exists(filepath.Join(root, "escape/etc/passwd")) {
			t.Error("Stat follows links outside the root")
		}
		// Lstat sees a link that leads nowhere (inside the root) as a
		// link, and resolves the parents.
		for rel, want := range map[string]fs.FileMode{
			"proc/self/zero": fs.ModeSymlink, "escape/proc/self/zero": fs.ModeSymlink,
			"proc/self/loop-a": fs.ModeSymlink, "proc/meminfo": 0, "proc/self/fifo": fs.ModeNamedPipe,
		} {
			if m, err := r.Lstat(filepath.Join(root, rel)); err != nil || m != want {
				t.Errorf("Lstat(%s) = %v, %v; want %v", rel, m, err, want)
			}
		}
		if _, err := r.Lstat(filepath.Join(root, "proc/none")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lstat of a missing file: %v", err)
		}
		// A path outside the root lexically is refused whole.
		for _, p := range []string{"/etc/passwd", root + "x/a", filepath.Dir(root)} {
			if _, err := r.Open(p, 64); !errors.Is(err, ErrOutsideRoot) {
				t.Errorf("Open(%s): %v, want ErrOutsideRoot", p, err)
			}
		}
	})
}

func TestRealRootRefusesDevices(t *testing.T) {
	guard(t, 5*time.Second, func() {
		for _, p := range []string{"/dev/zero", "/dev/null", "/dev/urandom"} {
			_, err := Open(p, 64)
			var nr *NotRegularError
			if !errors.As(err, &nr) || nr.Mode&fs.ModeCharDevice == 0 {
				t.Errorf("Open(%s): %v, want a *NotRegularError for a character device", p, err)
			}
			if _, err := ReadOnce(p); !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadOnce(%s): %v", p, err)
			}
		}
		if _, err := Open("/", 64); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Open(/): %v", err)
		}
		if _, err := Open("relative/path", 64); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open of a missing relative path under /: %v", err)
		}
	})
}

func TestReadBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, make([]byte, maxSize), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRoot(dir)
	var pe *ParseError
	if _, err := r.ReadOnce(big, 0); !errors.As(err, &pe) || pe.File != big {
		t.Errorf("ReadOnce of 1 MiB + 1: %v, want a *ParseError naming it", err)
	}
	if b, err := r.ReadOnce(exact, 0); err != nil || len(b) != maxSize {
		t.Errorf("ReadOnce of 1 MiB: %d bytes, %v", len(b), err)
	}
	if _, err := r.ReadOnce(exact, 100); !errors.As(err, &pe) {
		t.Errorf("ReadOnce bounded at 100: %v", err)
	}
	f, err := r.Open(big, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(); !errors.As(err, &pe) || pe.File != big {
		t.Errorf("File.Read of 1 MiB + 1: %v", err)
	}
	if cap(f.buf) > maxSize {
		t.Errorf("buffer grew to %d bytes", cap(f.buf))
	}
}

func TestResolveInRoot(t *testing.T) {
	root := hostileTree(t)
	for rel, want := range map[string]string{
		"proc/self/meminfo-abs":   "proc/meminfo",
		"../../proc/meminfo":      "proc/meminfo",
		"escape/escape/proc/self": "proc/self",
		"proc/self/zero":          "dev/zero",
		"proc/nothing/x":          "proc/nothing/x",
		".":                       "",
	} {
		got, err := resolveInRoot(root, rel)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("resolveInRoot(%q) = %q, %v; want %q", rel, got, err, filepath.Join(root, want))
		}
	}
	if _, err := resolveInRoot(root, "proc/self/loop-a"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("loop: %v, want ELOOP", err)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "memory.pressure")
	if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRoot(dir)
	f, err := r.Open(p, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Replaced by a new file: the old descriptor still reads the old one.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := r.Reopen(f); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Reopen of a missing file: %v", err)
	}
	if b, err := f.Read(); err != nil || string(b) != "old\n" {
		t.Fatalf("after a failed Reopen: %q, %v", b, err)
	}
	if err := os.WriteFile(p, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reopen(f); err != nil {
		t.Fatal(err)
	}
	if b, err := f.Read(); err != nil || string(b) != "new\n" {
		t.Fatalf("after Reopen: %q, %v", b, err)
	}
	if err := unix.Mkfifo(p+".fifo", 0o644); err != nil {
		t.Fatal(err)
	}
	g := &File{path: p + ".fifo"}
	if err := r.Reopen(g); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Reopen of a FIFO: %v", err)
	}
}
