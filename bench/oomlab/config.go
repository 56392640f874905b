package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policies the lab compares (the base of a policy spec, see parsePolicy).
const (
	policyNone     = "none"            // no tuning: GOGC=100, no GOMEMLIMIT
	policyStatic   = "static90"        // automemlimit: GOMEMLIMIT = 90% of the cgroup limit, once at start
	policyMemwatch = "memwatch"        // memwatch: adaptive GOMEMLIMIT, shed callback, FreeOSMemory at critical
	policyNoShed   = "memwatch-noshed" // memwatch as above, but the application never sheds (no OnShed)
	policyMWGOGC   = "memwatch-gogc"   // memwatch as above plus adaptive GOGC
)

var allPolicies = []string{policyNone, policyStatic, policyMemwatch, policyNoShed, policyMWGOGC}

// policy is one column of the comparison: a base policy and, for memwatch,
// the knobs the limit-cut study turns. Its spec is
// base[/pc=DURATION][/iv=DURATION][/ev=0][/aim=FRACTION]:
//
//	pc=10ms   WithPollCheck(10ms) (pc=0 turns the usage/limit check off;
//	          without pc the library default)
//	iv=50ms   WithInterval(50ms): a sample, which re-reads the limit, at
//	          least every 50 ms (default -interval)
//	ev=0      WithEvents(false): no kernel wake-ups; the Watcher sleeps on
//	          a Go timer instead of in ppoll(2)
//	aim=0.7   memwatch-gogc only: GOGC is chosen by GOGCPolicy.Decide against
//	          0.7 × the memory budget instead of the whole budget (the lab
//	          applies it on every new snapshot, as the library would)
type policy struct {
	Name         string        // the spec as given: the table's label
	Base         string        // one of allPolicies
	PollCheck    time.Duration // with HasPollCheck
	HasPollCheck bool
	Interval     time.Duration // 0: the lab's -interval
	NoEvents     bool
	Aim          float64 // 0: the library's adaptive GOGC
}

func (p policy) memwatch() bool { return strings.HasPrefix(p.Base, policyMemwatch) }
func (p policy) sheds() bool    { return p.Base == policyMemwatch || p.Base == policyMWGOGC }
func (p policy) gogc() bool     { return p.Base == policyMWGOGC }

// parsePolicy parses a policy spec (see policy).
func parsePolicy(spec string) (policy, error) {
	parts := strings.Split(strings.TrimSpace(spec), "/")
	p := policy{Name: strings.TrimSpace(spec), Base: parts[0]}
	if !slices.Contains(allPolicies, p.Base) {
		return p, fmt.Errorf("unknown policy %q (known: %s)", p.Base, strings.Join(allPolicies, ", "))
	}
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		var err error
		switch {
		case k == "pc" && p.memwatch():
			p.HasPollCheck = true
			if v != "0" {
				p.PollCheck, err = time.ParseDuration(v)
			}
			if err == nil && p.PollCheck < 0 {
				err = errors.New("negative")
			}
		case k == "iv" && p.memwatch():
			p.Interval, err = time.ParseDuration(v)
			if err == nil && p.Interval < 10*time.Millisecond {
				err = errors.New("want at least 10ms (memwatch.MinInterval)")
			}
		case k == "ev" && v == "0" && p.memwatch():
			p.NoEvents = true
		case k == "aim" && p.gogc():
			p.Aim, err = strconv.ParseFloat(v, 64)
			if err == nil && !(p.Aim > 0 && p.Aim <= 1) {
				err = errors.New("want 0 < aim ≤ 1")
			}
		default:
			err = errors.New("unknown option for this policy (pc=, iv= and ev=0 for memwatch policies, aim= for memwatch-gogc)")
		}
		if err != nil {
			return p, fmt.Errorf("policy %q: %s: %w", spec, opt, err)
		}
	}
	return p, nil
}

// parsePolicies parses a comma-separated list of specs.
func parsePolicies(list string) ([]policy, error) {
	var out []policy
	for _, spec := range strings.Split(list, ",") {
		p, err := parsePolicy(spec)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(q policy) bool { return q.Name == p.Name }) {
			return nil, fmt.Errorf("policy %q listed twice", p.Name)
		}
		out = append(out, p)
	}
	return out, nil
}

