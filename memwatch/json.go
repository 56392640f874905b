package memwatch

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

// MarshalJSON renders the snapshot as one JSON object with stable
// snake_case keys, byte counts as integers and null for unknown values; the
// keys are listed in the package documentation (JSON schema). The receiver
// is a value so that [json.Marshal] writes the same bytes for a Snapshot and
// a *Snapshot.
//
// It writes the bytes encoding/json would write for the same values
// (strings HTML-escaped, floats in its format, times as
// [time.Time.MarshalJSON] writes them) without going through its
// reflection. A NaN or infinite float, a time outside years 0–9999 or an
// invalid [Level] is an error, as with encoding/json.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	e := jsonEncoder{b: make([]byte, 0, 5<<10)} // the goldens are 3.8–4.1 kB
	e.snapshot(&s)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// jsonEncoder appends one JSON object to b. Every key it writes is listed,
// in the same order, in schemaKeys (schema.go), from which doc.go's list is
// generated; TestSchemaKeys and TestSchemaKeyOrder check the two agree.
type jsonEncoder struct {
	b []byte
	// comma is set after a value: the next key or element needs a comma.
	comma bool
	// path holds the keys of the open objects, for error messages.
	path  [4]string
	depth int
	// err is the first value that cannot be written.
	err error
}

func (e *jsonEncoder) snapshot(s *Snapshot) {
	e.b = append(e.b, '{')
	e.time("time", s.Time, true)
	e.bool("full", s.Full, true)
	e.time("detail_time", s.DetailTime, !s.DetailTime.IsZero())
	e.level("level", s.Level)
	e.open("sampling")
	e.str("mode", s.Sampling.Mode, s.Sampling.Mode != "")
	e.float("interval_seconds", s.Sampling.Interval.Seconds(), s.Sampling.Interval > 0)
	e.close()
	e.str("verdict", s.Verdict(), true)
	e.cgroup(&s.Cgroup)
	e.process(&s.Process)
	e.goStats(&s.Go)
	e.host(&s.Host)
	e.attribution(&s.Attribution)
	if s.Actions.Enabled {
		e.actions(&s.Actions)
	}
	e.b = append(e.b, '}')
}

