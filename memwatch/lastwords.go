package memwatch

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// LastWordsInterval is the shortest time between two log lines of the same
// kind of last words (see [Watcher]): an episode that begins sooner after
// the last line is counted, not logged, and the count is reported with the
// next line.
const LastWordsInterval = time.Minute

// lastWordsConfig is what the last words need.
type lastWordsConfig struct {
	shedHandled bool          // OnShed is set (filled in by New)
	every       time.Duration // LastWordsInterval; tests shorten it
}

// lastWords logs what an operator must read after an OOM kill, at Warn and
// Error, once per episode and at most once per LastWordsInterval for each
// kind, and nothing while memory is fine:
//
//   - the level turns critical (Warn): the verdict and the largest parts;
//   - shedding is advised and no OnShed handler can act on it (Error): how
//     much live heap must go, and that the kernel will likely kill the
//     process;
//   - the GC CPU limiter engaged while GOMEMLIMIT binds (Warn): from then
//     on the runtime lets the heap overshoot GOMEMLIMIT (docs/ARCHITECTURE.md,
//     "The heap goal, GOGC and the GC CPU limiter").
//
// It reads judged snapshots only (after the actuator), runs on the sampling
// goroutine and allocates only to log.
type lastWords struct {
	cfg lastWordsConfig
	log *slog.Logger

	critical, shed, limiter episode
	limiterCycle            uint64 // GCLimiterLastEnabled of the last sample
	haveLimiterCycle        bool
}

// episode is one condition of the last words: it begins when it first
// holds and ends when it no longer does; a line is due when it begins,
// unless the last line of its kind is younger than the interval.
type episode struct {
	on      bool
	last    time.Time // when the last line was logged
	skipped int       // episodes begun since then without a line
}

// update records whether the condition holds at now and reports whether a
// line is due, with the number of episodes skipped since the last line.
func (e *episode) update(holds bool, now time.Time, every time.Duration) (due bool, skipped int) {
	began := holds && !e.on
	e.on = holds
	if !began {
		return false, 0
	}
	if !e.last.IsZero() && now.Sub(e.last) < every {
		e.skipped++
		return false, 0
	}
	skipped = e.skipped
	e.last, e.skipped = now, 0
	return true, skipped
}

func newLastWords(cfg lastWordsConfig, log *slog.Logger) *lastWords {
	return &lastWords{cfg: cfg, log: log}
}

// observe looks at a judged sample (Level and Actions set) and logs what is
// due.
func (l *lastWords) observe(s *Snapshot) {
	now := s.Time
	every := l.cfg.every

	// Critical: from the level turning critical until it is back to ok (a
	// dip to warn does not end the episode).
	crit := s.Level == LevelCritical || (l.critical.on && s.Level == LevelWarn)
	if due, skipped := l.critical.update(crit, now, every); due && l.enabled(slog.LevelWarn) {
		args := []any{"verdict", s.Verdict(), "largest", largestPartsText(&s.Attribution, 3)}
		if s.Sampling.HasTimeToLimit {
			args = append(args, "time_to_limit", s.Sampling.TimeToLimit.Round(time.Millisecond).String())
		}
		l.log.Warn("memwatch: memory critical", appendSkipped(args, skipped)...)
	}

	// Shedding advised with nobody to shed.
	sig := s.Actions.Shed
	if sig.Reason == "" { // the actuator did not compute it: against the runtime's GOMEMLIMIT
		sig = ShedAdvice(s, 0)
	}
	unhandled := sig.Bytes > 0 && !l.cfg.shedHandled
	if due, skipped := l.shed.update(unhandled, now, every); due && l.enabled(slog.LevelError) {
		fate := "the GC will run at its CPU cap and the heap overshoot GOMEMLIMIT"
		if s.Attribution.Headroom.HasLimit {
			fate = "the process will likely be OOM-killed"
		}
		msg := fmt.Sprintf("memwatch: %s of live heap must go and nothing sheds it (no OnShed handler); unless it shrinks, %s",
			FormatBytes(sig.Bytes), fate)
		args := []any{"shed_bytes", sig.Bytes, "live_heap", liveHeap(&s.Go), "heap_budget", sig.HeapBudget,
			"wont_fit", sig.WontFit, "reason", sig.Reason, "verdict", s.Verdict()}
		l.log.Error(msg, appendSkipped(args, skipped)...)
	}

	// The GC CPU limiter engaged (a newer cycle than at the last sample)
	// while GOMEMLIMIT binds; the episode lasts while it binds.
	g := &s.Go
	engaged := false
	if g.Present&GoGCLimiterLastEnabled != 0 {
		engaged = l.haveLimiterCycle && g.GCLimiterLastEnabled > l.limiterCycle
		l.limiterCycle, l.haveLimiterCycle = g.GCLimiterLastEnabled, true
	}
	binds := memLimitBinds(g)
	if due, skipped := l.limiter.update(binds && (engaged || l.limiter.on), now, every); due && l.enabled(slog.LevelWarn) {
		args := []any{"gomemlimit", g.GOMEMLIMIT, "go_retained", g.Retained(), "live_heap", liveHeap(g),
			"gc_cycle", g.GCCycles, "limiter_cycle", g.GCLimiterLastEnabled, "verdict", s.Verdict()}
		l.log.Warn("memwatch: GC CPU limiter engaged while GOMEMLIMIT binds; the runtime now lets the heap overshoot GOMEMLIMIT",
			appendSkipped(args, skipped)...)
	}
}

