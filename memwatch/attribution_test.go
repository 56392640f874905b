package memwatch

import (
	"errors"
	"math"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

const mi = 1 << 20

// synthGo returns a Go view with the given class sizes in MiB; its Total is
// the sum of the classes.
func synthGo(live, objects, frag, free, released, heapStacks, osStacks, meta, other, prof uint64) GoStats {
	g := GoStats{
		HeapLive:         live * mi,
		HeapObjects:      objects * mi,
		HeapUnused:       frag * mi,
		HeapFree:         free * mi,
		HeapReleased:     released * mi,
		HeapStacks:       heapStacks * mi,
		OSStacks:         osStacks * mi,
		MetadataOther:    meta * mi,
		Other:            other * mi,
		ProfilingBuckets: prof * mi,
		GCCycles:         5,
		Present:          ^GoFields(0),
	}
	g.Total = (objects + frag + free + released + heapStacks + osStacks + meta + other + prof) * mi
	g.Alloc, g.Sys = g.HeapObjects, g.Total
	return g
}

// baseGo: live 200, objects 260, frag 10, free 40, released 100, stacks 6+2,
// metadata 12, other 5+1: Retained = 336 MiB.
func baseGo() GoStats { return synthGo(200, 260, 10, 40, 100, 6, 2, 12, 5, 1) }

func v2Stats() cgroupstat.Stats {
	return cgroupstat.Stats{
		Version:    cgroupstat.V2,
		Path:       "/kubepods/pod1/c1",
		Usage:      1000 * mi,
		WorkingSet: 880 * mi,
		Limit:      1200 * mi,
		LimitRaw:   1200 * mi,
		High:       1100 * mi,
		HighRaw:    1100 * mi,
		Full:       true,
		Stat: cgroupstat.MemStat{
			Anon: 600 * mi, File: 300 * mi, Shmem: 20 * mi,
			ActiveFile: 150 * mi, InactiveFile: 120 * mi,
			Kernel: 60 * mi, Sock: 5 * mi, SlabReclaimable: 15 * mi, SlabUnreclaimable: 20 * mi,
			FileDirty: 8 * mi, FileWriteback: 2 * mi,
			Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatShmem |
				cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile | cgroupstat.StatKernel |
				cgroupstat.StatSock | cgroupstat.StatSlabReclaimable | cgroupstat.StatSlabUnreclaimable |
				cgroupstat.StatFileDirty | cgroupstat.StatFileWriteback,
		},
	}
}

// v1Stats mirrors the host's real v1 memory.stat shape: no slab or sock
// fields; kernel from memory.kmem.usage_in_bytes; usage = rss + cache + kmem.
func v1Stats() cgroupstat.Stats {
	return cgroupstat.Stats{
		Version:    cgroupstat.V1,
		Path:       "/process_api/x",
		Usage:      (500 + 200 + 30) * mi,
		WorkingSet: (730 - 80) * mi,
		Limit:      cgroupstat.Unlimited,
		LimitRaw:   9223372036854771712,
		High:       cgroupstat.Unlimited,
		HighRaw:    cgroupstat.Unlimited,
		Full:       true,
		Stat: cgroupstat.MemStat{
			Anon: 500 * mi, File: 200 * mi, Shmem: 0,
			ActiveFile: 115 * mi, InactiveFile: 80 * mi,
			Kernel:    30 * mi,
			FileDirty: 1 * mi,
			Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatShmem |
				cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile | cgroupstat.StatKernel |
				cgroupstat.StatFileDirty | cgroupstat.StatFileWriteback,
		},
	}
}

// proc returns a process view with statm resident/shared in MiB and the
// status split.
func proc(resident, shared, rssFile, rssShmem uint64) ProcessStats {
	return ProcessStats{
		ViewStatus: ViewStatus{Available: true},
		Statm:      procstat.Statm{Resident: resident * mi, Shared: shared * mi},
		Status: procstat.Status{
			VmRSS: resident * mi, RssAnon: (resident - shared) * mi, RssFile: rssFile * mi, RssShmem: rssShmem * mi,
			Present: procstat.HasVmRSS | procstat.HasRssAnon | procstat.HasRssFile | procstat.HasRssShmem,
		},
	}
}

func cg(st cgroupstat.Stats) CgroupStats {
	return CgroupStats{ViewStatus: ViewStatus{Available: true}, Stats: st}
}

var errNoCg = &cgroupstat.DiscoveryError{File: "/proc/self/cgroup", Reason: "no memory line", Err: cgroupstat.ErrNoCgroup}

func TestAttribute(t *testing.T) {
	type want struct {
		base    Base
		total   uint64
		parts   map[PartID]uint64 // every Known part, in bytes
		notes   Notes
		reclaim uint64 // ReclaimableBytes
		dirty   uint64 // NeedsWritebackBytes
		notRes  uint64 // GoNotResidentBytes
		over    uint64 // OvercountBytes
	}
	// The main v2 case: own anon 490 ≥ Go retained 336, so Go parts are
	// exact, non-Go = 154; other processes = 600 − 490.
	goExact := map[PartID]uint64{
		PartGoHeapLive: 200 * mi, PartGoHeapUnused: 60 * mi, PartGoHeapFragmentation: 10 * mi,
		PartGoHeapFree: 40 * mi, PartGoStacks: 8 * mi, PartGoRuntimeMetadata: 12 * mi, PartGoRuntimeOther: 6 * mi,
	}
	with := func(m map[PartID]uint64, kv ...any) map[PartID]uint64 {
		out := map[PartID]uint64{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(PartID)] = uint64(kv[i+1].(int)) * mi
		}
		return out
	}
	zeroGo := map[PartID]uint64{PartGoHeapLive: 0, PartGoHeapUnused: 0, PartGoHeapFragmentation: 0,
		PartGoHeapFree: 0, PartGoStacks: 0, PartGoRuntimeMetadata: 0, PartGoRuntimeOther: 0}

	tests := []struct {
		name string
		snap func() *Snapshot
		want want
	}{
		{
			name: "v2 full: every rule",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact,
					PartNonGoAnon, 154, PartOtherProcesses, 110, PartShmem, 20,
					PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				reclaim: (15 + 150 + 120 - 10) * mi, dirty: 10 * mi,
			},
		},
		{
			name: "v1: kmem is the kernel part, no slab split, no sock added",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: proc(400, 20, 20, 0), Cgroup: cg(v1Stats())}
			},
			want: want{
				base: BaseCgroup, total: 730 * mi,
				// own anon 380 ≥ 336: non-Go 44; other processes 500 − 380.
				parts: with(goExact, PartNonGoAnon, 44, PartOtherProcesses, 120, PartShmem, 0,
					PartKernel, 30, PartPageCacheActive, 115, PartPageCacheInactive, 80, PartUnaccounted, 5),
				notes:   NoteKernelUnsplit,
				reclaim: (115 + 80 - 1) * mi, dirty: 1 * mi,
			},
		},
		{
			name: "Go retained exceeds own anon: Go parts capped in fill order",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: proc(330, 30, 28, 2), Cgroup: cg(v2Stats())}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				// own anon 300: stacks 8, live 200, unused 60, other 6,
				// frag 10, metadata 12, free 4 (of 40); 36 not resident.
				parts: with(goExact, PartGoHeapFree, 4, PartNonGoAnon, 0, PartOtherProcesses, 300,
					PartShmem, 20, PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				notes:   NoteGoNotResident,
				reclaim: 275 * mi, dirty: 10 * mi, notRes: 36 * mi,
			},
		},
		{
			name: "own anon above cgroup anon (read skew): no other processes",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: proc(650, 30, 28, 2), Cgroup: cg(v2Stats())}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartNonGoAnon, 600-336, PartOtherProcesses, 0,
					PartShmem, 20, PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				reclaim: 275 * mi, dirty: 10 * mi,
			},
		},
		{
			name: "memory.stat ahead of usage: reclaimable parts absorb the overcount",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Usage = 800 * mi // parts sum to 955 MiB
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 800 * mi,
				// 800 − 600 anon − 20 shmem − 50 kernel − 15 slab = 115 left:
				// active 115 of 150, inactive 0 of 120: 155 over.
				parts: with(goExact, PartNonGoAnon, 154, PartOtherProcesses, 110, PartShmem, 20,
					PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 115, PartPageCacheInactive, 0, PartUnaccounted, 0),
				notes:   NoteOvercount,
				reclaim: (15 + 115 - 10) * mi, dirty: 10 * mi, over: 155 * mi,
			},
		},
		{
			name: "anon alone above usage: capped, nothing else fits",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Usage = 500 * mi
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 500 * mi,
				parts: with(goExact, PartNonGoAnon, 154, PartOtherProcesses, 10, PartShmem, 0,
					PartKernel, 0, PartKernelSlabReclaimable, 0,
					PartPageCacheActive, 0, PartPageCacheInactive, 0, PartUnaccounted, 0),
				notes: NoteOvercount, over: (100 + 20 + 50 + 15 + 150 + 120) * mi,
			},
		},
		{
			name: "no process view: the non-Go anon cannot be named",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: ProcessStats{ViewStatus: ViewStatus{Err: procstat.ErrUnsupported}},
					Cgroup: cg(v2Stats())}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartShmem, 20, PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45+600-336),
				notes:   NoteNoProcess,
				reclaim: 275 * mi, dirty: 10 * mi,
			},
		},
		{
			name: "no process view and Go above cgroup anon",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Stat.Anon = 300 * mi
				st.Usage = 700 * mi
				return &Snapshot{Go: baseGo(), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 700 * mi,
				parts: with(goExact, PartGoHeapFree, 4, PartShmem, 20, PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				notes:   NoteNoProcess | NoteGoNotResident,
				reclaim: 275 * mi, dirty: 10 * mi, notRes: 36 * mi,
			},
		},
		{
			name: "no cgroup view: base is RSS, status split known",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: CgroupStats{ViewStatus: ViewStatus{Err: errNoCg}}}
			},
			want: want{
				base: BaseProcess, total: 520 * mi,
				parts: with(goExact, PartNonGoAnon, 154, PartShmem, 2, PartFileMapped, 28, PartUnaccounted, 0),
				notes: NoteNoCgroup, reclaim: 28 * mi,
			},
		},
		{
			name: "no cgroup view, no status split: shared is all file_mapped",
			snap: func() *Snapshot {
				p := proc(520, 30, 0, 0)
				p.Status = procstat.Status{}
				return &Snapshot{Go: baseGo(), Process: p}
			},
			want: want{
				base: BaseProcess, total: 520 * mi,
				parts: with(goExact, PartNonGoAnon, 154, PartFileMapped, 30, PartUnaccounted, 0),
				notes: NoteNoCgroup | NoteNoProcessSplit, reclaim: 30 * mi,
			},
		},
		{
			name: "no cgroup view, Go above RSS anon",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(), Process: proc(130, 30, 30, 0)}
			},
			want: want{
				base: BaseProcess, total: 130 * mi,
				// anon 100: stacks 8, live 92.
				parts: with(zeroGo, PartGoStacks, 8, PartGoHeapLive, 92, PartNonGoAnon, 0,
					PartShmem, 0, PartFileMapped, 30, PartUnaccounted, 0),
				notes: NoteNoCgroup | NoteGoNotResident, reclaim: 30 * mi, notRes: 236 * mi,
			},
		},
		{
			name: "only the Go view (non-Linux)",
			snap: func() *Snapshot {
				return &Snapshot{Go: baseGo(),
					Process: ProcessStats{ViewStatus: ViewStatus{Err: procstat.ErrUnsupported}},
					Cgroup:  CgroupStats{ViewStatus: ViewStatus{Err: cgroupstat.ErrUnsupported}}}
			},
			want: want{base: BaseGo, total: 336 * mi, parts: goExact, notes: NoteNoCgroup | NoteNoProcess},
		},
		{
			name: "cgroup without memory.stat: own memory named, rest unaccounted",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Stat, st.Full = cgroupstat.MemStat{}, false
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartNonGoAnon, 154, PartShmem, 2, PartFileMapped, 28, PartUnaccounted, 1000-520),
				notes: NoteNoCgroupStat, reclaim: 28 * mi,
			},
		},
		{
			name: "cgroup without memory.stat and without process view",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Stat, st.Full = cgroupstat.MemStat{}, false
				return &Snapshot{Go: baseGo(), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartUnaccounted, 1000-336),
				notes: NoteNoCgroupStat | NoteNoProcess,
			},
		},
		{
			name: "heap live missing (older Go): live holds all objects",
			snap: func() *Snapshot {
				g := baseGo()
				g.Present &^= GoHeapLive
				return &Snapshot{Go: g, Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartGoHeapLive, 260, PartGoHeapUnused, 0,
					PartNonGoAnon, 154, PartOtherProcesses, 110, PartShmem, 20,
					PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				notes: NoteNoHeapLive, reclaim: 275 * mi, dirty: 10 * mi,
			},
		},
		{
			name: "heap live above objects (read skew): clamped",
			snap: func() *Snapshot {
				g := baseGo()
				g.HeapLive = 300 * mi
				return &Snapshot{Go: g, Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartGoHeapLive, 260, PartGoHeapUnused, 0,
					PartNonGoAnon, 154, PartOtherProcesses, 110, PartShmem, 20,
					PartKernel, 50, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				reclaim: 275 * mi, dirty: 10 * mi,
			},
		},
		{
			name: "dirty beyond the page cache is clamped; slab above kernel clamped",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Stat.FileDirty = 500 * mi
				st.Stat.SlabReclaimable = 100 * mi // > kernel+sock 65
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartNonGoAnon, 154, PartOtherProcesses, 110, PartShmem, 20,
					PartKernel, 0, PartKernelSlabReclaimable, 65,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 45),
				reclaim: 65 * mi, dirty: 270 * mi,
			},
		},
		{
			name: "v2 without the kernel key: kernel part from cgroupstat's sum",
			snap: func() *Snapshot {
				st := v2Stats()
				st.Stat.Present &^= cgroupstat.StatSock
				return &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(st)}
			},
			want: want{
				base: BaseCgroup, total: 1000 * mi,
				parts: with(goExact, PartNonGoAnon, 154, PartOtherProcesses, 110, PartShmem, 20,
					PartKernel, 45, PartKernelSlabReclaimable, 15,
					PartPageCacheActive, 150, PartPageCacheInactive, 120, PartUnaccounted, 50),
				reclaim: 275 * mi, dirty: 10 * mi,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.snap()
			a := Attribute(s)
			w := tc.want
			if a.Base != w.base || a.Total != w.total {
				t.Errorf("base %v total %d, want %v %d", a.Base, a.Total, w.base, w.total)
			}
			var sum uint64
			for _, p := range a.Parts {
				want, known := w.parts[p.ID]
				if p.Known != known {
					t.Errorf("%s: known %v, want %v", p.Name(), p.Known, known)
				}
				if p.Bytes != want {
					t.Errorf("%s = %d MiB (%d), want %d MiB", p.Name(), p.Bytes/mi, p.Bytes, want/mi)
				}
				if !p.Known && p.Bytes != 0 {
					t.Errorf("%s unknown but has %d bytes", p.Name(), p.Bytes)
				}
				sum += p.Bytes
			}
			if sum != a.Total {
				t.Errorf("parts sum to %d, total %d", sum, a.Total)
			}
			if a.Notes != w.notes {
				t.Errorf("notes %v, want %v", a.Notes.Names(), w.notes.Names())
			}
			if a.ReclaimableBytes != w.reclaim || a.NeedsWritebackBytes != w.dirty {
				t.Errorf("reclaimable %d MiB, writeback %d MiB; want %d, %d", a.ReclaimableBytes/mi, a.NeedsWritebackBytes/mi, w.reclaim/mi, w.dirty/mi)
			}
			if a.UnreclaimableBytes != a.Total-a.ReclaimableBytes-a.NeedsWritebackBytes {
				t.Errorf("unreclaimable %d != total − reclaimable − writeback", a.UnreclaimableBytes)
			}
			if a.GoNotResidentBytes != w.notRes || a.OvercountBytes != w.over {
				t.Errorf("go not resident %d MiB, overcount %d MiB; want %d, %d", a.GoNotResidentBytes/mi, a.OvercountBytes/mi, w.notRes/mi, w.over/mi)
			}
			if a.NonGoBytes != a.Bytes(PartNonGoAnon) {
				t.Errorf("NonGoBytes %d != non_go_anon %d", a.NonGoBytes, a.Bytes(PartNonGoAnon))
			}
			if rr := a.Bytes(PartGoHeapUnused) + a.Bytes(PartGoHeapFree); a.RuntimeReleasableBytes != rr {
				t.Errorf("runtime releasable %d, want %d", a.RuntimeReleasableBytes, rr)
			}
		})
	}
}