func (e *jsonEncoder) cgroup(c *CgroupStats) {
	st := &c.Stats
	on := c.Available
	full := on && st.Full
	e.open("cgroup")
	e.bool("available", c.Available, true)
	e.errString("error", c.Err)
	// Why each optional part is unknown, or stale (see CgroupStats).
	e.open("errors")
	for p, err := range st.Errs {
		if !on {
			err = nil
		}
		e.errString(cgroupstat.Part(p).String(), err)
	}
	e.close()
	e.str("version", st.Version.String(), on)
	e.str("path", st.Path, on)
	e.str("dir", c.Location.Dir, on)
	e.bool("hybrid", on && c.Location.Hybrid, true)
	e.bool("ancestors_hidden", on && st.AncestorsHidden, true)
	e.uint("usage_bytes", st.Usage, on)
	e.uint("working_set_bytes", st.WorkingSet, on && st.HasWorkingSet())
	e.uint("limit_bytes", st.Limit, on && limited(st.Limit))
	e.uint("high_bytes", st.High, on && limited(st.High))
	e.uint("peak_bytes", st.Peak, on && st.HasPeak)
	e.uint("swap_bytes", st.SwapUsage, on && st.HasSwap)
	e.uint("swap_limit_bytes", st.SwapLimit, on && st.HasSwap && limited(st.SwapLimit))

	m := &st.Stat
	var pr cgroupstat.StatFields
	if full {
		pr = m.Present
	}
	stat := func(key string, bit cgroupstat.StatFields, v uint64) { e.uint(key, v, pr&bit != 0) }
	stat("anon_bytes", cgroupstat.StatAnon, m.Anon)
	stat("file_bytes", cgroupstat.StatFile, m.File)
	stat("active_file_bytes", cgroupstat.StatActiveFile, m.ActiveFile)
	stat("inactive_file_bytes", cgroupstat.StatInactiveFile, m.InactiveFile)
	stat("shmem_bytes", cgroupstat.StatShmem, m.Shmem)
	e.uint("kernel_bytes", cgroupKernel(st), pr&cgroupstat.StatKernel != 0)
	e.open("stat")
	stat("anon_bytes", cgroupstat.StatAnon, m.Anon)
	stat("file_bytes", cgroupstat.StatFile, m.File)
	stat("active_anon_bytes", cgroupstat.StatActiveAnon, m.ActiveAnon)
	stat("inactive_anon_bytes", cgroupstat.StatInactiveAnon, m.InactiveAnon)
	stat("active_file_bytes", cgroupstat.StatActiveFile, m.ActiveFile)
	stat("inactive_file_bytes", cgroupstat.StatInactiveFile, m.InactiveFile)
	stat("unevictable_bytes", cgroupstat.StatUnevictable, m.Unevictable)
	stat("shmem_bytes", cgroupstat.StatShmem, m.Shmem)
	stat("file_mapped_bytes", cgroupstat.StatFileMapped, m.FileMapped)
	stat("file_dirty_bytes", cgroupstat.StatFileDirty, m.FileDirty)
	stat("file_writeback_bytes", cgroupstat.StatFileWriteback, m.FileWriteback)
	stat("kernel_bytes", cgroupstat.StatKernel, m.Kernel)
	stat("kernel_stack_bytes", cgroupstat.StatKernelStack, m.KernelStack)
	stat("pagetables_bytes", cgroupstat.StatPageTables, m.PageTables)
	stat("percpu_bytes", cgroupstat.StatPercpu, m.Percpu)
	stat("sock_bytes", cgroupstat.StatSock, m.Sock)
	stat("slab_reclaimable_bytes", cgroupstat.StatSlabReclaimable, m.SlabReclaimable)
	stat("slab_unreclaimable_bytes", cgroupstat.StatSlabUnreclaimable, m.SlabUnreclaimable)
	stat("swap_bytes", cgroupstat.StatSwap, m.Swap)
	stat("anon_thp_bytes", cgroupstat.StatAnonTHP, m.AnonTHP)
	e.close()

	// v2 fills the memory.events counters (and local), v1 fills oom_kill,
	// failcnt, under_oom and oom_kill_disable; the others are null.
	ev := &st.Events
	has := full && ev.HasEvents
	v2 := has && st.Version == cgroupstat.V2
	v1 := has && st.Version != cgroupstat.V2
	failcnt := full && ev.HasFailcnt && st.Version != cgroupstat.V2
	e.open("events")
	e.uint("low", ev.Low, v2)
	e.uint("high", ev.High, v2)
	e.uint("max", ev.Max, v2)
	e.uint("oom", ev.OOM, v2)
	e.uint("oom_kill", ev.OOMKill, has)
	e.uint("oom_group_kill", ev.OOMGroupKill, v2)
	if v2 && ev.HasLocal {
		l := &ev.Local
		e.open("local")
		e.uint("low", l.Low, true)
		e.uint("high", l.High, true)
		e.uint("max", l.Max, true)
		e.uint("oom", l.OOM, true)
		e.uint("oom_kill", l.OOMKill, true)
		e.uint("oom_group_kill", l.OOMGroupKill, true)
		e.close()
	} else {
		e.null("local")
	}
	e.uint("failcnt", ev.Failcnt, failcnt)
	e.bool("under_oom", ev.UnderOOM, v1)
	e.bool("oom_kill_disable", ev.OOMKillDisable, v1)
	e.close()

	psi := &st.PSI
	has = full && psi.Source != cgroupstat.PSINone
	e.open("psi")
	e.str("source", psi.Source.String(), has)
	e.psiLine("some", &psi.Some, has)
	e.psiLine("full", &psi.Full, has)
	e.close()
	e.close()
}

