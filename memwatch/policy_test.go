package memwatch

import (
	"fmt"
	"math"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

const pMiB = 1 << 20

// polIn describes a synthetic snapshot for the policy tests; sizes in MiB.
type polIn struct {
	limit, high uint64 // cgroup limits; 0 = unlimited
	v1          bool   // cgroup v1 (no reclaimable-slab split)
	noCgroup    bool   // cgroup view unavailable
	host        uint64 // host MemTotal; 0 = host view unavailable

	live, free, overhead uint64 // Go: live heap, heap/free, non-heap runtime memory

	nonGo, other, shmem, kernel, slabR, active, inactive uint64
}

// polSnap builds a consistent snapshot: the process's resident anon is the
// Go runtime's Retained plus nonGo, the cgroup's anon adds other processes,
// its usage is anon + file + kernel, so Attribute names every input.
func polSnap(in polIn) *Snapshot {
	s := new(Snapshot)
	g := &s.Go
	g.HeapLive = in.live * pMiB
	g.HeapObjects = in.live * pMiB
	g.HeapFree = in.free * pMiB
	g.HeapStacks = in.overhead * pMiB / 2
	g.MetadataOther = in.overhead*pMiB - g.HeapStacks
	g.Total = (in.live + in.free + in.overhead) * pMiB
	g.HeapGoal = 2 * g.HeapLive
	g.GOGC = 100
	g.GOMEMLIMIT = math.MaxInt64
	g.GCCycles = 5
	g.Present = ^GoFields(0)

	const shared = 10 * pMiB
	ownAnon := g.Retained() + in.nonGo*pMiB
	s.Process.Available = true
	s.Process.Statm.Resident = ownAnon + shared
	s.Process.Statm.Shared = shared

	if in.host > 0 {
		s.Host = HostStats{ViewStatus: ViewStatus{Available: true}, MemTotal: in.host * pMiB}
	}
	if in.noCgroup {
		s.Cgroup.Err = cgroupstat.ErrNoCgroup
		return s
	}
	lim := func(v uint64) uint64 {
		if v == 0 {
			return cgroupstat.Unlimited
		}
		return v * pMiB
	}
	st := cgroupstat.Stats{Version: cgroupstat.V2, Limit: lim(in.limit), LimitRaw: lim(in.limit),
		High: lim(in.high), HighRaw: lim(in.high), Full: true}
	st.Stat = cgroupstat.MemStat{
		Anon:         ownAnon + in.other*pMiB,
		File:         (in.shmem + in.active + in.inactive) * pMiB,
		Shmem:        in.shmem * pMiB,
		ActiveFile:   in.active * pMiB,
		InactiveFile: in.inactive * pMiB,
		Kernel:       (in.kernel + in.slabR) * pMiB,
		Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatShmem |
			cgroupstat.StatActiveFile | cgroupstat.StatInactiveFile | cgroupstat.StatKernel,
	}
	if in.v1 {
		st.Version, st.High, st.HighRaw = cgroupstat.V1, cgroupstat.Unlimited, cgroupstat.Unlimited
	} else {
		st.Stat.SlabReclaimable = in.slabR * pMiB
		st.Stat.Present |= cgroupstat.StatSlabReclaimable
	}
	st.Usage = st.Stat.Anon + st.Stat.File + st.Stat.Kernel
	st.WorkingSet = st.Usage - st.Stat.InactiveFile
	s.Cgroup = CgroupStats{ViewStatus: ViewStatus{Available: true}, Stats: st}
	return s
}

// design6 is the OOM lab case (docs/ARCHITECTURE.md, "OOM lab findings"): 256 MiB limit, 60 MiB of non-Go memory.
var design6 = polIn{limit: 256, live: 100, overhead: 8, nonGo: 60}

func TestMemLimitPolicyDecide(t *testing.T) {
	def := DefaultMemLimitPolicy()
	fallback := def
	fallback.FallbackToHostRAM = true
	near := design6
	near.live = 170
	v1 := design6
	v1.v1 = true
	tests := []struct {
		name   string
		pol    MemLimitPolicy
		in     polIn
		limit  uint64 // bytes
		set    bool
		source LimitSource
		bound  LimitBound
		eff    uint64 // bytes
		nonGo  uint64 // MiB
	}{
		{name: "no limit", pol: def, in: polIn{live: 100, overhead: 8, nonGo: 60, host: 8192},
			limit: NoMemLimit, source: SourceNone, bound: BoundNone},
		{name: "no limit, fallback without host view", pol: fallback, in: polIn{live: 100, overhead: 8},
			limit: NoMemLimit, source: SourceNone, bound: BoundNone},
		{name: "no limit, host fallback", pol: fallback, in: polIn{live: 100, overhead: 8, nonGo: 60, host: 8192},
			limit: 8192*pMiB - 60*pMiB - 858993460, set: true, source: SourceHostMemTotal, bound: BoundBudget,
			eff: 8192 * pMiB, nonGo: 60},
		{name: "no cgroup view, host fallback", pol: fallback, in: polIn{noCgroup: true, live: 100, overhead: 8, nonGo: 60, host: 8192},
			limit: 8192*pMiB - 60*pMiB - 858993460, set: true, source: SourceHostMemTotal, bound: BoundBudget,
			eff: 8192 * pMiB, nonGo: 60},
		{name: "OOM lab case: 60 MiB non-Go in 256 MiB", pol: def, in: design6,
			limit: 256*pMiB - 60*pMiB - 26843546, set: true, source: SourceCgroupMax, bound: BoundBudget,
			eff: 256 * pMiB, nonGo: 60},
		{name: "OOM lab case on v1", pol: def, in: v1,
			limit: 256*pMiB - 60*pMiB - 26843546, set: true, source: SourceCgroupMax, bound: BoundBudget,
			eff: 256 * pMiB, nonGo: 60},
		{name: "memory.high below max", pol: def, in: polIn{limit: 1024, high: 512, live: 100, overhead: 8},
			limit: 512*pMiB - 53687092, set: true, source: SourceCgroupHigh, bound: BoundBudget, eff: 512 * pMiB},
		{name: "memory.high above max", pol: def, in: polIn{limit: 512, high: 1024, live: 100, overhead: 8},
			limit: 512*pMiB - 53687092, set: true, source: SourceCgroupMax, bound: BoundBudget, eff: 512 * pMiB},
		{name: "memory.high only", pol: def, in: polIn{high: 512, live: 100, overhead: 8},
			limit: 512*pMiB - 53687092, set: true, source: SourceCgroupHigh, bound: BoundBudget, eff: 512 * pMiB},
		{name: "other processes, shmem, kernel subtracted; slab and page cache not",
			pol: def, in: polIn{limit: 1024, live: 100, overhead: 8, other: 100, shmem: 20, kernel: 30, slabR: 15, active: 40, inactive: 60},
			limit: 1024*pMiB - 150*pMiB - 107374183, set: true, source: SourceCgroupMax, bound: BoundBudget,
			eff: 1024 * pMiB, nonGo: 150},
		{name: "slack bytes win in a small limit", pol: def, in: polIn{limit: 64, live: 10, overhead: 4},
			limit: 56 * pMiB, set: true, source: SourceCgroupMax, bound: BoundBudget, eff: 64 * pMiB},
		{name: "live heap near the limit: floor wins", pol: def, in: near,
			limit: 196083712 + 8*pMiB, set: true, source: SourceCgroupMax, bound: BoundFloor, eff: 256 * pMiB, nonGo: 60},
		{name: "non-Go above the limit: floor wins", pol: def, in: polIn{limit: 256, live: 20, overhead: 8, nonGo: 300},
			limit: 23068672 + 8*pMiB, set: true, source: SourceCgroupMax, bound: BoundFloor, eff: 256 * pMiB, nonGo: 300},
		{name: "zero policy: no slack, no margin", pol: MemLimitPolicy{}, in: design6,
			limit: 196 * pMiB, set: true, source: SourceCgroupMax, bound: BoundBudget, eff: 256 * pMiB, nonGo: 60},
		{name: "invalid ratios ignored", pol: MemLimitPolicy{SlackRatio: math.NaN(), MinHeadroomOverLive: -1}, in: near,
			limit: 196 * pMiB, set: true, source: SourceCgroupMax, bound: BoundBudget, eff: 256 * pMiB, nonGo: 60},
		{name: "ratio ≥ 1 ignored", pol: MemLimitPolicy{SlackBytes: pMiB, SlackRatio: 1}, in: design6,
			limit: 195 * pMiB, set: true, source: SourceCgroupMax, bound: BoundBudget, eff: 256 * pMiB, nonGo: 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := polSnap(tc.in)
			d := tc.pol.Decide(s)
			if d.Limit != tc.limit || d.Set != tc.set || d.Source != tc.source || d.Bound != tc.bound {
				t.Fatalf("got Limit %d Set %v Source %v Bound %v, want %d %v %v %v (%+v)",
					d.Limit, d.Set, d.Source, d.Bound, tc.limit, tc.set, tc.source, tc.bound, d)
			}
			if d.Reason == "" || d.Reason != memLimitReasons[tc.source][tc.bound] {
				t.Errorf("Reason %q", d.Reason)
			}
			if !tc.set {
				if d.Budget != NoMemLimit || d.Effective != 0 {
					t.Errorf("unset decision: Budget %d Effective %d", d.Budget, d.Effective)
				}
				return
			}
			if d.Effective != tc.eff || d.NonGoUnreclaimable != tc.nonGo*pMiB {
				t.Errorf("Effective %d NonGoUnreclaimable %d, want %d %d", d.Effective, d.NonGoUnreclaimable, tc.eff, tc.nonGo*pMiB)
			}
			// Invariants of the formula.
			if want := satSub(satSub(d.Effective, d.NonGoUnreclaimable), d.Slack); d.Budget != want {
				t.Errorf("Budget %d, want %d", d.Budget, want)
			}
			if d.Limit < d.Floor || d.Limit < d.Budget {
				t.Errorf("Limit %d below Floor %d or Budget %d", d.Limit, d.Floor, d.Budget)
			}
			if (d.Bound == BoundBudget) != (d.Limit == d.Budget) {
				t.Errorf("Bound %v but Limit %d Budget %d Floor %d", d.Bound, d.Limit, d.Budget, d.Floor)
			}
		})
	}
}

