package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one worker run.
type result struct {
	Scenario string
	Policy   string
	Rep      int
	Killed   bool   // the cgroup's oom_kill counter rose
	OOMKills uint64 // that counter
	Err      string // the run failed otherwise (not an OOM kill)
	Last     progress
	Peak     uint64 // memory.max_usage_in_bytes
	// LoweredAt is when the lowered limit was in place (Unix ns; 0: no
	// lowering, or it failed: LowerErr).
	LoweredAt int64
	LowerErr  string
	// Reaction is from LoweredAt to GOMEMLIMIT at or below the new limit
	// (0: never, or no lowering).
	Reaction time.Duration
	Wall     time.Duration
}

// survived: ran to the end, not killed, no error.
func (r result) survived() bool { return !r.Killed && r.Err == "" && r.Last.Done }

// cell aggregates the runs of one scenario under one policy.
type cell struct {
	runs, survived, failed int       // failed: not OOM-killed, yet not to the end
	opsPerCPU, gcCPU       []float64 // survivors, steady phase
	peak                   []float64 // every run
	cacheKept, shed        []float64 // survivors
	reaction               []time.Duration
	lowerFailed            int
}

func aggregate(results []result) map[[2]string]*cell {
	cells := map[[2]string]*cell{}
	for _, r := range results {
		k := [2]string{r.Scenario, r.Policy}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
		}
		c.runs++
		c.peak = append(c.peak, float64(r.Peak))
		switch {
		case r.Killed:
		case !r.survived():
			c.failed++
		default:
			c.survived++
			if r.Last.CPU > 0 {
				c.opsPerCPU = append(c.opsPerCPU, float64(r.Last.Ops)/r.Last.CPU)
			}
			c.gcCPU = append(c.gcCPU, r.Last.GCCPU)
			c.cacheKept = append(c.cacheKept, float64(r.Last.CacheBytes))
			c.shed = append(c.shed, float64(r.Last.ShedBytes))
		}
		if r.LowerErr != "" {
			c.lowerFailed++
		}
		if r.Reaction > 0 {
			c.reaction = append(c.reaction, r.Reaction)
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

// printTable writes the one table: a row per scenario and policy.
func printTable(w io.Writer, results []result, scns []scenario, policies []string, limit uint64) {
	cells := aggregate(results)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tpolicy\tsurvived\tops/CPU-s\tGC CPU\tpeak usage\tcache kept/target\tshed\tlimit→GOMEMLIMIT\t")
	for _, s := range scns {
		target := s.Cache * float64(limit)
		for _, p := range policies {
			c := cells[[2]string{s.Name, p}]
			if c == nil {
				continue
			}
			surv := fmt.Sprintf("%d/%d", c.survived, c.runs)
			if c.failed > 0 {
				surv += fmt.Sprintf(" (%d failed)", c.failed)
			}
			ops, gc := "-", "-"
			if m := median(c.opsPerCPU); !math.IsNaN(m) {
				ops = fmt.Sprintf("%.0fk", m/1000)
			}
			if m := median(c.gcCPU); !math.IsNaN(m) {
				gc = fmt.Sprintf("%.1f%%", 100*m)
			}
			react := "-"
			if s.StartLimit > 1 {
				react = "never"
				if len(c.reaction) > 0 {
					react = fmt.Sprintf("max %s", slices.Max(c.reaction).Round(time.Millisecond))
				}
				if c.lowerFailed > 0 {
					react += fmt.Sprintf(" (%d lowerings failed)", c.lowerFailed)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s / %s\t%s\t%s\t\n",
				s.Name, p, surv, ops, gc, mib(median(c.peak)),
				mib(median(c.cacheKept)), mib(target), mib(median(c.shed)), react)
		}
	}
	tw.Flush()
}

// target is one line of the -check verdict.
type target struct {
	what     string
	met      bool
	enforced bool // noisy comparisons are reported, not enforced
}

// checkTargets evaluates the targets for every memwatch policy run:
// survival in at least minSurvival of the repetitions of every scenario; a
// lowered limit reflected in GOMEMLIMIT within one sampling interval (plus a
// quarter for scheduling); and, where static 90% survived
// every repetition of a scenario whose data fits (not NeedsShed), nothing
// shed and a GC CPU fraction no worse than static's (medians, within 2
// points; reported, not enforced: it is noisy).
func checkTargets(results []result, scns []scenario, policies []string, minSurvival float64, interval time.Duration) []target {
	cells := aggregate(results)
	var out []target
	for _, p := range policies {
		if !strings.HasPrefix(p, policyMemwatch) {
			continue
		}
		for _, s := range scns {
			c := cells[[2]string{s.Name, p}]
			if c == nil {
				continue
			}
			need := int(math.Ceil(minSurvival * float64(c.runs)))
			out = append(out, target{
				what:     fmt.Sprintf("%s survives %s: %d/%d (need %d)", p, s.Name, c.survived, c.runs, need),
				met:      c.survived >= need,
				enforced: true,
			})
			if s.StartLimit > 1 {
				bound := interval + interval/4
				worst := time.Duration(0)
				late := 0
				for _, r := range results {
					if r.Scenario != s.Name || r.Policy != p || r.LoweredAt == 0 {
						continue
					}
					if r.Reaction == 0 && r.survived() || r.Reaction > bound {
						late++
					}
					worst = max(worst, r.Reaction)
				}
				out = append(out, target{
					what: fmt.Sprintf("%s follows the lowered limit within one sample (%s): worst %s, %d late or never",
						p, bound, worst.Round(time.Millisecond), late),
					met:      late == 0,
					enforced: true,
				})
			}
			st := cells[[2]string{s.Name, policyStatic}]
			if st == nil || st.survived < st.runs || c.survived == 0 || s.NeedsShed {
				continue
			}
			shed := slices.Max(c.shed)
			out = append(out, target{
				what:     fmt.Sprintf("%s sheds nothing in %s, where static90 survives: shed up to %s", p, s.Name, mib(shed)),
				met:      shed == 0,
				enforced: true,
			})
			mw, sg := median(c.gcCPU), median(st.gcCPU)
			out = append(out, target{
				what: fmt.Sprintf("%s GC CPU no worse than static90 in %s: %.1f%% vs %.1f%% (noisy; not enforced)",
					p, s.Name, 100*mw, 100*sg),
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
