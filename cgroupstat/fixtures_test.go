//go:build linux

package cgroupstat_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
)

// The fixtures under testdata/ are trees of kernel files: the v1 and hybrid
// ones were copied from this repository's capture host (Linux 6.18) by
// testdata/capture/capture.sh (real cgroups, real namespaces, a real OOM
// kill); the v2-* ones and hybrid-v2vm were captured in the QEMU test VM
// (Debian 6.1) by internal/testutil/vm/capture, and a few are derived from
// those captures by deleting files or changing a path (testdata/README.md).
// Every expected number below is read off those files; the comments say
// which file and how it combines.

const (
	fxMemTotal         = 24683656 * 1024 // proc/meminfo MemTotal of the capture host
	fxVMMemTotal       = 481296 * 1024   // proc/meminfo MemTotal of the VM captures
	fxVMNestedMemTotal = 481260 * 1024   // ... of v2-nested (same VM, another boot)
	unl                = cgroupstat.Unlimited
)

type fxCase struct {
	name     string
	memTotal uint64 // proc/meminfo MemTotal; 0 means fxMemTotal
	// Discovery; paths are relative to the fixture root ("" = empty).
	discoverErr error // sentinel, nil for success
	loc         cgroupstat.Location
	openErr     error // errors.Is target for Open, nil for success
	// After Open: ReadFull into a zero Stats. Paths in LimitDir relative.
	full  cgroupstat.Stats
	files cgroupstat.Files
}

func (c *fxCase) wantMemTotal() uint64 {
	if c.memTotal != 0 {
		return c.memTotal
	}
	return fxMemTotal
}

