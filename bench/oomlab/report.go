package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// cgCounters are what the lab reads from a run's cgroup after the run (and
// the OOM-kill count right after a lowering).
type cgCounters struct {
	OOMKills uint64
	Peak     uint64 // v1 memory.max_usage_in_bytes, v2 memory.peak (0: unknown)
	// v2 only (HasV2 set): memory.events "high" (times the cgroup was
	// throttled over memory.high) and the memory.pressure totals (time some
	// or all of its tasks stalled on memory).
	HasV2       bool
	High        uint64
	StallSome   time.Duration
	StallFull   time.Duration
	HasPressure bool
}

// result is one worker run.
type result struct {
	Scenario string
	Policy   string // the policy's spec
	Rep      int
	Killed   bool   // the cgroup's oom_kill counter rose
	OOMKills uint64 // that counter
	Err      string // the run failed otherwise (not an OOM kill)
	Last     progress
	Peak     uint64     // memory.max_usage_in_bytes (v1), memory.peak (v2)
	Counters cgCounters // the cgroup's counters after the run
	// LoweredAt is when the lowered limit was in place (Unix ns; 0: no
	// lowering, or it failed: LowerErr).
	LoweredAt int64
	LowerErr  string
	// KilledAtCut: the OOM kill came inside the write that lowered the
	// limit (v2: the kernel could not reclaim down to it).
	KilledAtCut bool
	// Followed: GOMEMLIMIT went to or below the lowered limit; Reaction is
	// how long after LoweredAt (0 when it did while the write still ran).
	Followed bool
	Reaction time.Duration
	// DiedAfterCut is from LoweredAt to the worker's end, for killed runs.
	DiedAfterCut time.Duration
	Wall         time.Duration
}

// survived: ran to the end, not killed, no error.
func (r result) survived() bool { return !r.Killed && r.Err == "" && r.Last.Done }

// cell aggregates the runs of one scenario under one policy.
type cell struct {
	runs, survived, failed int       // failed: not OOM-killed, yet not to the end
	opsPerCPU, opsPerSec   []float64 // survivors, steady phase
	gcCPU                  []float64 // survivors, steady phase
	peak                   []float64 // every run
	cacheKept, shed        []float64 // survivors
	high, stall            []float64 // every run with v2 counters: memory.events high, PSI some (s)
	reaction               []time.Duration
	notFollowed            int // lowered runs that survived without GOMEMLIMIT following
	lowerFailed            int
	killedAtCut            int
	diedAfterCut           []time.Duration // killed runs, not at the cut
	spikes                 int             // runs whose spike began
	spikeTouch             []time.Duration // from the spike to its buffer all touched
	spikeWarn, spikeShed   []time.Duration // from the spike to the callback
	spikeLevels            map[string]int  // memwatch's level when the spike began
	sidecarGone            int
}

func aggregate(results []result) map[[2]string]*cell {
	cells := map[[2]string]*cell{}
	for _, r := range results {
		k := [2]string{r.Scenario, r.Policy}
		c := cells[k]
		if c == nil {
			c = &cell{spikeLevels: map[string]int{}}
			cells[k] = c
		}
		c.runs++
		c.peak = append(c.peak, float64(r.Peak))
		if r.Counters.HasV2 {
			c.high = append(c.high, float64(r.Counters.High))
			if r.Counters.HasPressure {
				c.stall = append(c.stall, r.Counters.StallSome.Seconds())
			}
		}
		switch {
		case r.Killed:
		case !r.survived():
			c.failed++
		default:
			c.survived++
			if r.Last.CPU > 0 {
				c.opsPerCPU = append(c.opsPerCPU, float64(r.Last.Ops)/r.Last.CPU)
			}
			if r.Last.SteadyWall > 0 {
				c.opsPerSec = append(c.opsPerSec, float64(r.Last.Ops)/r.Last.SteadyWall.Seconds())
			}
			c.gcCPU = append(c.gcCPU, r.Last.GCCPU)
			c.cacheKept = append(c.cacheKept, float64(r.Last.CacheBytes))
			c.shed = append(c.shed, float64(r.Last.ShedBytes))
		}
		if r.LowerErr != "" {
			c.lowerFailed++
		}
		if r.LoweredAt > 0 {
			switch {
			case r.Followed:
				c.reaction = append(c.reaction, r.Reaction)
			case r.survived():
				c.notFollowed++
			}
			switch {
			case r.KilledAtCut:
				c.killedAtCut++
			case r.Killed:
				c.diedAfterCut = append(c.diedAfterCut, r.DiedAfterCut)
			}
		}
		if at := r.Last.SpikeAt; at > 0 {
			c.spikes++
			if r.Last.SpikeDone > 0 {
				c.spikeTouch = append(c.spikeTouch, time.Duration(r.Last.SpikeDone-at))
			}
			if r.Last.SpikeLevel != "" {
				c.spikeLevels[r.Last.SpikeLevel]++
			}
			if r.Last.SpikeWarn > 0 {
				c.spikeWarn = append(c.spikeWarn, time.Duration(r.Last.SpikeWarn-at))
			}
			if r.Last.SpikeShed > 0 {
				c.spikeShed = append(c.spikeShed, time.Duration(r.Last.SpikeShed-at))
			}
		}
		if r.Last.SidecarGone != "" {
			c.sidecarGone++
		}
	}
	return cells
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", v/(1<<20))
}

