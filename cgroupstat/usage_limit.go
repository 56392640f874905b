package cgroupstat

import "errors"

// ReadUsageLimit reads only the usage and the effective hard limit (the
// first files ReadCheap reads: the usage file and the limit of this cgroup
// and each visible ancestor), normalised like Stats.Usage and Stats.Limit
// (Unlimited when none; on v1 the hierarchical limit of the last full read
// applies). It is the cheapest way to notice a threshold crossing or a
// limit change between samples: a few preads, no allocation.
func (r *Reader) ReadUsageLimit() (usage, limit uint64, err error) {
	if r.closed {
		return 0, 0, errClosed
	}
	if usage, err = r.readCount(r.usage, false); err != nil {
		return 0, 0, err
	}
	raw, _, err := r.limitRaw()
	if err != nil {
		return 0, 0, err
	}
	return usage, r.normalize(raw), nil
}

// limitRaw is the effective hard limit before normalisation and the
// directory that sets it: the smallest limit over this cgroup and its
// visible ancestors, and on v1 the hierarchical limit of the last full read
// when it is smaller (an ancestor above the namespace root set it: no
// directory).
func (r *Reader) limitRaw() (raw uint64, dir string, err error) {
	raw, dir, err = r.minChain(r.limits, false)
	if err != nil {
		return 0, "", err
	}
	if r.loc.Version == V1 && r.hierSeen && r.hierLimit < raw {
		raw, dir = r.hierLimit, ""
	}
	return raw, dir, nil
}

// ReadEventCounts reads only the cgroup's hierarchical event counters
// (cgroup v2 memory.events, the file Stats.Events.EventCounts comes from):
// one pread, no allocation. It lets a caller woken by a change of that file
// tell a change that matters (high, oom, oom_kill) from the max counter,
// which rises on every reclaim while usage sits at memory.max, page cache
// included. On v1, or when the file could not be opened, it returns an
// error.
func (r *Reader) ReadEventCounts(c *EventCounts) error {
	if r.closed {
		return errClosed
	}
	if r.loc.Version != V2 || r.events == nil {
		return errNoEventCounts
	}
	return r.readEventCounts(r.events, c)
}

var errNoEventCounts = errors.New("cgroupstat: no memory.events (cgroup v1, or not opened)")