func (l *lastWords) enabled(level slog.Level) bool {
	return l.log.Enabled(context.Background(), level)
}

func appendSkipped(args []any, skipped int) []any {
	if skipped > 0 {
		args = append(args, "episodes_not_logged", skipped)
	}
	return args
}

// memLimitBinds reports whether GOMEMLIMIT, rather than GOGC, sets the heap
// goal: a limit is set and either the runtime's retained memory is within
// 5% of it (or over it), GOGC is off, or the heap goal is below the GOGC
// goal live × (1 + GOGC/100), which only the memory limit causes.
func memLimitBinds(g *GoStats) bool {
	if !g.HasLimit() {
		return false
	}
	limit := uint64(g.GOMEMLIMIT)
	if g.Retained() >= limit-limit/20 {
		return true
	}
	if g.Present&(GoHeapGoal|GoGOGC) != GoHeapGoal|GoGOGC {
		return false
	}
	if g.GOGC < 0 {
		return true
	}
	live := liveHeap(g)
	return live > 0 && float64(g.HeapGoal) < float64(live)*(1+float64(g.GOGC)/100)
}

// largestParts returns up to n known, non-empty parts of a, largest first
// (ties in the order of a.Parts). It allocates. The sort is written out:
// slices.SortStableFunc's instantiation for Part added 18 KB to every
// program importing memwatch/auto (scripts/binsize.sh), for a list of at
// most NumParts.
func largestParts(a *Attribution, n int) []Part {
	var ps []Part
	for _, p := range a.Parts {
		if p.Known && p.Bytes > 0 {
			ps = append(ps, p)
		}
	}
	for i := 1; i < len(ps); i++ { // insertion sort: stable
		for j := i; j > 0 && ps[j].Bytes > ps[j-1].Bytes; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	return ps[:min(n, len(ps))]
}

// largestPartsText is largestParts on one line: "go_heap_live 180.0 MiB,
// page_cache_inactive 40.0 MiB (reclaimable)".
func largestPartsText(a *Attribution, n int) string {
	var b strings.Builder
	for i, p := range largestParts(a, n) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name())
		b.WriteByte(' ')
		b.WriteString(FormatBytes(p.Bytes))
		if r := reclaimNote(p.Reclaim); r != "" {
			b.WriteString(" (" + r + ")")
		}
	}
	return b.String()
}

// reclaimNote says who can take a part's memory back without a kill, or ""
// when nobody can (or it is unknown).
func reclaimNote(r Reclaim) string {
	switch r {
	case Reclaimable:
		return "reclaimable"
	case Swappable:
		return "swappable"
	case RuntimeReleasable:
		return "the Go runtime can release it"
	}
	return ""
}
