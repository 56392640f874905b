// Command init runs as /init (PID 1) in the initramfs of the QEMU test VM
// built by internal/testutil/vm/cmd/vmexec. It reads its configuration from
// /mw/config.json (a vm.Config written by vmexec), then:
//
//   - mounts proc, sysfs, devtmpfs, a tmpfs at /tmp and the cgroup hierarchy:
//     mode "v2": cgroup2 at /sys/fs/cgroup (nsdelegate,memory_recursiveprot);
//     mode "hybrid": a tmpfs at /sys/fs/cgroup, the v1 memory controller at
//     /sys/fs/cgroup/memory and cgroup2 at /sys/fs/cgroup/unified;
//   - creates the parent cgroup /mw (memory.max = parentMax) and the child
//     /mw/test (memory.max = max, memory.high = high; v1: memory.limit_in_bytes);
//   - optionally mounts an ext4 scratch disk at /scratch;
//   - prints "@@MEMWATCH-VM-START <nonce>@@", starts the test binary inside
//     /mw/test (it re-executes itself as a trampoline that joins the cgroup and
//     then execs the binary, so the binary starts in the cgroup), copies its
//     stdout+stderr to the serial console, kills it after timeoutSec;
//   - sends requested output files back as base64 blocks, prints
//     "@@MEMWATCH-VM-EXIT <status> <nonce>@@" and powers the machine off.
//
// It must be built static: CGO_ENABLED=0 go build.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/vm"
	"golang.org/x/sys/unix"
)

const enterArg = "-mw-enter"

func main() {
	if len(os.Args) > 1 && os.Args[1] == enterArg {
		enter(os.Args[2:])
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "vm-init: must run as PID 1 inside the test VM")
		os.Exit(2)
	}
	con := newConsole(os.Stdout)
	cfg, status := run(con)
	finish(con, cfg, status)
}

// enter is the trampoline: join the cgroups (procs files joined by ","), then
// exec the binary. Usage: init -mw-enter <procs,...> <path> [args...].
func enter(args []string) {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "vm-init: enter: usage: -mw-enter <procs,...> <path> [args...]")
		os.Exit(vm.StatusSetupFailed)
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, p := range strings.Split(args[0], ",") {
		if p == "" {
			continue
		}
		if err := os.WriteFile(p, pid, 0); err != nil {
			fmt.Fprintf(os.Stderr, "vm-init: enter cgroup: %v\n", err)
			os.Exit(vm.StatusSetupFailed)
		}
	}
	path := args[1]
	err := unix.Exec(path, append([]string{path}, args[2:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "vm-init: exec %s: %v\n", path, err)
	os.Exit(vm.StatusSetupFailed)
}

// console serialises writes to the serial console and remembers whether the
// last byte written ended a line, so markers always start a line.
type console struct {
	mu    sync.Mutex
	f     *os.File
	atBOL bool
}

func newConsole(f *os.File) *console {
	// Raw output: no \n -> \r\n translation, so bytes reach the host as written.
	if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST
		_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
	}
	return &console{f: f, atBOL: true}
}

func (c *console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) == 0 {
		return 0, nil
	}
	n, err := c.f.Write(b)
	if n > 0 {
		c.atBOL = b[n-1] == '\n'
	}
	return n, err
}

// line prints s on a line of its own.
func (c *console) line(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	if !c.atBOL {
		s = "\n" + s
	}
	_, _ = c.f.WriteString(s + "\n")
	c.atBOL = true
}

// drain waits until the serial port has sent everything written (tcdrain):
// a write returns once the bytes are in the tty's buffer, and powering off
// before the UART sent them loses the end of the stream, the exit marker
// included (seen as "QEMU exited without the exit marker").
func (c *console) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = unix.IoctlSetInt(int(c.f.Fd()), unix.TCSBRK, 1)
}

func (c *console) errorf(format string, args ...any) {
	c.line("vm-init: error: "+format, args...)
}

