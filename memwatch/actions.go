package memwatch

import "time"

// This file holds the public record of the actions; the actuator
// (actuator.go) applies them and the options (options.go) enable them.

// WontFitAction is what the Watcher does when ShedAdvice says the live heap
// alone no longer fits the memory budget (ShedSignal.WontFit): no GC
// setting can then avoid the limit, and the OOM kill usually follows after
// a GC death spiral (docs/ARCHITECTURE.md, "OOM lab findings").
type WontFitAction uint8

// Won't-fit actions.
const (
	// WontFitIgnore does nothing beyond OnShed and Snapshot.Actions
	// (default).
	WontFitIgnore WontFitAction = iota
	// WontFitLog logs at Error when the condition appears (once per
	// episode).
	WontFitLog
	// WontFitExit logs at Error and exits the process with
	// WontFitExitCode, so that a supervisor restarts it with a clear reason
	// instead of the kernel killing it later. Deferred functions do not run.
	WontFitExit
)

// WontFitExitCode is the exit status of WontFitExit.
const WontFitExitCode = 3

// Actions records what the Watcher's action options did (see
// WithAdaptiveMemLimit, WithAdaptiveGOGC, WithFreeOSMemory, OnShed,
// WithWontFitPolicy). It is the zero value (Enabled false) when no action
// option is set. The Go view of the same snapshot was read before the
// sample's actions were applied.
type Actions struct {
	// Enabled is true when the Watcher has at least one action option.
	Enabled bool

	// MemLimit is the GOMEMLIMIT in bytes the Watcher has set and that is
	// in force; 0 when the Watcher has not changed GOMEMLIMIT (or has put
	// the original back).
	MemLimit uint64
	// MemLimitReason is the last decision's reason, or why the adaptive
	// limit is inactive (environment GOMEMLIMIT, option not set).
	MemLimitReason string
	// MemLimitSource and MemLimitBound are those of the last decision.
	MemLimitSource LimitSource
	MemLimitBound  LimitBound
	// MemLimitDecided is the last decision's limit (NoMemLimit when none);
	// it may differ from MemLimit by less than the change threshold.
	MemLimitDecided uint64
	// MemLimitBudget is the last decision's Budget (NoMemLimit when none).
	MemLimitBudget uint64
	// MemLimitChanged is when the Watcher last changed GOMEMLIMIT;
	// MemLimitChanges counts its changes (restoring the original included).
	MemLimitChanged time.Time
	MemLimitChanges uint64

	// GOGC is the GOGC the Watcher has set; valid when GOGCSet.
	// GOGCChanges counts the Watcher's changes of GOGC.
	GOGC        int
	GOGCSet     bool
	GOGCChanges uint64

	// FreeOSMemoryTime is when the Watcher last started debug.FreeOSMemory;
	// FreeOSMemoryCount how many times it has.
	FreeOSMemoryTime  time.Time
	FreeOSMemoryCount uint64

	// Shed is the last ShedAdvice (computed when OnShed, WithAdaptiveGOGC or
	// WithAdaptiveMemLimit is set). ShedAdvisories counts the times advice
	// to shed began or grew enough to call OnShed again (whether or not
	// OnShed is set); WontFitEpisodes the times the live heap stopped
	// fitting the budget.
	Shed            ShedSignal
	ShedAdvisories  uint64
	WontFitEpisodes uint64
}