func fxRoot(t testing.TB, name string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// fxJoin makes a relative fixture path absolute ("" stays "").
func fxJoin(root, rel string) string {
	if rel == "" {
		return ""
	}
	return filepath.Join(root, rel)
}

var fxCases = []fxCase{
	{
		// Host view, hybrid layout: v1 memory at /mwfix/app (own limit 512 MiB)
		// under /mwfix (256 MiB), cgroup2 /mwfix with its memory.pressure.
		name: "hybrid",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Hybrid: true, Path: "/mwfix/app",
			Dir: "sys/fs/cgroup/memory/mwfix/app", MountPoint: "sys/fs/cgroup/memory", MountRoot: "/",
			UnifiedDir: "sys/fs/cgroup/unified/mwfix"},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/mwfix/app",
			Usage:      46133248,                       // memory.usage_in_bytes
			WorkingSet: 46133248 - 294912,              // - total_inactive_file
			Limit:      268435456, LimitRaw: 268435456, // min(536870912, mwfix 268435456, root 2^63-4096)
			LimitDir: "sys/fs/cgroup/memory/mwfix",
			High:     unl, HighRaw: unl,
			Peak: 270442496, HasPeak: true, // memory.max_usage_in_bytes
			SwapUsage: 0, // memsw.usage 45969408 < usage 46133248 (read at different moments): clamped
			SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 44396544, File: 364544, ActiveAnon: 12288, InactiveAnon: 44199936,
				ActiveFile: 69632, InactiveFile: 294912, FileDirty: 303104,
				Kernel:            1052672, // memory.kmem.usage_in_bytes
				HierarchicalLimit: 268435456, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{EventCounts: cgroupstat.EventCounts{OOMKill: 1}, HasEvents: true, HasFailcnt: true}, // the capture's OOM victim
			PSI: cgroupstat.PSI{Source: cgroupstat.PSICgroup, // unified/mwfix/memory.pressure
				Some: cgroupstat.PSILine{Avg10: 0.95, Avg60: 0.19, Avg300: 0.04, Total: 144653},
				Full: cgroupstat.PSILine{Avg10: 0.95, Avg60: 0.19, Avg300: 0.04, Total: 144653}},
			Full: true},
		files: cgroupstat.Files{Usage: "sys/fs/cgroup/memory/mwfix/app/memory.usage_in_bytes",
			Limit: "sys/fs/cgroup/memory/mwfix/app/memory.limit_in_bytes", Stat: "sys/fs/cgroup/memory/mwfix/app/memory.stat",
			Events: "sys/fs/cgroup/memory/mwfix/app/memory.oom_control", Pressure: "sys/fs/cgroup/unified/mwfix/memory.pressure",
			PressureSource: cgroupstat.PSICgroup, EventControl: "sys/fs/cgroup/memory/mwfix/app/cgroup.event_control"},
	},
	{
		// The same cgroup seen from a container whose mount root is /mwfix/app
		// (bind mount, no cgroup namespace): the 256 MiB ancestor is invisible,
		// only hierarchical_memory_limit reveals it.
		name: "v1-hier-limit",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Path: "/mwfix/app", Dir: "sys/fs/cgroup/memory",
			MountPoint: "sys/fs/cgroup/memory", MountRoot: "/mwfix/app", AncestorsHidden: true},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/mwfix/app",
			Usage: 46329856, WorkingSet: 46329856 - 462848,
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "", // hierarchical 268435456 < own 536870912
			High: unl, HighRaw: unl, AncestorsHidden: false, // v1: the hierarchical limit covers hidden ancestors
			Peak: 270442496, HasPeak: true,
			SwapUsage: 46350336 - 46329856, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 44380160, File: 581632, ActiveAnon: 12288, InactiveAnon: 44290048,
				ActiveFile: 118784, InactiveFile: 462848, FileDirty: 483328, Kernel: 1114112,
				HierarchicalLimit: 268435456, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{EventCounts: cgroupstat.EventCounts{OOMKill: 1}, HasEvents: true, HasFailcnt: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSIHost, // no cgroup2 mount: proc/pressure/memory
				Some: cgroupstat.PSILine{Avg10: 1.35, Avg60: 0.33, Avg300: 0.07, Total: 339067},
				Full: cgroupstat.PSILine{Avg10: 0.30, Avg60: 0.09, Avg300: 0.01, Total: 136083}},
			Full: true},
		files: cgroupstat.Files{Usage: "sys/fs/cgroup/memory/memory.usage_in_bytes",
			Limit: "sys/fs/cgroup/memory/memory.limit_in_bytes", Stat: "sys/fs/cgroup/memory/memory.stat",
			Events: "sys/fs/cgroup/memory/memory.oom_control", Pressure: "proc/pressure/memory",
			PressureSource: cgroupstat.PSIHost, EventControl: "sys/fs/cgroup/memory/cgroup.event_control"},
	},
	{
		// Docker without a cgroup namespace, host-shaped mounts (root "/"),
		// pure v1 view (no cgroup2 mount).
		name: "docker-v1-host",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID,
			Dir: "sys/fs/cgroup/memory/docker/" + fxDockerID, MountPoint: "sys/fs/cgroup/memory", MountRoot: "/"},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID,
			Usage: 38518784, WorkingSet: 38518784 - 8687616,
			Limit: 134217728, LimitRaw: 134217728, LimitDir: "sys/fs/cgroup/memory/docker/" + fxDockerID,
			High: unl, HighRaw: unl,
			Peak: 38395904, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true, // memsw.usage 38408192 < usage: clamped
			Stat: cgroupstat.MemStat{Anon: 27594752, File: 8720384, ActiveAnon: 8192, InactiveAnon: 27471872,
				ActiveFile: 32768, InactiveFile: 8687616, FileDirty: 8720384, Kernel: 1650688,
				HierarchicalLimit: 134217728, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{HasEvents: true, HasFailcnt: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSIHost,
				Some: cgroupstat.PSILine{Avg10: 1.35, Avg60: 0.33, Avg300: 0.07, Total: 339067},
				Full: cgroupstat.PSILine{Avg10: 0.30, Avg60: 0.09, Avg300: 0.01, Total: 136083}},
			Full: true},
		files: fxV1Files("sys/fs/cgroup/memory/docker/"+fxDockerID, "proc/pressure/memory", cgroupstat.PSIHost),
	},
	{
		// What runc sets up without a cgroup namespace: the container cgroup
		// bind-mounted read-only, mount root /docker/<id>.
		name: "docker-v1-container",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID, Dir: "sys/fs/cgroup/memory",
			MountPoint: "sys/fs/cgroup/memory", MountRoot: "/docker/" + fxDockerID, AncestorsHidden: true, ReadOnly: true},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID,
			Usage: 38215680, WorkingSet: 38215680 - 8806400,
			Limit: 134217728, LimitRaw: 134217728, LimitDir: "sys/fs/cgroup/memory",
			High: unl, HighRaw: unl,
			Peak: 38645760, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true, // memsw.usage 38010880 < usage: clamped
			Stat: cgroupstat.MemStat{Anon: 27574272, File: 8884224, ActiveAnon: 12288, InactiveAnon: 27504640,
				ActiveFile: 77824, InactiveFile: 8806400, FileDirty: 8876032, Kernel: 1486848,
				HierarchicalLimit: 134217728, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{HasEvents: true, HasFailcnt: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSIHost,
				Some: cgroupstat.PSILine{Avg10: 1.35, Avg60: 0.33, Avg300: 0.07, Total: 339067},
				Full: cgroupstat.PSILine{Avg10: 0.30, Avg60: 0.09, Avg300: 0.01, Total: 136083}},
			Full: true},
		files: fxV1Files("sys/fs/cgroup/memory", "proc/pressure/memory", cgroupstat.PSIHost),
	},
	{
		// A private cgroup namespace rooted at /docker/<id>, fresh read-only
		// mount: path "/", the mount point is the container's cgroup (no
		// cgroup.sane_behavior there), so the ancestors are hidden.
		name: "v1-cgroupns",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Path: "/", Dir: "sys/fs/cgroup/memory",
			MountPoint: "sys/fs/cgroup/memory", MountRoot: "/", AncestorsHidden: true, ReadOnly: true},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/",
			Usage: 38731776, WorkingSet: 38731776 - 8916992,
			Limit: 134217728, LimitRaw: 134217728, LimitDir: "sys/fs/cgroup/memory",
			High: unl, HighRaw: unl,
			Peak: 38760448, HasPeak: true,
			SwapUsage: 38752256 - 38731776, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 27574272, File: 9039872, ActiveAnon: 12288, InactiveAnon: 27500544,
				ActiveFile: 122880, InactiveFile: 8916992, FileDirty: 9031680, Kernel: 1527808,
				HierarchicalLimit: 134217728, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{HasEvents: true, HasFailcnt: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSIHost,
				Some: cgroupstat.PSILine{Avg10: 1.35, Avg60: 0.33, Avg300: 0.07, Total: 339067},
				Full: cgroupstat.PSILine{Avg10: 0.30, Avg60: 0.09, Avg300: 0.01, Total: 136083}},
			Full: true},
		files: fxV1Files("sys/fs/cgroup/memory", "proc/pressure/memory", cgroupstat.PSIHost),
	},
	{
		// The v1 hierarchy mounted at "/mnt/cgroup v1/memory": mountinfo shows
		// the mount point as /mnt/cgroup\040v1/memory.
		name: "v1-escaped-mountpoint",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID,
			Dir: "mnt/cgroup v1/memory/docker/" + fxDockerID, MountPoint: "mnt/cgroup v1/memory", MountRoot: "/"},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID,
			Usage: 39690240, WorkingSet: 39690240 - 9347072,
			Limit: 134217728, LimitRaw: 134217728, LimitDir: "mnt/cgroup v1/memory/docker/" + fxDockerID,
			High: unl, HighRaw: unl,
			Peak: 39723008, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true, // memsw.usage 39325696 < usage: clamped
			Stat: cgroupstat.MemStat{Anon: 27598848, File: 9568256, ActiveAnon: 8192, InactiveAnon: 27475968,
				ActiveFile: 221184, InactiveFile: 9347072, FileDirty: 9560064, Kernel: 1978368,
				HierarchicalLimit: 134217728, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{HasEvents: true, HasFailcnt: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSIHost,
				Some: cgroupstat.PSILine{Avg10: 1.35, Avg60: 0.33, Avg300: 0.07, Total: 339067},
				Full: cgroupstat.PSILine{Avg10: 0.30, Avg60: 0.09, Avg300: 0.01, Total: 136083}},
			Full: true},
		files: fxV1Files("mnt/cgroup v1/memory/docker/"+fxDockerID, "proc/pressure/memory", cgroupstat.PSIHost),
	},
	{
		// docker-v1-container without swap accounting, kmem files or PSI.
		name: "v1-missing-optional",
		loc: cgroupstat.Location{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID, Dir: "sys/fs/cgroup/memory",
			MountPoint: "sys/fs/cgroup/memory", MountRoot: "/docker/" + fxDockerID, AncestorsHidden: true, ReadOnly: true},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/docker/" + fxDockerID,
			Usage: 38215680, WorkingSet: 38215680 - 8806400,
			Limit: 134217728, LimitRaw: 134217728, LimitDir: "sys/fs/cgroup/memory",
			High: unl, HighRaw: unl,
			Peak: 38645760, HasPeak: true,
			HasSwap: false, // no memory.memsw.*
			Stat: cgroupstat.MemStat{Anon: 27574272, File: 8884224, ActiveAnon: 12288, InactiveAnon: 27504640,
				ActiveFile: 77824, InactiveFile: 8806400, FileDirty: 8876032,
				HierarchicalLimit: 134217728, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present}, // no memory.kmem.usage_in_bytes: Kernel absent
			Events: cgroupstat.Events{HasEvents: true, HasFailcnt: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSINone},
			Full:   true},
		files: fxV1Files("sys/fs/cgroup/memory", "", cgroupstat.PSINone),
	},
	{
		// In a cgroup namespace rooted at /docker/<id>, moved to the sibling
		// /docker/<id2>: the path is /../<id2>. Reading the mount would read
		// the wrong cgroup.
		name:        "v1-sibling",
		discoverErr: cgroupstat.ErrOutsideMount,
	},
	{
		// A private cgroup namespace with the host's mount: root /../.., path
		// "/". The mount point is the host root, not this cgroup.
		name:        "v1-cgroupns-hostmount",
		discoverErr: cgroupstat.ErrOutsideMount,
	},
	{
		// Hybrid layout in the VM (Debian 6.1): v1 memory /mw/test with
		// limit_in_bytes 256 MiB under /mw (no limit), cgroup2 /mw/test
		// (no controllers) with its memory.pressure. The capture keeps only
		// readable files, so the write-only cgroup.event_control is absent.
		name:     "hybrid-v2vm",
		memTotal: fxVMMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V1, Hybrid: true, Path: "/mw/test",
			Dir: "sys/fs/cgroup/memory/mw/test", MountPoint: "sys/fs/cgroup/memory", MountRoot: "/",
			UnifiedDir: "sys/fs/cgroup/unified/mw/test"},
		full: cgroupstat.Stats{Version: cgroupstat.V1, Path: "/mw/test",
			Usage:      22507520,     // memory.usage_in_bytes
			WorkingSet: 22507520 - 0, // - total_inactive_file
			// min(own 268435456, mw 9223372036854771712, hierarchical 268435456); root skipped
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "sys/fs/cgroup/memory/mw/test",
			High: unl, HighRaw: unl,
			Peak: 22507520, HasPeak: true, // memory.max_usage_in_bytes
			SwapUsage: 0, SwapLimit: unl, HasSwap: true, // memsw.usage 22507520 - usage 22507520; memsw.limit 2^63-4096
			Stat: cgroupstat.MemStat{Anon: 22114304, File: 0, ActiveAnon: 4096, InactiveAnon: 22069248,
				Kernel:            299008, // memory.kmem.usage_in_bytes
				HierarchicalLimit: 268435456, HierarchicalMemswLimit: fxV1NoLimit,
				Present: fxV1Present | cgroupstat.StatKernel},
			Events: cgroupstat.Events{HasEvents: true, HasFailcnt: true}, // failcnt 0, oom_control all 0
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},         // unified/mw/test/memory.pressure: all 0
			Full:   true},
		files: cgroupstat.Files{Usage: "sys/fs/cgroup/memory/mw/test/memory.usage_in_bytes",
			Limit: "sys/fs/cgroup/memory/mw/test/memory.limit_in_bytes", Stat: "sys/fs/cgroup/memory/mw/test/memory.stat",
			Events: "sys/fs/cgroup/memory/mw/test/memory.oom_control", Pressure: "sys/fs/cgroup/unified/mw/test/memory.pressure",
			PressureSource: cgroupstat.PSICgroup},
	},
	{
		// Pure v2 in the VM: /mw/test with memory.max 256 MiB under /mw (max),
		// host-shaped mount (root "/", the mount point is the hierarchy root).
		name:     "v2-child-256m",
		memTotal: fxVMMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw/test", Dir: "sys/fs/cgroup/mw/test",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/mw/test"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/mw/test",
			Usage: 1015808, WorkingSet: 1015808 - 0, // memory.current - inactive_file
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "sys/fs/cgroup/mw/test", // min(own 268435456, mw max)
			High: unl, HighRaw: unl, // max in both
			Peak: 1019904, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true, // swap.current 0, swap.max max in both
			Stat: cgroupstat.MemStat{Anon: 798720, ActiveAnon: 4096, InactiveAnon: 765952,
				Kernel: 217088, KernelStack: 32768, PageTables: 69632,
				SlabReclaimable: 55376, SlabUnreclaimable: 30448, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true}, // all counters 0
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},       // mw/test/memory.pressure: all 0
			Full:   true},
		files: fxV2Files("sys/fs/cgroup/mw/test", "sys/fs/cgroup/mw/test/memory.pressure"),
	},
	{
		// v2 nested: parent /mw memory.max 192 MiB below the own 256 MiB, own
		// memory.high 160 MiB; 20 MiB of Go heap and 8 MiB of ext4 page cache.
		name:     "v2-nested",
		memTotal: fxVMNestedMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw/test", Dir: "sys/fs/cgroup/mw/test",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/mw/test"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/mw/test",
			Usage: 31674368, WorkingSet: 31674368 - 8392704, // memory.current - inactive_file
			Limit: 201326592, LimitRaw: 201326592, LimitDir: "sys/fs/cgroup/mw", // min(own 268435456, mw 201326592)
			High: 167772160, HighRaw: 167772160, // own memory.high; mw's is max
			Peak: 31936512, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 22036480, File: 8417280, ActiveAnon: 4096, InactiveAnon: 22003712,
				ActiveFile: 24576, InactiveFile: 8392704, FileDirty: 12288,
				Kernel: 1236992, KernelStack: 49152, PageTables: 126976,
				SlabReclaimable: 995944, SlabUnreclaimable: 31336, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},
			Full:   true},
		files: fxV2Files("sys/fs/cgroup/mw/test", "sys/fs/cgroup/mw/test/memory.pressure"),
	},
	{
		// v2-nested with the memory controller not enabled for /mw/test
		// (derived: its memory.* files except the core memory.pressure
		// deleted, "memory" deleted from its cgroup.controllers and from
		// /mw's cgroup.subtree_control): charged to /mw, read there; the
		// own memory.pressure is still used.
		name:     "v2-no-memory-controller",
		memTotal: fxVMNestedMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw/test", Dir: "sys/fs/cgroup/mw",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/mw/test"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/mw/test",
			Usage: 31682560, WorkingSet: 31682560 - 8392704, // mw memory.current - inactive_file
			Limit: 201326592, LimitRaw: 201326592, LimitDir: "sys/fs/cgroup/mw", // mw memory.max
			High: unl, HighRaw: unl, // mw memory.high max
			Peak: 31682560, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 22007808, File: 8417280, ActiveAnon: 4096, InactiveAnon: 22003712,
				ActiveFile: 24576, InactiveFile: 8392704, FileDirty: 12288,
				Kernel: 1220608, KernelStack: 49152, PageTables: 122880, Percpu: 5256,
				SlabReclaimable: 974744, SlabUnreclaimable: 30936, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},
			Full:   true},
		files: fxV2Files("sys/fs/cgroup/mw", "sys/fs/cgroup/mw/test/memory.pressure"),
	},
	{
		// A private cgroup namespace entered in /mw/test, cgroup2 remounted
		// read-only as a container runtime does: path "/", only the namespace
		// root is visible (it has cgroup.type: not the hierarchy root).
		name:     "v2-ns",
		memTotal: fxVMMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/", Dir: "sys/fs/cgroup", MountPoint: "sys/fs/cgroup",
			MountRoot: "/", AncestorsHidden: true, ReadOnly: true, UnifiedDir: "sys/fs/cgroup"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/",
			Usage: 1794048, WorkingSet: 1794048 - 0,
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "sys/fs/cgroup",
			High: unl, HighRaw: unl, AncestorsHidden: true,
			Peak: 1794048, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 1335296, ActiveAnon: 8192, InactiveAnon: 1323008,
				Kernel: 430080, KernelStack: 114688, PageTables: 155648,
				SlabReclaimable: 29976, SlabUnreclaimable: 82648, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},
			Full:   true},
		files: fxV2Files("sys/fs/cgroup", "sys/fs/cgroup/memory.pressure"),
	},
	{
		// A private cgroup namespace with the host's cgroup2 mount left
		// visible: path "/", mount root "/../..". The mount point shows the
		// host root cgroup, not this one: refused.
		name:        "v2-ns-hostmount",
		discoverErr: cgroupstat.ErrOutsideMount,
	},
	{
		// memory.max max on /mw/test and /mw: no limit.
		name:     "v2-nolimit",
		memTotal: fxVMMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw/test", Dir: "sys/fs/cgroup/mw/test",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/mw/test"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/mw/test",
			Usage: 1019904, WorkingSet: 1019904 - 0,
			Limit: unl, LimitRaw: unl, LimitDir: "", // "max" reads as Unlimited
			High: unl, HighRaw: unl,
			Peak: 1282048, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 819200, ActiveAnon: 4096, InactiveAnon: 770048,
				Kernel: 241664, KernelStack: 49152, PageTables: 73728,
				SlabReclaimable: 55376, SlabUnreclaimable: 34336, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},
			Full:   true},
		files: fxV2Files("sys/fs/cgroup/mw/test", "sys/fs/cgroup/mw/test/memory.pressure"),
	},
	{
		// v2-child-256m without memory.peak, memory.swap.*,
		// memory.events.local, memory.pressure and /proc/pressure (derived
		// by deletion: an older kernel with swapaccount=0 and no PSI).
		name:     "v2-missing-optional",
		memTotal: fxVMMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw/test", Dir: "sys/fs/cgroup/mw/test",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/mw/test"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/mw/test",
			Usage: 1015808, WorkingSet: 1015808 - 0,
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "sys/fs/cgroup/mw/test",
			High: unl, HighRaw: unl,
			HasPeak: false, HasSwap: false,
			Stat: cgroupstat.MemStat{Anon: 798720, ActiveAnon: 4096, InactiveAnon: 765952,
				Kernel: 217088, KernelStack: 32768, PageTables: 69632,
				SlabReclaimable: 55376, SlabUnreclaimable: 30448, Present: fxV2Present},
			Events: cgroupstat.Events{HasEvents: true}, // no memory.events.local
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSINone},
			Full:   true},
		files: cgroupstat.Files{Usage: "sys/fs/cgroup/mw/test/memory.current", Limit: "sys/fs/cgroup/mw/test/memory.max",
			Stat: "sys/fs/cgroup/mw/test/memory.stat", Events: "sys/fs/cgroup/mw/test/memory.events"},
	},
	{
		// v2-child-256m after its cgroup was removed (derived: the
		// /proc/self/cgroup line given the kernel's " (deleted)" suffix, the
		// mw/test directory deleted): found, flagged, and Open names the
		// missing file.
		name:     "v2-deleted",
		memTotal: fxVMMemTotal,
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw/test", Dir: "sys/fs/cgroup/mw/test",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", Deleted: true, UnifiedDir: "sys/fs/cgroup/mw/test"},
		openErr: fs.ErrNotExist,
	},
}

