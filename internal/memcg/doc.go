// Package memcg creates child memory cgroups, starts processes inside them
// and reads what the kernel charged to them. It serves product code, such as
// package memwatch/memtest (RunInCgroup), and the module's test harnesses
// (internal/testutil/cgtest builds its testing.TB helpers on it), so it has
// no testing dependency and no package initialization with side effects: a
// program importing it runs nothing it did not call.
//
// Create makes a fresh memory cgroup (optionally with a hard limit, a v2
// memory.high, a swap limit, or a limited intermediate parent) under the
// calling process's own memory cgroup, on whichever cgroup version serves
// the memory controller (v1, the hybrid layout, or v2). Where memory cgroups
// cannot be made at all (not Linux, not root, no memory controller, a
// read-only cgroup filesystem, the v2 "no internal processes" rule) the error
// wraps ErrUnavailable, so callers can skip rather than fail. Group.Remove
// kills what is left inside, lets v1 reclaim the remaining charges and
// removes the directories.
//
// Group.Start runs an *exec.Cmd inside the cgroup from the program's first
// instruction, so none of the program's memory is charged elsewhere:
//
//   - v2: clone3(CLONE_INTO_CGROUP) (SysProcAttr.UseCgroupFD) creates the
//     child in the cgroup.
//   - v1: a child process starts in the cgroup of the thread that forks it.
//     Start forks from a goroutine locked to an OS thread (never the
//     thread-group leader, whose cgroup decides where the parent's own memory
//     is charged), moves that one thread into the cgroup (its tid into the
//     v1 "tasks" file), starts the command and moves the thread back. A
//     thread that cannot be moved back is retired: its goroutine ends while
//     still locked, which makes the Go runtime terminate it. The runtime
//     never clones new threads from a locked thread, so nothing else lands
//     in the cgroup. No helper program and no re-executed shim is involved.
//
// The package imports only the standard library, golang.org/x/sys/unix and
// internal/kfile.
package memcg
