package cgroupstat

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// open is Open's implementation: discovery, MemTotal, every file opened
// once (required ones must exist, optional ones are recorded as absent), the
// PSI source chosen, and a priming full read.
func open(o options) (_ *Reader, err error) {
	loc, err := discover(o)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(o.root); err == nil {
		o.root = abs
	}
	r := &Reader{loc: loc, memTotal: o.memTotal, hierLimit: Unlimited, hierMemsw: Unlimited}
	defer func() {
		if err != nil {
			r.Close() // whatever was opened before the failure
		}
	}()
	if r.memTotal == 0 {
		mi := o.under("/proc/meminfo")
		b, err := kfile.ReadOnce(mi)
		if err != nil {
			return nil, &DiscoveryError{File: mi, Reason: "cannot read the host memory size (use WithMemTotal)", Err: err}
		}
		if r.memTotal, err = parseMemTotal(mi, b); err != nil {
			return nil, err
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
		err = r.openV2(dirs)
	} else {
		err = r.openV1(dirs)
	}
	if err != nil {
		return nil, err
	}
	if err = r.openPSI(o); err != nil {
		return nil, err
	}
	// Prime: validates every file's format now, and seeds the inactive_file
	// and v1 hierarchical limit that ReadCheap uses.
	var s Stats
	if err = r.ReadFull(&s); err != nil {
		return nil, err
	}
	return r, nil
}

// openFile opens a file for repeated reads. A missing optional file yields
// (nil, nil); a missing required one an error naming it.
func (r *Reader) openFile(path string, size int, required bool) (*kfile.File, error) {
	f, err := kfile.Open(path, size)
	if err == nil {
		return f, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if !required {
			return nil, nil
		}
		if r.loc.Deleted {
			return nil, &DiscoveryError{File: path, Reason: "the cgroup was deleted", Err: err}
		}
	}
	return nil, &DiscoveryError{File: path, Reason: "cannot open a required file", Err: err}
}

// openChain opens name in each of dirs (own first); the own file is
// required when ownRequired. Ancestors without the file are skipped (the
// host root has no memory.max, for example).
func (r *Reader) openChain(dirs []string, name string, ownRequired bool, include func(dir string) bool) ([]chainFile, error) {
	var out []chainFile
	for i, d := range dirs {
		if i > 0 && include != nil && !include(d) {
			continue
		}
		f, err := r.openFile(filepath.Join(d, name), 64, i == 0 && ownRequired)
		if err != nil {
			closeChain(out)
			return nil, err
		}
		if f != nil {
			out = append(out, chainFile{f: f, dir: d})
		}
	}
	return out, nil
}

func (r *Reader) openV2(dirs []string) (err error) {
	d := r.loc.Dir
	if r.usage, err = r.openFile(filepath.Join(d, "memory.current"), 64, true); err != nil {
		return err
	}
	if r.limits, err = r.openChain(dirs, "memory.max", true, nil); err != nil {
		return err
	}
	if r.highs, err = r.openChain(dirs, "memory.high", false, nil); err != nil {
		return err
	}
	if r.peak, err = r.openFile(filepath.Join(d, "memory.peak"), 64, false); err != nil {
		return err
	}
	if r.swapCur, err = r.openFile(filepath.Join(d, "memory.swap.current"), 64, false); err != nil {
		return err
	}
	if r.swapCur != nil {
		if r.swapMaxes, err = r.openChain(dirs, "memory.swap.max", false, nil); err != nil {
			return err
		}
	}
	if r.stat, err = r.openFile(filepath.Join(d, "memory.stat"), 4096, true); err != nil {
		return err
	}
	if r.events, err = r.openFile(filepath.Join(d, "memory.events"), 256, false); err != nil {
		return err
	}
	if r.eventsLoc, err = r.openFile(filepath.Join(d, "memory.events.local"), 256, false); err != nil {
		return err
	}
	r.files = Files{Usage: r.usage.Path(), Limit: r.limits[0].f.Path(), Stat: r.stat.Path()}
	if r.events != nil {
		r.files.Events = r.events.Path()
	}
	if r.eventsLoc != nil {
		r.files.EventsLocal = r.eventsLoc.Path()
	}
	return nil
}

func (r *Reader) openV1(dirs []string) (err error) {
	d := r.loc.Dir
	if r.usage, err = r.openFile(filepath.Join(d, "memory.usage_in_bytes"), 64, true); err != nil {
		return err
	}
	// An ancestor's limit applies only when it accounts hierarchically
	// (memory.use_hierarchy = 1; always so since Linux 5.11). A descendant
	// of a use_hierarchy=1 cgroup is always 1 too, so the ancestor's own
	// flag decides.
	// The hierarchy root itself is skipped: v1 refuses a limit on the root
	// cgroup (EINVAL), its file always reads "no limit".
	hier := func(dir string) bool {
		if isHierarchyRoot(V1, dir) {
			return false
		}
		b, err := kfile.ReadOnce(filepath.Join(dir, "memory.use_hierarchy"))
		return err != nil || !kfile.Equal(kfile.TrimSpace(b), "0")
	}
	if r.limits, err = r.openChain(dirs, "memory.limit_in_bytes", true, hier); err != nil {
		return err
	}
	if r.peak, err = r.openFile(filepath.Join(d, "memory.max_usage_in_bytes"), 64, false); err != nil {
		return err
	}
	if r.memswUse, err = r.openFile(filepath.Join(d, "memory.memsw.usage_in_bytes"), 64, false); err != nil {
		return err
	}
	if r.memswLim, err = r.openFile(filepath.Join(d, "memory.memsw.limit_in_bytes"), 64, false); err != nil {
		return err
	}
	if r.stat, err = r.openFile(filepath.Join(d, "memory.stat"), 4096, true); err != nil {
		return err
	}
	if r.failcnt, err = r.openFile(filepath.Join(d, "memory.failcnt"), 64, true); err != nil {
		return err
	}
	if r.oomCtl, err = r.openFile(filepath.Join(d, "memory.oom_control"), 128, false); err != nil {
		return err
	}
	if r.kmem, err = r.openFile(filepath.Join(d, "memory.kmem.usage_in_bytes"), 64, false); err != nil {
		return err
	}
	r.files = Files{Usage: r.usage.Path(), Limit: r.limits[0].f.Path(), Stat: r.stat.Path()}
	if r.oomCtl != nil {
		r.files.Events = r.oomCtl.Path()
	}
	if ec := filepath.Join(d, "cgroup.event_control"); exists(ec) {
		r.files.EventControl = ec
	}
	return nil
}

// openPSI picks the pressure file: the process's own cgroup2 memory.pressure
// (Location.UnifiedDir: the v2 cgroup, or the cgroup2 directory in a hybrid
// layout) unless that is the root cgroup, else the host's
// /proc/pressure/memory, else none. A file that exists but cannot be read
// (PSI disabled with psi=0 answers EOPNOTSUPP) is skipped; one that reads but
// does not parse is an error.
func (r *Reader) openPSI(o options) error {
	type cand struct {
		path string
		src  PSISource
	}
	var cands []cand
	// The root cgroup's memory.pressure is the host-wide one: read it as such.
	if r.loc.UnifiedDir != "" && !isHierarchyRoot(V2, r.loc.UnifiedDir) {
		cands = append(cands, cand{filepath.Join(r.loc.UnifiedDir, "memory.pressure"), PSICgroup})
	}
	cands = append(cands, cand{o.under("/proc/pressure/memory"), PSIHost})
	for _, c := range cands {
		f, err := kfile.Open(c.path, 256)
		if err != nil {
			continue
		}
		b, err := f.Read()
		if err != nil {
			f.Close()
			continue
		}
		var p PSI
		if err := ParsePSI(c.path, b, &p); err != nil {
			f.Close()
			return err
		}
		r.psi, r.psiSource = f, c.src
		r.files.Pressure, r.files.PressureSource = c.path, c.src
		return nil
	}
	r.psiSource = PSINone
	return nil
}

func closeChain(c []chainFile) {
	for i := range c {
		c[i].f.Close()
	}
}