func (e *jsonEncoder) psiLine(key string, l *cgroupstat.PSILine, ok bool) {
	if !ok {
		e.null(key)
		return
	}
	e.open(key)
	e.float("avg10", l.Avg10, true)
	e.float("avg60", l.Avg60, true)
	e.float("avg300", l.Avg300, true)
	e.uint("total_us", l.Total, true)
	e.close()
}

func (e *jsonEncoder) process(p *ProcessStats) {
	on := p.Available
	var sp procstat.StatusFields
	if on {
		sp = p.Status.Present
	}
	e.open("process")
	e.bool("available", p.Available, true)
	e.errString("error", p.Err)
	e.uint("rss_bytes", p.RSS(), on)
	e.uint("anon_bytes", p.Anon(), on)
	e.uint("shared_bytes", p.Statm.Shared, on)
	e.uint("rss_file_bytes", p.Status.RssFile, sp&procstat.HasRssFile != 0)
	e.uint("rss_shmem_bytes", p.Status.RssShmem, sp&procstat.HasRssShmem != 0)
	e.uint("peak_rss_bytes", p.Status.VmHWM, sp&procstat.HasVmHWM != 0)
	e.uint("swap_bytes", p.Status.VmSwap, sp&procstat.HasVmSwap != 0)
	e.uint("vm_size_bytes", p.Statm.Size, on)
	e.close()
}

func (e *jsonEncoder) goStats(g *GoStats) {
	e.open("go")
	e.uint("alloc_bytes", g.Alloc, true)
	e.uint("sys_bytes", g.Sys, true)
	e.uint("heap_live_bytes", g.HeapLive, g.Present&GoHeapLive != 0)
	e.uint("heap_goal_bytes", g.HeapGoal, g.Present&GoHeapGoal != 0)
	e.uint("heap_objects_bytes", g.HeapObjects, true)
	e.uint("heap_released_bytes", g.HeapReleased, true)
	e.uint("retained_bytes", g.Retained(), true)
	e.int("gomemlimit_bytes", g.GOMEMLIMIT, g.HasLimit())
	e.int("gogc_percent", g.GOGC, g.Present&GoGOGC != 0 && g.GOGC >= 0)
	e.uint("gc_cycles", g.GCCycles, true)
	e.float("gc_cpu_fraction", g.GCCPUFraction, true)
	e.float("gc_cpu_window_seconds", g.GCCPUWindowSeconds, true)
	e.uint("gc_limiter_last_enabled_cycle", g.GCLimiterLastEnabled, true)
	e.uint("goroutines", g.Goroutines, true)
	e.uint("gomaxprocs", g.GOMAXPROCS, true)
	e.uint("total_alloc_bytes", g.HeapAllocsTotal, true)
	e.bool("exact", g.Exact, true)
	// Keys are the runtime's class names, "heap/objects" → "heap_objects".
	e.open("classes")
	for _, c := range g.Classes[:min(g.NumClasses, maxGoClasses)] {
		start := len(e.b)
		e.dataKey(c.Name)
		// Neither the quoter's escapes nor the punctuation hold '/' or
		// '-': every one after start comes from the name.
		for i := start; i < len(e.b); i++ {
			if e.b[i] == '/' || e.b[i] == '-' {
				e.b[i] = '_'
			}
		}
		e.b = strconv.AppendUint(e.b, c.Bytes, 10)
	}
	e.close()
	e.close()
}

func (e *jsonEncoder) host(h *HostStats) {
	on := h.Available
	var mp procstat.MeminfoFields
	if on {
		mp = h.Meminfo.Present
	}
	e.open("host")
	e.bool("available", h.Available, true)
	e.errString("error", h.Err)
	e.uint("mem_total_bytes", h.MemTotal, on)
	e.uint("mem_available_bytes", h.MemAvailable, mp&procstat.HasMemAvailable != 0)
	e.uint("swap_total_bytes", h.Meminfo.SwapTotal, mp&procstat.HasSwapTotal != 0)
	e.uint("swap_free_bytes", h.Meminfo.SwapFree, mp&procstat.HasSwapFree != 0)
	e.close()
}