// scenario is one workload shape, sized relative to the cgroup limit L the
// run ends with.
type scenario struct {
	Name string
	// Cache is the live cache target as a fraction of L.
	Cache float64
	// Mmap is non-Go anonymous memory (an mmap the runtime does not see)
	// as a fraction of L, mapped and touched before the cache ramps.
	Mmap float64
	// PageCache turns on page-cache churn: reading and rewriting a file of
	// 2×L on disk, synced often (clean and dirty page cache charged to the
	// cgroup, reclaimable).
	PageCache bool
	// StartLimit, when > 1, starts the run at StartLimit×L and lowers the
	// limit to L at LowerAt (a fraction of the run), as an in-place resize.
	StartLimit float64
	LowerAt    float64
	// High, when > 0, sets memory.high to High×L (cgroup v2 only).
	High float64
	// Sidecar, when > 0, is a second process in the cgroup (a child the
	// worker spawns) whose anonymous memory grows linearly to Sidecar×L
	// between SidecarFrom and SidecarTo (fractions of the run) and stays.
	Sidecar                float64
	SidecarFrom, SidecarTo float64
	// Spike, when > 0, is one request that allocates a buffer of Spike×L at
	// once (and touches it) at SpikeAt, while the cache sits at its steady
	// size, and holds it for SpikeHold (fractions of the run).
	Spike              float64
	SpikeAt, SpikeHold float64
	// NeedsShed says the live data cannot fit with a sane GC cost: the
	// scenario is about shedding in time, so shedding is not held against
	// memwatch there, and memwatch without OnShed is not expected to live.
	// (The application sheds cache when asked in every scenario; only
	// memwatch asks.)
	NeedsShed bool
	// ShedOK says shedding is a fair answer to the scenario (a spike;
	// staying under memory.high, where static90 survives only throttled)
	// though memwatch without OnShed is expected to live: shedding is not
	// held against memwatch.
	ShedOK bool
	// What says it in words, for the legend under the table.
	What string
}

// v2Only says the scenario needs a cgroup v2 file (memory.high).
func (s scenario) v2Only() bool { return s.High > 0 }

// scenarios are the shapes listed in docs/ARCHITECTURE.md, "OOM lab findings". The cache ramps to its target
// over the first half of the run and then turns over.
var scenarios = []scenario{
	{Name: "fits", Cache: 0.35,
		What: "live heap 35% of the limit"},
	{Name: "fits+offheap", Cache: 0.35, Mmap: 0.25,
		What: "same heap plus 25% of the limit in non-Go mmap memory"},
	{Name: "fits+pagecache", Cache: 0.35, PageCache: true,
		What: "same heap plus page-cache churn over a file of twice the limit"},
	{Name: "near-limit", Cache: 0.80, NeedsShed: true,
		What: "the cache wants 80% of the limit: it fits only if the application sheds"},
	{Name: "lowered", Cache: 0.50, StartLimit: 2, LowerAt: 0.20,
		What: "starts at 2× the limit, lowered to it at 20% of the run; heap then grows to 50%"},
	{Name: "lowered-steady", Cache: 0.25, StartLimit: 2, LowerAt: 0.60,
		What: "live heap 25%, steady; starts at 2× the limit, lowered to it at 60% of the run (after the ramp)"},
	{Name: "high", Cache: 0.40, High: 0.80, ShedOK: true,
		What: "memory.high at 80% of memory.max (v2 only); live heap 40% of the limit"},
	{Name: "sidecar", Cache: 0.35, Sidecar: 0.30, SidecarFrom: 0.25, SidecarTo: 0.75,
		What: "live heap 35%; a second process in the cgroup grows to 30% of the limit from 25% to 75% of the run"},
	{Name: "spike", Cache: 0.40, Spike: 0.20, SpikeAt: 0.60, SpikeHold: 0.15, ShedOK: true,
		What: "live heap 40%; at 60% of the run one request allocates 20% of the limit at once and holds it for 15% of the run"},
}

