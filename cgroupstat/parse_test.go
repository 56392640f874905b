package cgroupstat_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// Values shared by the fixture tests (all platforms).
const (
	fxV1NoLimit = 9223372036854771712 // 2^63 - 4096: v1 "no limit"
	fxDockerID  = "3f1c2a9be07d4c58a6e2b1d0c9f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0"
	fxDockerID2 = "8e2d4b6a1c3f5e7d9b0a2c4e6f8d1b3a5c7e9f0d2b4a6c8e1f3d5b7a9c0e2f4d"
)

// Present bits of a v1 memory.stat (total_* keys and the hierarchical limits).
const fxV1Present = cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatActiveAnon | cgroupstat.StatInactiveAnon |
	cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile | cgroupstat.StatUnevictable | cgroupstat.StatShmem |
	cgroupstat.StatFileMapped | cgroupstat.StatFileDirty | cgroupstat.StatFileWriteback | cgroupstat.StatSwap |
	cgroupstat.StatAnonTHP | cgroupstat.StatHierarchicalLimit | cgroupstat.StatHierarchicalMemswLimit

// Present bits of a 6.x cgroup2 memory.stat.
const fxV2Present = cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatActiveAnon | cgroupstat.StatInactiveAnon |
	cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile | cgroupstat.StatUnevictable | cgroupstat.StatShmem |
	cgroupstat.StatFileMapped | cgroupstat.StatFileDirty | cgroupstat.StatFileWriteback | cgroupstat.StatKernel |
	cgroupstat.StatKernelStack | cgroupstat.StatPageTables | cgroupstat.StatPercpu | cgroupstat.StatSock |
	cgroupstat.StatSlabReclaimable | cgroupstat.StatSlabUnreclaimable | cgroupstat.StatAnonTHP

func fxRead(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fxParseErr checks that err is a *ParseError naming file at line.
func fxParseErr(t *testing.T, err error, file string, line int) {
	t.Helper()
	var pe *cgroupstat.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v (%T), want *ParseError", err, err)
	}
	if pe.File != file || pe.Line != line {
		t.Errorf("ParseError at %s:%d, want %s:%d (%v)", pe.File, pe.Line, file, line, err)
	}
}

func TestParseProcCgroup(t *testing.T) {
	var lines []cgroupstat.CgroupLine
	if err := cgroupstat.ParseProcCgroup("cgroup", fxRead(t, "hybrid/proc/self/cgroup"), &lines); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10", len(lines))
	}
	if want := (cgroupstat.CgroupLine{ID: 9, Controllers: []string{"name=systemd"}, Path: "/"}); !reflect.DeepEqual(lines[0], want) {
		t.Errorf("line 1 %+v, want %+v", lines[0], want)
	}
	if want := (cgroupstat.CgroupLine{ID: 4, Controllers: []string{"memory"}, Path: "/mwfix/app"}); !reflect.DeepEqual(lines[5], want) {
		t.Errorf("line 6 %+v, want %+v", lines[5], want)
	}
	if want := (cgroupstat.CgroupLine{ID: 0, Path: "/mwfix"}); !reflect.DeepEqual(lines[9], want) {
		t.Errorf("line 10 %+v, want %+v", lines[9], want)
	}
	if !lines[5].Has("memory") || lines[5].Has("cpu") {
		t.Errorf("Has: %+v", lines[5])
	}

	// The kernel's line for a task whose cgroup2 cgroup was removed (as
	// captured on the host from a zombie in a removed cgroup, and the
	// v2-deleted fixture built with that shape), and a sibling outside the
	// namespace (a real capture).
	if err := cgroupstat.ParseProcCgroup("c", []byte("0::/mwdel (deleted)\n"), &lines); err != nil {
		t.Fatal(err)
	}
	if want := []cgroupstat.CgroupLine{{ID: 0, Path: "/mwdel", Deleted: true}}; !reflect.DeepEqual(lines, want) {
		t.Errorf("deleted: %+v, want %+v", lines, want)
	}
	if err := cgroupstat.ParseProcCgroup("c", fxRead(t, "v2-deleted/proc/self/cgroup"), &lines); err != nil {
		t.Fatal(err)
	}
	if want := []cgroupstat.CgroupLine{{ID: 0, Path: "/mw/test", Deleted: true}}; !reflect.DeepEqual(lines, want) {
		t.Errorf("deleted: %+v, want %+v", lines, want)
	}
	if err := cgroupstat.ParseProcCgroup("c", fxRead(t, "v1-sibling/proc/self/cgroup"), &lines); err != nil {
		t.Fatal(err)
	}
	if lines[5].Path != "/../"+fxDockerID2 {
		t.Errorf("sibling path %q", lines[5].Path)
	}
	// Co-mounted controllers, colons inside a path (systemd + containerd), a
	// path with a space.
	in := "3:cpu,cpuacct:/kubepods.slice/cri-containerd:abc\n0::/a b\n"
	if err := cgroupstat.ParseProcCgroup("c", []byte(in), &lines); err != nil {
		t.Fatal(err)
	}
	want := []cgroupstat.CgroupLine{{ID: 3, Controllers: []string{"cpu", "cpuacct"}, Path: "/kubepods.slice/cri-containerd:abc"}, {ID: 0, Path: "/a b"}}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %+v, want %+v", lines, want)
	}

	for _, c := range []struct {
		in   string
		line int
	}{
		{"4:memory\n", 1},
		{"0::/\nmemory:/x\n", 2},
		{"x:memory:/\n", 1},
		{"-1:memory:/\n", 1},
		{"99999999999:memory:/\n", 1},
		{"4:memory,:/\n", 1},
		{"4:memory:relative\n", 1},
		{"4:memory:\n", 1},
		{"0:: (deleted)\n", 1},
	} {
		err := cgroupstat.ParseProcCgroup("cg", []byte(c.in), &lines)
		fxParseErr(t, err, "cg", c.line)
	}
}

