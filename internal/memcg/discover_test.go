package memcg

import (
	"errors"
	"strings"
	"testing"
)

// Copied from this host (Linux 6.18, hybrid: v1 memory + cgroup2 unified).
const hybridCgroup = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/694d45f0564e09c9ebaceecf6498741d
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`

const hybridMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestParseProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		version   int
		path      string
		wantSkip  bool
		wantError bool
	}{
		{name: "hybrid", in: hybridCgroup, version: 1, path: "/process_api/694d45f0564e09c9ebaceecf6498741d"},
		{name: "v2", in: "0::/user.slice/test.scope\n", version: 2, path: "/user.slice/test.scope"},
		{name: "v2 deleted", in: "0::/gone (deleted)\n", version: 2, path: "/gone"},
		{name: "v1 joint controllers", in: "3:cpu,memory:/a b\n1:name=systemd:/\n", version: 1, path: "/a b"},
		{name: "v1 without memory", in: "1:cpu:/x\n", wantSkip: true},
		{name: "malformed", in: "garbage\n", wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc, err := parseProcCgroup("cgroup", tc.in)
			switch {
			case tc.wantSkip:
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("got %v, %v; want ErrUnavailable", mc, err)
				}
			case tc.wantError:
				if err == nil || errors.Is(err, ErrUnavailable) {
					t.Fatalf("got %v, %v; want an error", mc, err)
				}
			case err != nil:
				t.Fatal(err)
			case mc.version != tc.version || mc.path != tc.path:
				t.Fatalf("got %+v, want v%d %q", mc, tc.version, tc.path)
			}
		})
	}
}

func TestParseMountinfoAndResolve(t *testing.T) {
	mounts, err := parseMountinfo("mountinfo", hybridMountinfo)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 5 {
		t.Fatalf("got %d cgroup mounts, want 5: %+v", len(mounts), mounts)
	}
	mc, err := parseProcCgroup("cgroup", hybridCgroup)
	if err != nil {
		t.Fatal(err)
	}
	p, err := resolve(mc, mounts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/sys/fs/cgroup/memory/process_api/694d45f0564e09c9ebaceecf6498741d"; p.dir != want || p.version != 1 || p.mount != "/sys/fs/cgroup/memory" {
		t.Fatalf("resolved %+v, want dir %s", p, want)
	}
	c := p.child("x")
	if c.path != "/process_api/694d45f0564e09c9ebaceecf6498741d/x" || c.dir != p.dir+"/x" {
		t.Fatalf("child %+v", c)
	}
	up, ok := p.up()
	if !ok || up.path != "/process_api" || up.dir != "/sys/fs/cgroup/memory/process_api" {
		t.Fatalf("up %+v %v", up, ok)
	}
	root, _ := up.up()
	if _, ok := root.up(); ok {
		t.Fatalf("went above the mount: %+v", root)
	}

	// v2 on the same host has no memory line to use, but resolves.
	p2, err := resolve(memoryCgroup{version: 2, path: "/"}, mounts)
	if err != nil || p2.dir != "/sys/fs/cgroup/unified" {
		t.Fatalf("v2: %+v %v", p2, err)
	}

	// WithParent: identify a directory by its mount.
	pp, err := placeOf("/sys/fs/cgroup/memory/process_api/", mounts)
	if err != nil || pp.path != "/process_api" || pp.version != 1 {
		t.Fatalf("placeOf: %+v %v", pp, err)
	}
	if _, err := placeOf("/sys/fs/cgroup/cpu/x", mounts); err == nil {
		t.Fatal("placeOf accepted a cpu-only hierarchy")
	}
}

func TestResolveContainerMount(t *testing.T) {
	// A container whose mount root is its own cgroup; a path from another
	// namespace ("/../sibling" style, or outside the root) must be refused.
	mounts, err := parseMountinfo("mountinfo", `1510 1509 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
1511 1509 0:38 /kubepods/pod1/c\0401 /sys/fs/cgroup/un\040ified rw - cgroup2 cgroup2 rw
`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := resolve(memoryCgroup{version: 1, path: "/docker/abc/sub"}, mounts)
	if err != nil || p.dir != "/sys/fs/cgroup/memory/sub" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := resolve(memoryCgroup{version: 1, path: "/docker/other"}, mounts); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("outside the mount: got %v, want ErrUnavailable", err)
	}
	if _, err := resolve(memoryCgroup{version: 1, path: "/docker/abcd"}, mounts); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("prefix but not a parent: got %v, want ErrUnavailable", err)
	}
	p2, err := resolve(memoryCgroup{version: 2, path: "/kubepods/pod1/c 1"}, mounts)
	if err != nil || p2.dir != "/sys/fs/cgroup/un ified" {
		t.Fatalf("escaped: %+v %v", p2, err)
	}
	if _, err := resolve(memoryCgroup{version: 1, path: "/"}, nil); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not mounted") {
		t.Fatalf("no mounts: %v", err)
	}
	if _, err := parseMountinfo("mountinfo", "1 2 3\n"); err == nil {
		t.Fatal("malformed mountinfo accepted")
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:     "/a b",
		`/tab\011x`:   "/tab\tx",
		`/back\134s`:  `/back\s`,
		`/short\04`:   `/short\04`,
		`/notoct\089`: `/notoct\089`,
		`/plain`:      "/plain",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookupKey(t *testing.T) {
	// memory.oom_control from this host after one OOM kill.
	b := []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	if v, err := lookupKey("f", b, "oom_kill"); err != nil || v != 1 {
		t.Fatalf("%d %v", v, err)
	}
	if _, err := lookupKey("f", b, "oom_group_kill"); err == nil {
		t.Fatal("missing key not reported")
	}
	if _, err := lookupKey("f", []byte("oom_kill x\n"), "oom_kill"); err == nil {
		t.Fatal("bad number not reported")
	}
}

func TestPlaceAt(t *testing.T) {
	// A container whose memory mount shows the hierarchy from /docker/abc.
	p := place{dir: "/sys/fs/cgroup/memory/test", path: "/docker/abc/test", version: 1,
		mount: "/sys/fs/cgroup/memory", root: "/docker/abc"}
	q, ok := p.at("/docker/abc")
	if !ok || q.dir != "/sys/fs/cgroup/memory" || q.path != "/docker/abc" || q.version != 1 {
		t.Fatalf("at(root) = %+v, %v", q, ok)
	}
	q, ok = p.at("/docker/abc/x/y")
	if !ok || q.dir != "/sys/fs/cgroup/memory/x/y" {
		t.Fatalf("at(below) = %+v, %v", q, ok)
	}
	if q, ok := p.at("/docker/other"); ok {
		t.Fatalf("a path outside the mounted root resolved: %+v", q)
	}
}