// applicable drops the scenarios this cgroup version cannot run when they
// came from "all", and refuses them when they were named.
func applicable(scns []scenario, fromAll bool, version string) ([]scenario, error) {
	var out []scenario
	for _, s := range scns {
		if s.v2Only() && version != "v2" {
			if !fromAll {
				return nil, fmt.Errorf("scenario %s needs cgroup v2 (memory.high); this is %s", s.Name, version)
			}
			fmt.Fprintf(os.Stderr, "oomlab: skipping %s: it needs cgroup v2 (memory.high)\n", s.Name)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// selectNames parses a comma-separated list ("all" or empty: every known).
func selectNames(list string, known []string) ([]string, error) {
	if list == "" || list == "all" {
		return known, nil
	}
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		ok := false
		for _, k := range known {
			ok = ok || k == n
		}
		if !ok {
			return nil, fmt.Errorf("unknown name %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return names
}

// workerConfig is what the lab hands a worker (JSON in envWorker).
type workerConfig struct {
	Scenario      scenario
	Policy        policy
	CgroupDir     string        // the worker joins it first thing
	Limit         uint64        // L, the limit the run ends with
	Duration      time.Duration // the whole run
	Garbage       int           // bytes of short-lived garbage per request
	PageCacheFile string        // for PageCache scenarios
	Interval      time.Duration // memwatch's nominal sampling interval
}

// envWorker names the variable that makes the program a worker.
const envWorker = "OOMLAB_WORKER"

// envSidecar names the variable that makes the program the sidecar of the
// sidecar scenario (a sidecarConfig in JSON).
const envSidecar = "OOMLAB_SIDECAR"

// sidecarConfig is what a worker hands its sidecar: grow to Bytes of
// anonymous memory between From and To after its start, linearly.
type sidecarConfig struct {
	Bytes    uint64
	From, To time.Duration
}

// progress is what a worker reports on stdout, one JSON line every
// reportEvery and a final one with Done set. The lab keeps the last line it
// got, so a killed worker still leaves its progress.
type progress struct {
	Elapsed    time.Duration `json:"elapsed_ns"`
	Steady     bool          `json:"steady"`      // the numbers below cover the steady phase (after the ramp)
	SteadyWall time.Duration `json:"steady_ns"`   // wall time the numbers below cover
	Ops        uint64        `json:"ops"`         // requests served
	CPU        float64       `json:"cpu_seconds"` // process CPU (user+sys)
	GCCPU      float64       `json:"gc_cpu_fraction"`
	CacheBytes uint64        `json:"cache_bytes"`
	ShedBytes  uint64        `json:"shed_bytes"`
	ShedCalls  uint64        `json:"shed_calls"`
	MemLimit   int64         `json:"gomemlimit_bytes"`
	GOGC       int           `json:"gogc"`
	// LimitSeen is the wall-clock time (Unix ns) at which GOMEMLIMIT first
	// went to or below the lowered limit (0: not yet, or no lowering).
	LimitSeen int64 `json:"limit_seen_unix_ns"`
	// SpikeAt is when the spike request began (Unix ns; 0: none yet),
	// SpikeDone when its buffer was all touched (charged), SpikeLevel memwatch's level just before it, and SpikeWarn and
	// SpikeShed when the first OnLevel to warn or above and the first
	// OnShed reached the application after it (0: none).
	SpikeAt    int64  `json:"spike_unix_ns,omitempty"`
	SpikeDone  int64  `json:"spike_done_unix_ns,omitempty"` // every page of it touched
	SpikeLevel string `json:"spike_level,omitempty"`
	SpikeWarn  int64  `json:"spike_warn_unix_ns,omitempty"`
	SpikeShed  int64  `json:"spike_shed_unix_ns,omitempty"`
	// Actions counts memwatch's actions so far (from its latest snapshot).
	Actions actionCounts `json:"actions"`
	// SidecarGone says how the sidecar ended when it ended before the run.
	SidecarGone string `json:"sidecar_gone,omitempty"`
	Done        bool   `json:"done"`
	Err         string `json:"error,omitempty"`
}

const reportEvery = 100 * time.Millisecond

// actionCounts are memwatch's Actions counters: changes of GOMEMLIMIT and
// GOGC, FreeOSMemory calls, advice to shed.
type actionCounts struct {
	MemLimit     uint64 `json:"gomemlimit_changes"`
	GOGC         uint64 `json:"gogc_changes"`
	FreeOSMemory uint64 `json:"free_os_memory"`
	Shed         uint64 `json:"shed_advisories"`
}
