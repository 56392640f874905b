package cgroupstat

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
	if usage, err = readNum(r.usage); err != nil {
		return 0, 0, err
	}
	raw, _, err := minChain(r.limits)
	if err != nil {
		return 0, 0, err
	}
	if r.loc.Version == V1 && r.hierSeen && r.hierLimit < raw {
		raw = r.hierLimit
	}
	return usage, r.normalize(raw), nil
}
