package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runLab runs every repetition of every scenario under every policy
// (policies interleaved, so noise hits them alike) and prints the table.
func runLab(o options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "oomlab:", err)
		return 2
	}
	if err := checkRoot(); err != nil {
		return fail(err)
	}
	hier, err := newHierarchy(o.cgroup)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := hier.close(); err != nil {
			fmt.Fprintln(os.Stderr, "oomlab: removing the subtree:", err)
		}
	}()
	if o.scenarios, err = applicable(o.scenarios, o.allScenarios, hier.version()); err != nil {
		return fail(err)
	}
	self, err := selfPath()
	if err != nil {
		return fail(err)
	}
	l := &lab{hier: hier, self: self, limit: o.limit, duration: o.duration,
		garbage: o.garbage, interval: o.interval, verbose: o.verbose}
	for _, s := range o.scenarios {
		if s.PageCache && l.file == "" {
			if l.file, err = makePageCacheFile(o.dir, 2*o.limit); err != nil {
				return fail(err)
			}
			defer os.Remove(l.file)
		}
	}

	var results []result
	total := o.reps * len(o.scenarios) * len(o.policies)
	t0 := time.Now()
	for rep := 1; rep <= o.reps; rep++ {
		for _, s := range o.scenarios {
			for _, p := range o.policies {
				r, err := l.run(ctx, s, p, rep)
				if ctx.Err() != nil {
					return fail(ctx.Err())
				}
				if err != nil {
					return fail(fmt.Errorf("%s/%s: %w", s.Name, p.Name, err))
				}
				results = append(results, r)
				fmt.Fprintf(os.Stderr, "[%d/%d %s] rep %d %-15s %-14s %s\n", len(results), total,
					time.Since(t0).Round(time.Second), rep, s.Name, p.Name, outcome(r))
			}
		}
	}

	var uts unix.Utsname
	_ = unix.Uname(&uts)
	fmt.Printf("\noomlab: cgroup %s limit %d MiB, %s per run, %d repetitions, %s, kernel %s, %d CPUs\n",
		hier.version(), o.limit>>20, o.duration, o.reps, runtime.Version(), unix.ByteSliceToString(uts.Release[:]), runtime.NumCPU())
	peak := "memory.max_usage_in_bytes"
	if hier.version() == "v2" {
		peak = "memory.peak"
	}
	fmt.Printf("ops/s, ops/CPU-s and GC CPU: medians over surviving runs, steady half, (×) = ratio to static90's median;\n"+
		"peak usage: median of %s\n\n", peak)
	printTable(os.Stdout, results, o.scenarios, o.policies, o.limit)
	fmt.Println()
	for _, s := range o.scenarios {
		fmt.Printf("  %-15s %s\n", s.Name, s.What)
	}
	fmt.Println("\ntargets:")
	ok := printTargets(os.Stdout, checkTargets(results, o.scenarios, o.policies, o.minSurvival, o.interval))
	if o.check && !ok {
		fmt.Println("oomlab: memwatch missed an enforced target")
		return 1
	}
	return 0
}

func outcome(r result) string {
	switch {
	case r.Killed:
		s := fmt.Sprintf("OOM-KILLED after %s (oom_kill %d, peak %d MiB)", r.Wall.Round(100*time.Millisecond), r.OOMKills, r.Peak>>20)
		switch {
		case r.KilledAtCut:
			s += ", in the write that lowered the limit"
		case r.LoweredAt > 0:
			s += fmt.Sprintf(", %s after the lowering", r.DiedAfterCut.Round(time.Millisecond))
		}
		if r.Last.SidecarGone != "" {
			s += ", sidecar: " + r.Last.SidecarGone
		}
		return s
	case r.Err != "":
		return "FAILED: " + r.Err
	}
	s := fmt.Sprintf("ok  peak %d MiB, GC %.1f%%, cache %d MiB", r.Peak>>20, 100*r.Last.GCCPU, r.Last.CacheBytes>>20)
	if r.Last.MemLimit > 0 && r.Last.MemLimit < math.MaxInt64 {
		s += fmt.Sprintf(", GOMEMLIMIT %d MiB", r.Last.MemLimit>>20)
	}
	if r.Last.GOGC != 100 {
		s += fmt.Sprintf(", GOGC %d", r.Last.GOGC)
	}
	if r.Last.ShedBytes > 0 {
		s += fmt.Sprintf(", shed %d MiB", r.Last.ShedBytes>>20)
	}
	if a := r.Last.Actions; a != (actionCounts{}) {
		s += fmt.Sprintf(", memwatch set GOMEMLIMIT %d× GOGC %d×, FreeOSMemory %d×, shed advice %d×", a.MemLimit, a.GOGC, a.FreeOSMemory, a.Shed)
	}
	if r.Followed {
		s += fmt.Sprintf(", GOMEMLIMIT followed the limit in %s", r.Reaction.Round(time.Millisecond))
	}
	if r.Counters.HasV2 && r.Counters.High > 0 {
		s += fmt.Sprintf(", memory.high events %d, stalled %.2fs", r.Counters.High, r.Counters.StallSome.Seconds())
	}
	if at := r.Last.SpikeAt; at > 0 && r.Last.SpikeLevel != "" {
		s += fmt.Sprintf(", spike at level %s", r.Last.SpikeLevel)
		if r.Last.SpikeDone > 0 {
			s += fmt.Sprintf(" charged in %s", time.Duration(r.Last.SpikeDone-at).Round(time.Millisecond))
		}
		if r.Last.SpikeWarn > 0 {
			s += fmt.Sprintf(", warn +%s", time.Duration(r.Last.SpikeWarn-at).Round(time.Millisecond))
		}
		if r.Last.SpikeShed > 0 {
			s += fmt.Sprintf(", OnShed +%s", time.Duration(r.Last.SpikeShed-at).Round(time.Millisecond))
		}
	}
	return s
}