func TestAttributeReclaimClasses(t *testing.T) {
	s := &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
	a := Attribute(s)
	want := map[PartID]Reclaim{
		PartGoHeapLive: NotReclaimable, PartGoHeapUnused: RuntimeReleasable, PartGoHeapFree: RuntimeReleasable,
		PartNonGoAnon: NotReclaimable, PartOtherProcesses: NotReclaimable, PartShmem: NotReclaimable,
		PartPageCacheActive: Reclaimable, PartPageCacheInactive: Reclaimable, PartKernel: NotReclaimable,
		PartKernelSlabReclaimable: Reclaimable, PartUnaccounted: ReclaimUnknown, PartFileMapped: Reclaimable,
	}
	for id, r := range want {
		if got := a.Parts[id].Reclaim; got != r {
			t.Errorf("%s: %s, want %s", id, got, r)
		}
	}

	// With swap on the host and room under the cgroup's swap limit, anon
	// and shmem become swappable; without room they are not.
	s.Host = HostStats{ViewStatus: ViewStatus{Available: true}, MemTotal: 8 << 30,
		Meminfo: procstat.Meminfo{MemTotal: 8 << 30, SwapTotal: 1 << 30}}
	s.Cgroup.Stats.HasSwap, s.Cgroup.Stats.SwapLimit, s.Cgroup.Stats.SwapUsage = true, 1<<30, 0
	a = Attribute(s)
	for _, id := range []PartID{PartGoHeapLive, PartNonGoAnon, PartOtherProcesses, PartShmem} {
		if a.Parts[id].Reclaim != Swappable {
			t.Errorf("with swap: %s is %s, want swappable", id, a.Parts[id].Reclaim)
		}
	}
	if a.Parts[PartPageCacheInactive].Reclaim != Reclaimable || a.Parts[PartGoHeapFree].Reclaim != RuntimeReleasable {
		t.Error("with swap: page cache / heap free class changed")
	}
	s.Cgroup.Stats.SwapLimit = 0 // v2 memory.swap.max = 0
	a = Attribute(s)
	if a.Parts[PartNonGoAnon].Reclaim != NotReclaimable {
		t.Errorf("swap.max 0: non_go_anon is %s, want no", a.Parts[PartNonGoAnon].Reclaim)
	}
}