func fxV1Files(dir, pressure string, src cgroupstat.PSISource) cgroupstat.Files {
	return cgroupstat.Files{Usage: dir + "/memory.usage_in_bytes", Limit: dir + "/memory.limit_in_bytes",
		Stat: dir + "/memory.stat", Events: dir + "/memory.oom_control", Pressure: pressure, PressureSource: src,
		EventControl: dir + "/cgroup.event_control"}
}

func fxV2Files(dir, pressure string) cgroupstat.Files {
	return cgroupstat.Files{Usage: dir + "/memory.current", Limit: dir + "/memory.max", Stat: dir + "/memory.stat",
		Events: dir + "/memory.events", EventsLocal: dir + "/memory.events.local", Pressure: pressure,
		PressureSource: cgroupstat.PSICgroup}
}

func fxAbsLocation(root string, l cgroupstat.Location) cgroupstat.Location {
	l.Dir, l.MountPoint, l.UnifiedDir = fxJoin(root, l.Dir), fxJoin(root, l.MountPoint), fxJoin(root, l.UnifiedDir)
	return l
}

func fxAbsFiles(root string, f cgroupstat.Files) cgroupstat.Files {
	f.Usage, f.Limit, f.Stat = fxJoin(root, f.Usage), fxJoin(root, f.Limit), fxJoin(root, f.Stat)
	f.Events, f.EventsLocal = fxJoin(root, f.Events), fxJoin(root, f.EventsLocal)
	f.Pressure, f.EventControl = fxJoin(root, f.Pressure), fxJoin(root, f.EventControl)
	return f
}

