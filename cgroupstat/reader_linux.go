package cgroupstat

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// open is Open's implementation: discovery, MemTotal, every file opened
// once (required ones must open, optional ones that cannot are recorded
// with the reason), the PSI source chosen, and a priming full read.
func open(o options) (_ *Reader, err error) {
	loc, err := discover(o)
	if err != nil {
		return nil, err
	}
	r := &Reader{fs: o.fs, loc: loc, memTotal: o.memTotal, hierLimit: Unlimited, hierMemsw: Unlimited}
	defer func() {
		if err != nil {
			r.Close() // whatever was opened before the failure
		}
	}()
	if r.memTotal == 0 {
		// Without MemTotal only the 2^62 rule normalises limits; the
		// cgroup's numbers do not depend on it.
		mi := o.under("/proc/meminfo")
		b, err := o.fs.ReadOnce(mi, 0)
		if err == nil {
			r.memTotal, err = parseMemTotal(mi, b)
		}
		if err != nil {
			r.memTotal, r.memTotalErr = 0, err
		}
	}

	// The cgroup's directory and its visible ancestors up to the mount point.
	dirs := []string{loc.Dir}
	for d := loc.Dir; d != loc.MountPoint; {
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
		dirs = append(dirs, d)
	}

	if loc.Version == V2 {
		err = r.openV2(o, dirs)
	} else {
		err = r.openV1(o, dirs)
	}
	if err != nil {
		return nil, err
	}
	r.openPSI(o)
	// Prime: seeds the inactive_file and v1 hierarchical limit that
	// ReadCheap uses, and fails now if the usage or a limit cannot be read.
	var s Stats
	if err = r.ReadFull(&s); err != nil {
		return nil, err
	}
	return r, nil
}

// need says how a file's absence or failure to open is taken.
type need uint8

const (
	// required: Open fails (usage, limits).
	required need = iota
	// expected: every kernel with the controller has it; missing or not
	// openable, its part is unknown with the reason (memory.stat, v2
	// memory.events, v1 memory.failcnt and memory.oom_control).
	expected
	// optional: absent on some kernels (memory.peak, swap accounting,
	// memory.events.local, v1 kmem); missing, its part is absent without
	// error, not openable, unknown with the reason.
	optional
)

// openFile opens a file for repeated reads. A file that is missing or
// cannot be opened yields (nil, nil) and, unless it is optional and merely
// missing, the reason in r.openErr[part]; a required one yields an error
// naming it.
func (r *Reader) openFile(o options, path string, size int, n need, part Part) (*kfile.File, error) {
	f, err := o.fs.Open(path, size)
	if err == nil {
		return f, nil
	}
	missing := absent(o, path, err)
	switch {
	case n == required && missing && r.loc.Deleted:
		return nil, &DiscoveryError{File: path, Reason: "the cgroup was deleted", Err: err}
	case n == required:
		return nil, &DiscoveryError{File: path, Reason: "cannot open a required file", Err: err}
	case n == expected || !missing:
		if r.openErr[part] == nil {
			r.openErr[part] = err
		}
	}
	return nil, nil
}

// absent reports whether err, from opening path, means there is no such
// file: not a link that leads nowhere (a missing file the kernel may lack
// is no error; a link in its place is a broken tree).
func absent(o options, path string, err error) bool {
	return errors.Is(err, fs.ErrNotExist) && noEntry(o, path)
}

// openChain opens name in each of dirs (own first); the own file is
// required when ownRequired. Ancestors without the file are skipped (the
// host root has no memory.max, for example); one that exists but cannot be
// opened fails the chain.
func (r *Reader) openChain(o options, dirs []string, name string, ownRequired bool, include func(dir string) bool) ([]chainFile, error) {
	var out []chainFile
	for i, d := range dirs {
		if i > 0 && include != nil && !include(d) {
			continue
		}
		p := filepath.Join(d, name)
		f, err := o.fs.Open(p, 64)
		switch {
		case err == nil:
			out = append(out, chainFile{f: f, dir: d})
			continue
		case absent(o, p, err) && !(i == 0 && ownRequired):
			continue
		case errors.Is(err, fs.ErrNotExist) && r.loc.Deleted:
			err = &DiscoveryError{File: p, Reason: "the cgroup was deleted", Err: err}
		default:
			err = &DiscoveryError{File: p, Reason: "cannot open a limit file", Err: err}
		}
		closeChain(out)
		return nil, err
	}
	return out, nil
}

func (r *Reader) openV2(o options, dirs []string) (err error) {
	d := r.loc.Dir
	if r.usage, err = r.openFile(o, filepath.Join(d, "memory.current"), 64, required, 0); err != nil {
		return err
	}
	if r.limits, err = r.openChain(o, dirs, "memory.max", true, nil); err != nil {
		return err
	}
	if r.highs, err = r.openChain(o, dirs, "memory.high", false, nil); err != nil {
		return err
	}
	if r.peak, err = r.openFile(o, filepath.Join(d, "memory.peak"), 64, optional, PartPeak); err != nil {
		return err
	}
	if r.swapCur, err = r.openFile(o, filepath.Join(d, "memory.swap.current"), 64, optional, PartSwap); err != nil {
		return err
	}
	if r.swapCur != nil {
		if r.swapMaxes, err = r.openChain(o, dirs, "memory.swap.max", false, nil); err != nil {
			// Swap is optional: a swap.max that cannot be opened makes it
			// unknown, not the cgroup.
			r.openErr[PartSwap], err = err, nil
			r.swapCur.Close()
			r.swapCur = nil
		}
	}
	r.statPath = filepath.Join(d, "memory.stat")
	if r.stat, err = r.openFile(o, r.statPath, 4096, expected, PartStat); err != nil {
		return err
	}
	if r.events, err = r.openFile(o, filepath.Join(d, "memory.events"), 256, expected, PartEvents); err != nil {
		return err
	}
	if r.eventsLoc, err = r.openFile(o, filepath.Join(d, "memory.events.local"), 256, optional, PartEventsLocal); err != nil {
		return err
	}
	r.files = Files{Usage: r.usage.Path(), Limit: r.limits[0].f.Path(), Stat: pathOf(r.stat),
		Events: pathOf(r.events), EventsLocal: pathOf(r.eventsLoc)}
	return nil
}