func medianDur(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(median(f))
}

// rate prints a median rate, and its ratio to base (static90's median in the
// same scenario) when there is one: on an emulated VM only the ratios
// between policies of one run mean something.
func rate(v []float64, base float64) string {
	m := median(v)
	if math.IsNaN(m) {
		return "-"
	}
	s := fmt.Sprintf("%.0fk", m/1000)
	if !math.IsNaN(base) && base > 0 {
		s += fmt.Sprintf(" (%.2f×)", m/base)
	}
	return s
}

// printTable writes the one table: a row per scenario and policy.
func printTable(w io.Writer, results []result, scns []scenario, policies []policy, limit uint64) {
	cells := aggregate(results)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tpolicy\tsurvived\tops/s\tops/CPU-s\tGC CPU\tpeak usage\tcache kept/target\tshed\tnotes\t")
	for _, s := range scns {
		target := s.Cache * float64(limit)
		baseSec, baseCPU := math.NaN(), math.NaN()
		if st := cells[[2]string{s.Name, policyStatic}]; st != nil {
			baseSec, baseCPU = median(st.opsPerSec), median(st.opsPerCPU)
		}
		for _, p := range policies {
			c := cells[[2]string{s.Name, p.Name}]
			if c == nil {
				continue
			}
			surv := fmt.Sprintf("%d/%d", c.survived, c.runs)
			if c.failed > 0 {
				surv += fmt.Sprintf(" (%d failed)", c.failed)
			}
			gc := "-"
			if m := median(c.gcCPU); !math.IsNaN(m) {
				gc = fmt.Sprintf("%.1f%%", 100*m)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s / %s\t%s\t%s\t\n",
				s.Name, p.Name, surv, rate(c.opsPerSec, baseSec), rate(c.opsPerCPU, baseCPU), gc,
				mib(median(c.peak)), mib(median(c.cacheKept)), mib(target), mib(median(c.shed)),
				strings.Join(notes(s, c), "; "))
		}
	}
	tw.Flush()
}

// notes are the scenario's own measurements for one cell.
func notes(s scenario, c *cell) []string {
	var out []string
	if s.StartLimit > 1 {
		follow := "GOMEMLIMIT never followed"
		if len(c.reaction) > 0 {
			follow = fmt.Sprintf("GOMEMLIMIT followed in max %s", slices.Max(c.reaction).Round(time.Millisecond))
		}
		if c.notFollowed > 0 {
			follow += fmt.Sprintf(" (%d survivors never)", c.notFollowed)
		}
		out = append(out, follow)
		if c.killedAtCut > 0 {
			out = append(out, fmt.Sprintf("%d killed in the lowering write", c.killedAtCut))
		}
		if n := len(c.diedAfterCut); n > 0 {
			out = append(out, fmt.Sprintf("%d killed after it (median +%s)", n, medianDur(c.diedAfterCut).Round(time.Millisecond)))
		}
		if c.lowerFailed > 0 {
			out = append(out, fmt.Sprintf("%d lowerings failed", c.lowerFailed))
		}
	}
	if s.High > 0 && len(c.high) > 0 {
		out = append(out, fmt.Sprintf("memory.high events %.0f", median(c.high)))
		if len(c.stall) > 0 {
			out = append(out, fmt.Sprintf("stalled %.2fs", median(c.stall)))
		}
	}
	if s.Spike > 0 && len(c.spikeTouch) > 0 {
		out = append(out, fmt.Sprintf("spike charged in %s", medianDur(c.spikeTouch).Round(time.Millisecond)))
	}
	if s.Spike > 0 && c.spikes > 0 && len(c.spikeLevels) > 0 {
		levels := slices.Sorted(maps.Keys(c.spikeLevels))
		var ls []string
		for _, l := range levels {
			ls = append(ls, fmt.Sprintf("%s×%d", l, c.spikeLevels[l]))
		}
		out = append(out, "level at spike "+strings.Join(ls, ","))
		for _, x := range []struct {
			what string
			d    []time.Duration
		}{{"warn", c.spikeWarn}, {"OnShed", c.spikeShed}} {
			if len(x.d) == 0 {
				out = append(out, "no "+x.what+" after it")
				continue
			}
			out = append(out, fmt.Sprintf("%s after %s (median of %d)", x.what, medianDur(x.d).Round(time.Millisecond), len(x.d)))
		}
	}
	if c.sidecarGone > 0 {
		out = append(out, fmt.Sprintf("sidecar ended early in %d", c.sidecarGone))
	}
	if len(out) == 0 {
		return []string{"-"}
	}
	return out
}