// TestMemLimitPolicyDesign6 checks the OOM lab bound (docs/ARCHITECTURE.md, "OOM lab findings") explicitly: with
// 60 MiB of non-Go memory in a 256 MiB cgroup the limit is at most
// 256 − 60 − 10% MiB, far below automemlimit's static 90% (230 MiB).
func TestMemLimitPolicyDesign6(t *testing.T) {
	d := DefaultMemLimitPolicy().Decide(polSnap(design6))
	if max := uint64(178677350); d.Limit > max { // (256 − 60 − 25.6) MiB
		t.Fatalf("Limit %d > %d", d.Limit, max)
	}
	if static := uint64(241591910); d.Limit > static-60*pMiB { // 90% of 256 MiB
		t.Fatalf("Limit %d does not subtract the non-Go memory (static 90%% = %d)", d.Limit, static)
	}
}

// TestMemLimitPolicyPageCache: page cache (and reclaimable slab) the kernel
// drops before an OOM kill must not lower the limit, however large.
func TestMemLimitPolicyPageCache(t *testing.T) {
	pol := DefaultMemLimitPolicy()
	base := pol.Decide(polSnap(design6))
	for _, pc := range []struct{ active, inactive, slabR uint64 }{{20, 50, 0}, {0, 80, 0}, {60, 20, 10}} {
		in := design6
		in.active, in.inactive, in.slabR = pc.active, pc.inactive, pc.slabR
		s := polSnap(in)
		if s.Cgroup.Stats.Usage <= 230*pMiB {
			t.Fatalf("fixture: usage %d MiB should look critical", s.Cgroup.Stats.Usage/pMiB)
		}
		d := pol.Decide(s)
		if d.Limit != base.Limit || d.NonGoUnreclaimable != base.NonGoUnreclaimable || d.Bound != base.Bound {
			t.Errorf("page cache %+v changed the decision: %+v, want %+v", pc, d, base)
		}
	}
	// Shmem is page cache too, but cannot be dropped: it must lower it.
	in := design6
	in.shmem = 20
	if d := pol.Decide(polSnap(in)); d.Limit != base.Limit-20*pMiB {
		t.Errorf("shmem 20 MiB: Limit %d, want %d", d.Limit, base.Limit-20*pMiB)
	}
}

