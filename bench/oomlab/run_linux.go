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
	parent, err := v1Parent()
	if err != nil {
		return fail(err)
	}
	self, err := selfPath()
	if err != nil {
		return fail(err)
	}
	l := &lab{parent: parent, self: self, limit: o.limit, duration: o.duration,
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
					return fail(fmt.Errorf("%s/%s: %w", s.Name, p, err))
				}
				results = append(results, r)
				fmt.Fprintf(os.Stderr, "[%d/%d %s] rep %d %-15s %-14s %s\n", len(results), total,
					time.Since(t0).Round(time.Second), rep, s.Name, p, outcome(r))
			}
		}
	}

	var uts unix.Utsname
	_ = unix.Uname(&uts)
	fmt.Printf("\noomlab: cgroup v1 limit %d MiB, %s per run, %d repetitions, %s, kernel %s, %d CPUs\n",
		o.limit>>20, o.duration, o.reps, runtime.Version(), unix.ByteSliceToString(uts.Release[:]), runtime.NumCPU())
	fmt.Printf("ops/CPU-s and GC CPU: medians over surviving runs, steady half; peak usage: median of memory.max_usage_in_bytes\n\n")
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
		return fmt.Sprintf("OOM-KILLED after %s (oom_kill %d, peak %d MiB)", r.Wall.Round(100*time.Millisecond), r.OOMKills, r.Peak>>20)
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
	if r.Reaction > 0 {
		s += fmt.Sprintf(", GOMEMLIMIT followed the limit in %s", r.Reaction.Round(time.Millisecond))
	}
	return s
}