func TestAttributeHeadroom(t *testing.T) {
	tests := []struct {
		name              string
		st                func() cgroupstat.Stats
		hasLimit, hasHigh bool
		toLimit, toHigh   int64
		beforeOOM         int64
		usagePct, wsPct   float64
	}{
		{
			name: "v2 with limit and high",
			st:   v2Stats, hasLimit: true, hasHigh: true,
			toLimit: 200 * mi, toHigh: 100 * mi,
			// unreclaimable = 1000 − (15 + 150 + 120) = 715
			beforeOOM: (1200 - 715) * mi,
			usagePct:  100 * 1000.0 / 1200, wsPct: 100 * 880.0 / 1200,
		},
		{
			name: "above memory.high: negative headroom",
			st: func() cgroupstat.Stats {
				st := v2Stats()
				st.High = 900 * mi
				return st
			},
			hasLimit: true, hasHigh: true, toLimit: 200 * mi, toHigh: -100 * mi,
			beforeOOM: 485 * mi, usagePct: 100 * 1000.0 / 1200, wsPct: 100 * 880.0 / 1200,
		},
		{name: "v1 unlimited (normalised)", st: v1Stats},
		{
			name: "v1 unlimited raw value not normalised",
			st: func() cgroupstat.Stats {
				st := v1Stats()
				st.Limit = 9223372036854771712 // 2^63 − 4096
				return st
			},
		},
		{
			name: "limit at 2^62: unlimited",
			st: func() cgroupstat.Stats {
				st := v1Stats()
				st.Limit, st.High = 1<<62, 1<<62
				return st
			},
		},
		{
			name: "v1 with a limit, no high",
			st: func() cgroupstat.Stats {
				st := v1Stats()
				st.Limit = 1024 * mi
				return st
			},
			hasLimit: true, toLimit: (1024 - 730) * mi,
			// unreclaimable = 730 − (115 + 80)
			beforeOOM: (1024 - 535) * mi, usagePct: 100 * 730.0 / 1024, wsPct: 100 * 650.0 / 1024,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{Go: baseGo(), Process: proc(400, 20, 20, 0), Cgroup: cg(tc.st())}
			h := Attribute(s).Headroom
			if h.HasLimit != tc.hasLimit || h.HasHigh != tc.hasHigh {
				t.Fatalf("HasLimit %v HasHigh %v, want %v %v", h.HasLimit, h.HasHigh, tc.hasLimit, tc.hasHigh)
			}
			if !h.HasLimit && (h.Limit != cgroupstat.Unlimited || h.ToLimit != 0 || h.UsagePercent != 0) {
				t.Errorf("unlimited headroom not empty: %+v", h)
			}
			if !h.HasHigh && h.High != cgroupstat.Unlimited {
				t.Errorf("High = %d without high", h.High)
			}
			if h.ToLimit != tc.toLimit || h.ToHigh != tc.toHigh || h.AvailableBeforeOOM != tc.beforeOOM {
				t.Errorf("to limit %d, to high %d, before OOM %d; want %d %d %d", h.ToLimit, h.ToHigh, h.AvailableBeforeOOM, tc.toLimit, tc.toHigh, tc.beforeOOM)
			}
			if math.Abs(h.UsagePercent-tc.usagePct) > 1e-9 || math.Abs(h.WorkingSetPercent-tc.wsPct) > 1e-9 {
				t.Errorf("usage %.3f%% ws %.3f%%, want %.3f %.3f", h.UsagePercent, h.WorkingSetPercent, tc.usagePct, tc.wsPct)
			}
		})
	}
	// No cgroup: no headroom at all.
	h := Attribute(&Snapshot{Go: baseGo(), Process: proc(400, 20, 20, 0)}).Headroom
	if h != (Headroom{}) {
		t.Errorf("no cgroup: headroom %+v", h)
	}
}