// fxCheap is what ReadCheap fills into a zero Stats right after Open.
func fxCheap(full cgroupstat.Stats) cgroupstat.Stats {
	full.Stat, full.Events, full.PSI, full.Full = cgroupstat.MemStat{}, cgroupstat.Events{}, cgroupstat.PSI{}, false
	return full
}

func TestFixtureDiscover(t *testing.T) {
	for _, c := range fxCases {
		t.Run(c.name, func(t *testing.T) {
			root := fxRoot(t, c.name)
			loc, err := cgroupstat.Discover(cgroupstat.WithRoot(root))
			if c.discoverErr != nil {
				var de *cgroupstat.DiscoveryError
				if !errors.Is(err, c.discoverErr) || !errors.As(err, &de) {
					t.Fatalf("Discover: err %v, want a *DiscoveryError wrapping %v", err, c.discoverErr)
				}
				if de.File != filepath.Join(root, "proc/self/mountinfo") {
					t.Errorf("DiscoveryError.File %q, want the mountinfo", de.File)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if want := fxAbsLocation(root, c.loc); loc != want {
				t.Errorf("Location\n got %+v\nwant %+v", loc, want)
			}
			// A relative root resolves to the same absolute paths.
			rel, err := cgroupstat.Discover(cgroupstat.WithRoot(filepath.Join("testdata", c.name)))
			if err != nil || rel != loc {
				t.Errorf("relative root: %+v, %v; want %+v", rel, err, loc)
			}
		})
	}
}

func TestFixtureRead(t *testing.T) {
	for _, c := range fxCases {
		if c.discoverErr != nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			root := fxRoot(t, c.name)
			r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			if c.openErr != nil {
				var de *cgroupstat.DiscoveryError
				if !errors.Is(err, c.openErr) || !errors.As(err, &de) {
					t.Fatalf("Open: err %v, want a *DiscoveryError wrapping %v", err, c.openErr)
				}
				if c.loc.Deleted && (de.Reason != "the cgroup was deleted" || !strings.HasPrefix(de.File, fxJoin(root, c.loc.Dir))) {
					t.Errorf("Open: %+v, want the deleted cgroup's file named", de)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if got, want := r.Location(), fxAbsLocation(root, c.loc); got != want {
				t.Errorf("Location\n got %+v\nwant %+v", got, want)
			}
			if want := c.wantMemTotal(); r.MemTotal() != want {
				t.Errorf("MemTotal %d, want %d", r.MemTotal(), want)
			}
			if got, want := r.Files(), fxAbsFiles(root, c.files); got != want {
				t.Errorf("Files\n got %+v\nwant %+v", got, want)
			}
			want := c.full
			want.LimitDir = fxJoin(root, want.LimitDir)
			if want.Version == cgroupstat.V2 {
				want.AncestorsHidden = c.loc.AncestorsHidden
			}

			var cheap cgroupstat.Stats
			if err := r.ReadCheap(&cheap); err != nil {
				t.Fatalf("ReadCheap: %v", err)
			}
			if w := fxCheap(want); !reflect.DeepEqual(cheap, w) {
				t.Errorf("ReadCheap\n got %+v\nwant %+v", cheap, w)
			}
			var full cgroupstat.Stats
			if err := r.ReadFull(&full); err != nil {
				t.Fatalf("ReadFull: %v", err)
			}
			if !reflect.DeepEqual(full, want) {
				t.Errorf("ReadFull\n got %+v\nwant %+v", full, want)
			}
			// ReadCheap over a full reading keeps Stat/Events/PSI and clears Full.
			again := full
			if err := r.ReadCheap(&again); err != nil {
				t.Fatal(err)
			}
			if w := want; true {
				w.Full = false
				if !reflect.DeepEqual(again, w) {
					t.Errorf("ReadCheap after ReadFull\n got %+v\nwant %+v", again, w)
				}
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := r.ReadCheap(&cheap); err == nil {
				t.Errorf("ReadCheap after Close: no error")
			}
			if r.UsageFd() != -1 {
				t.Errorf("UsageFd after Close = %d, want -1", r.UsageFd())
			}
		})
	}
}

// fxCopy copies a fixture tree into a temporary directory so a test can edit
// files in place (same inode: the Reader's open descriptors see the change).
func fxCopy(t *testing.T, name string) string {
	t.Helper()
	return fixture.Copy(t, fxRoot(t, name))
}

// fxRewrite replaces a file's content in place (O_TRUNC keeps the inode).
func fxRewrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHierarchicalLimitRemembered(t *testing.T) {
	root := fxCopy(t, "v1-hier-limit")
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stat := filepath.Join(root, "sys/fs/cgroup/memory/memory.stat")
	orig, err := os.ReadFile(stat)
	if err != nil {
		t.Fatal(err)
	}
	// The hidden ancestor's limit drops to 128 MiB: ReadCheap keeps the last
	// value seen by a full read (256 MiB) until the next ReadFull.
	fxRewrite(t, stat, strings.Replace(string(orig), "hierarchical_memory_limit 268435456", "hierarchical_memory_limit 134217728", 1))
	var s cgroupstat.Stats
	if err := r.ReadCheap(&s); err != nil {
		t.Fatal(err)
	}
	if s.Limit != 268435456 || s.LimitDir != "" {
		t.Errorf("ReadCheap Limit %d dir %q, want the remembered 268435456 and no dir", s.Limit, s.LimitDir)
	}
	if err := r.ReadFull(&s); err != nil {
		t.Fatal(err)
	}
	if s.Limit != 134217728 || s.LimitRaw != 134217728 {
		t.Errorf("ReadFull Limit %d raw %d, want 134217728", s.Limit, s.LimitRaw)
	}
	if err := r.ReadCheap(&s); err != nil || s.Limit != 134217728 {
		t.Errorf("ReadCheap after ReadFull: Limit %d, %v; want 134217728", s.Limit, err)
	}
	// The ancestor's limit goes away: the own 512 MiB applies.
	fxRewrite(t, stat, strings.Replace(string(orig), "hierarchical_memory_limit 268435456", "hierarchical_memory_limit 9223372036854771712", 1))
	if err := r.ReadFull(&s); err != nil {
		t.Fatal(err)
	}
	if s.Limit != 536870912 || s.LimitDir != filepath.Join(root, "sys/fs/cgroup/memory") {
		t.Errorf("Limit %d dir %q, want the own 536870912", s.Limit, s.LimitDir)
	}
}

func TestLimitNormalisation(t *testing.T) {
	root := fxCopy(t, "docker-v1-container")
	limit := filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes")
	stat := filepath.Join(root, "sys/fs/cgroup/memory/memory.stat")
	orig, _ := os.ReadFile(stat)
	// Let the hierarchical limit not interfere.
	fxRewrite(t, stat, strings.Replace(string(orig), "hierarchical_memory_limit 134217728", "hierarchical_memory_limit 9223372036854771712", 1))
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root), cgroupstat.WithMemTotal(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.MemTotal() != 1<<30 {
		t.Fatalf("MemTotal %d, want the WithMemTotal value", r.MemTotal())
	}
	for _, c := range []struct {
		raw   string
		limit uint64
		rawV  uint64
	}{
		{"9223372036854771712\n", unl, 9223372036854771712}, // the kernel's "none", 4 KiB pages
		{"9223372036854710272\n", unl, 9223372036854710272}, // 2^63 - 64 KiB (64 KiB pages)
		{"4611686018427387904\n", unl, 4611686018427387904}, // 2^62
		{"4611686018427383808\n", unl, 4611686018427383808}, // below 2^62 but above MemTotal
		{"1073741825\n", unl, 1073741825},                   // MemTotal + 1
		{"1073741824\n", 1073741824, 1073741824},            // exactly MemTotal: a real limit
		{"134217728\n", 134217728, 134217728},
	} {
		fxRewrite(t, limit, c.raw)
		var s cgroupstat.Stats
		if err := r.ReadCheap(&s); err != nil {
			t.Fatal(err)
		}
		if s.Limit != c.limit || s.LimitRaw != c.rawV || s.HasLimit() != (c.limit != unl) {
			t.Errorf("%q: Limit %d raw %d HasLimit %v, want %d %d", strings.TrimSpace(c.raw), s.Limit, s.LimitRaw, s.HasLimit(), c.limit, c.rawV)
		}
		if (s.LimitDir == "") != (c.limit == unl) {
			t.Errorf("%q: LimitDir %q", strings.TrimSpace(c.raw), s.LimitDir)
		}
	}
}

// TestReadErrorsNameTheFile: bad content in a usage or limit file fails
// the read (and Open) with a *ParseError naming it; in any other file it
// makes only its part unknown, with the same error in Stats.Errs, and the
// rest of the reading stays what it was.
func TestReadErrorsNameTheFile(t *testing.T) {
	const none = cgroupstat.NumParts // required: the read fails
	for _, c := range []struct {
		fixture, file, content string
		full                   bool
		part                   cgroupstat.Part
	}{
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.usage_in_bytes", "12x\n", false, none},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.limit_in_bytes", "\n", false, none},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.memsw.usage_in_bytes", "-1\n", false, cgroupstat.PartSwap},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.max_usage_in_bytes", "max\n", false, cgroupstat.PartPeak},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.stat", "cache 1\nrss\n", true, cgroupstat.PartStat},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.oom_control", "oom_kill_disable x\n", true, cgroupstat.PartEvents},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.failcnt", "many\n", true, cgroupstat.PartFailcnt},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.kmem.usage_in_bytes", "18446744073709551615\n", true, cgroupstat.PartKernel},
		{"docker-v1-container", "proc/pressure/memory", "some avg10=1\n", true, cgroupstat.PartPSI},
		{"v2-nested", "sys/fs/cgroup/mw/memory.max", "maximum\n", false, none},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.high", "1 2\n", false, none},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.current", "max\n", false, none},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.swap.current", "9223372036854775808\n", false, cgroupstat.PartSwap},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.swap.max", "-1\n", false, cgroupstat.PartSwap},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.events", "oom 1\noom 2\n", true, cgroupstat.PartEvents},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.events.local", "oom_kill one\n", true, cgroupstat.PartEventsLocal},
		{"v2-nested", "sys/fs/cgroup/mw/test/memory.pressure", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", true, cgroupstat.PartPSI},
	} {
		t.Run(c.fixture+"/"+filepath.Base(c.file), func(t *testing.T) {
			root := fxCopy(t, c.fixture)
			r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var clean cgroupstat.Stats
			if err := r.ReadFull(&clean); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(root, c.file)
			fxRewrite(t, path, c.content)
			s := clean
			if c.full {
				err = r.ReadFull(&s)
			} else {
				err = r.ReadCheap(&s)
			}
			var pe *cgroupstat.ParseError
			if c.part == none {
				if !errors.As(err, &pe) || pe.File != path {
					t.Fatalf("err %v, want a *ParseError naming %s", err, path)
				}
				// The same content makes Open fail too.
				if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); !errors.As(err, &pe) || pe.File != path {
					t.Errorf("Open: err %v, want a *ParseError naming %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("a bad %s failed the read: %v", c.part, err)
			}
			if !errors.As(s.Errs[c.part], &pe) || pe.File != path {
				t.Errorf("Errs[%s] = %v, want a *ParseError naming %s", c.part, s.Errs[c.part], path)
			}
			for p, e := range s.Errs {
				if cgroupstat.Part(p) != c.part && e != nil {
					t.Errorf("Errs[%s] = %v; only %s failed", cgroupstat.Part(p), e, c.part)
				}
			}
			if s.Usage != clean.Usage || s.Limit != clean.Limit || s.High != clean.High || s.WorkingSet != clean.WorkingSet {
				t.Errorf("usage, limits, working set changed: %+v, was %+v", s, clean)
			}
			fxCheckPartUnknown(t, &s, c.part)
			if err := s.Degraded(); err == nil || !strings.Contains(err.Error(), c.part.String()+": ") {
				t.Errorf("Degraded() = %v", err)
			}
			// Open succeeds with the part unknown.
			r2, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			if err != nil {
				t.Fatalf("Open with a bad %s: %v", c.part, err)
			}
			defer r2.Close()
			var s2 cgroupstat.Stats
			if err := r2.ReadFull(&s2); err != nil || !errors.As(s2.Errs[c.part], &pe) {
				t.Errorf("after Open: %v, Errs[%s] = %v", err, c.part, s2.Errs[c.part])
			}
		})
	}
}

