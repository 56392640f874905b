//go:build !linux

package main

import (
	"fmt"
	"os"
)

func runLab(options) int {
	fmt.Fprintln(os.Stderr, "oomlab: unsupported: needs Linux with memory cgroups (v1, or v2 with a delegable subtree)")
	return 2
}

func runWorker(string) int { return 2 }

func runSidecar(string) int { return 2 }