func TestAttributeAncestorsHidden(t *testing.T) {
	st := v2Stats()
	st.AncestorsHidden = true
	a := Attribute(&Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(st)})
	if a.Notes&NoteAncestorsHidden == 0 {
		t.Error("ancestors hidden not noted")
	}
}

func TestAttributeZeroSnapshot(t *testing.T) {
	// A zero Snapshot must not panic and must attribute nothing.
	a := Attribute(&Snapshot{})
	if a.Total != 0 || a.Base != BaseGo {
		t.Errorf("zero snapshot: %+v", a)
	}
}

func TestAttributeAllocs(t *testing.T) {
	s := &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}
	if n := testing.AllocsPerRun(100, func() { s.Attribution = Attribute(s) }); n != 0 {
		t.Errorf("Attribute allocates %v times", n)
	}
}

func TestViewStatusUnsupported(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{procstat.ErrUnsupported, true},
		{cgroupstat.ErrUnsupported, true},
		{errNoCg, true},
		{&cgroupstat.DiscoveryError{File: "f", Reason: "r", Err: cgroupstat.ErrNotMounted}, true},
		{&cgroupstat.DiscoveryError{File: "f", Reason: "r", Err: cgroupstat.ErrOutsideMount}, false},
		{&procstat.ParseError{File: "statm", Reason: "bad"}, false},
		{errors.New("read: EIO"), false},
	} {
		v := ViewStatus{Err: tc.err}
		if got := v.Unsupported(); got != tc.want {
			t.Errorf("Unsupported(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	s := &Snapshot{
		Process: ProcessStats{ViewStatus: ViewStatus{Err: &procstat.ParseError{File: "statm", Reason: "bad"}}},
		Cgroup:  CgroupStats{ViewStatus: ViewStatus{Err: errNoCg}},
	}
	err := s.Err()
	if err == nil || errors.Is(err, cgroupstat.ErrNoCgroup) {
		t.Errorf("Snapshot.Err() = %v: want the parse error only", err)
	}
	var pe *procstat.ParseError
	if !errors.As(err, &pe) {
		t.Errorf("Snapshot.Err() = %v does not wrap the ParseError", err)
	}
}

// FuzzAttribute checks the invariants of Attribute on arbitrary inputs: no
// panic, the known parts sum to Total exactly, unknown parts are empty, the
// summaries stay within Total.
func FuzzAttribute(f *testing.F) {
	f.Add(uint8(7), uint64(1000*mi), uint64(600*mi), uint64(300*mi), uint64(20*mi), uint64(150*mi), uint64(120*mi),
		uint64(60*mi), uint64(15*mi), uint64(10*mi), uint64(1200*mi), uint64(520*mi), uint64(30*mi), uint64(200*mi), uint64(260*mi), uint64(100*mi))
	f.Add(uint8(3), uint64(10), uint64(1<<63), uint64(1<<63), uint64(^uint64(0)), uint64(5), uint64(^uint64(0)),
		uint64(^uint64(0)), uint64(^uint64(0)), uint64(^uint64(0)), uint64(9223372036854771712), uint64(1), uint64(2), uint64(^uint64(0)), uint64(3), uint64(^uint64(0)))
	f.Add(uint8(1), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0),
		uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, flags uint8, usage, anon, file, shmem, active, inactive, kernel, slab, dirty, limit,
		resident, shared, live, objects, goOther uint64) {
		s := &Snapshot{}
		s.Go = GoStats{HeapLive: live, HeapObjects: objects, HeapFree: goOther, HeapStacks: goOther / 3,
			MetadataOther: goOther / 2, Present: ^GoFields(0)}
		if flags&1 != 0 {
			s.Process = ProcessStats{ViewStatus: ViewStatus{Available: true},
				Statm:  procstat.Statm{Resident: resident, Shared: shared},
				Status: procstat.Status{RssFile: shared / 2, RssShmem: shared / 3, Present: procstat.HasRssFile | procstat.HasRssShmem}}
			if flags&8 != 0 {
				s.Process.Status = procstat.Status{}
			}
		}
		if flags&2 != 0 {
			st := cgroupstat.Stats{Version: cgroupstat.V1, Usage: usage, WorkingSet: usage / 2, Limit: limit, High: cgroupstat.Unlimited}
			if flags&16 != 0 {
				st.Version, st.High = cgroupstat.V2, limit/2
			}
			if flags&4 != 0 {
				st.Full = true
				st.Stat = cgroupstat.MemStat{Anon: anon, File: file, Shmem: shmem, ActiveFile: active, InactiveFile: inactive,
					Kernel: kernel, Sock: slab / 2, SlabReclaimable: slab, FileDirty: dirty, FileWriteback: dirty,
					Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatShmem | cgroupstat.StatKernel |
						cgroupstat.StatSock | cgroupstat.StatSlabReclaimable}
				if flags&64 != 0 {
					st.Stat.Present |= cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile
				}
			}
			if flags&128 != 0 {
				st.Errs[cgroupstat.PartWorkingSet] = errors.New("no inactive_file")
			}
			s.Cgroup = CgroupStats{ViewStatus: ViewStatus{Available: true}, Stats: st}
		}
		if flags&32 != 0 {
			s.Host = HostStats{ViewStatus: ViewStatus{Available: true}, Meminfo: procstat.Meminfo{SwapTotal: 1}}
		}
		a := Attribute(s)
		var sum uint64
		for _, p := range a.Parts {
			if !p.Known && p.Bytes != 0 {
				t.Fatalf("%s unknown with %d bytes", p.Name(), p.Bytes)
			}
			if p.Bytes > a.Total {
				t.Fatalf("%s = %d > total %d", p.Name(), p.Bytes, a.Total)
			}
			sum += p.Bytes
		}
		if sum != a.Total {
			t.Fatalf("parts sum to %d, total %d", sum, a.Total)
		}
		if a.ReclaimableBytes+a.NeedsWritebackBytes > a.Total || a.UnreclaimableBytes > a.Total ||
			a.ReclaimableBytes+a.NeedsWritebackBytes+a.UnreclaimableBytes != a.Total {
			t.Fatalf("summaries: reclaimable %d writeback %d unreclaimable %d total %d",
				a.ReclaimableBytes, a.NeedsWritebackBytes, a.UnreclaimableBytes, a.Total)
		}
		if a.GoBytes > a.Total || a.NonGoBytes > a.Total || a.RuntimeReleasableBytes > a.Total {
			t.Fatalf("go %d nongo %d releasable %d total %d", a.GoBytes, a.NonGoBytes, a.RuntimeReleasableBytes, a.Total)
		}
		if h := a.Headroom; h.HasLimit && (h.Limit >= 1<<62 || h.UsagePercent < 0) {
			t.Fatalf("headroom %+v", h)
		}
		// No NaN or infinity reaches a snapshot: its JSON never fails.
		h := a.Headroom
		for _, x := range []float64{h.UsagePercent, h.WorkingSetPercent} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("headroom %+v", h)
			}
		}
		if (h.HasUsagePercent || h.HasWorkingSetPercent) && (!h.HasLimit || h.Limit == 0) ||
			h.HasWorkingSetPercent && flags&128 != 0 {
			t.Fatalf("percentages without a base: %+v", h)
		}
		s.Attribution = a
		if _, err := s.MarshalJSON(); err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
	})
}

