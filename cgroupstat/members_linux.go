package cgroupstat

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// ReadMembers lists the processes in the cgroup at loc (its Dir's
// cgroup.procs, the same file on v1 and v2) and the command names
// (/proc/<pid>/comm under the root) of at most max of them other than this
// process. It answers "who are the other processes charged to my cgroup",
// for example the `go run` or shell that started this one (Members.ParentPID
// from /proc/self/status).
//
// It is a cold path: it opens 2 + max files and allocates; call it when
// rendering for a person, not on every sample. A process that exits between
// the reads keeps its pid with an empty Comm. Errors name the file:
// cgroup.procs unreadable (*os.PathError) or malformed (*ParseError); an
// unreadable status or comm file only leaves its field empty.
func ReadMembers(loc Location, max int, opts ...Option) (Members, error) {
	o := newOptions(opts)
	var m Members
	procs := filepath.Join(loc.Dir, "cgroup.procs")
	b, err := kfile.ReadOnce(procs)
	if err != nil {
		return m, err
	}
	var pids []int
	if err := ParseProcs(procs, b, &pids); err != nil {
		return m, err
	}
	if st, err := kfile.ReadOnce(o.under("/proc/self/status")); err == nil {
		m.SelfPID, m.ParentPID = statusPID(st, "Pid:"), statusPID(st, "PPid:")
	}
	m.Count = len(pids)
	add := func(pid int) {
		mb := Member{PID: pid}
		if c, err := kfile.ReadOnce(o.under("/proc/" + strconv.Itoa(pid) + "/comm")); err == nil {
			mb.Comm = strings.TrimSuffix(string(c), "\n")
		}
		m.Others = append(m.Others, mb)
	}
	parent := false
	for _, pid := range pids {
		switch {
		case pid == 0:
		case pid == m.SelfPID:
			m.Self = true
		case pid == m.ParentPID:
			parent = true
		}
	}
	if parent && max > 0 {
		add(m.ParentPID)
	}
	for _, pid := range pids {
		if len(m.Others) >= max {
			break
		}
		if pid != 0 && pid != m.SelfPID && pid != m.ParentPID {
			add(pid)
		}
	}
	return m, nil
}

// statusPID returns the value of a "Key:\t123" line of /proc/<pid>/status,
// 0 when it is missing or not a pid.
func statusPID(b []byte, key string) int {
	pid := 0
	kfile.Lines(b, func(_ int, line []byte) bool {
		v, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			return true
		}
		if u, ok := kfile.ParseUint(kfile.TrimSpace(v)); ok && u <= 1<<31-1 {
			pid = int(u)
		}
		return false
	})
	return pid
}
