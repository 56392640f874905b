// Package vm runs Go test binaries inside a throw-away QEMU virtual machine on
// a real Linux kernel with a cgroup v2 (or hybrid v1 memory + v2) hierarchy,
// so cgroup v2 behaviour (memory.max, memory.high, memory.events, OOM kills,
// PSI) is tested against the kernel instead of against mocks.
//
// # Pieces
//
//   - scripts/vm-kernel.sh installs qemu-system-x86 and caches the Debian
//     cloud kernel (vmlinuz) at $HOME/.cache/memwatch-vm/vmlinuz
//     (MEMWATCH_VM_KERNEL overrides).
//   - internal/testutil/vm/init is a static Go program that runs as /init in
//     the initramfs: it mounts proc, sysfs, devtmpfs, /tmp and the cgroup
//     hierarchy, creates the cgroups /mw (parent) and /mw/test (child), starts
//     the test binary inside /mw/test, streams its output to the serial
//     console, prints the exit marker and powers the machine off.
//   - internal/testutil/vm/cmd/vmexec is a `go test -exec` wrapper: it builds
//     the init (cached by the go build cache), writes a newc cpio initramfs
//     holding /init, the test binary as /test.bin, the package's testdata/ at
//     the same absolute path as on the host, and /mw/config.json, boots QEMU
//     (TCG, 1 vCPU) and exits with the test binary's exit status.
//   - internal/testutil/vm/capture prints kernel files from inside the VM in a
//     delimited format; `vmexec -capture-out DIR` turns it into a fixture tree.
//
// # Usage
//
//	scripts/vm-kernel.sh
//	go build -o bin/vmexec ./internal/testutil/vm/cmd/vmexec
//	go test -exec "$(pwd)/bin/vmexec" ./internal/testutil/vm/selftest/
//
// # Configuration (host environment of vmexec)
//
//	MEMWATCH_VM_KERNEL      kernel image (default $HOME/.cache/memwatch-vm/vmlinuz)
//	MEMWATCH_VM_QEMU        QEMU binary (default qemu-system-x86_64 from PATH)
//	MEMWATCH_VM_INIT        prebuilt static init binary (default: go build it)
//	MEMWATCH_VM_MODE        v2 (default) or hybrid (v1 memory + cgroup2 at unified)
//	MEMWATCH_VM_MAX         memory.max (v1: memory.limit_in_bytes) of /mw/test: bytes,
//	                        a size like 256M / 256MiB / 1G, or "max" (default 256MiB)
//	MEMWATCH_VM_HIGH        memory.high of /mw/test (v2 only; default max)
//	MEMWATCH_VM_PARENT_MAX  memory.max of the parent /mw (default max)
//	MEMWATCH_VM_MEM         guest RAM in MiB (default 512)
//	MEMWATCH_VM_SCRATCH     size of an ext4 scratch disk (e.g. 64M) mounted at /scratch,
//	                        for page-cache tests (tmpfs files count as shmem); default none
//	MEMWATCH_VM_TIMEOUT     overall bound of one run (default: -test.timeout + 2m, or 12m)
//	MEMWATCH_VM_DEBUG=1     print the kernel boot log too (loglevel=7, no quiet)
//	MEMWATCH_VM_CONSOLE_LOG file receiving a raw copy of the guest console
//	MEMWATCH_VM_TIMING=1    vmexec prints boot and run times to stderr
//
// The guest kernel command line is
// "console=ttyS0 panic=-1 psi=1 quiet loglevel=1"; QEMU runs with
// -accel tcg -smp 1 -nographic -nodefaults -serial stdio -no-reboot
// (/dev/kvm does not work for this guest on the project's machines).
//
// Inside the guest the test sees MEMWATCH_VM=v2|hybrid, MEMWATCH_VM_MAX,
// MEMWATCH_VM_HIGH and MEMWATCH_VM_PARENT_MAX (in bytes or "max"),
// MEMWATCH_VM_CGROUP=/mw/test and, with a scratch disk, MEMWATCH_VM_SCRATCH=/scratch.
// Host variables named MEMWATCH_* and the runtime's GOMAXPROCS, GOTRACEBACK,
// GODEBUG, GOGC and GOMEMLIMIT are passed through.
//
// go test's output flags (-coverprofile, -cpuprofile, -memprofile, ...,
// -test.gocoverdir) work: the files are sent back over the console. The
// -test.testlogfile is not, so go test never caches a VM run. A cgo (-race)
// test binary gets its loader and shared libraries copied in from the host.
//
// Tests that need the VM call [Available] to skip with a clear reason.
package vm
