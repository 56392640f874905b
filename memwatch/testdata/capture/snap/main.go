// Command snap builds a memwatch fixture tree from the real kernel it runs on.
// It is run by capture.sh inside a throw-away memory cgroup.
//
//	snap FIXDIR      allocate a known mix of memory, then copy /proc/self/*,
//	                 /proc/meminfo, /proc/pressure/memory and the memory files of
//	                 its cgroups under FIXDIR, and the values of every
//	                 runtime/metrics scalar to FIXDIR/go-metrics.json
//	snap child MiB   hold MiB of touched heap and sleep (another process of the
//	                 cgroup)
//
// Memory mix of the main process: 64 MiB live Go heap, 24 MiB of garbage,
// 40 MiB of anonymous mmap memory the Go runtime does not know (touched),
// 48 MiB written to a file (page cache, partly dirty) and 8 MiB written to
// /dev/shm (shmem).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"
)

var sink [][]byte

func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "child" {
		var n int
		fmt.Sscan(os.Args[2], &n)
		b := make([]byte, n<<20)
		touch(b)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		runtime.KeepAlive(b)
		return
	}
	fix := os.Args[1]

	for i := 0; i < 64; i++ { // live heap
		b := make([]byte, 1<<20)
		touch(b)
		sink = append(sink, b)
	}
	runtime.GC()
	for i := 0; i < 24; i++ { // garbage after the GC
		b := make([]byte, 1<<20)
		touch(b)
	}
	mm, err := syscall.Mmap(-1, 0, 40<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	check(err)
	touch(mm)
	writeFile(filepath.Join(os.Getenv("WORK"), "pagecache"), 48)
	writeFile("/dev/shm/memwatch-capture", 8)
	time.Sleep(2500 * time.Millisecond) // let memory.stat catch up (rstat flush)

	// The Go view first, then the files, as close together as possible.
	descs := metrics.All()
	samples := make([]metrics.Sample, len(descs))
	for i := range samples {
		samples[i].Name = descs[i].Name
	}
	metrics.Read(samples)
	vals := map[string]any{}
	for _, s := range samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			vals[s.Name] = s.Value.Uint64()
		case metrics.KindFloat64:
			vals[s.Name] = s.Value.Float64()
		}
	}
	for _, f := range []string{"statm", "status", "smaps_rollup", "cgroup", "mountinfo"} {
		copyFile(fix, "/proc/self/"+f)
	}
	copyFile(fix, "/proc/meminfo")
	copyFile(fix, "/proc/pressure/memory")
	for _, d := range cgroupDirs() {
		copyDir(fix, d)
	}
	b, err := json.MarshalIndent(vals, "", "\t")
	check(err)
	check(os.WriteFile(filepath.Join(fix, "go-metrics.json"), append(b, '\n'), 0o644))
	runtime.KeepAlive(sink)
	check(syscall.Munmap(mm))
	os.Remove("/dev/shm/memwatch-capture")
}

func writeFile(path string, mib int) {
	f, err := os.Create(path)
	check(err)
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for i := 0; i < mib; i++ {
		_, err := f.Write(chunk)
		check(err)
	}
	check(f.Close())
}

// cgroupDirs returns the memory cgroup directory of this process, its
// ancestors up to the mount point, and the cgroup2 directory with
// memory.pressure (hybrid layout).
func cgroupDirs() []string {
	b, err := os.ReadFile("/proc/self/cgroup")
	check(err)
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		var mnt string
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			mnt = "/sys/fs/cgroup/memory"
		case parts[0] == "0":
			mnt = "/sys/fs/cgroup/unified"
		default:
			continue
		}
		p := parts[2]
		for {
			dirs = append(dirs, filepath.Join(mnt, p))
			if p == "/" {
				break
			}
			p = filepath.Dir(p)
		}
	}
	return dirs
}

func copyDir(fix, d string) {
	ents, err := os.ReadDir(d)
	check(err)
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		switch n {
		case "memory.force_empty", "memory.pressure_level", "memory.kmem.slabinfo":
			continue // not readable
		case "cgroup.event_control":
			check(os.MkdirAll(fix+d, 0o755)) // write-only: keep the path
			check(os.WriteFile(fix+d+"/"+n, nil, 0o644))
			continue
		}
		if strings.HasPrefix(n, "memory.") || n == "cgroup.sane_behavior" || n == "cgroup.controllers" ||
			n == "cgroup.type" || n == "cgroup.events" {
			copyFile(fix, d+"/"+n)
		}
	}
}

func copyFile(fix, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "snap: skip", path, err)
		return
	}
	check(os.MkdirAll(filepath.Dir(fix+path), 0o755))
	check(os.WriteFile(fix+path, b, 0o644))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "snap:", err)
		os.Exit(1)
	}
}