// attribution writes the attribution, gap and headroom objects.
func (e *jsonEncoder) attribution(a *Attribution) {
	// Part name → bytes, in part order, null for unknown parts.
	e.open("attribution")
	for _, p := range a.Parts {
		e.dataKey(p.Name())
		if p.Known {
			e.b = strconv.AppendUint(e.b, p.Bytes, 10)
		} else {
			e.b = append(e.b, "null"...)
		}
	}
	e.close()

	e.open("gap")
	e.str("base", a.Base.String(), true)
	e.uint("total_bytes", a.Total, true)
	e.uint("reclaimable_bytes", a.ReclaimableBytes, true)
	e.uint("needs_writeback_bytes", a.NeedsWritebackBytes, true)
	e.uint("unreclaimable_bytes", a.UnreclaimableBytes, true)
	e.uint("runtime_releasable_bytes", a.RuntimeReleasableBytes, true)
	e.uint("go_bytes", a.GoBytes, true)
	e.uint("non_go_bytes", a.NonGoBytes, true)
	e.uint("go_not_resident_bytes", a.GoNotResidentBytes, true)
	e.uint("overcount_bytes", a.OvercountBytes, true)
	e.open("reclaim")
	for _, p := range a.Parts {
		e.dataKey(p.Name())
		e.b = appendJSONString(e.b, p.Reclaim.String())
	}
	e.close()
	e.key("notes")
	e.b = append(e.b, '[')
	e.comma = false
	for i, name := range noteNames {
		if a.Notes&(1<<i) != 0 {
			e.sep()
			e.b = appendJSONString(e.b, name)
		}
	}
	e.b = append(e.b, ']')
	e.comma = true
	e.close()

	hr := &a.Headroom
	e.open("headroom")
	e.uint("limit_bytes", hr.Limit, hr.HasLimit)
	e.uint("high_bytes", hr.High, hr.HasHigh)
	e.int("to_limit_bytes", hr.ToLimit, hr.HasLimit)
	e.int("to_high_bytes", hr.ToHigh, hr.HasHigh)
	e.int("available_before_oom_bytes", hr.AvailableBeforeOOM, hr.HasLimit)
	e.float("usage_percent", hr.UsagePercent, hr.HasUsagePercent)
	e.float("working_set_percent", hr.WorkingSetPercent, hr.HasWorkingSetPercent)
	e.close()
}

func (e *jsonEncoder) actions(a *Actions) {
	e.open("actions")
	e.uint("memlimit_bytes", a.MemLimit, a.MemLimit > 0)
	e.str("memlimit_reason", a.MemLimitReason, true)
	e.str("memlimit_source", a.MemLimitSource.String(), true)
	e.str("memlimit_bound", a.MemLimitBound.String(), true)
	e.uint("memlimit_decided_bytes", a.MemLimitDecided, a.MemLimitDecided > 0 && a.MemLimitDecided < NoMemLimit)
	e.uint("memlimit_budget_bytes", a.MemLimitBudget, a.MemLimitBudget > 0 && a.MemLimitBudget < NoMemLimit)
	e.time("memlimit_changed", a.MemLimitChanged, !a.MemLimitChanged.IsZero())
	e.int("gogc_percent", int64(a.GOGC), a.GOGCSet)
	e.time("free_os_memory_time", a.FreeOSMemoryTime, !a.FreeOSMemoryTime.IsZero())
	e.uint("free_os_memory_count", a.FreeOSMemoryCount, true)
	e.open("shed")
	e.uint("bytes", a.Shed.Bytes, true)
	e.bool("wont_fit", a.Shed.WontFit, true)
	e.str("reason", a.Shed.Reason, true)
	e.close()
	e.close()
}

// The helpers below are kept out of line (go:noinline): inlined at the
// hundred call sites above, they more than doubled the encoder's machine
// code, which every program importing memwatch links because
// Snapshot.MarshalJSON stays reachable. Their cost is a call per key.

