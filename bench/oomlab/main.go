// Command oomlab is memwatch's OOM benchmark: it runs a service-like
// workload in fresh, real memory cgroups (as root; cgroup v1, or v2 in a
// delegated subtree) under several memory policies side by side, repeats
// every scenario, and prints one table of who survived and at what cost.
//
// The workload is one Go process per run: a live cache of small linked
// entries that ramps to a target size over the first half of the run and
// then turns over, request goroutines (one per GOMAXPROCS) that each make a
// few KiB of short-lived garbage and update the cache, and, per scenario,
// non-Go anonymous memory (mmap), page-cache churn through a real file on
// disk, a second process, or one large request. The application sheds cache
// when memwatch asks it to (the other policies never ask). Scenarios are
// sized relative to the cgroup limit (-limit):
//
//	fits            live heap 35% of the limit
//	fits+offheap    the same plus 25% of the limit in mmap memory
//	fits+pagecache  the same plus page-cache churn over a file of 2× the limit
//	near-limit      the cache wants 80% of the limit
//	lowered         starts at 2× the limit, lowered to it at 20% of the run
//	                (an in-place resize), then the heap grows to 50%
//	lowered-steady  live heap 25%, steady; 2× the limit lowered at 60%
//	high            memory.high at 80% of memory.max (v2 only), live heap 40%
//	sidecar         live heap 35%; a child process in the cgroup grows to 30%
//	spike           live heap 40%; one request allocates 20% at once
//
// Policies (each may carry knobs, see parsePolicy):
//
//	none             no tuning (GOGC=100, no GOMEMLIMIT)
//	static90         github.com/KimMachineGun/automemlimit: GOMEMLIMIT = 90%
//	                 of the cgroup limit, set once at start (its default)
//	memwatch         memwatch.Watcher with WithAdaptiveMemLimit(default
//	                 policy), WithFreeOSMemory and OnShed (the application
//	                 drops cache)
//	memwatch-noshed  the same without OnShed
//	memwatch-gogc    memwatch plus WithAdaptiveGOGC (not run by default)
//
// For each run the table reports requests per second and per CPU-second and
// the GC's share of the CPU over the steady half, the peak cgroup usage
// (v1 memory.max_usage_in_bytes, v2 memory.peak), the cache kept, the bytes
// shed, whether the run was OOM-killed (the oom_kill counter of
// memory.oom_control or memory.events, not only the exit status) and the
// scenario's own numbers: for a lowered limit how long GOMEMLIMIT took to
// follow and whether a kill came inside the lowering write, under
// memory.high the memory.events high count and the PSI stall time, for the
// spike when memwatch's warning and advice to shed reached the application.
// With -check the exit status is 1 when memwatch misses a target (see
// checkTargets).
//
// On cgroup v2 the lab makes oomlab-<pid> beside its own cgroup (or under
// -cgroup), enables the memory controller for its children and starts each
// worker directly in a leaf of it (clone3 CLONE_INTO_CGROUP): the lab itself
// is never inside the subtree, which has no internal processes.
//
// Usage (as root):
//
//	cd bench/oomlab && go run . -reps 10
//	go run . -reps 2 -duration 6s -check   # the short v1 form CI runs
//	scripts/test-oomlab-v2.sh              # the short v2 form, in the QEMU VM
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

type options struct {
	reps         int
	limit        uint64
	duration     time.Duration
	garbage      int
	interval     time.Duration
	scenarios    []scenario
	allScenarios bool // every scenario ("all"): those the cgroup version cannot run are skipped
	policies     []policy
	dir          string
	cgroup       string
	check        bool
	minSurvival  float64
	verbose      bool
}

func main() {
	if raw, ok := os.LookupEnv(envWorker); ok {
		os.Exit(runWorker(raw))
	}
	if raw, ok := os.LookupEnv(envSidecar); ok {
		os.Exit(runSidecar(raw))
	}
	var o options
	var limitMiB uint64
	var scnList, polList string
	flag.IntVar(&o.reps, "reps", 10, "repetitions of every scenario under every policy")
	flag.Uint64Var(&limitMiB, "limit", 256, "cgroup memory limit in MiB (scenarios scale with it)")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "length of one run (the cache ramps over the first half)")
	flag.IntVar(&o.garbage, "garbage", 8<<10, "bytes of short-lived garbage per request")
	flag.DurationVar(&o.interval, "interval", time.Second, "memwatch's nominal sampling interval")
	flag.StringVar(&scnList, "scenarios", "all", "comma-separated scenarios: "+fmt.Sprint(scenarioNames()))
	flag.StringVar(&polList, "policies", "none,static90,memwatch,memwatch-noshed",
		"comma-separated policies, each base[/pc=DURATION][/iv=DURATION][/ev=0][/aim=FRACTION]; bases: "+fmt.Sprint(allPolicies))
	flag.StringVar(&o.dir, "dir", "/var/tmp", "directory on a disk for the page-cache file")
	flag.StringVar(&o.cgroup, "cgroup", "", "cgroup v2: the cgroup under which the lab makes its subtree (default: the parent of its own)")
	flag.BoolVar(&o.check, "check", false, "exit 1 when memwatch misses an enforced target")
	flag.Float64Var(&o.minSurvival, "min-survival", 0.9, "fraction of repetitions memwatch must survive (with -check)")
	flag.BoolVar(&o.verbose, "v", false, "print every worker's log")
	flag.Parse()

	names, err := selectNames(scnList, scenarioNames())
	o.allScenarios = scnList == "" || scnList == "all"
	if err == nil {
		o.policies, err = parsePolicies(polList)
	}
	if err == nil && (o.reps < 1 || limitMiB < 64 || o.duration < 2*time.Second) {
		err = fmt.Errorf("need -reps ≥ 1, -limit ≥ 64 and -duration ≥ 2s")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oomlab:", err)
		os.Exit(2)
	}
	for _, n := range names {
		s, _ := scenarioByName(n)
		o.scenarios = append(o.scenarios, s)
	}
	o.limit = limitMiB << 20
	os.Exit(runLab(o))
}