// target is one line of the -check verdict.
type target struct {
	what     string
	met      bool
	enforced bool // noisy comparisons are reported, not enforced
}

// checkTargets evaluates the targets for every memwatch policy run:
// survival in at least minSurvival of the repetitions of every scenario
// (not enforced for memwatch-noshed where the data fits only by shedding,
// nor for adaptive GOGC under a lowered limit: both are known to die
// there); a lowered limit reflected in GOMEMLIMIT within one sampling
// interval (plus a quarter for scheduling); under memory.high, fewer than a
// tenth of static90's memory.high events (medians); and, where static 90%
// survived every repetition of a scenario whose data fits (not NeedsShed or
// ShedOK), nothing shed and a GC CPU fraction no worse than static's
// (medians, within 2 points; reported, not enforced: it is noisy).
func checkTargets(results []result, scns []scenario, policies []policy, minSurvival float64, interval time.Duration) []target {
	cells := aggregate(results)
	var out []target
	for _, p := range policies {
		if !p.memwatch() {
			continue
		}
		for _, s := range scns {
			c := cells[[2]string{s.Name, p.Name}]
			if c == nil {
				continue
			}
			enforce := !(s.NeedsShed && !p.sheds()) && !(s.StartLimit > 1 && p.gogc())
			need := int(math.Ceil(minSurvival * float64(c.runs)))
			what := fmt.Sprintf("%s survives %s: %d/%d (need %d)", p.Name, s.Name, c.survived, c.runs, need)
			if !enforce {
				what += " (known to die here; not enforced)"
			}
			out = append(out, target{what: what, met: c.survived >= need, enforced: enforce})
			if s.StartLimit > 1 {
				bound := interval + interval/4
				worst := time.Duration(0)
				late := 0
				for _, r := range results {
					if r.Scenario != s.Name || r.Policy != p.Name || r.LoweredAt == 0 {
						continue
					}
					if !r.Followed && r.survived() || r.Reaction > bound {
						late++
					}
					worst = max(worst, r.Reaction)
				}
				out = append(out, target{
					what: fmt.Sprintf("%s follows the lowered limit within one sample (%s): worst %s, %d late or never",
						p.Name, bound, worst.Round(time.Millisecond), late),
					met:      late == 0,
					enforced: enforce,
				})
			}
			st := cells[[2]string{s.Name, policyStatic}]
			if s.High > 0 && st != nil && len(st.high) > 0 && len(c.high) > 0 {
				mh, sh := median(c.high), median(st.high)
				out = append(out, target{
					what: fmt.Sprintf("%s stays below memory.high in %s: %.0f memory.high events vs static90's %.0f (medians; need under a tenth)",
						p.Name, s.Name, mh, sh),
					met:      mh <= sh/10,
					enforced: true,
				})
			}
			if st == nil || st.survived < st.runs || c.survived == 0 || s.NeedsShed || s.ShedOK {
				continue
			}
			if p.sheds() {
				shed := slices.Max(c.shed)
				out = append(out, target{
					what:     fmt.Sprintf("%s sheds nothing in %s, where static90 survives: shed up to %s", p.Name, s.Name, mib(shed)),
					met:      shed == 0,
					enforced: true,
				})
			}
			mw, sg := median(c.gcCPU), median(st.gcCPU)
			out = append(out, target{
				what: fmt.Sprintf("%s GC CPU no worse than static90 in %s: %.1f%% vs %.1f%% (noisy; not enforced)",
					p.Name, s.Name, 100*mw, 100*sg),
				met: mw <= sg+0.02,
			})
		}
	}
	return out
}

func printTargets(w io.Writer, ts []target) (allEnforcedMet bool) {
	allEnforcedMet = true
	for _, t := range ts {
		mark := "met   "
		if !t.met {
			mark = "MISSED"
			if t.enforced {
				allEnforcedMet = false
			}
		}
		fmt.Fprintf(w, "  %s %s\n", mark, t.what)
	}
	return allEnforcedMet
}
