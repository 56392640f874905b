package memwatch

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// Verdict is a one-line summary, for example "usage is 91% of limit
// (233.0 MiB of 256.0 MiB); 140.0 MiB is page cache, reclaimable; non-Go
// memory 60.0 MiB". [Snapshot.WriteText] prints it under the header line and
// [Snapshot.MarshalJSON] writes it as "verdict".
func (s *Snapshot) Verdict() string {
	a := &s.Attribution
	var cl []string
	switch {
	case s.Cgroup.Available:
		st := &s.Cgroup.Stats
		if a.Headroom.HasLimit {
			c := fmt.Sprintf("usage is %.0f%% of limit (%s of %s)", a.Headroom.UsagePercent,
				FormatBytes(st.Usage), FormatBytes(a.Headroom.Limit))
			if !a.Headroom.HasUsagePercent { // a limit of 0
				c = fmt.Sprintf("usage %s at a limit of %s", FormatBytes(st.Usage), FormatBytes(a.Headroom.Limit))
			}
			if st.Full && a.Headroom.HasWorkingSetPercent {
				c += fmt.Sprintf(", working set %.0f%%", a.Headroom.WorkingSetPercent)
			}
			cl = append(cl, c)
		} else {
			cl = append(cl, fmt.Sprintf("no memory limit (cgroup usage %s)", FormatBytes(st.Usage)))
		}
		if a.Headroom.HasHigh && a.Headroom.ToHigh < 0 {
			cl = append(cl, fmt.Sprintf("%s above memory.high (throttled)", formatSigned(-a.Headroom.ToHigh)))
		}
	case s.Process.Available && s.Cgroup.NoLimit():
		cl = append(cl, fmt.Sprintf("no memory limit (no cgroup below the root accounts for this process); RSS %s", FormatBytes(s.Process.RSS())))
	case s.Process.Available:
		cl = append(cl, fmt.Sprintf("no memory cgroup; RSS %s", FormatBytes(s.Process.RSS())))
	default:
		cl = append(cl, fmt.Sprintf("Go runtime view only; retained %s", FormatBytes(s.Go.Retained())))
	}
	pc := a.Bytes(PartPageCacheActive) + a.Bytes(PartPageCacheInactive)
	if pc > 0 {
		c := FormatBytes(pc) + " is page cache, reclaimable"
		if a.NeedsWritebackBytes > 0 {
			c += fmt.Sprintf(" (%s dirty, after writeback)", FormatBytes(a.NeedsWritebackBytes))
		}
		cl = append(cl, c)
	}
	if a.Parts[PartNonGoAnon].Known {
		cl = append(cl, "non-Go memory "+FormatBytes(a.NonGoBytes))
	}
	if n := a.Bytes(PartOtherProcesses); n > 0 {
		cl = append(cl, "other processes "+FormatBytes(n))
	}
	if s.Cgroup.Available && s.Cgroup.Stats.Events.OOMKill > 0 {
		cl = append(cl, fmt.Sprintf("%d OOM kills", s.Cgroup.Stats.Events.OOMKill))
	}
	return strings.Join(cl, "; ")
}

// String returns the text rendering (see [Snapshot.WriteText]). The
// receiver is a value so that [fmt.Print] prints a Snapshot and a *Snapshot
// the same.
func (s Snapshot) String() string {
	var b bytes.Buffer
	_ = s.WriteText(&b)
	return b.String()
}