// TestAttributeCapped: a part is marked Capped exactly when it got less
// than its source reported.
func TestAttributeCapped(t *testing.T) {
	overcount := v2Stats()
	overcount.Usage = 800 * mi
	anonOver := v2Stats()
	anonOver.Usage = 500 * mi
	for _, tc := range []struct {
		name string
		snap *Snapshot
		want []PartID
	}{
		{"nothing capped", &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(v2Stats())}, nil},
		// Own anon 300 of Go's 336: go_heap_free gets 4 of 40.
		{"Go above own anon", &Snapshot{Go: baseGo(), Process: proc(330, 30, 28, 2), Cgroup: cg(v2Stats())},
			[]PartID{PartGoHeapFree}},
		// Anon 100: stacks 8, live 92 of 200, the rest nothing.
		{"Go above RSS anon", &Snapshot{Go: baseGo(), Process: proc(130, 30, 30, 0)},
			[]PartID{PartGoHeapLive, PartGoHeapUnused, PartGoHeapFragmentation, PartGoHeapFree, PartGoRuntimeMetadata, PartGoRuntimeOther}},
		// 115 left for page cache: active 115 of 150, inactive 0 of 120.
		{"memory.stat ahead of usage", &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(overcount)},
			[]PartID{PartPageCacheActive, PartPageCacheInactive}},
		// Anon 600 > usage 500: other processes get the 10 MiB left after
		// own 490, and nothing else fits.
		{"anon above usage", &Snapshot{Go: baseGo(), Process: proc(520, 30, 28, 2), Cgroup: cg(anonOver)},
			[]PartID{PartOtherProcesses, PartShmem, PartKernel, PartKernelSlabReclaimable, PartPageCacheActive, PartPageCacheInactive}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Attribute(tc.snap)
			want := map[PartID]bool{}
			for _, id := range tc.want {
				want[id] = true
			}
			for _, p := range a.Parts {
				if p.Capped != want[p.ID] {
					t.Errorf("%s (%d MiB): capped %v, want %v", p.Name(), p.Bytes/mi, p.Capped, want[p.ID])
				}
			}
		})
	}
}
