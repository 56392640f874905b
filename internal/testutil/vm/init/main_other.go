//go:build !linux

// Command init runs as /init in the QEMU test VM's initramfs; it is Linux-only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "vm-init: unsupported: runs only as /init of the Linux test VM")
	os.Exit(2)
}
