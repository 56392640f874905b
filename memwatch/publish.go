package memwatch

import "sync/atomic"

// slot is one preallocated snapshot buffer. state is 0 when free, n > 0
// while n readers copy it, −1 while the sampler writes it.
type slot struct {
	snap  Snapshot
	state atomic.Int32
}

const numSlots = 3

// publication hands the latest snapshot from the sampling goroutine to any
// number of readers without locks: the sampler writes into a slot nobody
// reads and publishes it with one atomic store; readers pin the published
// slot while they copy it. Neither side ever waits for the other.
type publication struct {
	slots  [numSlots]*slot
	latest atomic.Pointer[slot]
}

func newPublication() *publication {
	p := new(publication)
	for i := range p.slots {
		p.slots[i] = new(slot)
	}
	return p
}

// acquire returns a slot the sampler may write: not the published one and
// not pinned by a reader. With every slot pinned it allocates a new one.
func (p *publication) acquire() *slot {
	pub := p.latest.Load()
	for _, sl := range p.slots {
		if sl != pub && sl.state.CompareAndSwap(0, -1) {
			return sl
		}
	}
	sl := new(slot)
	sl.state.Store(-1)
	return sl
}

// release gives back a slot acquire returned without publishing it.
func (p *publication) release(sl *slot) { sl.state.Store(0) }

// publish makes sl the latest snapshot.
func (p *publication) publish(sl *slot) {
	sl.state.Store(0)
	p.latest.Store(sl)
}

// copyInto copies the latest snapshot into dst and reports whether there
// was one. It never blocks the sampler and does not allocate.
func (p *publication) copyInto(dst *Snapshot) bool {
	for {
		sl := p.latest.Load()
		if sl == nil {
			return false
		}
		st := sl.state.Load()
		if st < 0 || !sl.state.CompareAndSwap(st, st+1) {
			continue // being rewritten or contended: reload
		}
		if p.latest.Load() != sl {
			// Superseded between the load and the pin; the sampler may
			// reuse it at any time once unpinned.
			sl.state.Add(-1)
			continue
		}
		*dst = sl.snap
		sl.state.Add(-1)
		return true
	}
}