// fxCheckPartUnknown checks that part reads as absent in s: its flag false,
// its fields zero.
func fxCheckPartUnknown(t *testing.T, s *cgroupstat.Stats, part cgroupstat.Part) {
	t.Helper()
	var bad bool
	switch part {
	case cgroupstat.PartWorkingSet:
		bad = s.HasWorkingSet() || s.WorkingSet != 0
	case cgroupstat.PartPeak:
		bad = s.HasPeak || s.Peak != 0
	case cgroupstat.PartSwap:
		bad = s.HasSwap || s.SwapUsage != 0 || s.SwapLimit != 0
	case cgroupstat.PartStat:
		bad = s.Stat.Present&^cgroupstat.StatKernel != 0 || s.Stat.Anon != 0
	case cgroupstat.PartKernel:
		bad = s.Stat.Present&cgroupstat.StatKernel != 0 || s.Stat.Kernel != 0
	case cgroupstat.PartEvents:
		bad = s.Events.HasEvents || s.Events.EventCounts != (cgroupstat.EventCounts{}) || s.Events.UnderOOM || s.Events.OOMKillDisable
	case cgroupstat.PartEventsLocal:
		bad = s.Events.HasLocal || s.Events.Local != (cgroupstat.EventCounts{})
	case cgroupstat.PartFailcnt:
		bad = s.Events.HasFailcnt || s.Events.Failcnt != 0
	case cgroupstat.PartPSI:
		bad = s.PSI != (cgroupstat.PSI{})
	}
	if bad {
		t.Errorf("%s failed but reads as known: %+v", part, s)
	}
}