func run(con *console) (*vm.Config, int) {
	if err := mountBase(); err != nil {
		con.errorf("%v", err)
		return nil, vm.StatusSetupFailed
	}
	cfg, err := readConfig()
	if err != nil {
		con.errorf("%v", err)
		return nil, vm.StatusSetupFailed
	}
	if err := loopbackUp(); err != nil {
		con.errorf("%v", err)
		return cfg, vm.StatusSetupFailed
	}
	if cfg.MountTmp {
		if err := mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
			con.errorf("%v", err)
			return cfg, vm.StatusSetupFailed
		}
	}
	procs, err := setupCgroups(cfg)
	if err != nil {
		con.errorf("cgroups (%s): %v", cfg.Mode, err)
		return cfg, vm.StatusSetupFailed
	}
	if cfg.ScratchDev != "" {
		if err := mountScratch(cfg.ScratchDev); err != nil {
			con.errorf("scratch disk: %v", err)
			return cfg, vm.StatusSetupFailed
		}
	}
	for _, d := range cfg.Mkdirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			con.errorf("%v", err)
			return cfg, vm.StatusSetupFailed
		}
	}
	con.line("%s %s@@", vm.StartMarker, cfg.Nonce)
	return cfg, runTest(con, cfg, procs)
}

func mount(src, target, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(src, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (%s): %w", fstype, target, data, err)
	}
	return nil
}

func mountBase() error {
	const nse = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, m := range []struct {
		src, target, fstype string
		flags               uintptr
		data                string
	}{
		{"proc", "/proc", "proc", nse, ""},
		{"sysfs", "/sys", "sysfs", nse, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	} {
		if err := mount(m.src, m.target, m.fstype, m.flags, m.data); err != nil {
			return err
		}
	}
	return nil
}

func readConfig() (*vm.Config, error) {
	b, err := os.ReadFile(vm.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var cfg vm.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", vm.ConfigPath, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", vm.ConfigPath, err)
	}
	return &cfg, nil
}