// sep writes the comma before a key or element that follows a value.
//
//go:noinline
func (e *jsonEncoder) sep() {
	if e.comma {
		e.b = append(e.b, ',')
	}
	e.comma = true
}

// key writes a fixed key (ASCII, nothing to escape) and its colon.
//
//go:noinline
func (e *jsonEncoder) key(k string) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

// dataKey writes a key that is data (a part or class name), escaped.
//
//go:noinline
func (e *jsonEncoder) dataKey(k string) {
	e.sep()
	e.b = appendJSONString(e.b, k)
	e.b = append(e.b, ':')
}

// open starts the object under key k.
//
//go:noinline
func (e *jsonEncoder) open(k string) {
	e.key(k)
	e.b = append(e.b, '{')
	e.comma = false
	e.path[e.depth] = k
	e.depth++
}

// close ends the innermost open object.
//
//go:noinline
func (e *jsonEncoder) close() {
	e.b = append(e.b, '}')
	e.comma = true
	e.depth--
}

// null writes key k with the value null.
//
//go:noinline
func (e *jsonEncoder) null(k string) {
	e.key(k)
	e.b = append(e.b, "null"...)
}

// The value writers below write null instead of the value when ok is
// false.

func (e *jsonEncoder) uint(k string, v uint64, ok bool) {
	if !ok {
		e.null(k)
		return
	}
	e.key(k)
	e.b = strconv.AppendUint(e.b, v, 10)
}

func (e *jsonEncoder) int(k string, v int64, ok bool) {
	if !ok {
		e.null(k)
		return
	}
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *jsonEncoder) bool(k string, v, ok bool) {
	if !ok {
		e.null(k)
		return
	}
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}

func (e *jsonEncoder) str(k, v string, ok bool) {
	if !ok {
		e.null(k)
		return
	}
	e.key(k)
	e.b = appendJSONString(e.b, v)
}

// errString writes err's message, or null for a nil err.
func (e *jsonEncoder) errString(k string, err error) {
	if err == nil {
		e.null(k)
		return
	}
	e.str(k, err.Error(), true)
}

// float writes f as encoding/json does: the shortest representation that
// reads back as f, in 'f' format, or 'e' for magnitudes below 1e-6 or from
// 1e21 on, with a one-digit exponent not padded (1e-7, not 1e-07). JSON
// has no NaN or infinity.
func (e *jsonEncoder) float(k string, f float64, ok bool) {
	if !ok {
		e.null(k)
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.fail(k, errorf("unsupported value %s", strconv.FormatFloat(f, 'g', -1, 64)))
		return
	}
	e.key(k)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		if n := len(e.b); n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

// time writes t as [time.Time.MarshalJSON] does: RFC 3339 with the
// nanoseconds that are not zero. The text has nothing to escape.
func (e *jsonEncoder) time(k string, t time.Time, ok bool) {
	if !ok {
		e.null(k)
		return
	}
	e.key(k)
	e.b = append(e.b, '"')
	b, err := t.AppendText(e.b)
	if err != nil {
		e.fail(k, err)
		return
	}
	e.b = append(b, '"')
}

// level writes the level's name; an invalid level is an error, as its
// MarshalText makes it for encoding/json.
func (e *jsonEncoder) level(k string, l Level) {
	if _, err := l.MarshalText(); err != nil {
		e.fail(k, err)
		return
	}
	e.str(k, levelNames[l], true)
}

// fail records the first value that cannot be written, named by its path.
func (e *jsonEncoder) fail(k string, err error) {
	if e.err == nil {
		path := strings.Join(append(e.path[:e.depth:e.depth], k), ".")
		e.err = errorf("memwatch: marshal JSON: %s: %w", path, err)
	}
}

// appendJSONString appends s as a JSON string escaped as encoding/json
// escapes it: quotes, backslashes and control characters; <, > and & (for
// HTML); U+2028 and U+2029 (for JavaScript); each byte of invalid UTF-8
// becomes \ufffd.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