// TestMemLimitPolicyStaleAttribution: Decide recomputes the attribution.
func TestMemLimitPolicyStaleAttribution(t *testing.T) {
	s := polSnap(design6)
	want := DefaultMemLimitPolicy().Decide(s)
	s.Attribution = Attribution{} // as a hand-built snapshot would have it
	if got := DefaultMemLimitPolicy().Decide(s); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestGOGCPolicyDecide(t *testing.T) {
	def := DefaultGOGCPolicy()
	tests := []struct {
		name     string
		pol      GOGCPolicy
		live     uint64 // MiB
		overhead uint64 // MiB
		limit    uint64 // bytes
		want     int
	}{
		{"no limit", def, 100, 0, NoMemLimit, 100},
		{"zero limit means none", def, 100, 0, 0, 100},
		{"no limit, Min above 100", GOGCPolicy{Min: 150, Max: 300}, 100, 0, NoMemLimit, 150},
		{"no limit, Max below 100", GOGCPolicy{Min: 10, Max: 50}, 100, 0, NoMemLimit, 50},
		{"headroom 2× live", def, 100, 0, 300 * pMiB, 200},
		{"far from the limit: Max", def, 100, 0, 1000 * pMiB, 400},
		{"close to the limit: Min", def, 100, 0, 110 * pMiB, 25},
		{"at the limit: Min", def, 100, 0, 100 * pMiB, 25},
		{"over the limit: Min", def, 100, 0, 90 * pMiB, 25},
		{"non-heap memory counts", def, 100, 50, 300 * pMiB, 150},
		{"non-heap memory eats the headroom", def, 100, 200, 300 * pMiB, 25},
		{"before the first GC: Max", def, 0, 8, 300 * pMiB, 400},
		{"zero policy takes defaults", GOGCPolicy{}, 100, 0, 1000 * pMiB, 400},
		{"zero policy Min", GOGCPolicy{}, 100, 0, 101 * pMiB, 25},
		{"Max below Min", GOGCPolicy{Min: 50, Max: 10}, 100, 0, 1000 * pMiB, 50},
		{"custom bounds", GOGCPolicy{Min: 10, Max: 1000}, 100, 0, 1000 * pMiB, 900},
		{"custom Max", GOGCPolicy{Min: 10, Max: 1000}, 100, 0, 2000 * pMiB, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := polSnap(polIn{live: tc.live, overhead: tc.overhead})
			if got := tc.pol.Decide(s, tc.limit); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// TestGOGCPolicyMonotonic: GOGC never rises as the live heap grows toward
// a fixed budget, and stays within [Min, Max].
func TestGOGCPolicyMonotonic(t *testing.T) {
	pol := DefaultGOGCPolicy()
	prev := math.MaxInt
	for live := uint64(1); live <= 300; live++ {
		got := pol.Decide(polSnap(polIn{live: live, overhead: 8}), 256*pMiB)
		if got > prev || got < pol.Min || got > pol.Max {
			t.Fatalf("live %d MiB: GOGC %d (previous %d)", live, got, prev)
		}
		prev = got
	}
	if prev != pol.Min {
		t.Fatalf("live above the budget: GOGC %d, want Min", prev)
	}
}

func TestShedAdvice(t *testing.T) {
	// OOM lab budget: 256 MiB − 60 MiB − 10%.
	const budget6 = 256*pMiB - 60*pMiB - 26843546
	type mod func(g *GoStats)
	goal := func(mib uint64) mod { return func(g *GoStats) { g.HeapGoal = mib * pMiB } }
	tests := []struct {
		name     string
		live     uint64 // MiB
		limit    uint64 // bytes passed to ShedAdvice
		mods     []mod
		triggers ShedTrigger
		wontFit  bool
		shed     bool
		reason   string
	}{
		{name: "no limit", live: 250, limit: NoMemLimit, reason: shedReasonNoLimit},
		{name: "zero limit, no GOMEMLIMIT", live: 250, limit: 0, reason: shedReasonNoLimit},
		{name: "fits", live: 50, limit: budget6, reason: shedReasonOK},
		{name: "fits with runtime GOMEMLIMIT", live: 50, limit: 0,
			mods: []mod{func(g *GoStats) { g.GOMEMLIMIT = 158 * pMiB }}, reason: shedReasonOK},
		{name: "near budget", live: 140, limit: budget6,
			triggers: ShedNearBudget, shed: true, reason: shedReasonNear},
		{name: "near the runtime's GOMEMLIMIT", live: 130, limit: 0,
			mods:     []mod{func(g *GoStats) { g.GOMEMLIMIT = 158 * pMiB }},
			triggers: ShedNearBudget, shed: true, reason: shedReasonNear},
		{name: "won't fit", live: 200, limit: budget6,
			triggers: ShedWontFit | ShedNearBudget, wontFit: true, shed: true, reason: shedReasonWontFit},
		{name: "live exactly the heap budget", live: 150, limit: 158 * pMiB,
			triggers: ShedWontFit | ShedNearBudget, wontFit: true, shed: true, reason: shedReasonWontFit},
		{name: "goal pinned", live: 110, limit: 158 * pMiB, mods: []mod{goal(140)},
			triggers: ShedGoalPinned, shed: true, reason: shedReasonPinned},
		{name: "goal pinned by a lower runtime limit", live: 110, limit: 1024 * pMiB, mods: []mod{goal(140)},
			triggers: ShedGoalPinned, reason: shedReasonPinned},
		{name: "goal pinned with room left", live: 110, limit: 1024 * pMiB, mods: []mod{goal(180)},
			reason: shedReasonOK},
		{name: "goal below GOGC goal with GOGC off", live: 110, limit: 158 * pMiB,
			mods: []mod{goal(140), func(g *GoStats) { g.GOGC = -1 }}, reason: shedReasonOK},
		{name: "goal missing", live: 110, limit: 158 * pMiB,
			mods: []mod{goal(140), func(g *GoStats) { g.Present &^= GoHeapGoal }}, reason: shedReasonOK},
		{name: "GC CPU high, live heap large", live: 300, limit: 408 * pMiB,
			mods:     []mod{func(g *GoStats) { g.GCCPUFraction, g.GCCPUWindowSeconds = 0.45, 2 }},
			triggers: ShedGCCPU, shed: true, reason: shedReasonGCCPU},
		{name: "GC CPU high, live heap small", live: 100, limit: 408 * pMiB,
			mods:     []mod{func(g *GoStats) { g.GCCPUFraction, g.GCCPUWindowSeconds = 0.45, 2 }},
			triggers: ShedGCCPU, reason: shedReasonCPUNoHelp},
		{name: "GC CPU high but no window", live: 300, limit: 408 * pMiB,
			mods: []mod{func(g *GoStats) { g.GCCPUFraction, g.GCCPUWindowSeconds = 0.45, 0 }}, reason: shedReasonOK},
		{name: "GC CPU moderate", live: 300, limit: 408 * pMiB,
			mods: []mod{func(g *GoStats) { g.GCCPUFraction, g.GCCPUWindowSeconds = 0.30, 2 }}, reason: shedReasonOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := polSnap(polIn{live: tc.live, overhead: 8})
			for _, m := range tc.mods {
				m(&s.Go)
			}
			sig := ShedAdvice(s, tc.limit)
			if sig.Triggers != tc.triggers || sig.WontFit != tc.wontFit || (sig.Bytes > 0) != tc.shed || sig.Reason != tc.reason {
				t.Fatalf("got %+v, want triggers %b wontFit %v shed %v reason %q", sig, tc.triggers, tc.wontFit, tc.shed, tc.reason)
			}
			if sig.Reason == shedReasonNoLimit {
				if sig.HeapBudget != NoMemLimit || sig.Bytes != 0 {
					t.Fatalf("no limit: %+v", sig)
				}
				return
			}
			limit := tc.limit
			if limit == 0 {
				limit = uint64(s.Go.GOMEMLIMIT)
			}
			if sig.HeapBudget != limit-8*pMiB {
				t.Errorf("HeapBudget %d, want %d", sig.HeapBudget, limit-8*pMiB)
			}
			if want := sig.HeapBudget * 2 / 3; sig.TargetLive+1 < want || sig.TargetLive > want+1 {
				t.Errorf("TargetLive %d, want ≈ %d", sig.TargetLive, want)
			}
			if sig.Triggers != 0 && sig.Bytes != satSub(tc.live*pMiB, sig.TargetLive) {
				t.Errorf("Bytes %d, want live − target %d", sig.Bytes, satSub(tc.live*pMiB, sig.TargetLive))
			}
			if sig.Bytes > 0 {
				// After shedding, the near-budget rule no longer fires.
				after := polSnap(polIn{live: 0, overhead: 8})
				after.Go.HeapLive = tc.live*pMiB - sig.Bytes
				if got := ShedAdvice(after, limit); got.Triggers&(ShedNearBudget|ShedWontFit) != 0 {
					t.Errorf("after shedding %d bytes still %+v", sig.Bytes, got)
				}
			}
		})
	}
}

// TestShedAdviceFloorCase ties the rules together on the OOM lab shape (docs/ARCHITECTURE.md, "OOM lab findings") with
// a live heap near the limit: the limit policy's floor wins, the GOGC policy
// drops to Min and ShedAdvice, judged against the budget, asks for shedding.
func TestShedAdviceFloorCase(t *testing.T) {
	in := design6
	in.live = 150
	s := polSnap(in)
	d := DefaultMemLimitPolicy().Decide(s)
	if d.Bound != BoundFloor {
		t.Fatalf("want the floor to win: %+v", d)
	}
	if g := DefaultGOGCPolicy().Decide(s, d.Budget); g != DefaultGOGCMin {
		t.Errorf("GOGC %d, want Min", g)
	}
	sig := ShedAdvice(s, d.Budget)
	if sig.Bytes == 0 || sig.WontFit || sig.Triggers&ShedNearBudget == 0 {
		t.Errorf("want shed advice without WontFit: %+v", sig)
	}
	// Against the floor-raised Limit instead, the same heap looks fine for
	// longer: which is why Budget is what to pass.
	if sig2 := ShedAdvice(s, d.Limit); sig2.Bytes >= sig.Bytes {
		t.Errorf("Limit-based advice %d ≥ Budget-based %d", sig2.Bytes, sig.Bytes)
	}
}

func TestFreeOSMemoryWorthIt(t *testing.T) {
	tests := []struct {
		name    string
		free    uint64 // MiB
		min     uint64 // bytes
		missing bool
		want    bool
	}{
		{"above", 64, 32 * pMiB, false, true},
		{"equal", 64, 64 * pMiB, false, true},
		{"below", 64, 64*pMiB + 1, false, false},
		{"nothing free", 0, 0, false, false},
		{"min zero", 1, 0, false, true},
		{"metric missing", 64, 0, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := polSnap(polIn{live: 100, free: tc.free, overhead: 8})
			if tc.missing {
				s.Go.Present &^= GoHeapFree
			}
			if got := FreeOSMemoryWorthIt(s, tc.min); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyStrings(t *testing.T) {
	for v, want := range map[fmt.Stringer]string{
		SourceNone: "none", SourceCgroupMax: "cgroup_max", SourceCgroupHigh: "cgroup_high",
		SourceHostMemTotal: "host_memtotal", LimitSource(9): "invalid",
		BoundNone: "none", BoundBudget: "budget", BoundFloor: "floor", LimitBound(9): "invalid",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v: %q, want %q", v, got, want)
		}
	}
}

func TestPolicyAllocs(t *testing.T) {
	if snapshotRace {
		t.Skip("the race runtime allocates on its own")
	}
	s := polSnap(polIn{limit: 256, live: 145, free: 20, overhead: 8, nonGo: 60, shmem: 5, kernel: 10, active: 10})
	s.Go.GCCPUFraction, s.Go.GCCPUWindowSeconds = 0.5, 1
	mp, gp := DefaultMemLimitPolicy(), DefaultGOGCPolicy()
	var d MemLimitDecision
	var sig ShedSignal
	var g int
	var ok bool
	if n := testing.AllocsPerRun(200, func() {
		d = mp.Decide(s)
		g = gp.Decide(s, d.Budget)
		sig = ShedAdvice(s, d.Budget)
		ok = FreeOSMemoryWorthIt(s, 1)
	}); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
	if !d.Set || g != DefaultGOGCMin || sig.Bytes == 0 || !ok {
		t.Fatalf("unexpected results: %+v %d %+v %v", d, g, sig, ok)
	}
}

func BenchmarkMemLimitPolicyDecide(b *testing.B) {
	s := polSnap(polIn{limit: 256, live: 100, overhead: 8, nonGo: 60, shmem: 5, kernel: 10, active: 10})
	p := DefaultMemLimitPolicy()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Decide(s)
	}
}

func BenchmarkShedAdvice(b *testing.B) {
	s := polSnap(polIn{limit: 256, live: 145, overhead: 8, nonGo: 60})
	b.ReportAllocs()
	for b.Loop() {
		_ = ShedAdvice(s, 170*pMiB)
	}
}

// ExampleMemLimitPolicy_Decide shows the OOM lab case (docs/ARCHITECTURE.md, "OOM lab findings"): a 256 MiB cgroup
// with 60 MiB of memory the Go runtime does not govern.
func ExampleMemLimitPolicy_Decide() {
	const MiB = 1 << 20
	// Normally from Sampler.Sample; built by hand here.
	s := &Snapshot{}
	s.Go = GoStats{HeapLive: 100 * MiB, HeapObjects: 100 * MiB, HeapStacks: 4 * MiB, MetadataOther: 4 * MiB,
		Total: 108 * MiB, Present: GoHeapLive | GoHeapObjects | GoHeapStacks | GoMetadataOther | GoTotal}
	s.Process.Available = true
	s.Process.Statm.Resident = (108 + 60) * MiB // Go's 108 MiB + 60 MiB of cgo/mmap memory
	s.Cgroup.Available = true
	s.Cgroup.Stats = cgroupstat.Stats{Version: cgroupstat.V2, Limit: 256 * MiB, High: cgroupstat.Unlimited,
		Usage: (168 + 30) * MiB, Stat: cgroupstat.MemStat{Anon: 168 * MiB, File: 30 * MiB, ActiveFile: 30 * MiB,
			Present: cgroupstat.StatAnon | cgroupstat.StatFile | cgroupstat.StatActiveFile}}

	d := DefaultMemLimitPolicy().Decide(s)
	fmt.Printf("GOMEMLIMIT %.1f MiB (%s)\n", float64(d.Limit)/MiB, d.Bound)
	fmt.Printf("effective %d MiB, non-Go %d MiB, slack %.1f MiB, floor %.1f MiB\n",
		d.Effective/MiB, d.NonGoUnreclaimable/MiB, float64(d.Slack)/MiB, float64(d.Floor)/MiB)
	fmt.Println("GOGC", DefaultGOGCPolicy().Decide(s, d.Budget))
	fmt.Println("shed bytes", ShedAdvice(s, d.Budget).Bytes)
	// Output:
	// GOMEMLIMIT 170.4 MiB (budget)
	// effective 256 MiB, non-Go 60 MiB, slack 25.6 MiB, floor 118.0 MiB
	// GOGC 62
	// shed bytes 0
}

// TestMemLimitFloorBeforeFirstGC: /gc/heap/live reads 0 until the first GC
// ends, while the heap holds objects; the floor must then stand on the heap
// in use, not on 0 (a 64 MiB heap once got a 50.8 MiB GOMEMLIMIT).
func TestMemLimitFloorBeforeFirstGC(t *testing.T) {
	s := polSnap(polIn{limit: 100, live: 64, free: 2, overhead: 4, nonGo: 30})
	s.Go.HeapLive, s.Go.GCCycles = 0, 0
	d := DefaultMemLimitPolicy().Decide(s)
	if want := uint64(64*pMiB) * 11 / 10; d.Floor < want || d.Limit < 64*pMiB {
		t.Fatalf("before the first GC: floor %d, limit %d; want the floor ≥ %d (heap in use × 1.1)", d.Floor, d.Limit, want)
	}
	s.Go.GCCycles = 1 // after a GC, /gc/heap/live is the live heap, even 0
	if d := DefaultMemLimitPolicy().Decide(s); d.Floor >= 64*pMiB {
		t.Fatalf("after a GC with live 0: floor %d still counts heap objects", d.Floor)
	}
}
