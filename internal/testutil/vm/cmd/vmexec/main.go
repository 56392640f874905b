// Command vmexec runs a binary inside a throw-away QEMU VM with a real cgroup
// v2 (or hybrid) memory hierarchy; it is meant as a go test -exec wrapper:
//
//	scripts/vm-kernel.sh                                   # once: QEMU + kernel
//	go build -o bin/vmexec ./internal/testutil/vm/cmd/vmexec
//	go test -exec "$(pwd)/bin/vmexec" ./internal/testutil/vm/selftest/
//
// Usage: vmexec [flags] <binary> [args...]
//
// The binary runs in the cgroup /mw/test of the guest with the package's
// testdata/ at the same path as on the host and the working directory vmexec
// was started in; vmexec exits with the binary's exit status, or 1 with a
// message when the VM could not run it. The cgroup limits and other settings
// come from MEMWATCH_VM_* variables (see package
// github.com/go-memwatch/memwatch/internal/testutil/vm).
//
// With -capture-out DIR, "@@FILE <path> <len>@@ ... @@END@@" blocks printed by
// the binary (see internal/testutil/vm/capture) are written as a fixture tree
// under DIR instead of being printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-memwatch/memwatch/internal/testutil/vm"
)

func main() {
	fs := flag.NewFlagSet("vmexec", flag.ContinueOnError)
	captureOut := fs.String("capture-out", "", "write @@FILE blocks from the binary's output as files under `dir`")
	timing := fs.Bool("timing", os.Getenv("MEMWATCH_VM_TIMING") == "1", "print boot and run times to stderr (also MEMWATCH_VM_TIMING=1)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmexec [flags] <binary> [args...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() < 1 {
		fs.Usage()
		os.Exit(2)
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmexec: %v\n", err)
		os.Exit(1)
	}
	o, err := vm.OptionsFromEnv(fs.Arg(0), fs.Args()[1:], wd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmexec: %v\n", err)
		os.Exit(1)
	}
	o.CaptureOut = *captureOut
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := vm.Run(ctx, o)
	if *timing || (err != nil && res.Boot > 0) {
		fmt.Fprintf(os.Stderr, "vmexec: boot %.1fs, run %.1fs, total %.1fs, status %d\n",
			res.Boot.Seconds(), res.Test.Seconds(), res.Total.Seconds(), res.Status)
	}
	if o.CaptureOut != "" {
		fmt.Fprintf(os.Stderr, "vmexec: captured %d files into %s\n", res.Captured, o.CaptureOut)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmexec: %v\n", err)
		if errors.Is(err, vm.ErrUnavailable) {
			fmt.Fprintln(os.Stderr, "vmexec: install QEMU and the guest kernel with scripts/vm-kernel.sh")
		} else if !res.Started && !o.Debug {
			fmt.Fprintln(os.Stderr, "vmexec: rerun with MEMWATCH_VM_DEBUG=1 for the full kernel log")
		}
		if res.Status != 0 {
			os.Exit(res.Status)
		}
		os.Exit(1)
	}
	os.Exit(res.Status)
}
