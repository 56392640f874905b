package memcg

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// startInside starts cmd in the cgroup p.
func startInside(p place, cmd *exec.Cmd) error {
	if cmd.Process != nil {
		return errors.New("command already started")
	}
	if p.version == 2 {
		return startV2(p, cmd)
	}
	return startV1(p, cmd)
}

// startV2 uses clone3(CLONE_INTO_CGROUP): the child is created in the
// cgroup.
func startV2(p place, cmd *exec.Cmd) error {
	fd, err := unix.Open(p.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p.dir, err)
	}
	defer unix.Close(fd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.UseCgroupFD {
		return errors.New("SysProcAttr.UseCgroupFD is already set")
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return cmd.Start()
}

// startV1 forks cmd from a thread moved into the cgroup for the time of the
// fork: a new task starts in its creator's cgroup, so the program is inside
// from its first instruction (see the package documentation).
func startV1(p place, cmd *exec.Cmd) error {
	return onSpareThread(func(tid int) (retire bool, err error) {
		own, err := readProcCgroup(fmt.Sprintf("/proc/self/task/%d/cgroup", tid))
		if err != nil {
			return false, err
		}
		if own.version != 1 {
			return false, fmt.Errorf("thread %d has no v1 memory cgroup", tid)
		}
		back, ok := p.at(own.path)
		if !ok {
			return false, fmt.Errorf("thread %d's memory cgroup %q is outside the mount at %s", tid, own.path, p.mount)
		}
		if err := writeFile(p.dir, "tasks", strconv.Itoa(tid)); err != nil {
			return false, fmt.Errorf("move the forking thread in: %w", err)
		}
		startErr := cmd.Start()
		if err := writeFile(back.dir, "tasks", strconv.Itoa(tid)); err != nil {
			// The thread stays in the cgroup: retire it, so that it runs
			// nothing else and the process leaves the cgroup with it.
			return true, startErr
		}
		return false, startErr
	})
}

// onSpareThread runs fn on a goroutine locked to an OS thread that is not
// the thread-group leader and returns its error. When fn asks to retire the
// thread, the goroutine ends still locked, which makes the Go runtime
// terminate the thread.
func onSpareThread(fn func(tid int) (retire bool, err error)) error {
	return onThread(func() bool { return unix.Gettid() == unix.Getpid() }, fn)
}

// onThread is onSpareThread with the test of the thread to avoid as a
// parameter. A goroutine that lands on an avoided thread keeps it locked, so
// that the next goroutine it starts cannot land there, and retries.
func onThread(avoid func() bool, fn func(tid int) (retire bool, err error)) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if avoid() {
			errc <- onThread(avoid, fn)
			runtime.UnlockOSThread()
			return
		}
		retire, err := fn(unix.Gettid())
		errc <- err
		if !retire {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}
