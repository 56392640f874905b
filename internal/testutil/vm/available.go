package vm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// ErrUnavailable is wrapped by errors from KernelPath, QEMUPath and Run when
// the VM cannot be booted on this host.
var ErrUnavailable = errors.New("vm: unavailable")

// KernelPath returns the guest kernel image: $MEMWATCH_VM_KERNEL, else
// $HOME/.cache/memwatch-vm/vmlinuz (where scripts/vm-kernel.sh puts it). The
// error wraps ErrUnavailable when the file is missing.
func KernelPath() (string, error) {
	p := os.Getenv("MEMWATCH_VM_KERNEL")
	if p == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("%w: no kernel: MEMWATCH_VM_KERNEL unset and no cache dir: %v", ErrUnavailable, err)
		}
		// UserCacheDir honours XDG_CACHE_HOME; the script uses $HOME/.cache.
		p = filepath.Join(dir, "memwatch-vm", "vmlinuz")
		if home, herr := os.UserHomeDir(); herr == nil {
			if _, serr := os.Stat(p); serr != nil {
				p = filepath.Join(home, ".cache", "memwatch-vm", "vmlinuz")
			}
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: no guest kernel at %s (run scripts/vm-kernel.sh or set MEMWATCH_VM_KERNEL)", ErrUnavailable, p)
	}
	if !st.Mode().IsRegular() || st.Size() == 0 {
		return "", fmt.Errorf("%w: guest kernel %s is not a non-empty file", ErrUnavailable, p)
	}
	return p, nil
}

// QEMUPath returns the QEMU binary: $MEMWATCH_VM_QEMU, else
// qemu-system-x86_64 from PATH. The error wraps ErrUnavailable.
func QEMUPath() (string, error) {
	name := os.Getenv("MEMWATCH_VM_QEMU")
	if name == "" {
		name = "qemu-system-x86_64"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s not found (run scripts/vm-kernel.sh to install qemu-system-x86): %v", ErrUnavailable, name, err)
	}
	return p, nil
}

// Available reports whether test binaries can be run in the VM here: a Linux
// amd64 host with QEMU and a guest kernel. When not, reason says what is
// missing and how to get it, fit for t.Skip.
func Available() (ok bool, reason string) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return false, fmt.Sprintf("QEMU VM harness needs a linux/amd64 host, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if _, err := QEMUPath(); err != nil {
		return false, err.Error()
	}
	if _, err := KernelPath(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// InGuest reports the cgroup mode when the calling process runs inside the
// VM harness (MEMWATCH_VM is set by the init), or "" on a normal host.
func InGuest() Mode {
	return Mode(os.Getenv("MEMWATCH_VM"))
}
