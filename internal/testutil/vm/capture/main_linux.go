// Command capture prints the kernel files memwatch reads, from inside the
// QEMU test VM, so they can be stored as test fixtures:
//
//	/proc/self/cgroup, /proc/self/mountinfo, /proc/self/status,
//	/proc/self/statm, /proc/self/smaps_rollup, /proc/meminfo,
//	/proc/pressure/memory, /proc/version
//
// and every readable memory.* and cgroup.* file of the process's cgroup and
// of each ancestor up to the root of the mount, for each hierarchy listed in
// /proc/self/cgroup (the v2 one, and the v1 memory one in hybrid mode).
//
// Each file is printed as
//
//	@@FILE <absolute path> <length>@@
//	<length bytes of content>[\n if the content did not end with one]
//	@@END@@
//
// and `vmexec -capture-out DIR` writes them as DIR/<absolute path>:
//
//	go build -o /tmp/capture ./internal/testutil/vm/capture
//	MEMWATCH_VM_MAX=256M vmexec -capture-out DIR /tmp/capture -alloc 20M
//
// Flags shape the numbers (-alloc, -pagecache) and the view (-cgroupns).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/vm"
	"golang.org/x/sys/unix"
)

const stageEnv = "MEMWATCH_CAPTURE_STAGE" // set in the re-executed child

var (
	allocFlag     = flag.String("alloc", "0", "bytes of Go heap to allocate and touch before capturing (e.g. 20M)")
	pageCacheFlag = flag.String("pagecache", "0", "bytes to write (and fsync) to a file in -pagecache-dir, leaving clean page cache")
	pageCacheDir  = flag.String("pagecache-dir", "", "directory for -pagecache on a real file system (default $MEMWATCH_VM_SCRATCH; tmpfs counts as shmem)")
	settle        = flag.Duration("settle", 2500*time.Millisecond, "wait before capturing so memory.stat is flushed")
	cgroupNS      = flag.String("cgroupns", "", `"" (none), "remount" (new cgroup+mount namespace, cgroup2 remounted read-only at /sys/fs/cgroup, as in a container) or "hostmount" (new cgroup namespace, host mount left visible)`)
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "capture: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	if *cgroupNS != "" && os.Getenv(stageEnv) == "" {
		return reexecInNamespace(*cgroupNS)
	}
	if os.Getenv(stageEnv) == "remount" {
		if err := remountCgroup2(); err != nil {
			return err
		}
	}
	var keep []byte
	if n := mustSize(*allocFlag, "-alloc"); n > 0 {
		keep = make([]byte, n)
		for i := 0; i < len(keep); i += 4096 {
			keep[i] = byte(i)
		}
	}
	if n := mustSize(*pageCacheFlag, "-pagecache"); n > 0 {
		if err := writePageCache(n); err != nil {
			return err
		}
	}
	time.Sleep(*settle)

	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer w.Flush()
	for _, p := range []string{
		"/proc/version", "/proc/meminfo", "/proc/pressure/memory",
		"/proc/self/cgroup", "/proc/self/mountinfo", "/proc/self/status",
		"/proc/self/statm", "/proc/self/smaps_rollup",
	} {
		emitFile(w, p)
	}
	dirs, err := cgroupDirs()
	if err != nil {
		return err
	}
	for _, d := range dirs {
		emitCgroupDir(w, d)
	}
	runtime.KeepAlive(keep)
	return w.Flush()
}

func mustSize(s, name string) int64 {
	n, err := vm.ParseLimit(s)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "capture: %s=%q: want a size like 20M\n", name, s)
		os.Exit(2)
	}
	return n
}

// reexecInNamespace runs this program again in a new cgroup namespace (and,
// for "remount", a new mount namespace), where it captures; the child starts
// in this process's cgroup, which becomes its namespace root.
func reexecInNamespace(mode string) error {
	flags := uintptr(unix.CLONE_NEWCGROUP)
	switch mode {
	case "remount":
		flags |= unix.CLONE_NEWNS
	case "hostmount":
	default:
		return fmt.Errorf("-cgroupns=%q: want remount or hostmount", mode)
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), stageEnv+"="+mode)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	return cmd.Run()
}

// remountCgroup2 replaces the cgroup2 mount at /sys/fs/cgroup by one made in
// the new cgroup namespace, read-only like a container runtime mounts it.
func remountCgroup2() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Unmount("/sys/fs/cgroup", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount /sys/fs/cgroup: %w", err)
	}
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME)
	if err := unix.Mount("cgroup", "/sys/fs/cgroup", "cgroup2", flags, ""); err != nil {
		return fmt.Errorf("mount cgroup2 in the new namespace: %w", err)
	}
	return nil
}

func writePageCache(n int64) error {
	dir := *pageCacheDir
	if dir == "" {
		dir = os.Getenv("MEMWATCH_VM_SCRATCH")
	}
	if dir == "" {
		return errors.New("-pagecache needs -pagecache-dir or a scratch disk (MEMWATCH_VM_SCRATCH=64M on the host)")
	}
	f, err := os.Create(filepath.Join(dir, "pagecache.dat"))
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bytes.Repeat([]byte("memwatch page cache fixture\n"), 4096/28+1)[:4096]
	for written := int64(0); written < n; written += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

func emitFile(w *bufio.Writer, p string) {
	b, err := os.ReadFile(p)
	if err != nil {
		fmt.Fprintf(w, "@@SKIP %s: %v@@\n", p, err)
		return
	}
	fmt.Fprintf(w, "@@FILE %s %d@@\n", p, len(b))
	w.Write(b)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		w.WriteByte('\n')
	}
	w.WriteString("@@END@@\n")
}

// emitCgroupDir prints the readable memory.* and cgroup.* files of dir.
func emitCgroupDir(w *bufio.Writer, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintf(w, "@@SKIP %s: %v@@\n", dir, err)
		return
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !(strings.HasPrefix(n, "memory.") || strings.HasPrefix(n, "cgroup.")) {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Mode().Perm()&0o444 == 0 {
			continue // write-only (cgroup.event_control, memory.force_empty, memory.reclaim)
		}
		emitFile(w, path.Join(dir, n))
	}
}

type mount struct {
	root, point, fstype, super string
}

func mounts() ([]mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []mount
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			return nil, fmt.Errorf("/proc/self/mountinfo: bad line %q", l)
		}
		out = append(out, mount{root: unescape(f[3]), point: unescape(f[4]), fstype: g[0], super: g[2]})
	}
	return out, nil
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupDirs lists, for each hierarchy memwatch may read (v2, v1 memory), the
// process's cgroup directory and its ancestors up to the mount point. When
// the cgroup lies outside the mount's root (a cgroup namespace with the host
// mount visible), only the mount point is listed: it is what a naive reader
// would read.
func cgroupDirs() ([]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	ms, err := mounts()
	if err != nil {
		return nil, err
	}
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup: bad line %q", l)
		}
		v2 := parts[0] == "0" && parts[1] == ""
		memV1 := strings.Contains(","+parts[1]+",", ",memory,")
		if !v2 && !memV1 {
			continue
		}
		for _, m := range ms {
			if v2 && m.fstype != "cgroup2" || memV1 && (m.fstype != "cgroup" || !strings.Contains(","+m.super+",", ",memory,")) {
				continue
			}
			cg := parts[2]
			rel, ok := strings.CutPrefix(cg, m.root)
			if m.root == "/" {
				rel, ok = cg, true
			}
			if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
				add(m.point)
				continue
			}
			d := path.Join(m.point, rel)
			for {
				add(d)
				if d == m.point || d == "/" {
					break
				}
				d = path.Dir(d)
			}
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
