package memcg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// ReadFile returns the content of a file of the cgroup (for example
// "memory.stat").
func (g *Group) ReadFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(g.self.dir, name))
}

// WriteFile writes value to a file of the cgroup.
func (g *Group) WriteFile(name, value string) error {
	return writeFile(g.self.dir, name, value)
}

// SetLimit changes the hard limit (memory.limit_in_bytes on v1, memory.max
// on v2), also while processes run.
func (g *Group) SetLimit(bytes uint64) error {
	return g.WriteFile(limitFile(g.self.version), strconv.FormatUint(bytes, 10))
}

// Usage returns memory.usage_in_bytes (v1) or memory.current (v2).
func (g *Group) Usage() (uint64, error) {
	if g.self.version == 1 {
		return g.readUint("memory.usage_in_bytes")
	}
	return g.readUint("memory.current")
}

// Peak returns the cgroup's peak usage since it was created (or since the
// peak was last reset): memory.max_usage_in_bytes (v1) or memory.peak (v2,
// Linux 5.19+; before that the error wraps os.ErrNotExist).
func (g *Group) Peak() (uint64, error) {
	if g.self.version == 1 {
		return g.readUint("memory.max_usage_in_bytes")
	}
	return g.readUint("memory.peak")
}

// OOMKills returns the cgroup's OOM-kill counter: oom_kill of
// memory.oom_control (v1, kernel 4.13+) or of memory.events (v2).
func (g *Group) OOMKills() (uint64, error) {
	if g.self.version == 1 {
		return g.keyed("memory.oom_control", "oom_kill")
	}
	return g.keyed("memory.events", "oom_kill")
}

// Stat returns one key of memory.stat (for example "total_rss" on v1 or
// "anon" on v2).
func (g *Group) Stat(key string) (uint64, error) {
	return g.keyed("memory.stat", key)
}

// Procs returns the pids in the cgroup's cgroup.procs.
func (g *Group) Procs() ([]int, error) { return readProcs(g.self.dir) }

func (g *Group) readUint(name string) (uint64, error) {
	p := filepath.Join(g.self.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	v, ok := kfile.ParseUint(kfile.TrimSpace(b))
	if !ok {
		return 0, kfile.Errorf(p, 1, "not an unsigned number: %s", kfile.Quote(b))
	}
	return v, nil
}

func (g *Group) keyed(name, key string) (uint64, error) {
	p := filepath.Join(g.self.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return lookupKey(p, b, key)
}

// lookupKey finds "key value" in a flat-keyed kernel file.
func lookupKey(file string, b []byte, key string) (uint64, error) {
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		n++
		k, v, ok := strings.Cut(line, " ")
		if !ok || k != key {
			continue
		}
		u, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, kfile.Errorf(file, n, "key %s: %v", key, err)
		}
		return u, nil
	}
	return 0, kfile.Errorf(file, 0, "no key %q (kernel too old?)", key)
}

func readProcs(dir string) ([]int, error) {
	p := filepath.Join(dir, "cgroup.procs")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, kfile.Errorf(p, 0, "not a pid: %q", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}
