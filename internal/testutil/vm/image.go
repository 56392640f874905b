package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// InitPackage is the import path of the init program vmexec builds.
const InitPackage = "github.com/go-memwatch/memwatch/internal/testutil/vm/init"

// BuildInit builds the static init program with the go command found in PATH
// (or $GOROOT/bin), working in dir (which must lie inside the memwatch
// module), and returns the path of the binary in the user cache directory.
// The go build cache keeps repeated builds cheap.
func BuildInit(ctx context.Context, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goBin = filepath.Join(root, "bin", "go")
		} else {
			return "", fmt.Errorf("vm: go command not found to build the init (set MEMWATCH_VM_INIT to a prebuilt one): %v", err)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cache = filepath.Join(cache, "memwatch-vm")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(cache, fmt.Sprintf("init.%d.tmp", os.Getpid()))
	build := func(dir string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, InitPackage)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
		return cmd.CombinedOutput()
	}
	out, err := build(dir)
	if err != nil {
		// Outside the module: try the source directory this package was
		// compiled from (known unless built with -trimpath).
		if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
			if _, serr := os.Stat(file); serr == nil {
				if out2, err2 := build(filepath.Dir(file)); err2 == nil {
					out, err = out2, nil
				}
			}
		}
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("vm: building the init (%s) in %s failed: %v\n%s(outside the memwatch module set MEMWATCH_VM_INIT to a binary built with CGO_ENABLED=0 go build %s)",
			InitPackage, dir, err, out, InitPackage)
	}
	final := filepath.Join(cache, "init")
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return final, nil
}

// maxTestdata bounds the testdata copied into the initramfs (it lives in
// guest RAM).
const maxTestdata = 128 << 20

// writeInitramfs writes the cpio archive for cfg to dst.
func writeInitramfs(dst, initBin, binary, dir string, cfg *Config) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	w := NewCPIOWriter(f)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "mw", "root"} {
		if err := w.Dir(d, 0o755); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init's stdin/stdout/stderr.
	if err := w.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := w.File("init", initBin); err != nil {
		return fmt.Errorf("initramfs: init: %w", err)
	}
	if err := w.File(TestBinPath, binary); err != nil {
		return fmt.Errorf("initramfs: test binary: %w", err)
	}
	// A cgo binary (go test -race) needs its ELF interpreter and shared
	// libraries: copy them from the host at the paths the loader looks in.
	libs, err := sharedLibs(binary)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	for _, l := range libs {
		if err := w.File(l.guest, l.host); err != nil {
			return fmt.Errorf("initramfs: shared library: %w", err)
		}
	}
	if dir != "/" {
		if err := w.Dir(dir, 0o755); err != nil {
			return err
		}
	}
	td := filepath.Join(dir, "testdata")
	if st, err := os.Stat(td); err == nil && st.IsDir() {
		size, err := dirSize(td)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		if size > maxTestdata {
			return fmt.Errorf("initramfs: %s holds %d MiB, over the %d MiB the guest RAM disk takes", td, size>>20, maxTestdata>>20)
		}
		if _, err := w.Tree(td, td); err != nil {
			return fmt.Errorf("initramfs: testdata: %w", err)
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := w.Bytes(ConfigPath, 0o644, b); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

func dirSize(root string) (int64, error) {
	var n int64
	err := filepath.Walk(root, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// makeScratch creates a sparse ext4 image of sizeMiB.
func makeScratch(ctx context.Context, dst string, sizeMiB int) error {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
			if _, serr := os.Stat(p); serr == nil {
				mkfs, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: scratch disk needs mkfs.ext4 (Debian package e2fsprogs)", ErrUnavailable)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		f.Close()
		return err
	}
	f.Close()
	out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-m", "0", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %v: %s", dst, err, out)
	}
	return nil
}