// fxWrite creates a fixture-like tree from a map of relative paths.
func fxWrite(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiscoverErrors(t *testing.T) {
	hybridCgroup, _ := os.ReadFile(filepath.Join("testdata", "hybrid", "proc/self/cgroup"))
	hybridMounts, _ := os.ReadFile(filepath.Join("testdata", "hybrid", "proc/self/mountinfo"))
	dropLines := func(b []byte, sub ...string) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			keep := true
			for _, s := range sub {
				if strings.Contains(l, s) {
					keep = false
				}
			}
			if keep {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, c := range []struct {
		name       string
		cgroup     string
		mountinfo  string
		want       error
		parseError bool
	}{
		// The hybrid capture without its memory line and without 0::.
		{name: "no memory line", cgroup: dropLines(hybridCgroup, ":memory:", "0::"), mountinfo: string(hybridMounts), want: cgroupstat.ErrNoCgroup},
		{name: "empty cgroup file", cgroup: "", mountinfo: string(hybridMounts), want: cgroupstat.ErrNoCgroup},
		// Memory on v1 but its hierarchy is not mounted.
		{name: "v1 not mounted", cgroup: string(hybridCgroup), mountinfo: dropLines(hybridMounts, "rw,memory"), want: cgroupstat.ErrNotMounted},
		// Memory on v2 (no v1 memory line) but no cgroup2 mount.
		{name: "v2 not mounted", cgroup: dropLines(hybridCgroup, ":memory:"), mountinfo: dropLines(hybridMounts, "cgroup2"), want: cgroupstat.ErrNotMounted},
		{name: "bad cgroup line", cgroup: "4:memory\n", mountinfo: string(hybridMounts), parseError: true},
		{name: "bad mountinfo line", cgroup: string(hybridCgroup), mountinfo: "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime cgroup cgroup rw,memory\n", parseError: true},
		{name: "missing proc", want: cgroupstat.ErrNoCgroup},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if c.name != "missing proc" {
				fxWrite(t, root, map[string]string{"proc/self/cgroup": c.cgroup, "proc/self/mountinfo": c.mountinfo})
			}
			_, err := cgroupstat.Discover(cgroupstat.WithRoot(root))
			if c.parseError {
				var pe *cgroupstat.ParseError
				if !errors.As(err, &pe) || pe.Line != 1 || !strings.HasPrefix(pe.File, root) {
					t.Fatalf("err %v, want a *ParseError at line 1", err)
				}
				return
			}
			var de *cgroupstat.DiscoveryError
			if !errors.Is(err, c.want) || !errors.As(err, &de) {
				t.Fatalf("err %v, want a *DiscoveryError wrapping %v", err, c.want)
			}
			if strings.Count(err.Error(), "cgroupstat:") != 1 {
				t.Errorf("message %q repeats the package prefix", err.Error())
			}
			if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); !errors.Is(err, c.want) {
				t.Errorf("Open: %v, want %v", err, c.want)
			}
		})
	}
}

