package memcg

import (
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Process is a command started inside a cgroup by Group.Start. A goroutine
// reaps it as soon as it exits; Done, Wait and the status methods report
// what happened.
type Process struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error         // from cmd.Wait, valid after done
	elapsed time.Duration // valid after done
}

// Start starts cmd inside the cgroup from the program's first instruction
// (see the package documentation for how) and returns at once. The Cmd must
// not have been started; do not call its Wait, the Process does. On v2 its
// SysProcAttr gains UseCgroupFD, which must not be set already.
func (g *Group) Start(cmd *exec.Cmd) (*Process, error) {
	if err := startInside(g.self, cmd); err != nil {
		return nil, fmt.Errorf("memcg: start %v in %s: %w", cmd.Args, g.self.dir, err)
	}
	p := &Process{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.elapsed = time.Since(p.started)
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Cmd returns the command.
func (p *Process) Cmd() *exec.Cmd { return p.cmd }

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits at most timeout for the process to exit and returns the error of
// exec.Cmd.Wait (nil for exit status 0, *exec.ExitError otherwise). If the
// process is still running it returns an error wrapping ErrTimeout and leaves
// the process alone.
func (p *Process) Wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.err
	case <-timer.C:
		return fmt.Errorf("%w: pid %d %v still running after %v", ErrTimeout, p.Pid(), p.cmd.Args, timeout)
	}
}

// Kill sends SIGKILL (no-op once exited).
func (p *Process) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
	}
}

// Elapsed returns the time from start to exit (0 while running).
func (p *Process) Elapsed() time.Duration {
	if !p.Exited() {
		return 0
	}
	return p.elapsed
}

func (p *Process) waitStatus() (syscall.WaitStatus, bool) {
	if !p.Exited() || p.cmd.ProcessState == nil {
		var zero syscall.WaitStatus
		return zero, false
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws, ok
}

// ExitCode returns the exit status, or -1 while running or when killed by a
// signal.
func (p *Process) ExitCode() int {
	if !p.Exited() || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal returns the signal that terminated the process, or 0 (while
// running, or when it exited normally).
func (p *Process) Signal() syscall.Signal {
	ws, ok := p.waitStatus()
	if !ok || !ws.Signaled() {
		return 0
	}
	return ws.Signal()
}

// Killed reports whether the process died of SIGKILL: the OOM killer's
// signal (confirm with Group.OOMKills, since anyone may send SIGKILL).
func (p *Process) Killed() bool { return p.Signal() == syscall.SIGKILL }