// WriteText writes a human-readable table of the snapshot: the
// [Snapshot.Verdict] line, the cgroup ([CgroupStats]), process
// ([ProcessStats]), Go ([GoStats]) and host ([HostStats]) views, and the
// [Attribution]. Byte counts use binary units ([FormatBytes]).
func (s *Snapshot) WriteText(w io.Writer) error {
	var b bytes.Buffer
	mode := "cheap read"
	if s.Full {
		mode = "full read"
	}
	if s.Sampling.Mode != "" {
		mode += ", sampling " + s.Sampling.Mode
		if s.Sampling.Interval > 0 {
			mode += " every " + s.Sampling.Interval.String()
		}
	}
	fmt.Fprintf(&b, "memwatch snapshot %s (%s, level %s)\n", s.Time.UTC().Format(time.RFC3339), mode, s.Level)
	fmt.Fprintf(&b, "%s\n\n", s.Verdict())

	tw := &b
	row := func(label, value, note string) {
		line := fmt.Sprintf("  %-24s %11s  %s", label, value, note)
		tw.WriteString(strings.TrimRight(line, " "))
		tw.WriteByte('\n')
	}
	head := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	na := func(v *ViewStatus) string {
		if v.Err == nil {
			return "unavailable"
		}
		return "unavailable: " + v.Err.Error()
	}

	// Cgroup.
	c := &s.Cgroup
	if c.Available {
		st := &c.Stats
		loc := c.Location
		extra := ""
		if loc.Hybrid {
			extra = ", hybrid"
		}
		if st.AncestorsHidden {
			extra += ", ancestors hidden"
		}
		head("cgroup %s %s%s", st.Version, st.Path, extra)
		row("usage", FormatBytes(st.Usage), "")
		h := &s.Attribution.Headroom
		if h.HasLimit {
			note := formatSigned(h.ToLimit) + " to the limit"
			if h.HasUsagePercent {
				note = fmt.Sprintf("%.1f%% used, %s", h.UsagePercent, note)
			}
			row("limit", FormatBytes(h.Limit), note)
		} else {
			row("limit", "none", "")
		}
		if h.HasHigh {
			row("high", FormatBytes(h.High), formatSigned(h.ToHigh)+" to memory.high")
		} else {
			row("high", "none", "")
		}
		wsNote := "usage − inactive_file"
		if h.HasWorkingSetPercent {
			wsNote = fmt.Sprintf("%.1f%% of limit", h.WorkingSetPercent)
		}
		if st.HasWorkingSet() {
			row("working set", FormatBytes(st.WorkingSet), wsNote)
		}
		if st.HasPeak {
			row("peak", FormatBytes(st.Peak), "")
		}
		if st.HasSwap {
			lim := "no swap limit"
			if limited(st.SwapLimit) {
				lim = "swap limit " + FormatBytes(st.SwapLimit)
			}
			row("swap", FormatBytes(st.SwapUsage), lim)
		}
		if st.Full {
			ev := &st.Events
			note := ""
			if st.Version == cgroupstat.V1 {
				note = "failcnt unknown"
				if ev.HasFailcnt {
					note = fmt.Sprintf("failcnt %d (includes harmless cache reclaim)", ev.Failcnt)
				}
			} else {
				note = fmt.Sprintf("oom %d, max %d, high %d", ev.OOM, ev.Max, ev.High)
			}
			if ev.HasEvents {
				row("oom kills", fmt.Sprint(ev.OOMKill), note)
			} else if ev.HasFailcnt {
				row("failcnt", fmt.Sprint(ev.Failcnt), "includes harmless cache reclaim")
			}
			if st.PSI.Source != cgroupstat.PSINone {
				row("pressure some", fmt.Sprintf("%.2f%%", st.PSI.Some.Avg10), fmt.Sprintf("avg10 (%s); full %.2f%%", st.PSI.Source, st.PSI.Full.Avg10))
			}
		}
		for p, err := range st.Errs {
			if err != nil {
				row(cgroupstat.Part(p).String(), partState(st, cgroupstat.Part(p)), err.Error())
			}
		}
	} else {
		head("cgroup %s", na(&c.ViewStatus))
	}

	// Process.
	p := &s.Process
	if p.Available {
		head("process")
		split := fmt.Sprintf("anon %s, file+shmem %s", FormatBytes(p.Anon()), FormatBytes(p.Statm.Shared))
		const sp = procstat.HasRssAnon | procstat.HasRssFile | procstat.HasRssShmem
		if p.Status.Present&sp == sp {
			split = fmt.Sprintf("anon %s, file %s, shmem %s", FormatBytes(p.Status.RssAnon),
				FormatBytes(p.Status.RssFile), FormatBytes(p.Status.RssShmem))
		}
		row("rss", FormatBytes(p.RSS()), split)
		if p.Status.Present&procstat.HasVmHWM != 0 {
			row("peak rss", FormatBytes(p.Status.VmHWM), "VmHWM")
		}
	} else {
		head("process %s", na(&p.ViewStatus))
	}

	// Go.
	g := &s.Go
	head("go")
	row("heap live", FormatBytes(g.HeapLive), "goal "+FormatBytes(g.HeapGoal))
	row("alloc", FormatBytes(g.Alloc), "HeapAlloc = heap objects")
	row("sys", FormatBytes(g.Sys), "released "+FormatBytes(g.HeapReleased)+", retained "+FormatBytes(g.Retained()))
	lim := "none"
	if g.HasLimit() {
		lim = FormatBytes(uint64(g.GOMEMLIMIT))
	}
	gogc := "off"
	if g.GOGC >= 0 {
		gogc = fmt.Sprint(g.GOGC)
	}
	row("GOMEMLIMIT", lim, "GOGC "+gogc)
	row("gc cpu", fmt.Sprintf("%.1f%%", 100*g.GCCPUFraction), fmt.Sprintf("%d cycles, %d goroutines", g.GCCycles, g.Goroutines))
	if s.Actions.Enabled {
		row("actions", "", actionsLine(&s.Actions))
	}

	// Host.
	h := &s.Host
	if h.Available {
		head("host")
		row("mem total", FormatBytes(h.MemTotal), "available "+FormatBytes(h.MemAvailable))
	} else {
		head("host %s", na(&h.ViewStatus))
	}

	// Attribution.
	a := &s.Attribution
	head("attribution of %s %s", baseLabel(a.Base), FormatBytes(a.Total))
	for _, part := range a.Parts {
		if !part.Known {
			continue
		}
		share := 0.0
		if a.Total > 0 {
			share = 100 * float64(part.Bytes) / float64(a.Total)
		}
		row(part.Name(), FormatBytes(part.Bytes), fmt.Sprintf("%5.1f%%  %s", share, part.Reclaim))
	}
	row("reclaimable", FormatBytes(a.ReclaimableBytes), "page cache and slab the kernel drops before an OOM kill")
	if a.NeedsWritebackBytes > 0 {
		row("needs writeback", FormatBytes(a.NeedsWritebackBytes), "dirty page cache")
	}
	row("unreclaimable", FormatBytes(a.UnreclaimableBytes), "")
	if a.GoNotResidentBytes > 0 {
		row("go not resident", FormatBytes(a.GoNotResidentBytes), "counted by the runtime, not charged by the kernel")
	}
	if a.Headroom.HasLimit {
		row("before oom", formatSigned(a.Headroom.AvailableBeforeOOM), "limit − unreclaimable")
	}
	if a.Notes != 0 {
		row("notes", "", strings.Join(a.Notes.Names(), ", "))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// baseLabel names what an attribution decomposes, for the text rendering.
func baseLabel(b Base) string {
	switch b {
	case BaseCgroup:
		return "cgroup usage"
	case BaseProcess:
		return "process RSS"
	}
	return "Go retained memory"
}

// actionsLine is the text rendering of the actions (one line).
func actionsLine(a *Actions) string {
	lim := "GOMEMLIMIT unchanged"
	if a.MemLimit > 0 {
		lim = "GOMEMLIMIT set to " + FormatBytes(a.MemLimit)
	}
	parts := []string{lim + " (" + a.MemLimitReason + ")"}
	if a.GOGCSet {
		parts = append(parts, fmt.Sprintf("GOGC set to %d", a.GOGC))
	}
	if a.FreeOSMemoryCount > 0 {
		parts = append(parts, fmt.Sprintf("FreeOSMemory %d× (last %s)", a.FreeOSMemoryCount, a.FreeOSMemoryTime.UTC().Format(time.RFC3339)))
	}
	if a.Shed.Bytes > 0 {
		parts = append(parts, "shed "+FormatBytes(a.Shed.Bytes)+" ("+a.Shed.Reason+")")
	}
	return strings.Join(parts, "; ")
}
