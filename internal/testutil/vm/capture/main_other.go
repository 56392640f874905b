//go:build !linux

// Command capture prints kernel memory files from inside the Linux test VM;
// it is Linux-only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "capture: unsupported: runs only on Linux (inside the test VM)")
	os.Exit(2)
}