func pathOf(f *kfile.File) string {
	if f == nil {
		return ""
	}
	return f.Path()
}

func (r *Reader) openV1(o options, dirs []string) (err error) {
	d := r.loc.Dir
	if r.usage, err = r.openFile(o, filepath.Join(d, "memory.usage_in_bytes"), 64, required, 0); err != nil {
		return err
	}
	// An ancestor's limit applies only when it accounts hierarchically
	// (memory.use_hierarchy = 1; always so since Linux 5.11). A descendant
	// of a use_hierarchy=1 cgroup is always 1 too, so the ancestor's own
	// flag decides.
	// The hierarchy root itself is skipped: v1 refuses a limit on the root
	// cgroup (EINVAL), its file always reads "no limit".
	hier := func(dir string) bool {
		if isHierarchyRoot(o, V1, dir) {
			return false
		}
		b, err := o.fs.ReadOnce(filepath.Join(dir, "memory.use_hierarchy"), 0)
		return err != nil || !kfile.Equal(kfile.TrimSpace(b), "0")
	}
	if r.limits, err = r.openChain(o, dirs, "memory.limit_in_bytes", true, hier); err != nil {
		return err
	}
	if r.peak, err = r.openFile(o, filepath.Join(d, "memory.max_usage_in_bytes"), 64, optional, PartPeak); err != nil {
		return err
	}
	if r.memswUse, err = r.openFile(o, filepath.Join(d, "memory.memsw.usage_in_bytes"), 64, optional, PartSwap); err != nil {
		return err
	}
	if r.memswLim, err = r.openFile(o, filepath.Join(d, "memory.memsw.limit_in_bytes"), 64, optional, PartSwap); err != nil {
		return err
	}
	r.statPath = filepath.Join(d, "memory.stat")
	if r.stat, err = r.openFile(o, r.statPath, 4096, expected, PartStat); err != nil {
		return err
	}
	if r.failcnt, err = r.openFile(o, filepath.Join(d, "memory.failcnt"), 64, expected, PartFailcnt); err != nil {
		return err
	}
	if r.oomCtl, err = r.openFile(o, filepath.Join(d, "memory.oom_control"), 128, expected, PartEvents); err != nil {
		return err
	}
	if r.kmem, err = r.openFile(o, filepath.Join(d, "memory.kmem.usage_in_bytes"), 64, optional, PartKernel); err != nil {
		return err
	}
	r.files = Files{Usage: r.usage.Path(), Limit: r.limits[0].f.Path(), Stat: pathOf(r.stat), Events: pathOf(r.oomCtl)}
	// Write-only: checked, not opened. Only a regular file inside the
	// root qualifies (a FIFO here would block a writer's open).
	if ec := filepath.Join(d, "cgroup.event_control"); fileType(o, ec) == 0 {
		r.files.EventControl = ec
	}
	return nil
}

// fileType returns the type bits of path inside the root, or
// fs.ModeIrregular when it does not resolve.
func fileType(o options, path string) fs.FileMode {
	m, err := o.fs.Stat(path)
	if err != nil {
		return fs.ModeIrregular
	}
	return m
}

// openPSI picks the pressure file: the process's own cgroup2 memory.pressure
// (Location.UnifiedDir: the v2 cgroup, or the cgroup2 directory in a hybrid
// layout) unless that is the root cgroup, else the host's
// /proc/pressure/memory, else none. A file that is missing, or that answers
// EOPNOTSUPP (PSI disabled: psi=0 at boot, cgroup.pressure 0), is skipped;
// any other failure (not a regular file, a link to nothing, too large) ends
// the search with that reason, so that a broken cgroup file is not silently
// replaced by the host's numbers. A file that reads but does not parse is
// kept: each read reports the parse error (Stats.Errs[PartPSI]).
func (r *Reader) openPSI(o options) {
	type cand struct {
		path string
		src  PSISource
	}
	var cands []cand
	// The root cgroup's memory.pressure is the host-wide one: read it as such.
	if r.loc.UnifiedDir != "" && !isHierarchyRoot(o, V2, r.loc.UnifiedDir) {
		cands = append(cands, cand{filepath.Join(r.loc.UnifiedDir, "memory.pressure"), PSICgroup})
	}
	cands = append(cands, cand{o.under("/proc/pressure/memory"), PSIHost})
	r.psiSource = PSINone
	for _, c := range cands {
		f, err := o.fs.Open(c.path, 256)
		if err != nil {
			if absent(o, c.path, err) {
				continue
			}
			r.openErr[PartPSI] = err
			return
		}
		if _, err := f.Read(); errors.Is(err, syscall.EOPNOTSUPP) {
			f.Close()
			continue
		}
		r.psi, r.psiSource = f, c.src
		r.files.Pressure, r.files.PressureSource = c.path, c.src
		return
	}
}

func closeChain(c []chainFile) {
	for i := range c {
		c[i].f.Close()
	}
}
