package memotel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/memwatch"
)

// ScopeName is the instrumentation scope name to get the [metric.Meter]
// for Register from: meterProvider.Meter(memotel.ScopeName).
const ScopeName = "github.com/go-memwatch/memwatch/memwatch/memotel"

// Register creates memwatch's asynchronous instruments on meter (see the
// package documentation for the list) and registers one callback for them
// that copies src's latest snapshot once per collection
// ([memwatch.Source.LatestInto]) and observes it. A collection reads no
// kernel file, takes no stop-the-world pause and allocates nothing in this
// package; it observes nothing while src has no current snapshot (a
// [memwatch.Watcher] before Start or after Stop).
//
// Call it once per Source and MeterProvider. The callback is safe for
// concurrent collections (several readers). Unregister the returned
// [metric.Registration] to stop observing; the instruments stay on the
// meter and report nothing afterwards.
//
// Counters derived from kernel or Watcher counters are kept monotonic for
// the life of the registration: if a value goes down (src now reads another
// cgroup, or another Watcher), the exported count stays where it was and
// grows again from there; increases from before the change are not counted.
// A new registration starts from the values it first reads.
func Register(meter metric.Meter, src memwatch.Source) (metric.Registration, error) {
	if meter == nil {
		return nil, errors.New("memotel: Register: nil meter")
	}
	if src == nil {
		return nil, errors.New("memotel: Register: nil source")
	}
	r, insts, err := newRegistration(meter, src)
	if err != nil {
		return nil, err
	}
	reg, err := meter.RegisterCallback(r.observe, insts...)
	if err != nil {
		return nil, fmt.Errorf("memotel: registering the callback: %w", err)
	}
	return reg, nil
}

// newRegistration creates the instruments on meter and the attribute sets.
func newRegistration(meter metric.Meter, src memwatch.Source) (*registration, []metric.Observable, error) {
	r := &registration{src: src}
	insts := make([]metric.Observable, 0, numInstruments)
	for i := range specs {
		o, err := r.create(meter, i)
		if err != nil {
			return nil, nil, fmt.Errorf("memotel: creating instrument %s: %w", specs[i].name, err)
		}
		insts = append(insts, o)
	}
	r.initAttrs()
	return r, insts, nil
}

// The memory.events counters in the order of eventNames.
const (
	evLow = iota
	evHigh
	evMax
	evOOM
	evOOMGroupKill
	numEvents
)

var eventNames = [numEvents]string{"low", "high", "max", "oom", "oom_group_kill"}

// The actions counted by memwatch.actions, in the order of actionNames.
const (
	actMemLimit = iota
	actGOGC
	actFreeOSMemory
	numActions
)

var actionNames = [numActions]string{"gomemlimit", "gogc", "free_os_memory"}

// Series of the counters, each with its monotonic guard.
const (
	monoOOMKills = 0
	monoEvents   = 1                            // numEvents series
	monoFailcnt  = monoEvents + numEvents       // 1
	monoPSI      = monoFailcnt + 1              // 2 sources × 2 kinds, µs
	monoActions  = monoPSI + 4                  // numActions series
	monoShed     = monoActions + numActions     // 1
	monoWontFit  = monoShed + 1                 // 1
	numMono      = monoWontFit + 1              // all counter series
	numBounds    = int(memwatch.BoundFloor) + 1 // LimitBound values
)

type observeOpts []metric.ObserveOption

