//go:build linux

package heapprof

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// heapSink holds the benchmark's heap.
var heapSink [][]byte

// fillHeap allocates about size bytes of live heap from 256 distinct
// allocation stacks (four call sites at recursion depths 1 to 64), in
// objects of 512 B to 64 KiB, and runs a GC so that the heap profile
// includes them.
func fillHeap(size int) {
	heapSink = nil
	sizes := []int{512, 4 << 10, 16 << 10, 64 << 10}
	for total, i := 0, 0; total < size; i++ {
		n := sizes[i%len(sizes)]
		heapSink = append(heapSink, allocAt(1+i%64, i%4, n))
		total += n
	}
	runtime.GC()
}

//go:noinline
func allocAt(depth, site, n int) []byte {
	if depth > 1 {
		return allocAt(depth-1, site, n)
	}
	switch site {
	case 0:
		return make([]byte, n)
	case 1:
		return bytes.Repeat([]byte{1}, n)
	case 2:
		return []byte(strings.Repeat("x", n))
	}
	return append([]byte(nil), make([]byte, n)...)
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkHeapProfile measures writing the heap profile
// (pprof.Lookup("heap").WriteTo, the Profiler's cost per file) with 64 MiB
// and 256 MiB of live heap from 256 allocation stacks. Besides wall time it
// reports the CPU time of the writing thread (cpu-ms/op), which a loaded
// machine does not inflate. The profile also holds every stack allocated
// since the process started, so run each size in its own process:
//
//	go test ./memwatch/heapprof/ -run '^$' -bench 'HeapProfile/heap=64MiB' -benchtime 100x -count 3
//	go test ./memwatch/heapprof/ -run '^$' -bench 'HeapProfile/heap=256MiB' -benchtime 100x -count 3
func BenchmarkHeapProfile(b *testing.B) {
	for _, size := range []int{64 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("heap=%dMiB", size>>20), func(b *testing.B) {
			fillHeap(size)
			defer func() { heapSink = nil; runtime.GC() }()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cw countWriter
			var cpu time.Duration
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				cw = 0
				c0 := threadCPU()
				if err := writeHeapProfile(&cw); err != nil {
					b.Fatal(err)
				}
				cpu += threadCPU() - c0
				n++
			}
			b.ReportMetric(float64(cw), "profile-bytes")
			b.ReportMetric(cpu.Seconds()*1e3/float64(n), "cpu-ms/op")
		})
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
