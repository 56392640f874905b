package main

import (
	"fmt"
	"strings"
	"time"
)

// Policies the lab compares.
const (
	policyNone     = "none"          // no tuning: GOGC=100, no GOMEMLIMIT
	policyStatic   = "static90"      // automemlimit: GOMEMLIMIT = 90% of the cgroup limit, once at start
	policyMemwatch = "memwatch"      // memwatch: adaptive GOMEMLIMIT, shed callback, FreeOSMemory at critical
	policyMWGOGC   = "memwatch-gogc" // memwatch as above plus adaptive GOGC
)

var allPolicies = []string{policyNone, policyStatic, policyMemwatch, policyMWGOGC}

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
	// NeedsShed says the live data cannot fit with a sane GC cost: the
	// scenario is about shedding in time, so shedding is not held against
	// memwatch there. (The application sheds cache when asked in every
	// scenario; only memwatch asks.)
	NeedsShed bool
	// What says it in words, for the legend under the table.
	What string
}

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
	Policy        string
	CgroupDir     string        // the worker joins it first thing
	Limit         uint64        // L, the limit the run ends with
	Duration      time.Duration // the whole run
	Garbage       int           // bytes of short-lived garbage per request
	PageCacheFile string        // for PageCache scenarios
	Interval      time.Duration // memwatch's nominal sampling interval
}

// envWorker names the variable that makes the program a worker.
const envWorker = "OOMLAB_WORKER"

// progress is what a worker reports on stdout, one JSON line every
// reportEvery and a final one with Done set. The lab keeps the last line it
// got, so a killed worker still leaves its progress.
type progress struct {
	Elapsed    time.Duration `json:"elapsed_ns"`
	Steady     bool          `json:"steady"`      // the numbers below cover the steady phase (after the ramp)
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
	LimitSeen int64  `json:"limit_seen_unix_ns"`
	Done      bool   `json:"done"`
	Err       string `json:"error,omitempty"`
}

const reportEvery = 100 * time.Millisecond