// TestOpenWithoutMemTotal: a missing or bad proc/meminfo loses MemTotal
// (the normalisation of limits above it) and nothing else.
func TestOpenWithoutMemTotal(t *testing.T) {
	root := fxCopy(t, "docker-v1-host")
	mi := filepath.Join(root, "proc/meminfo")
	if err := os.Remove(mi); err != nil {
		t.Fatal(err)
	}
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatalf("Open without meminfo: %v", err)
	}
	var s cgroupstat.Stats
	if err := r.ReadFull(&s); err != nil || s.Usage == 0 || !s.HasLimit() || s.Degraded() != nil {
		t.Errorf("ReadFull without meminfo: %+v, %v", s, err)
	}
	if r.MemTotal() != 0 || !errors.Is(r.MemTotalErr(), fs.ErrNotExist) {
		t.Errorf("MemTotal %d, %v; want 0 and a not-exist error", r.MemTotal(), r.MemTotalErr())
	}
	r.Close()
	r, err = cgroupstat.Open(cgroupstat.WithRoot(root), cgroupstat.WithMemTotal(fxMemTotal))
	if err != nil || r.MemTotal() != fxMemTotal || r.MemTotalErr() != nil {
		t.Fatalf("Open WithMemTotal: %v", err)
	}
	r.Close()
	for _, content := range []string{"MemFree: 1 kB\n", "MemTotal: 1 kB\nMemTotal: 2 kB\n", "MemTotal: 18014398509481984 kB\n"} {
		fxWrite(t, root, map[string]string{"proc/meminfo": content})
		r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
		if err != nil {
			t.Errorf("meminfo %q: Open: %v", content, err)
			continue
		}
		var pe *cgroupstat.ParseError
		if r.MemTotal() != 0 || !errors.As(r.MemTotalErr(), &pe) || pe.File != mi {
			t.Errorf("meminfo %q: MemTotal %d, %v; want a *ParseError naming it", content, r.MemTotal(), r.MemTotalErr())
		}
		r.Close()
	}
}

