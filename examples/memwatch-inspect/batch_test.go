package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"
)

// The hostile corpus (hostile_linux_test.go) runs memwatch-inspect on each
// case in a child process: the test binary re-executed with envBatch set,
// which runs mainStatus (main without os.Exit) on the cases of a manifest
// one after the other. A case that hangs (a FIFO opened blocking), crashes
// or allocates without bound (a read of /dev/zero to the end) cannot be
// stopped inside a process; the parent kills the child and restarts it at
// the next case, so one bad case fails alone and never takes the test
// binary or the machine with it.
const (
	envBatch      = "MEMWATCH_INSPECT_BATCH"       // manifest path: the child runs it
	envBatchStart = "MEMWATCH_INSPECT_BATCH_START" // index of the first case to run
)

// batchMemLimit bounds the child's Go memory: a case reading a device or a
// huge file to the end would otherwise take the machine's memory before the
// parent's timeout. memwatch-inspect itself needs a few MiB.
const batchMemLimit = 256 << 20

// batchEntry is one run of memwatch-inspect in the manifest.
type batchEntry struct {
	Args []string // command-line arguments
	Out  string   // directory for stdout, stderr and result.json
}

// batchResult is what the child records for an entry (result.json).
type batchResult struct {
	Status           int
	FDsBefore        int // open descriptors before and after the run (-1: unknown)
	FDsAfter         int
	GoroutinesBefore int
	GoroutinesAfter  int
	Elapsed          time.Duration
}

// batchMain is the child's body; it returns the process exit status.
func batchMain(manifest string) int {
	b, err := os.ReadFile(manifest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		return 100
	}
	var entries []batchEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		return 100
	}
	start, _ := strconv.Atoi(os.Getenv(envBatchStart))
	go memWatchdog()
	for i := start; i < len(entries); i++ {
		e := entries[i]
		fmt.Printf("start %d\n", i)
		var stdout, stderr bytes.Buffer
		res := batchResult{FDsBefore: countFDs(), GoroutinesBefore: runtime.NumGoroutine()}
		t0 := time.Now()
		res.Status = mainStatus(e.Args, &stdout, &stderr)
		res.Elapsed = time.Since(t0)
		res.FDsAfter, res.GoroutinesAfter = countFDs(), runtime.NumGoroutine()
		rb, _ := json.Marshal(res)
		for name, data := range map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes(), "result.json": rb} {
			if err := os.WriteFile(e.Out+"/"+name, data, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "batch:", err)
				return 100
			}
		}
		fmt.Printf("done %d\n", i)
	}
	return 0
}

// memWatchdog ends the child when its Go memory passes batchMemLimit,
// naming the cause on stderr for the parent.
func memWatchdog() {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > batchMemLimit {
			fmt.Fprintf(os.Stderr, "runaway allocation: Go memory %d bytes > %d\n", v, batchMemLimit)
			os.Exit(101)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// countFDs counts the open descriptors (-1 without /proc/self/fd).
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