func TestParseMountinfo(t *testing.T) {
	var mounts []cgroupstat.Mount
	if err := cgroupstat.ParseMountinfo("mi", fxRead(t, "v1-escaped-mountpoint/proc/self/mountinfo"), &mounts); err != nil {
		t.Fatal(err)
	}
	var got *cgroupstat.Mount
	for i := range mounts {
		if mounts[i].FSType == "cgroup" {
			got = &mounts[i]
		}
	}
	// Real line: 48 47 0:32 / /mnt/cgroup\040v1/memory rw,relatime - cgroup cgroup rw,memory
	want := cgroupstat.Mount{ID: 48, ParentID: 47, Device: "0:32", Root: "/", MountPoint: "/mnt/cgroup v1/memory",
		Options: "rw,relatime", FSType: "cgroup", Source: "cgroup", SuperOptions: "rw,memory"}
	if got == nil || *got != want {
		t.Fatalf("cgroup mount %+v, want %+v", got, want)
	}
	if got.ReadOnly() {
		t.Errorf("rw mount reported read-only")
	}

	if err := cgroupstat.ParseMountinfo("mi", fxRead(t, "docker-v1-container/proc/self/mountinfo"), &mounts); err != nil {
		t.Fatal(err)
	}
	for i := range mounts {
		m := &mounts[i]
		if m.FSType == "cgroup" {
			if m.Root != "/docker/"+fxDockerID || !m.ReadOnly() || m.Options != "ro,nosuid,nodev,noexec,relatime" {
				t.Errorf("container mount %+v", m)
			}
		}
	}
	// Optional fields and every escape the kernel writes.
	in := `36 35 98:0 /mnt\134x /a\011b\012c\040d rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue` + "\n"
	if err := cgroupstat.ParseMountinfo("mi", []byte(in), &mounts); err != nil {
		t.Fatal(err)
	}
	want = cgroupstat.Mount{ID: 36, ParentID: 35, Device: "98:0", Root: `/mnt\x`, MountPoint: "/a\tb\nc d", Options: "rw,noatime",
		Optional: "master:1 shared:2", FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue"}
	if len(mounts) != 1 || mounts[0] != want {
		t.Errorf("got %+v, want %+v", mounts, want)
	}

	for _, c := range []struct {
		in   string
		line int
	}{
		{"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime cgroup cgroup rw,memory\n", 1}, // no separator
		{"35 31 0:32 / /x rw\n", 1},
		{"x 31 0:32 / /x rw - tmpfs t rw\n", 1},
		{"35 31 032 / /x rw - tmpfs t rw\n", 1},
		{"22 27 0:21 / /proc rw - proc proc rw\n35 31 0:32 / rel rw - tmpfs t rw\n", 2},
		{`35 31 0:32 / /a\04 rw - tmpfs t rw` + "\n", 1},
		{`35 31 0:32 / /a\400b rw - tmpfs t rw` + "\n", 1},
		{`35 31 0:32 / /a\x41b rw - tmpfs t rw` + "\n", 1},
		{"35 31 0:32 / /x rw -\n", 1},
	} {
		err := cgroupstat.ParseMountinfo("mi", []byte(c.in), &mounts)
		fxParseErr(t, err, "mi", c.line)
	}
}

func TestParseMemStat(t *testing.T) {
	var m cgroupstat.MemStat
	if err := cgroupstat.ParseMemStat("s", fxRead(t, "hybrid/sys/fs/cgroup/memory/mwfix/app/memory.stat"), cgroupstat.V1, &m); err != nil {
		t.Fatal(err)
	}
	want := cgroupstat.MemStat{Anon: 44396544, File: 364544, ActiveAnon: 12288, InactiveAnon: 44199936,
		ActiveFile: 69632, InactiveFile: 294912, FileDirty: 303104,
		HierarchicalLimit: 268435456, HierarchicalMemswLimit: fxV1NoLimit, Present: fxV1Present}
	if m != want {
		t.Errorf("v1\n got %+v\nwant %+v", m, want)
	}
	// The same v1 file read with the v2 key set finds only the keys the two
	// share by name (the per-cgroup, non-total ones).
	if err := cgroupstat.ParseMemStat("s", fxRead(t, "hybrid/sys/fs/cgroup/memory/mwfix/app/memory.stat"), cgroupstat.V2, &m); err != nil {
		t.Fatal(err)
	}
	if m.Present&(cgroupstat.StatAnon|cgroupstat.StatHierarchicalLimit) != 0 || m.InactiveFile != 294912 {
		t.Errorf("v1 file as v2: %+v", m)
	}

	// A 6.1 file with page cache (v2-nested's parent: 8 MiB written on ext4).
	if err := cgroupstat.ParseMemStat("s", fxRead(t, "v2-nested/sys/fs/cgroup/mw/memory.stat"), cgroupstat.V2, &m); err != nil {
		t.Fatal(err)
	}
	want = cgroupstat.MemStat{Anon: 22007808, File: 8417280, ActiveAnon: 4096, InactiveAnon: 22003712,
		ActiveFile: 24576, InactiveFile: 8392704, FileDirty: 12288,
		Kernel: 1220608, KernelStack: 49152, PageTables: 122880, Percpu: 5256,
		SlabReclaimable: 974744, SlabUnreclaimable: 30936, Present: fxV2Present}
	if m != want {
		t.Errorf("v2\n got %+v\nwant %+v", m, want)
	}
	// Keys in any order, no "kernel" key: summed from the parts, sock excluded.
	in := "sock 7\nslab_unreclaimable 5\npagetables 2\nkernel_stack 1\npercpu 3\nslab_reclaimable 4\ninactive_file 9\n"
	if err := cgroupstat.ParseMemStat("s", []byte(in), cgroupstat.V2, &m); err != nil {
		t.Fatal(err)
	}
	if m.Kernel != 15 || m.Present&cgroupstat.StatKernelFromParts == 0 || m.Sock != 7 || m.InactiveFile != 9 {
		t.Errorf("kernel from parts: %+v", m)
	}
	// Parsing resets the output.
	if err := cgroupstat.ParseMemStat("s", []byte("anon 1\n"), cgroupstat.V2, &m); err != nil {
		t.Fatal(err)
	}
	if (m != cgroupstat.MemStat{Anon: 1, Present: cgroupstat.StatAnon}) {
		t.Errorf("not reset: %+v", m)
	}

	for _, c := range []struct {
		in   string
		line int
	}{
		{"anon 1\nfile\n", 2},
		{"anon 1 2\n", 1},
		{"anon -1\n", 1},
		{"anon 1.5\n", 1},
		{"total_rss 18446744073709551616\n", 1},
		{"cache 1\n\nrss x\n", 3},
	} {
		err := cgroupstat.ParseMemStat("st", []byte(c.in), cgroupstat.V1, &m)
		fxParseErr(t, err, "st", c.line)
	}
	fxParseErr(t, cgroupstat.ParseMemStat("st", []byte("anon 1\n"), cgroupstat.VersionUnknown, &m), "st", 0)
}

func TestParseEvents(t *testing.T) {
	var e cgroupstat.EventCounts
	// A newer kernel's extra key is ignored.
	if err := cgroupstat.ParseEvents("ev", []byte("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\nsock_throttled 7\n"), &e); err != nil {
		t.Fatal(err)
	}
	if want := (cgroupstat.EventCounts{Low: 1, High: 2, Max: 3, OOM: 4, OOMKill: 5, OOMGroupKill: 6}); e != want {
		t.Errorf("got %+v, want %+v", e, want)
	}
	// A real 6.1 file (every counter 0): the values are reset first.
	if err := cgroupstat.ParseEvents("ev", fxRead(t, "v2-nested/sys/fs/cgroup/mw/memory.events"), &e); err != nil {
		t.Fatal(err)
	}
	if want := (cgroupstat.EventCounts{}); e != want {
		t.Errorf("got %+v, want %+v", e, want)
	}
	for _, c := range []struct {
		in   string
		line int
	}{
		{"low 0\nhigh\n", 2},
		{"low zero\n", 1},
		{"low 0 0\n", 1},
	} {
		fxParseErr(t, cgroupstat.ParseEvents("ev", []byte(c.in), &e), "ev", c.line)
	}
}

func TestParseOOMControl(t *testing.T) {
	e := cgroupstat.Events{Failcnt: 85, HasEvents: true}
	if err := cgroupstat.ParseOOMControl("oc", fxRead(t, "hybrid/sys/fs/cgroup/memory/mwfix/app/memory.oom_control"), &e); err != nil {
		t.Fatal(err)
	}
	if want := (cgroupstat.Events{EventCounts: cgroupstat.EventCounts{OOMKill: 1}, Failcnt: 85, HasEvents: true}); e != want {
		t.Errorf("got %+v, want %+v (other fields kept)", e, want)
	}
	if err := cgroupstat.ParseOOMControl("oc", []byte("oom_kill_disable 1\nunder_oom 1\n"), &e); err != nil {
		t.Fatal(err)
	}
	if !e.OOMKillDisable || !e.UnderOOM || e.OOMKill != 0 {
		t.Errorf("pre-4.13 format: %+v", e)
	}
	fxParseErr(t, cgroupstat.ParseOOMControl("oc", []byte("oom_kill_disable 0\nunder_oom yes\n"), &e), "oc", 2)
	fxParseErr(t, cgroupstat.ParseOOMControl("oc", []byte("oom_kill\n"), &e), "oc", 1)
}

func TestParsePSI(t *testing.T) {
	var p cgroupstat.PSI
	p.Source = cgroupstat.PSIHost
	if err := cgroupstat.ParsePSI("ps", fxRead(t, "hybrid/proc/pressure/memory"), &p); err != nil {
		t.Fatal(err)
	}
	want := cgroupstat.PSI{Source: cgroupstat.PSIHost,
		Some: cgroupstat.PSILine{Avg10: 1.65, Avg60: 0.34, Avg300: 0.07, Total: 339067},
		Full: cgroupstat.PSILine{Avg10: 0.37, Avg60: 0.10, Avg300: 0.01, Total: 136083}}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	// Keys by name, "some" only (as cpu.pressure before 5.13), 100.00.
	if err := cgroupstat.ParsePSI("ps", []byte("some total=5 avg300=0.01 avg60=100.00 avg10=3.5\n"), &p); err != nil {
		t.Fatal(err)
	}
	if want := (cgroupstat.PSILine{Avg10: 3.5, Avg60: 100, Avg300: 0.01, Total: 5}); p.Some != want || p.Full != (cgroupstat.PSILine{}) {
		t.Errorf("got %+v", p)
	}
	for _, c := range []struct {
		in   string
		line int
	}{
		{"", 0},
		{"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0},
		{"some avg10=0.00 avg60=0.00 avg300=0.00\n", 1},
		{"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nhalf avg10=0.00\n", 2},
		{"some avg10=x avg60=0.00 avg300=0.00 total=0\n", 1},
		{"some avg10 avg60=0.00 avg300=0.00 total=0\n", 1},
		{"some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", 1},
	} {
		fxParseErr(t, cgroupstat.ParsePSI("ps", []byte(c.in), &p), "ps", c.line)
	}
}

func TestParsersDoNotAllocate(t *testing.T) {
	v1 := fxRead(t, "hybrid/sys/fs/cgroup/memory/mwfix/app/memory.stat")
	v2 := fxRead(t, "v2-nested/sys/fs/cgroup/mw/test/memory.stat")
	ev := fxRead(t, "v2-nested/sys/fs/cgroup/mw/memory.events")
	oc := fxRead(t, "hybrid/sys/fs/cgroup/memory/mwfix/app/memory.oom_control")
	ps := fxRead(t, "hybrid/proc/pressure/memory")
	var (
		m   cgroupstat.MemStat
		e   cgroupstat.Events
		p   cgroupstat.PSI
		err error
	)
	for name, fn := range map[string]func(){
		"MemStat v1": func() { err = cgroupstat.ParseMemStat("s", v1, cgroupstat.V1, &m) },
		"MemStat v2": func() { err = cgroupstat.ParseMemStat("s", v2, cgroupstat.V2, &m) },
		"Events":     func() { err = cgroupstat.ParseEvents("e", ev, &e.EventCounts) },
		"OOMControl": func() { err = cgroupstat.ParseOOMControl("o", oc, &e) },
		"PSI":        func() { err = cgroupstat.ParsePSI("p", ps, &p) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 || err != nil {
			t.Errorf("%s: %v allocs/op, err %v", name, n, err)
		}
	}
}

// The parser benchmarks isolate the hot-path parsers from the syscalls, on
// fixtures captured from real kernels.
func benchParse(b *testing.B, path string, parse func(file string, data []byte) error) {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := parse(path, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMemStat(b *testing.B) {
	var m cgroupstat.MemStat
	for _, c := range []struct {
		name, path string
		v          cgroupstat.Version
	}{
		{"v1", "testdata/hybrid/sys/fs/cgroup/memory/memory.stat", cgroupstat.V1},
		{"v2", "testdata/v2-child-256m/sys/fs/cgroup/mw/test/memory.stat", cgroupstat.V2},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchParse(b, c.path, func(file string, data []byte) error {
				return cgroupstat.ParseMemStat(file, data, c.v, &m)
			})
		})
	}
}

func BenchmarkParseOOMControl(b *testing.B) {
	var e cgroupstat.Events
	benchParse(b, "testdata/hybrid/sys/fs/cgroup/memory/memory.oom_control", func(file string, data []byte) error {
		return cgroupstat.ParseOOMControl(file, data, &e)
	})
}

func BenchmarkParseEvents(b *testing.B) {
	var e cgroupstat.EventCounts
	benchParse(b, "testdata/v2-child-256m/sys/fs/cgroup/mw/test/memory.events", func(file string, data []byte) error {
		return cgroupstat.ParseEvents(file, data, &e)
	})
}

func BenchmarkParsePSI(b *testing.B) {
	var p cgroupstat.PSI
	benchParse(b, "testdata/v2-child-256m/sys/fs/cgroup/mw/test/memory.pressure", func(file string, data []byte) error {
		return cgroupstat.ParsePSI(file, data, &p)
	})
}

// TestParseProcCgroupLongPath: a path longer than PATH_MAX is no kernel's
// and is refused at once (walking its 70000 ancestors hung discovery).
func TestParseProcCgroupLongPath(t *testing.T) {
	var out []cgroupstat.CgroupLine
	b := []byte("4:memory:" + strings.Repeat("/a", 70000) + "\n")
	err := cgroupstat.ParseProcCgroup("cgroup", b, &out)
	var pe *cgroupstat.ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "PATH_MAX") {
		t.Fatalf("err %v, want a ParseError about PATH_MAX", err)
	}
	if err := cgroupstat.ParseProcCgroup("cgroup", []byte("4:memory:"+strings.Repeat("/a", 2000)+"\n"), &out); err != nil {
		t.Fatalf("a 4000-byte path: %v", err)
	}
}
