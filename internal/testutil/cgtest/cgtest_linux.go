//go:build linux

package cgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// init is the v1 joining shim. Cgroup.Start on v1 runs the test binary
// itself with envJoin set; before anything else of the test binary runs, the
// shim moves itself into the cgroup (writing "0" to cgroup.procs means "the
// writing process") and execs the real program, which therefore starts inside
// the cgroup: exec replaces the whole address space, so none of the program's
// memory is charged to the cgroup the shim started in. A failure is reported
// on the descriptor named by envErrFD (close-on-exec: a successful exec
// closes it, which Start sees as EOF).
func init() {
	if os.Getenv(envJoin) != "" {
		shim()
	}
}

func shim() {
	fd, err := strconv.Atoi(os.Getenv(envErrFD))
	if err != nil || fd < 3 {
		fmt.Fprintf(os.Stderr, "cgtest shim: bad %s=%q\n", envErrFD, os.Getenv(envErrFD))
		os.Exit(126)
	}
	fail := func(msg string) {
		unix.Write(fd, []byte(msg))
		os.Exit(126)
	}
	unix.CloseOnExec(fd)
	procs, target := os.Getenv(envJoin), os.Getenv(envExec)
	f, err := unix.Open(procs, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(fmt.Sprintf("open %s: %v", procs, err))
	}
	if _, err := unix.Write(f, []byte("0")); err != nil {
		fail(fmt.Sprintf("write 0 to %s: %v", procs, err))
	}
	unix.Close(f)
	env := withoutEnv(os.Environ(), envJoin, envExec, envErrFD)
	err = syscall.Exec(target, os.Args, env)
	fail(fmt.Sprintf("exec %s: %v", target, err))
}

// locate finds the directory under which the new cgroup is created.
func locate(t testing.TB, cfg *config) (place, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return place{}, skipf("no /proc/self/mountinfo: %v", err)
	}
	mounts, err := parseMountinfo(string(mi))
	if err != nil {
		return place{}, err
	}
	var base place
	if cfg.parent != "" {
		base, err = placeOf(cfg.parent, mounts)
	} else {
		var pc []byte
		pc, err = os.ReadFile("/proc/self/cgroup")
		if err != nil {
			return place{}, skipf("no /proc/self/cgroup: %v", err)
		}
		var mc memoryCgroup
		mc, err = parseProcCgroup(string(pc))
		if err != nil {
			return place{}, err
		}
		base, err = resolve(mc, mounts)
	}
	if err != nil {
		return place{}, err
	}
	if _, err := os.Stat(base.dir); err != nil {
		return place{}, skipf("memory cgroup directory: %v", err)
	}
	if base.version == 1 {
		return base, nil
	}
	return prepareV2(t, base, cfg.parent == "")
}

// prepareV2 makes sure children of base get the memory controller. When
// base holds processes (the test's own cgroup) the controller cannot be
// enabled there ("no internal processes"); then, if allowed, the parent of
// base is used so the new cgroup becomes the test cgroup's sibling.
func prepareV2(t testing.TB, base place, mayGoUp bool) (place, error) {
	err := enableMemory(base)
	if err == nil {
		return base, nil
	}
	if !errors.Is(err, unix.EBUSY) || !mayGoUp {
		return place{}, err
	}
	up, ok := base.up()
	if !ok {
		return place{}, err
	}
	if err2 := enableMemory(up); err2 != nil {
		return place{}, skipf("cannot enable the memory controller for children of %s (%v: it has processes, the v2 \"no internal processes\" rule) nor of its parent (%v)", base.dir, err, err2)
	}
	t.Logf("cgtest: %s holds processes, so children cannot get the memory controller (v2 \"no internal processes\"); creating a sibling under %s", base.dir, up.dir)
	return up, nil
}