func attrOpts(kv ...attribute.KeyValue) observeOpts {
	return observeOpts{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// registration is one Register call's state.
type registration struct {
	src memwatch.Source

	i64 [numInstruments]metric.Int64Observable
	f64 [numInstruments]metric.Float64Observable

	// Attribute sets, built once so that observing allocates nothing.
	partOpts   [memwatch.NumParts][2]observeOpts // [part][reclaimable]
	eventOpts  [numEvents]observeOpts
	psiOpts    [2][2]observeOpts // [cgroup, host][some, full]
	actionOpts [numActions]observeOpts
	boundOpts  [numBounds]observeOpts

	mu   sync.Mutex // guards snap and mono: readers may collect concurrently
	snap memwatch.Snapshot
	mono [numMono]monotonic
}

// create makes instrument i of specs.
func (r *registration) create(m metric.Meter, i int) (metric.Observable, error) {
	s := &specs[i]
	desc, unit := metric.WithDescription(s.desc), metric.WithUnit(s.unit)
	var err error
	switch s.kind {
	case kindUpDownCounter:
		r.i64[i], err = m.Int64ObservableUpDownCounter(s.name, desc, unit)
	case kindCounter:
		r.i64[i], err = m.Int64ObservableCounter(s.name, desc, unit)
	case kindGauge:
		r.i64[i], err = m.Int64ObservableGauge(s.name, desc, unit)
	case kindFloatCounter:
		r.f64[i], err = m.Float64ObservableCounter(s.name, desc, unit)
	case kindFloatGauge:
		r.f64[i], err = m.Float64ObservableGauge(s.name, desc, unit)
	default:
		return nil, fmt.Errorf("unknown kind %v", s.kind)
	}
	if err != nil {
		return nil, err
	}
	if s.kind.float() {
		return r.f64[i], nil
	}
	return r.i64[i], nil
}

func (r *registration) initAttrs() {
	for p := range r.partOpts {
		name := memwatch.PartID(p).String()
		for rc := range r.partOpts[p] {
			r.partOpts[p][rc] = attrOpts(attribute.String(keyPart, name), attribute.Bool(keyReclaim, rc == 1))
		}
	}
	for e, name := range eventNames {
		r.eventOpts[e] = attrOpts(attribute.String(keyEvent, name))
	}
	for src, srcName := range [2]string{cgroupstat.PSICgroup.String(), cgroupstat.PSIHost.String()} {
		for k, kindName := range [2]string{"some", "full"} {
			r.psiOpts[src][k] = attrOpts(attribute.String(keyPSISource, srcName), attribute.String(keyPSIKind, kindName))
		}
	}
	for a, name := range actionNames {
		r.actionOpts[a] = attrOpts(attribute.String(keyAction, name))
	}
	for b := range r.boundOpts {
		r.boundOpts[b] = attrOpts(attribute.String(keyLimitBound, memwatch.LimitBound(b).String()))
	}
}

// observe is the registered callback.
func (r *registration) observe(_ context.Context, o metric.Observer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.snap
	if !r.src.LatestInto(s) {
		return nil // no current snapshot: report nothing rather than stale values
	}
	if s.Process.Available {
		r.int(o, instProcessMemoryUsage, s.Process.RSS())
	}
	if s.Cgroup.Available {
		r.observeCgroup(o, s)
	}
	for i := range s.Attribution.Parts {
		p := &s.Attribution.Parts[i]
		if !p.Known {
			continue
		}
		rc := 0
		if p.Reclaim == memwatch.Reclaimable {
			rc = 1
		}
		r.int(o, instAttribution, p.Bytes, r.partOpts[i][rc]...)
	}
	o.ObserveInt64(r.i64[instLevel], int64(s.Level))
	if s.Sampling.HasTimeToLimit {
		o.ObserveFloat64(r.f64[instTimeToLimit], s.Sampling.TimeToLimit.Seconds())
	}
	if s.Actions.Enabled {
		r.observeActions(o, &s.Actions)
	}
	return nil
}

func (r *registration) observeCgroup(o metric.Observer, s *memwatch.Snapshot) {
	st := &s.Cgroup.Stats
	h := &s.Attribution.Headroom
	r.int(o, instContainerMemoryUsage, st.Usage)
	if st.HasWorkingSet() {
		r.int(o, instContainerMemoryWorkingSet, st.WorkingSet)
	}
	if h.HasLimit {
		if st.HasWorkingSet() {
			var avail uint64
			if h.Limit > st.WorkingSet {
				avail = h.Limit - st.WorkingSet
			}
			r.int(o, instContainerMemoryAvailable, avail)
		}
		r.int(o, instCgroupLimit, h.Limit)
		o.ObserveInt64(r.i64[instHeadroom], h.AvailableBeforeOOM)
	}
	if h.HasHigh {
		r.int(o, instCgroupHigh, h.High)
	}
	if !st.Full {
		return // no breakdown, events or PSI from a full read
	}
	if st.Stat.Present&cgroupstat.StatAnon != 0 {
		r.int(o, instContainerMemoryRSS, st.Stat.Anon)
	}
	ev := &st.Events
	if ev.HasEvents {
		r.count(o, instOOMKills, monoOOMKills, ev.OOMKill)
		if st.Version == cgroupstat.V2 {
			for e, v := range [numEvents]uint64{
				evLow: ev.Low, evHigh: ev.High, evMax: ev.Max, evOOM: ev.OOM, evOOMGroupKill: ev.OOMGroupKill,
			} {
				r.count(o, instEvents, monoEvents+e, v, r.eventOpts[e]...)
			}
		}
	}
	if st.Version == cgroupstat.V1 && ev.HasFailcnt {
		r.count(o, instFailcnt, monoFailcnt, ev.Failcnt)
	}
	if src := st.PSI.Source; src == cgroupstat.PSICgroup || src == cgroupstat.PSIHost {
		si := int(src - cgroupstat.PSICgroup)
		for k, total := range [2]uint64{st.PSI.Some.Total, st.PSI.Full.Total} {
			us := r.mono[monoPSI+2*si+k].next(total)
			o.ObserveFloat64(r.f64[instPSIStall], float64(us)/1e6, r.psiOpts[si][k]...)
		}
	}
}

func (r *registration) observeActions(o metric.Observer, a *memwatch.Actions) {
	for i, v := range [numActions]uint64{
		actMemLimit: a.MemLimitChanges, actGOGC: a.GOGCChanges, actFreeOSMemory: a.FreeOSMemoryCount,
	} {
		r.count(o, instActions, monoActions+i, v, r.actionOpts[i]...)
	}
	if a.MemLimit != 0 {
		b := int(a.MemLimitBound)
		if b >= numBounds {
			b = int(memwatch.BoundNone)
		}
		r.int(o, instGoMemLimit, a.MemLimit, r.boundOpts[b]...)
	}
	if a.GOGCSet {
		o.ObserveInt64(r.i64[instGOGC], int64(a.GOGC))
	}
	r.int(o, instShedAdvised, a.Shed.Bytes)
	r.count(o, instShedAdvisories, monoShed, a.ShedAdvisories)
	var wontFit int64
	if a.Shed.WontFit {
		wontFit = 1
	}
	o.ObserveInt64(r.i64[instWontFit], wontFit)
	r.count(o, instWontFitEpisodes, monoWontFit, a.WontFitEpisodes)
}

// int observes a byte count or other unsigned value on instrument i.
func (r *registration) int(o metric.Observer, i int, v uint64, opts ...metric.ObserveOption) {
	o.ObserveInt64(r.i64[i], toInt64(v), opts...)
}

// count observes counter series m of instrument i through its guard.
func (r *registration) count(o metric.Observer, i, m int, v uint64, opts ...metric.ObserveOption) {
	o.ObserveInt64(r.i64[i], toInt64(r.mono[m].next(v)), opts...)
}

func toInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// monotonic keeps an exported cumulative count from going down when the
// underlying counter does (another cgroup or Watcher behind the Source):
// the export then holds its value and grows with the new counter's
// increases. OpenTelemetry's cumulative sums must not decrease within one
// stream (same start time).
type monotonic struct {
	last, off uint64
	seen      bool
}

// next returns the value to export for the raw counter value v.
func (m *monotonic) next(v uint64) uint64 {
	if m.seen && v < m.last {
		m.off += m.last - v
	}
	m.last, m.seen = v, true
	return m.off + v
}
