package memwatch

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// Verdict is a one-line summary, for example "usage is 91.2% of limit
// (233.5 MiB of 256.0 MiB); 140.0 MiB is page cache, reclaimable; non-Go
// memory at least 60.0 MiB". Percentages have the one decimal of the
// [Snapshot.WriteText] table; non-Go memory is a lower bound (see
// [PartNonGoAnon]). WriteText prints the verdict under the header line and
// [Snapshot.MarshalJSON] writes it as "verdict".
func (s *Snapshot) Verdict() string {
	a := &s.Attribution
	var cl []string
	switch {
	case s.Cgroup.Available:
		st := &s.Cgroup.Stats
		if a.Headroom.HasLimit {
			c := fmt.Sprintf("usage is %.1f%% of limit (%s of %s)", a.Headroom.UsagePercent,
				FormatBytes(st.Usage), FormatBytes(a.Headroom.Limit))
			if !a.Headroom.HasUsagePercent { // a limit of 0
				c = fmt.Sprintf("usage %s at a limit of %s", FormatBytes(st.Usage), FormatBytes(a.Headroom.Limit))
			}
			if st.Full && a.Headroom.HasWorkingSetPercent {
				c += fmt.Sprintf(", working set %.1f%%", a.Headroom.WorkingSetPercent)
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
	if a.Parts[PartNonGoAnon].Known && a.NonGoBytes > 0 {
		cl = append(cl, "non-Go memory at least "+FormatBytes(a.NonGoBytes))
	}
	if n := a.Bytes(PartOtherProcesses); n > 0 {
		cl = append(cl, "other processes in the cgroup "+FormatBytes(n))
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
// [Attribution] under a header, with each part's reclaim class in words and
// a note where a number needs one (no GC yet, a lower bound, capped), then a
// notes section that explains the easily misread parts and every [Notes]
// caveat in a line each. Byte counts use binary units ([FormatBytes]).
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
	row := func(label, value, note string) { textRow(tw, label, value, note) }
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
		if loc.ReadOnly {
			extra += ", read-only"
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
	if noGCYet(g) {
		row("heap live", "no GC yet", "goal "+FormatBytes(g.HeapGoal)+"; the first GC measures the live heap")
	} else {
		row("heap live", FormatBytes(g.HeapLive), "goal "+FormatBytes(g.HeapGoal))
	}
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
	writeAttribution(&b, s)
	_, err := w.Write(b.Bytes())
	return err
}

// textRow writes one row of the WriteText table: a label, a right-aligned
// value and a note, without trailing spaces.
func textRow(b *bytes.Buffer, label, value, note string) {
	line := fmt.Sprintf("  %-24s %11s  %s", label, value, note)
	b.WriteString(strings.TrimRight(line, " "))
	b.WriteByte('\n')
}

// noGCYet reports that the runtime has not finished a GC cycle, so
// /gc/heap/live is still 0: nothing has been marked yet.
func noGCYet(g *GoStats) bool {
	const need = GoGCCycles | GoHeapLive
	return g.Present&need == need && g.GCCycles == 0 && g.HeapLive == 0
}

// writeAttribution writes the attribution table (one row per known part,
// under a header), its totals, and a notes section that explains in words
// the parts a reader may misread and every set [Notes] bit.
func writeAttribution(b *bytes.Buffer, s *Snapshot) {
	a := &s.Attribution
	fmt.Fprintf(b, "attribution of %s %s\n", baseLabel(a.Base), FormatBytes(a.Total))
	var notes [NumParts]string
	anyNote := false
	for _, part := range a.Parts {
		if part.Known {
			notes[part.ID] = partNote(s, part)
			anyNote = anyNote || notes[part.ID] != ""
		}
	}
	noteHead := ""
	if anyNote {
		noteHead = "note"
	}
	line := fmt.Sprintf("  %-24s %11s  %6s  %-19s  %s", "part", "bytes", "share", "reclaim", noteHead)
	b.WriteString(strings.TrimRight(line, " "))
	b.WriteByte('\n')
	for _, part := range a.Parts {
		if !part.Known {
			continue
		}
		share := 0.0
		if a.Total > 0 {
			share = 100 * float64(part.Bytes) / float64(a.Total)
		}
		textRow(b, part.Name(), FormatBytes(part.Bytes), fmt.Sprintf("%5.1f%%  %-19s  %s", share, reclaimWords(part.Reclaim), notes[part.ID]))
	}
	textRow(b, "reclaimable", FormatBytes(a.ReclaimableBytes), "page cache and slab the kernel drops before an OOM kill")
	if a.NeedsWritebackBytes > 0 {
		textRow(b, "needs writeback", FormatBytes(a.NeedsWritebackBytes), "dirty page cache")
	}
	textRow(b, "unreclaimable", FormatBytes(a.UnreclaimableBytes), "")
	if a.GoNotResidentBytes > 0 {
		textRow(b, "go not resident", FormatBytes(a.GoNotResidentBytes), "counted by the runtime, not charged by the kernel")
	}
	if a.Headroom.HasLimit {
		textRow(b, "before oom", formatSigned(a.Headroom.AvailableBeforeOOM), "limit − unreclaimable")
	}

	// The notes: what the parts that are easy to misread hold, then the
	// caveats (Notes bits), one line each.
	var legend [][2]string
	if a.Parts[PartNonGoAnon].Known {
		legend = append(legend, [2]string{PartNonGoAnon.String(), "this process's memory that the Go runtime does not count (cgo, C libraries, unix.Mmap); " +
			"at least this much, as the Go parts may include pages that are not resident"})
	}
	if a.Parts[PartOtherProcesses].Known && a.Parts[PartOtherProcesses].Bytes > 0 {
		legend = append(legend, [2]string{PartOtherProcesses.String(), otherProcessesText(s.Cgroup.Members)})
	}
	for i, name := range noteNames {
		if bit := Notes(1) << i; a.Notes&bit != 0 {
			legend = append(legend, [2]string{name, noteText(bit, a)})
		}
	}
	if len(legend) == 0 {
		return
	}
	b.WriteString("notes\n")
	for _, l := range legend {
		fmt.Fprintf(b, "  %-17s %s\n", l[0], l[1])
	}
}

// partNote is the note column of a part's row: what a reader should know
// before trusting the number.
func partNote(s *Snapshot, p Part) string {
	var n []string
	switch p.ID {
	case PartGoHeapLive:
		if noGCYet(&s.Go) {
			n = append(n, "no GC yet: every heap object is in go_heap_unused")
		}
	case PartNonGoAnon:
		n = append(n, "at least (see notes)")
	case PartOtherProcesses:
		if p.Bytes > 0 {
			n = append(n, "not this process (see notes)")
		}
	}
	if p.Capped {
		cause := "overcount"
		if p.ID <= PartGoRuntimeOther {
			cause = "go_not_resident"
		}
		n = append(n, "capped ("+cause+")")
	}
	return strings.Join(n, "; ")
}

// reclaimWords renders a reclaim class in words for the text table ("no"
// would read as "absent"); the JSON keeps [Reclaim.String].
func reclaimWords(r Reclaim) string {
	switch r {
	case NotReclaimable:
		return "not reclaimable"
	case Reclaimable:
		return "reclaimable"
	case Swappable:
		return "swappable"
	case RuntimeReleasable:
		return "runtime can release"
	case ReclaimUnknown:
		return "unknown"
	}
	return r.String()
}

// otherProcessesText explains other_processes, naming the cgroup's other
// processes when Read listed them.
func otherProcessesText(m *cgroupstat.Members) string {
	const what = "memory of processes other than this one in the cgroup or its descendants"
	if m == nil {
		return what + ", e.g. the `go run` or shell that started this one, its children, a sidecar"
	}
	others := m.Count
	if m.Self {
		others--
	}
	if others <= 0 {
		return what + "; none is in the cgroup itself now: see its descendant cgroups, or processes that moved out (their pages stay charged)"
	}
	names := make([]string, 0, len(m.Others)+1)
	for _, o := range m.Others {
		name := strconv.Itoa(o.PID)
		if o.Comm != "" {
			name += " " + o.Comm
		}
		var about []string
		if o.PID == m.ParentPID {
			about = append(about, "parent of this one")
		}
		if o.Comm == "" {
			about = append(about, "exited")
		}
		if len(about) > 0 {
			name += " (" + strings.Join(about, ", ") + ")"
		}
		names = append(names, name)
	}
	if more := others - len(m.Others); more > 0 {
		names = append(names, fmt.Sprintf("and %d more", more))
	}
	return fmt.Sprintf("%s; %d in the cgroup now: %s", what, others, strings.Join(names, ", "))
}

// noteText explains one Notes bit in a line.
func noteText(n Notes, a *Attribution) string {
	switch n {
	case NoteNoCgroup:
		return "no memory cgroup view: the total is the process's RSS, not the charge an OOM killer compares with a limit"
	case NoteNoProcess:
		return "no process view: this process's non-Go memory cannot be told from other processes'; both are in unaccounted"
	case NoteNoCgroupStat:
		return "memory.stat was not read: page cache, shmem, kernel memory and other processes are in unaccounted"
	case NoteNoProcessSplit:
		return "/proc/self/status was not read: file_mapped includes shmem"
	case NoteGoNotResident:
		return "the runtime counts " + FormatBytes(a.GoNotResidentBytes) + " more than this process has resident " +
			"(pages mapped but never touched are not charged); the Go parts marked capped show what fits"
	case NoteOvercount:
		return "memory.stat adds up to " + FormatBytes(a.OvercountBytes) + " more than usage (it lags by up to ~2 s, " +
			"charges are batched per CPU); the parts marked capped show what fits"
	case NoteAncestorsHidden:
		return "the cgroup's ancestors are not visible (cgroup namespace or container mount): " +
			"a lower limit set on one of them is not seen (on v1, memory.stat's hierarchical_memory_limit still includes it)"
	case NoteKernelUnsplit:
		return "the kernel does not report reclaimable slab (cgroup v1): all kernel memory is counted not reclaimable"
	case NoteNoHeapLive:
		return "the runtime does not report the live heap (/gc/heap/live): go_heap_live holds all heap objects"
	}
	return "unknown note"
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