func enableMemory(p place) error {
	sub, err := os.ReadFile(filepath.Join(p.dir, "cgroup.subtree_control"))
	if err != nil {
		return skipf("read %s/cgroup.subtree_control: %v", p.dir, err)
	}
	if slices.Contains(strings.Fields(string(sub)), "memory") {
		return nil
	}
	ctl, err := os.ReadFile(filepath.Join(p.dir, "cgroup.controllers"))
	if err != nil {
		return skipf("read %s/cgroup.controllers: %v", p.dir, err)
	}
	if !slices.Contains(strings.Fields(string(ctl)), "memory") {
		return skipf("no memory controller available in %s (cgroup.controllers: %q)", p.dir, strings.TrimSpace(string(ctl)))
	}
	err = writeFile(p.dir, "cgroup.subtree_control", "+memory")
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EROFS), errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return skipf("cannot enable the memory controller: %v", err)
	}
	return err
}

func mkdirCgroup(p place) error {
	err := unix.Mkdir(p.dir, 0o755)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EROFS):
		return skipf("cgroup filesystem is read-only: mkdir %s: %v", p.dir, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return skipf("no permission to create a cgroup: mkdir %s: %v", p.dir, err)
	}
	return fmt.Errorf("mkdir %s: %w", p.dir, err)
}

// startInside starts cmd in the cgroup p.
func startInside(p place, cmd *exec.Cmd) error {
	if cmd.Process != nil {
		return errors.New("command already started")
	}
	if p.version == 2 {
		return startV2(p, cmd)
	}
	return startShim(p, cmd)
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

// startShim runs cmd through the joining shim (see init) and returns once
// the program has been exec'ed inside the cgroup.
func startShim(p place, cmd *exec.Cmd) error {
	if cmd.Err != nil {
		return cmd.Err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	target := cmd.Path
	if target == "" {
		return errors.New("empty Cmd.Path")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	fd := 3 + len(cmd.ExtraFiles)
	cmd.Env = append(withoutEnv(cmd.Environ(), envJoin, envExec, envErrFD),
		envJoin+"="+filepath.Join(p.dir, "cgroup.procs"),
		envExec+"="+target,
		envErrFD+"="+strconv.Itoa(fd))
	cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	cmd.Path = self
	err = cmd.Start()
	w.Close()
	cmd.Path = target
	cmd.ExtraFiles = cmd.ExtraFiles[:len(cmd.ExtraFiles)-1]
	if err != nil {
		return err
	}
	// EOF: exec succeeded (the descriptor was close-on-exec). Anything else
	// is the shim's error message.
	if err := r.SetReadDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	var msg []byte
	for {
		n, err := r.Read(buf)
		msg = append(msg, buf[:n]...)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				cmd.Process.Kill()
				cmd.Wait()
				return fmt.Errorf("%w: shim did not exec %s", ErrTimeout, target)
			}
			break
		}
	}
	if len(msg) > 0 {
		cmd.Wait()
		return fmt.Errorf("shim: %s", msg)
	}
	return nil
}

// touchAnon maps n bytes of private anonymous memory and writes every page.
func touchAnon(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	page := os.Getpagesize()
	for i := 0; i < n; i += page {
		b[i] = 1
	}
	return b, nil
}

// killAll SIGKILLs every process of the cgroup until cgroup.procs is empty.
func killAll(p place, deadline time.Time) error {
	if p.version == 2 {
		// cgroup.kill (5.14+) kills the whole cgroup at once.
		_ = writeFile(p.dir, "cgroup.kill", "1")
	}
	for {
		pids, err := readProcs(p.dir)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in %s", pids, p.dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rmdirRetry removes a cgroup directory, retrying while it is busy.
func rmdirRetry(dir string, deadline time.Time) error {
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ProcessCgroup returns the memory cgroup path of a process as its
// /proc/<pid>/cgroup shows it (the v1 memory line, else the v2 line).
func ProcessCgroup(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	mc, err := parseProcCgroup(string(b))
	if err != nil {
		return "", err
	}
	return mc.path, nil
}
