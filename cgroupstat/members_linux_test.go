package cgroupstat_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

func TestParseProcs(t *testing.T) {
	pids := []int{99} // reused storage is truncated
	if err := cgroupstat.ParseProcs("f", []byte("12\n0\n 7 \n\n2147483647\n"), &pids); err != nil {
		t.Fatal(err)
	}
	if want := []int{12, 0, 7, 2147483647}; !reflect.DeepEqual(pids, want) {
		t.Fatalf("pids %v, want %v", pids, want)
	}
	for _, bad := range []string{"12 34\n", "-1\n", "2147483648\n", "x\n"} {
		var pe *cgroupstat.ParseError
		if err := cgroupstat.ParseProcs("f", []byte(bad), &pids); !errors.As(err, &pe) || pe.File != "f" || pe.Line != 1 {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

// membersTree writes a cgroup directory with cgroup.procs and a /proc with
// a comm file per pid and, when self > 0, /proc/self/status naming self and
// its parent.
func membersTree(t *testing.T, procs string, self, parent int, comms map[int]string) (root string, loc cgroupstat.Location) {
	t.Helper()
	root = t.TempDir()
	dir := filepath.Join(root, "sys/fs/cgroup/pod/app")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(procs), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "proc"), 0o755))
	for pid, comm := range comms {
		d := filepath.Join(root, "proc", strconv.Itoa(pid))
		must(t, os.MkdirAll(d, 0o755))
		must(t, os.WriteFile(filepath.Join(d, "comm"), []byte(comm+"\n"), 0o644))
	}
	if self > 0 {
		must(t, os.MkdirAll(filepath.Join(root, "proc/self"), 0o755))
		status := "Name:\tinspect\nTgid:\t" + strconv.Itoa(self) + "\nPid:\t" + strconv.Itoa(self) +
			"\nPPid:\t" + strconv.Itoa(parent) + "\nTracerPid:\t0\n"
		must(t, os.WriteFile(filepath.Join(root, "proc/self/status"), []byte(status), 0o644))
	}
	return root, cgroupstat.Location{Version: cgroupstat.V2, Path: "/pod/app", Dir: dir}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadMembers(t *testing.T) {
	// 40 is this process, 33 its parent (listed first), 31 exited before
	// its comm was read, 0 is a process of another pid namespace.
	root, loc := membersTree(t, "12\n31\n33\n40\n0\n55\n61\n", 40, 33,
		map[int]string{12: "sh", 33: "go", 40: "inspect", 55: "sh", 61: "sidecar"})
	m, err := cgroupstat.ReadMembers(loc, 3, cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	want := cgroupstat.Members{Count: 7, SelfPID: 40, ParentPID: 33, Self: true,
		Others: []cgroupstat.Member{{PID: 33, Comm: "go"}, {PID: 12, Comm: "sh"}, {PID: 31}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("members %+v\nwant    %+v", m, want)
	}

	// A parent outside the cgroup is not listed.
	root, loc = membersTree(t, "12\n40\n", 40, 1, map[int]string{1: "init", 12: "sh"})
	m, err = cgroupstat.ReadMembers(loc, 3, cgroupstat.WithRoot(root))
	if want := (cgroupstat.Members{Count: 2, SelfPID: 40, ParentPID: 1, Self: true,
		Others: []cgroupstat.Member{{PID: 12, Comm: "sh"}}}); err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("parent outside: %+v, %v", m, err)
	}

	// Without /proc/self/status nobody is this process.
	root, loc = membersTree(t, "12\n", 0, 0, map[int]string{12: "go"})
	m, err = cgroupstat.ReadMembers(loc, 5, cgroupstat.WithRoot(root))
	if err != nil || m.Self || m.SelfPID != 0 || m.Count != 1 || len(m.Others) != 1 {
		t.Fatalf("no self link: %+v, %v", m, err)
	}

	// max 0 counts without naming.
	m, err = cgroupstat.ReadMembers(loc, 0, cgroupstat.WithRoot(root))
	if err != nil || m.Count != 1 || len(m.Others) != 0 {
		t.Fatalf("max 0: %+v, %v", m, err)
	}
}

func TestReadMembersErrors(t *testing.T) {
	root, loc := membersTree(t, "12\nbad\n", 0, 0, nil)
	var pe *cgroupstat.ParseError
	if _, err := cgroupstat.ReadMembers(loc, 3, cgroupstat.WithRoot(root)); !errors.As(err, &pe) ||
		pe.File != filepath.Join(loc.Dir, "cgroup.procs") || pe.Line != 2 {
		t.Fatalf("malformed cgroup.procs: %v", err)
	}
	loc.Dir = filepath.Join(root, "gone")
	if _, err := cgroupstat.ReadMembers(loc, 3, cgroupstat.WithRoot(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing cgroup.procs: %v", err)
	}
}

// TestReadMembersLive reads this test process's own cgroup: it must find
// itself there.
func TestReadMembersLive(t *testing.T) {
	loc, err := cgroupstat.Discover()
	if err != nil {
		t.Skipf("no memory cgroup: %v", err)
	}
	if loc.Version == cgroupstat.V2 && loc.UnifiedDir != loc.Dir {
		t.Skip("v2 cgroup without its own memory controller: its processes are not in Dir")
	}
	m, err := cgroupstat.ReadMembers(loc, 4)
	if err != nil {
		t.Fatal(err)
	}
	if m.SelfPID != os.Getpid() || m.ParentPID != os.Getppid() || !m.Self || m.Count < 1 || len(m.Others) > 4 {
		t.Fatalf("own cgroup %s: %+v (pid %d)", loc.Dir, m, os.Getpid())
	}
	for _, o := range m.Others {
		if o.PID == os.Getpid() || o.PID <= 0 {
			t.Errorf("other member %+v", o)
		}
	}
}
