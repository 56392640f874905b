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
)

// The fixtures under testdata/ are trees of kernel files: the v1 and hybrid
// ones were copied from this repository's capture host by
// testdata/capture/capture.sh (real cgroups, real namespaces, a real OOM
// kill); the v2-* ones are provisional until replaced by VM captures (see
// testdata/v2-PROVISIONAL). Every expected number below is read off those
// files; the comments say which file and how it combines.

const (
	fxMemTotal = 24683656 * 1024 // proc/meminfo MemTotal
	unl        = cgroupstat.Unlimited
)

type fxCase struct {
	name string
	// Discovery; paths are relative to the fixture root ("" = empty).
	discoverErr error // sentinel, nil for success
	loc         cgroupstat.Location
	openErr     error // errors.Is target for Open, nil for success
	// After Open: ReadFull into a zero Stats. Paths in LimitDir relative.
	full  cgroupstat.Stats
	files cgroupstat.Files
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
			Events: cgroupstat.Events{EventCounts: cgroupstat.EventCounts{OOMKill: 1}, HasEvents: true}, // the capture's OOM victim
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
			Events: cgroupstat.Events{EventCounts: cgroupstat.EventCounts{OOMKill: 1}, HasEvents: true},
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
			Events: cgroupstat.Events{HasEvents: true},
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
			Events: cgroupstat.Events{HasEvents: true},
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
			Events: cgroupstat.Events{HasEvents: true},
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
			Events: cgroupstat.Events{HasEvents: true},
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
			Events: cgroupstat.Events{HasEvents: true},
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
		// Provisional v2: /workload/app, ancestor memory.max 256 MiB below the
		// own 512 MiB, own memory.high 192 MiB.
		name: "v2-nested",
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/workload/app", Dir: "sys/fs/cgroup/workload/app",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/workload/app"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/workload/app",
			Usage: 152043520, WorkingSet: 152043520 - 33554432, // memory.current - inactive_file
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "sys/fs/cgroup/workload",
			High: 201326592, HighRaw: 201326592, // app memory.high; workload's is max
			Peak: 255852544, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 104857600, File: 41943040, ActiveAnon: 110592, InactiveAnon: 104747008,
				ActiveFile: 8388608, InactiveFile: 33554432, FileMapped: 8388608, FileDirty: 135168,
				Kernel: 5242880, KernelStack: 327680, PageTables: 1048576, Percpu: 110592,
				SlabReclaimable: 2359296, SlabUnreclaimable: 1048576, Present: fxV2Present},
			Events: cgroupstat.Events{
				EventCounts: cgroupstat.EventCounts{High: 12, OOMKill: 1},
				Local:       cgroupstat.EventCounts{High: 12, OOMKill: 1}, HasLocal: true, HasEvents: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSICgroup,
				Some: cgroupstat.PSILine{Avg10: 1.52, Avg60: 0.87, Avg300: 0.21, Total: 3456789},
				Full: cgroupstat.PSILine{Avg10: 0.64, Avg60: 0.35, Avg300: 0.08, Total: 1234567}},
			Full: true},
		files: fxV2Files("sys/fs/cgroup/workload/app", "sys/fs/cgroup/workload/app/memory.pressure"),
	},
	{
		// Provisional v2: /workload/app/sub has no memory controller: its
		// charges go to app; its own memory.pressure is still used.
		name: "v2-no-memory-controller",
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/workload/app/sub", Dir: "sys/fs/cgroup/workload/app",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", UnifiedDir: "sys/fs/cgroup/workload/app/sub"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/workload/app/sub",
			Usage: 152043520, WorkingSet: 152043520 - 33554432,
			Limit: 268435456, LimitRaw: 268435456, LimitDir: "sys/fs/cgroup/workload",
			High: 201326592, HighRaw: 201326592,
			Peak: 255852544, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 104857600, File: 41943040, ActiveAnon: 110592, InactiveAnon: 104747008,
				ActiveFile: 8388608, InactiveFile: 33554432, FileMapped: 8388608, FileDirty: 135168,
				Kernel: 5242880, KernelStack: 327680, PageTables: 1048576, Percpu: 110592,
				SlabReclaimable: 2359296, SlabUnreclaimable: 1048576, Present: fxV2Present},
			Events: cgroupstat.Events{
				EventCounts: cgroupstat.EventCounts{High: 12, OOMKill: 1},
				Local:       cgroupstat.EventCounts{High: 12, OOMKill: 1}, HasLocal: true, HasEvents: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSICgroup,
				Some: cgroupstat.PSILine{Avg10: 2.10, Avg60: 1.05, Avg300: 0.30, Total: 2222222},
				Full: cgroupstat.PSILine{Avg10: 0.90, Avg60: 0.40, Avg300: 0.10, Total: 888888}},
			Full: true},
		files: fxV2Files("sys/fs/cgroup/workload/app", "sys/fs/cgroup/workload/app/sub/memory.pressure"),
	},
	{
		// Provisional v2: a container with its own cgroup namespace.
		name: "v2-ns",
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/", Dir: "sys/fs/cgroup", MountPoint: "sys/fs/cgroup",
			MountRoot: "/", AncestorsHidden: true, ReadOnly: true, UnifiedDir: "sys/fs/cgroup"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/",
			Usage: 73400320, WorkingSet: 73400320 - 12582912,
			Limit: 536870912, LimitRaw: 536870912, LimitDir: "sys/fs/cgroup",
			High: unl, HighRaw: unl, AncestorsHidden: true,
			Peak: 80216064, HasPeak: true,
			SwapUsage: 0, SwapLimit: 0, HasSwap: true, // memory.swap.max 0: no swap allowed
			Stat: cgroupstat.MemStat{Anon: 52428800, File: 16777216, ActiveAnon: 65536, InactiveAnon: 52363264,
				ActiveFile: 4194304, InactiveFile: 12582912, FileMapped: 4194304,
				Kernel: 3670016, KernelStack: 196608, PageTables: 786432, Percpu: 55296, Sock: 4096,
				SlabReclaimable: 1572864, SlabUnreclaimable: 1048576, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true},
			PSI: cgroupstat.PSI{Source: cgroupstat.PSICgroup,
				Some: cgroupstat.PSILine{Total: 1337}, Full: cgroupstat.PSILine{Total: 512}},
			Full: true},
		files: fxV2Files("sys/fs/cgroup", "sys/fs/cgroup/memory.pressure"),
	},
	{
		// Provisional v2: memory.max max above and 64 GiB (more than the host's
		// 23.5 GiB MemTotal) on the cgroup: no effective limit.
		name: "v2-nolimit",
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/system.slice/mw.service",
			Dir: "sys/fs/cgroup/system.slice/mw.service", MountPoint: "sys/fs/cgroup", MountRoot: "/",
			UnifiedDir: "sys/fs/cgroup/system.slice/mw.service"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/system.slice/mw.service",
			Usage: 31457280, WorkingSet: 31457280 - 6291456,
			Limit: unl, LimitRaw: 68719476736, LimitDir: "",
			High: unl, HighRaw: unl,
			Peak: 33554432, HasPeak: true,
			SwapUsage: 0, SwapLimit: unl, HasSwap: true,
			Stat: cgroupstat.MemStat{Anon: 20971520, File: 8388608, ActiveAnon: 65536, InactiveAnon: 20905984,
				ActiveFile: 2097152, InactiveFile: 6291456, FileMapped: 2097152,
				Kernel: 2097152, KernelStack: 131072, PageTables: 524288, Percpu: 36864,
				SlabReclaimable: 1048576, SlabUnreclaimable: 524288, Present: fxV2Present},
			Events: cgroupstat.Events{HasLocal: true, HasEvents: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSICgroup},
			Full:   true},
		files: fxV2Files("sys/fs/cgroup/system.slice/mw.service", "sys/fs/cgroup/system.slice/mw.service/memory.pressure"),
	},
	{
		// Provisional v2: a 4.19-era kernel with psi=0 and swapaccount=0.
		name: "v2-missing-optional",
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mw", Dir: "sys/fs/cgroup/mw", MountPoint: "sys/fs/cgroup",
			MountRoot: "/", UnifiedDir: "sys/fs/cgroup/mw"},
		full: cgroupstat.Stats{Version: cgroupstat.V2, Path: "/mw",
			Usage: 31064064, WorkingSet: 31064064 - 6291456,
			Limit: 1073741824, LimitRaw: 1073741824, LimitDir: "sys/fs/cgroup/mw",
			High: unl, HighRaw: unl,
			HasPeak: false, HasSwap: false,
			Stat: cgroupstat.MemStat{Anon: 20971520, File: 8388608, ActiveAnon: 65536, InactiveAnon: 20905984,
				ActiveFile: 2097152, InactiveFile: 6291456, FileMapped: 2097152,
				Kernel:      131072 + 1048576 + 524288, // no "kernel" key: kernel_stack + slab_reclaimable + slab_unreclaimable
				KernelStack: 131072, SlabReclaimable: 1048576, SlabUnreclaimable: 524288,
				Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatActiveAnon | cgroupstat.StatInactiveAnon |
					cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile | cgroupstat.StatUnevictable | cgroupstat.StatShmem |
					cgroupstat.StatFileMapped | cgroupstat.StatFileDirty | cgroupstat.StatFileWriteback |
					cgroupstat.StatKernelStack | cgroupstat.StatSock | cgroupstat.StatSlabReclaimable | cgroupstat.StatSlabUnreclaimable |
					cgroupstat.StatKernel | cgroupstat.StatKernelFromParts},
			Events: cgroupstat.Events{HasEvents: true},
			PSI:    cgroupstat.PSI{Source: cgroupstat.PSINone},
			Full:   true},
		files: cgroupstat.Files{Usage: "sys/fs/cgroup/mw/memory.current", Limit: "sys/fs/cgroup/mw/memory.max",
			Stat: "sys/fs/cgroup/mw/memory.stat", Events: "sys/fs/cgroup/mw/memory.events"},
	},
	{
		// "0::/mwdel (deleted)": found, flagged, and Open names the missing file.
		name: "v2-deleted",
		loc: cgroupstat.Location{Version: cgroupstat.V2, Path: "/mwdel", Dir: "sys/fs/cgroup/mwdel",
			MountPoint: "sys/fs/cgroup", MountRoot: "/", Deleted: true, UnifiedDir: "sys/fs/cgroup/mwdel"},
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
			if r.MemTotal() != fxMemTotal {
				t.Errorf("MemTotal %d, want %d", r.MemTotal(), fxMemTotal)
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
	src := fxRoot(t, name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
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

func TestReadErrorsNameTheFile(t *testing.T) {
	for _, c := range []struct {
		fixture, file, content string
		full                   bool
	}{
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.usage_in_bytes", "12x\n", false},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.limit_in_bytes", "\n", false},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.memsw.usage_in_bytes", "-1\n", false},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.stat", "cache 1\nrss\n", true},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.stat", "cache 1\nrss 2\n", true}, // no total_inactive_file
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.oom_control", "oom_kill_disable x\n", true},
		{"docker-v1-container", "sys/fs/cgroup/memory/memory.failcnt", "many\n", true},
		{"docker-v1-container", "proc/pressure/memory", "some avg10=1\n", true},
		{"v2-nested", "sys/fs/cgroup/workload/memory.max", "maximum\n", false},
		{"v2-nested", "sys/fs/cgroup/workload/app/memory.high", "1 2\n", false},
		{"v2-nested", "sys/fs/cgroup/workload/app/memory.events.local", "oom_kill one\n", true},
		{"v2-nested", "sys/fs/cgroup/workload/app/memory.pressure", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", true},
	} {
		t.Run(c.fixture+"/"+filepath.Base(c.file), func(t *testing.T) {
			root := fxCopy(t, c.fixture)
			r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			path := filepath.Join(root, c.file)
			fxRewrite(t, path, c.content)
			var s cgroupstat.Stats
			if c.full {
				err = r.ReadFull(&s)
			} else {
				err = r.ReadCheap(&s)
			}
			var pe *cgroupstat.ParseError
			if !errors.As(err, &pe) || pe.File != path {
				t.Fatalf("err %v, want a *ParseError naming %s", err, path)
			}
			// The same content makes Open fail too.
			if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); !errors.As(err, &pe) || pe.File != path {
				t.Errorf("Open: err %v, want a *ParseError naming %s", err, path)
			}
		})
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

func TestOpenNeedsMemTotal(t *testing.T) {
	root := fxCopy(t, "docker-v1-host")
	if err := os.Remove(filepath.Join(root, "proc/meminfo")); err != nil {
		t.Fatal(err)
	}
	if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open without meminfo: %v, want a not-exist error", err)
	}
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root), cgroupstat.WithMemTotal(fxMemTotal))
	if err != nil {
		t.Fatalf("Open WithMemTotal: %v", err)
	}
	r.Close()
	fxWrite(t, root, map[string]string{"proc/meminfo": "MemFree: 1 kB\n"})
	var pe *cgroupstat.ParseError
	if _, err := cgroupstat.Open(cgroupstat.WithRoot(root)); !errors.As(err, &pe) {
		t.Errorf("Open with a meminfo without MemTotal: %v, want *ParseError", err)
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
