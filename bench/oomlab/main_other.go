//go:build !linux

package main

import (
	"fmt"
	"os"
)

func runLab(options) int {
	fmt.Fprintln(os.Stderr, "oomlab: unsupported: needs Linux with cgroup v1 memory cgroups")
	return 2
}

func runWorker(string) int { return 2 }
