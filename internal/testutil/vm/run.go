package vm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Run boots the VM, runs o.Binary in it and returns its exit status. err is
// non-nil when the harness failed (QEMU or kernel missing, no exit marker,
// timeout); it wraps ErrUnavailable when the VM cannot run here.
func Run(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	var res Result
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Mode == "" {
		o.Mode = ModeV2
	}
	if o.MemMiB == 0 {
		o.MemMiB = DefaultMemMiB
	}
	var err error
	if o.Kernel == "" {
		if o.Kernel, err = KernelPath(); err != nil {
			return res, err
		}
	} else if _, serr := os.Stat(o.Kernel); serr != nil {
		return res, fmt.Errorf("%w: guest kernel: %v", ErrUnavailable, serr)
	}
	if o.QEMU == "" {
		if o.QEMU, err = QEMUPath(); err != nil {
			return res, err
		}
	} else if o.QEMU, err = exec.LookPath(o.QEMU); err != nil {
		return res, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if o.Dir == "" {
		if o.Dir, err = os.Getwd(); err != nil {
			return res, err
		}
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return res, err
	}
	bin, err := filepath.Abs(o.Binary)
	if err != nil {
		return res, err
	}
	guestTimeout, total := timeouts(&o)
	ctx, cancel := context.WithTimeout(ctx, total)
	defer cancel()

	if o.Init == "" {
		if o.Init, err = BuildInit(ctx, o.Dir); err != nil {
			return res, err
		}
	}

	maxLim, err := NormalizeLimit(o.Max, DefaultMax)
	if err != nil {
		return res, fmt.Errorf("vm: MEMWATCH_VM_MAX: %w", err)
	}
	high, err := NormalizeLimit(o.High, "max")
	if err != nil {
		return res, fmt.Errorf("vm: MEMWATCH_VM_HIGH: %w", err)
	}
	parentMax, err := NormalizeLimit(o.ParentMax, "max")
	if err != nil {
		return res, fmt.Errorf("vm: MEMWATCH_VM_PARENT_MAX: %w", err)
	}

	tmp, err := os.MkdirTemp("", "memwatch-vm-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	var env []string
	for _, kv := range os.Environ() {
		if name, _, ok := strings.Cut(kv, "="); ok && passEnv(name) {
			env = append(env, kv)
		}
	}
	env = append(env,
		"PATH=/usr/bin:/bin", "HOME=/root", "TMPDIR=/tmp",
		"MEMWATCH_VM="+string(o.Mode),
		"MEMWATCH_VM_MAX="+maxLim,
		"MEMWATCH_VM_HIGH="+high,
		"MEMWATCH_VM_PARENT_MAX="+parentMax,
		"MEMWATCH_VM_CGROUP="+CgroupTest,
	)
	if o.ScratchMiB > 0 {
		env = append(env, "MEMWATCH_VM_SCRATCH="+ScratchDir)
	}
	env = append(env, o.Env...)
	env = dedupEnv(env)

	mkdirs, outputs := guestFiles(o.Args, o.Dir)
	cfg := &Config{
		Mode:       o.Mode,
		Nonce:      newNonce(),
		Max:        maxLim,
		High:       high,
		ParentMax:  parentMax,
		TimeoutSec: int(guestTimeout / time.Second),
		Path:       TestBinPath,
		Args:       o.Args,
		Env:        env,
		Dir:        o.Dir,
		MountTmp:   !strings.HasPrefix(o.Dir+"/", "/tmp/"),
		Mkdirs:     mkdirs,
		Outputs:    outputs,
	}
	if o.ScratchMiB > 0 {
		cfg.ScratchDev = "/dev/nvme0n1"
	}
	if err := cfg.Validate(); err != nil {
		return res, fmt.Errorf("vm: %w", err)
	}
	initrd := filepath.Join(tmp, "initramfs.cpio")
	if err := writeInitramfs(initrd, o.Init, bin, o.Dir, cfg); err != nil {
		return res, fmt.Errorf("vm: %w", err)
	}

	cmdline := "console=ttyS0 panic=-1 psi=1 quiet loglevel=1"
	if o.Debug {
		cmdline = "console=ttyS0 panic=-1 psi=1 loglevel=7"
	}
	qargs := []string{
		"-accel", "tcg", "-m", strconv.Itoa(o.MemMiB), "-smp", "1",
		"-nographic", "-nodefaults", "-serial", "stdio", "-monitor", "none", "-no-reboot",
		"-kernel", o.Kernel, "-initrd", initrd, "-append", cmdline,
	}
	if o.ScratchMiB > 0 {
		img := filepath.Join(tmp, "scratch.img")
		if err := makeScratch(ctx, img, o.ScratchMiB); err != nil {
			return res, fmt.Errorf("vm: %w", err)
		}
		qargs = append(qargs,
			"-drive", "file="+img+",if=none,id=scratch,format=raw",
			"-device", "nvme,drive=scratch,serial=mwscratch")
	}

	qemu := exec.Command(o.QEMU, qargs...)
	var qerr bytes.Buffer
	qemu.Stderr = &limitedBuffer{b: &qerr, max: 64 << 10}
	// Our own pipe, not StdoutPipe: Wait closes a StdoutPipe as soon as QEMU
	// exits, which can cut off the end of the console stream (the last
	// capture block, the exit marker) before it was read. This read end
	// gives EOF after the last byte, and only we close it.
	out, pw, err := os.Pipe()
	if err != nil {
		return res, err
	}
	defer out.Close()
	qemu.Stdout = pw
	qemuStart := time.Now()
	err = qemu.Start()
	pw.Close()
	if err != nil {
		return res, fmt.Errorf("%w: start %s: %v", ErrUnavailable, o.QEMU, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = qemu.Wait()
		close(exited)
	}()
	// Kill QEMU when the overall bound expires, or soon after the exit
	// marker if the guest does not power off by itself.
	var killOnce sync.Once
	kill := func() { killOnce.Do(func() { _ = qemu.Process.Kill() }) }
	stopWatch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			kill()
		case <-exited:
		case <-stopWatch:
		}
	}()

	p := &streamParser{
		nonce:      cfg.Nonce,
		stdout:     o.Stdout,
		stderr:     o.Stderr,
		debug:      o.Debug,
		captureOut: o.CaptureOut,
		outputs:    outputs,
	}
	p.onStart = func() { res.Boot = time.Since(qemuStart) }
	p.onExit = func() {
		res.Test = time.Since(qemuStart) - res.Boot
		go func() {
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				kill()
			}
		}()
	}
	var console io.Reader = out
	if o.ConsoleLog != "" {
		lf, err := os.Create(o.ConsoleLog)
		if err != nil {
			kill()
			<-exited
			return res, fmt.Errorf("vm: console log: %w", err)
		}
		defer lf.Close()
		console = io.TeeReader(out, lf)
	}
	perr := p.parse(console)
	// Drain whatever is left so QEMU never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, out)
	<-exited
	close(stopWatch)
	res.Total = time.Since(start)
	res.Captured = p.captured
	res.Started = p.started

	if p.exited {
		res.Status = p.status
		if p.status == StatusSetupFailed && !p.started {
			return res, fmt.Errorf("vm: guest init failed before starting the binary (see vm-init lines above)")
		}
		return res, perr
	}
	var why string
	switch {
	case ctx.Err() != nil:
		why = fmt.Sprintf("timed out after %v (MEMWATCH_VM_TIMEOUT, or -test.timeout + 90s)", total)
	case waitErr != nil:
		why = fmt.Sprintf("QEMU exited: %v", waitErr)
	default:
		why = "QEMU exited without the exit marker"
	}
	if !p.started && !o.Debug {
		fmt.Fprintf(o.Stderr, "vmexec: guest console before the start marker (last %d lines):\n", len(p.boot))
		for _, l := range p.boot {
			fmt.Fprintf(o.Stderr, "  | %s\n", l)
		}
	}
	if qerr.Len() > 0 {
		fmt.Fprintf(o.Stderr, "vmexec: QEMU stderr:\n%s\n", strings.TrimSpace(qerr.String()))
	}
	if perr != nil {
		why += "; " + perr.Error()
	}
	return res, fmt.Errorf("vm: %s (binary started: %v)", why, p.started)
}

// newNonce returns the random token the markers of one run carry (see
// StartMarker).
func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// limitedBuffer keeps the first max bytes written to it (QEMU's stderr).
type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