func TestUseHierarchyZeroIgnoresAncestor(t *testing.T) {
	// Before Linux 5.11 a v1 cgroup with memory.use_hierarchy 0 does not
	// charge its children's usage upward: its limit does not bind them.
	root := fxCopy(t, "hybrid")
	fxRewrite(t, filepath.Join(root, "sys/fs/cgroup/memory/mwfix/memory.use_hierarchy"), "0\n")
	stat := filepath.Join(root, "sys/fs/cgroup/memory/mwfix/app/memory.stat")
	orig, _ := os.ReadFile(stat)
	fxRewrite(t, stat, strings.Replace(string(orig), "hierarchical_memory_limit 268435456", "hierarchical_memory_limit 536870912", 1))
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var s cgroupstat.Stats
	if err := r.ReadFull(&s); err != nil {
		t.Fatal(err)
	}
	if s.Limit != 536870912 || s.LimitDir != filepath.Join(root, "sys/fs/cgroup/memory/mwfix/app") {
		t.Errorf("Limit %d from %q, want the own 536870912", s.Limit, s.LimitDir)
	}
}

func TestUsageFd(t *testing.T) {
	r, err := cgroupstat.Open(cgroupstat.WithRoot(fxRoot(t, "hybrid")))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fd := r.UsageFd()
	if fd < 0 {
		t.Fatalf("UsageFd %d", fd)
	}
	link, err := os.Readlink("/proc/self/fd/" + itoa(fd))
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	if link != r.Files().Usage {
		t.Errorf("UsageFd points at %q, want %q", link, r.Files().Usage)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRootCgroups(t *testing.T) {
	// Hybrid with the process in the cgroup2 root (as on the capture host):
	// the root's memory.pressure is host-wide, reported as such.
	root := fxCopy(t, "hybrid")
	b, _ := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	fxRewrite(t, filepath.Join(root, "proc/self/cgroup"), strings.Replace(string(b), "0::/mwfix", "0::/", 1))
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if f := r.Files(); f.PressureSource != cgroupstat.PSIHost || f.Pressure != filepath.Join(root, "proc/pressure/memory") {
		t.Errorf("pressure from %s %q, want the host file", f.PressureSource, f.Pressure)
	}
	if r.Location().UnifiedDir != filepath.Join(root, "sys/fs/cgroup/unified") {
		t.Errorf("UnifiedDir %q", r.Location().UnifiedDir)
	}

	// v2 with the process in the root cgroup: no memory.current anywhere.
	root = fxCopy(t, "v2-nolimit")
	fxRewrite(t, filepath.Join(root, "proc/self/cgroup"), "0::/\n")
	_, err = cgroupstat.Discover(cgroupstat.WithRoot(root))
	var de *cgroupstat.DiscoveryError
	if !errors.Is(err, cgroupstat.ErrNoCgroup) || !errors.As(err, &de) || !strings.Contains(de.Reason, "root cgroup") {
		t.Errorf("v2 root cgroup: %v, want ErrNoCgroup explaining the root cgroup", err)
	}
}