func write(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// setupCgroups mounts the hierarchy, creates /mw and /mw/test and returns the
// cgroup.procs files the test binary must join.
func setupCgroups(cfg *vm.Config) ([]string, error) {
	const nse = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME
	limit := func(s string) string {
		if s == "" {
			return "max"
		}
		return s
	}
	switch cfg.Mode {
	case vm.ModeV2:
		root := "/sys/fs/cgroup"
		if err := mount("cgroup2", root, "cgroup2", nse, "nsdelegate,memory_recursiveprot"); err != nil {
			return nil, err
		}
		parent := root + vm.CgroupParent
		test := root + vm.CgroupTest
		if err := write(root+"/cgroup.subtree_control", "+memory"); err != nil {
			return nil, err
		}
		if err := os.Mkdir(parent, 0o755); err != nil {
			return nil, err
		}
		if err := write(parent+"/memory.max", limit(cfg.ParentMax)); err != nil {
			return nil, err
		}
		if err := write(parent+"/cgroup.subtree_control", "+memory"); err != nil {
			return nil, err
		}
		if err := os.Mkdir(test, 0o755); err != nil {
			return nil, err
		}
		if err := write(test+"/memory.max", limit(cfg.Max)); err != nil {
			return nil, err
		}
		if err := write(test+"/memory.high", limit(cfg.High)); err != nil {
			return nil, err
		}
		return []string{test + "/cgroup.procs"}, nil
	case vm.ModeHybrid:
		if err := mount("tmpfs", "/sys/fs/cgroup", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
			return nil, err
		}
		mem := "/sys/fs/cgroup/memory"
		uni := "/sys/fs/cgroup/unified"
		if err := mount("cgroup", mem, "cgroup", nse, "memory"); err != nil {
			return nil, err
		}
		if err := mount("cgroup2", uni, "cgroup2", nse, "nsdelegate"); err != nil {
			return nil, err
		}
		v1 := func(s string) string { // v1 spells "no limit" as -1
			if l := limit(s); l != "max" {
				return l
			}
			return "-1"
		}
		if err := os.Mkdir(mem+vm.CgroupParent, 0o755); err != nil {
			return nil, err
		}
		if err := write(mem+vm.CgroupParent+"/memory.limit_in_bytes", v1(cfg.ParentMax)); err != nil {
			return nil, err
		}
		if err := os.Mkdir(mem+vm.CgroupTest, 0o755); err != nil {
			return nil, err
		}
		if err := write(mem+vm.CgroupTest+"/memory.limit_in_bytes", v1(cfg.Max)); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(uni+vm.CgroupTest, 0o755); err != nil {
			return nil, err
		}
		return []string{mem + vm.CgroupTest + "/cgroup.procs", uni + vm.CgroupTest + "/cgroup.procs"}, nil
	}
	return nil, fmt.Errorf("unknown mode %q", cfg.Mode)
}

// mountScratch waits for the block device (NVMe probing is asynchronous) and
// mounts it as ext4 at vm.ScratchDir.
func mountScratch(dev string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(dev); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within 30s", dev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mount(dev, vm.ScratchDir, "ext4", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_RELATIME, "")
}

func runTest(con *console, cfg *vm.Config, procs []string) int {
	pr, pw, err := os.Pipe()
	if err != nil {
		con.errorf("pipe: %v", err)
		return vm.StatusSetupFailed
	}
	args := append([]string{enterArg, strings.Join(procs, ","), cfg.Path}, cfg.Args...)
	cmd := exec.Command("/init", args...)
	cmd.Env = cfg.Env
	cmd.Dir = cfg.Dir
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		con.errorf("start %s: %v", cfg.Path, err)
		return vm.StatusSetupFailed
	}
	pw.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(con, pr)
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	timedOut := false
	var timeout <-chan time.Time
	if cfg.TimeoutSec > 0 {
		t := time.NewTimer(time.Duration(cfg.TimeoutSec) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	pgid := cmd.Process.Pid
	select {
	case <-done:
	case <-timeout:
		timedOut = true
		con.line("vm-init: test binary exceeded %ds: sending SIGQUIT, then SIGKILL", cfg.TimeoutSec)
		_ = unix.Kill(-pgid, unix.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = unix.Kill(-pgid, unix.SIGKILL)
			<-done
		}
	}
	// Leftover children in the group would keep the pipe open.
	_ = unix.Kill(-pgid, unix.SIGKILL)
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		con.line("vm-init: output still open 5s after the test binary exited; dropping the rest")
	}
	pr.Close()

	if timedOut {
		return vm.StatusTimeout
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return vm.StatusSetupFailed
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		con.line("vm-init: test binary killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		return 128 + int(ws.Signal())
	}
	return vm.StatusSetupFailed
}

// sendOutputs returns output files to the host as base64 blocks.
func sendOutputs(con *console, cfg *vm.Config) {
	const maxOut = 64 << 20
	send := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				con.line("vm-init: output %s: %v", path, err)
			}
			return
		}
		if len(b) > maxOut {
			con.line("vm-init: output %s: %d bytes, over the %d limit: not returned", path, len(b), maxOut)
			return
		}
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "%s %s %d %s@@\n", vm.OutMarker, cfg.Nonce, len(b), path)
		enc := base64.StdEncoding.EncodeToString(b)
		for len(enc) > 0 {
			n := min(len(enc), 76)
			buf.WriteString(enc[:n])
			buf.WriteByte('\n')
			enc = enc[n:]
		}
		fmt.Fprintf(&buf, "%s %s@@", vm.EndMarker, cfg.Nonce)
		con.line("%s", buf.String())
	}
	for _, p := range cfg.Outputs {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			send(p)
			continue
		}
		_ = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				send(f)
			}
			return nil
		})
	}
}

func finish(con *console, cfg *vm.Config, status int) {
	nonce := "-"
	if cfg != nil {
		nonce = cfg.Nonce
		sendOutputs(con, cfg)
	}
	con.line("%s %d %s@@", vm.ExitMarker, status, nonce)
	con.drain()
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Not reached when power-off works; QEMU runs with -no-reboot, so a
	// restart ends it too.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}

// loopbackUp brings up the lo interface (the kernel creates it down), so tests
// can serve and dial 127.0.0.1 inside the VM. There is no other network.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: set up: %w", err)
	}
	return nil
}
