package vm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// InitPackage is the import path of the init program vmexec builds.
const InitPackage = "github.com/go-memwatch/memwatch/internal/testutil/vm/init"

// Options describe one run of a binary in the VM. OptionsFromEnv fills them
// from the MEMWATCH_VM_* environment.
type Options struct {
	Binary string   // host path of the binary to run (a go test -c binary)
	Args   []string // its arguments
	Dir    string   // host working directory; its testdata/ is copied in

	Kernel string // guest kernel image; empty: KernelPath()
	QEMU   string // QEMU binary; empty: QEMUPath()
	Init   string // prebuilt static init; empty: $MEMWATCH_VM_INIT or BuildInit

	Mode      Mode   // ModeV2 (default) or ModeHybrid
	Max       string // memory.max of the test cgroup (default 256MiB)
	High      string // memory.high of the test cgroup (default max)
	ParentMax string // memory.max of the parent cgroup (default max)
	MemMiB    int    // guest RAM (default 512)
	// ScratchMiB > 0 attaches an ext4 scratch disk of that size at /scratch.
	ScratchMiB int
	// Timeout bounds the whole run, boot included (default from -test.timeout).
	Timeout time.Duration
	// Env is added to the guest environment after the passed-through host
	// variables (later entries win).
	Env []string

	// CaptureOut, when set, turns "@@FILE <path> <len>@@" blocks in the
	// output into files under this directory instead of printing them.
	CaptureOut string

	Stdout io.Writer // test output (default os.Stdout)
	Stderr io.Writer // harness messages (default os.Stderr)
	Debug  bool      // show the kernel boot log
	// ConsoleLog, when set, receives a raw copy of the guest console.
	ConsoleLog string
}

// Result describes a finished run.
type Result struct {
	Status   int           // exit status of the binary (see StatusTimeout, StatusSetupFailed)
	Boot     time.Duration // QEMU start to the start marker
	Test     time.Duration // start marker to exit marker
	Total    time.Duration
	Captured int  // files written under CaptureOut
	Started  bool // the binary was started (the start marker was seen)
}

// Default sizes.
const (
	DefaultMax    = "256MiB"
	DefaultMemMiB = 512
)

// OptionsFromEnv returns Options for binary and args from the MEMWATCH_VM_*
// environment; dir is the working directory (go test runs the binary in the
// package directory).
func OptionsFromEnv(binary string, args []string, dir string) (Options, error) {
	o := Options{
		Binary:     binary,
		Args:       args,
		Dir:        dir,
		Kernel:     os.Getenv("MEMWATCH_VM_KERNEL"),
		QEMU:       os.Getenv("MEMWATCH_VM_QEMU"),
		Init:       os.Getenv("MEMWATCH_VM_INIT"),
		Mode:       Mode(os.Getenv("MEMWATCH_VM_MODE")),
		Max:        os.Getenv("MEMWATCH_VM_MAX"),
		High:       os.Getenv("MEMWATCH_VM_HIGH"),
		ParentMax:  os.Getenv("MEMWATCH_VM_PARENT_MAX"),
		Debug:      os.Getenv("MEMWATCH_VM_DEBUG") == "1",
		ConsoleLog: os.Getenv("MEMWATCH_VM_CONSOLE_LOG"),
	}
	if s := os.Getenv("MEMWATCH_VM_MEM"); s != "" {
		n, err := ParseLimit(s)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("MEMWATCH_VM_MEM=%q: want MiB (e.g. 512) or a size (e.g. 1G)", s)
		}
		if n < 1<<20 { // a plain number means MiB
			n <<= 20
		}
		o.MemMiB = int(n >> 20)
	}
	if s := os.Getenv("MEMWATCH_VM_SCRATCH"); s != "" {
		n, err := ParseLimit(s)
		if err != nil || n < 0 {
			return o, fmt.Errorf("MEMWATCH_VM_SCRATCH=%q: want a size like 64M", s)
		}
		if n < 1<<20 {
			n <<= 20
		}
		o.ScratchMiB = int(n >> 20)
	}
	if s := os.Getenv("MEMWATCH_VM_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("MEMWATCH_VM_TIMEOUT=%q: want a duration like 10m", s)
		}
		o.Timeout = d
	}
	return o, nil
}

// passEnv reports whether a host variable is passed to the guest.
func passEnv(name string) bool {
	if strings.HasPrefix(name, "MEMWATCH_") {
		return true
	}
	switch name {
	case "GOMAXPROCS", "GOTRACEBACK", "GODEBUG", "GOGC", "GOMEMLIMIT":
		return true
	}
	return false
}

// outputFlags are -test.* flags naming files the binary writes; they are
// returned to the host after the run.
var outputFlags = map[string]bool{
	"coverprofile": true, "cpuprofile": true, "memprofile": true,
	"blockprofile": true, "mutexprofile": true, "trace": true,
}

// testFlag returns the value of -test.<name> (or --test.<name>) in args.
func testFlag(args []string, name string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := strings.TrimPrefix(args[i], "-")
		a = strings.TrimPrefix(a, "-")
		if a == "test."+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "test."+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// guestFiles works out the directories to create in the guest and the output
// files to send back, from the -test.* flags.
func guestFiles(args []string, dir string) (mkdirs, outputs []string) {
	outDir, _ := testFlag(args, "outputdir")
	if outDir != "" {
		if !filepath.IsAbs(outDir) {
			outDir = filepath.Join(dir, outDir)
		}
		mkdirs = append(mkdirs, outDir)
	}
	if v, ok := testFlag(args, "testlogfile"); ok && v != "" {
		// Created so the binary can write it; deliberately not returned, so
		// go test never caches a result that depends on the guest.
		if !filepath.IsAbs(v) {
			v = filepath.Join(dir, v)
		}
		mkdirs = append(mkdirs, filepath.Dir(v))
	}
	if v, ok := testFlag(args, "gocoverdir"); ok && v != "" {
		if !filepath.IsAbs(v) {
			v = filepath.Join(dir, v)
		}
		mkdirs = append(mkdirs, v)
		outputs = append(outputs, v)
	}
	names := make([]string, 0, len(outputFlags))
	for n := range outputFlags {
		names = append(names, n)
	}
	for _, n := range names {
		v, ok := testFlag(args, n)
		if !ok || v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			if outDir != "" {
				v = filepath.Join(outDir, v)
			} else {
				v = filepath.Join(dir, v)
			}
		}
		mkdirs = append(mkdirs, filepath.Dir(v))
		outputs = append(outputs, v)
	}
	return mkdirs, outputs
}

// timeouts returns the guest bound for the binary and the overall bound.
func timeouts(o *Options) (guest, total time.Duration) {
	const bootAllowance = 90 * time.Second
	if o.Timeout > 0 {
		total = o.Timeout
		guest = max(total-bootAllowance, total/2)
		return guest, total
	}
	guest = 10 * time.Minute
	if v, ok := testFlag(o.Args, "timeout"); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			// The binary panics at its own timeout; the guest kills it a
			// little later if it is stuck beyond that.
			guest = d + 30*time.Second
		}
	}
	return guest, guest + bootAllowance
}

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// BuildInit builds the static init program with the go command found in PATH
// (or $GOROOT/bin), working in dir (which must lie inside the memwatch
// module), and returns the path of the binary in the user cache directory.
// The go build cache keeps repeated builds cheap.
func BuildInit(ctx context.Context, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goBin = filepath.Join(root, "bin", "go")
		} else {
			return "", fmt.Errorf("vm: go command not found to build the init (set MEMWATCH_VM_INIT to a prebuilt one): %v", err)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cache = filepath.Join(cache, "memwatch-vm")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(cache, fmt.Sprintf("init.%d.tmp", os.Getpid()))
	build := func(dir string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, InitPackage)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
		return cmd.CombinedOutput()
	}
	out, err := build(dir)
	if err != nil {
		// Outside the module: try the source directory this package was
		// compiled from (known unless built with -trimpath).
		if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
			if _, serr := os.Stat(file); serr == nil {
				if out2, err2 := build(filepath.Dir(file)); err2 == nil {
					out, err = out2, nil
				}
			}
		}
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("vm: building the init (%s) in %s failed: %v\n%s(outside the memwatch module set MEMWATCH_VM_INIT to a binary built with CGO_ENABLED=0 go build %s)",
			InitPackage, dir, err, out, InitPackage)
	}
	final := filepath.Join(cache, "init")
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return final, nil
}

// maxTestdata bounds the testdata copied into the initramfs (it lives in
// guest RAM).
const maxTestdata = 128 << 20

// writeInitramfs writes the cpio archive for cfg to dst.
func writeInitramfs(dst, initBin, binary, dir string, cfg *Config) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	w := NewCPIOWriter(f)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "mw", "root"} {
		if err := w.Dir(d, 0o755); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init's stdin/stdout/stderr.
	if err := w.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := w.File("init", initBin); err != nil {
		return fmt.Errorf("initramfs: init: %w", err)
	}
	if err := w.File(TestBinPath, binary); err != nil {
		return fmt.Errorf("initramfs: test binary: %w", err)
	}
	// A cgo binary (go test -race) needs its ELF interpreter and shared
	// libraries: copy them from the host at the paths the loader looks in.
	libs, err := sharedLibs(binary)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	for _, l := range libs {
		if err := w.File(l.guest, l.host); err != nil {
			return fmt.Errorf("initramfs: shared library: %w", err)
		}
	}
	if dir != "/" {
		if err := w.Dir(dir, 0o755); err != nil {
			return err
		}
	}
	td := filepath.Join(dir, "testdata")
	if st, err := os.Stat(td); err == nil && st.IsDir() {
		size, err := dirSize(td)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		if size > maxTestdata {
			return fmt.Errorf("initramfs: %s holds %d MiB, over the %d MiB the guest RAM disk takes", td, size>>20, maxTestdata>>20)
		}
		if _, err := w.Tree(td, td); err != nil {
			return fmt.Errorf("initramfs: testdata: %w", err)
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := w.Bytes(ConfigPath, 0o644, b); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

func dirSize(root string) (int64, error) {
	var n int64
	err := filepath.Walk(root, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// makeScratch creates a sparse ext4 image of sizeMiB.
func makeScratch(ctx context.Context, dst string, sizeMiB int) error {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
			if _, serr := os.Stat(p); serr == nil {
				mkfs, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: scratch disk needs mkfs.ext4 (Debian package e2fsprogs)", ErrUnavailable)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		f.Close()
		return err
	}
	f.Close()
	out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-m", "0", dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %v: %s", dst, err, out)
	}
	return nil
}

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

// dedupEnv keeps the last value of each variable.
func dedupEnv(env []string) []string {
	idx := map[string]int{}
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[name]; ok {
			out[i] = kv
			continue
		}
		idx[name] = len(out)
		out = append(out, kv)
	}
	return out
}

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

// streamParser splits the guest console into boot log, test output, output
// file blocks, capture blocks and the exit marker.
type streamParser struct {
	nonce      string
	stdout     io.Writer
	stderr     io.Writer
	debug      bool
	captureOut string
	// outputs are the host paths (files, or directories for everything
	// under them) that output blocks may write; others are refused.
	outputs []string

	onStart func()
	onExit  func()

	boot     []string // last lines before the start marker
	started  bool
	exited   bool
	status   int
	captured int
}

const bootLines = 200

// parse consumes the console stream until EOF. It returns the first error
// met while writing returned files; parsing goes on after it.
func (p *streamParser) parse(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err != nil {
			fmt.Fprintf(p.stderr, "vmexec: %v\n", err)
		}
	}
	for {
		raw, err := br.ReadString('\n')
		if raw == "" && err != nil {
			return firstErr
		}
		line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		// Markers are searched anywhere in the line: the firmware leaves
		// escape sequences without a newline before the first guest line.
		if i := strings.Index(line, StartMarker+" "); i >= 0 && !p.started &&
			line[i+len(StartMarker)+1:] == p.nonce+"@@" {
			p.started = true
			if p.onStart != nil {
				p.onStart()
			}
			continue
		}
		if i := strings.Index(line, ExitMarker+" "); i >= 0 && !p.exited {
			if st, ok := p.exitStatus(line[i:]); ok {
				if i > 0 && p.started {
					fmt.Fprintln(p.stdout, line[:i])
				}
				p.exited = true
				p.status = st
				if p.onExit != nil {
					p.onExit()
				}
				continue
			}
		}
		switch {
		case p.started && strings.HasPrefix(line, OutMarker+" "+p.nonce+" "):
			keep(p.readOut(br, line))
			continue
		case p.started && p.captureOut != "" && strings.HasPrefix(line, "@@FILE "):
			keep(p.readCapture(br, line))
			continue
		}
		switch {
		case strings.HasPrefix(line, "vm-init:"):
			fmt.Fprintln(p.stderr, line)
		case !p.started || p.exited:
			if p.debug {
				fmt.Fprintln(p.stderr, line)
			}
			if !p.started {
				p.boot = append(p.boot, line)
				if len(p.boot) > bootLines {
					p.boot = p.boot[len(p.boot)-bootLines:]
				}
			}
		default:
			if strings.HasSuffix(raw, "\n") {
				fmt.Fprintln(p.stdout, line)
			} else {
				fmt.Fprint(p.stdout, line)
			}
		}
		if err != nil {
			return firstErr
		}
	}
}

// exitStatus parses "@@MEMWATCH-VM-EXIT <status> <nonce>@@". The nonce "-"
// is accepted with StatusSetupFailed: the init reports it when it could not
// read its configuration.
func (p *streamParser) exitStatus(line string) (int, bool) {
	body, ok := strings.CutSuffix(strings.TrimPrefix(line, ExitMarker+" "), "@@")
	f := strings.Fields(body)
	if !ok || len(f) != 2 {
		return 0, false
	}
	st, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, false
	}
	if f[1] == p.nonce || (f[1] == "-" && st == StatusSetupFailed) {
		return st, true
	}
	return 0, false
}

// readOut reads a base64 block "@@MEMWATCH-VM-OUT <nonce> <len> <path>@@" and
// writes the file on the host at path.
func (p *streamParser) readOut(br *bufio.Reader, header string) error {
	f := strings.SplitN(strings.TrimSuffix(header, "@@"), " ", 4)
	if len(f) != 4 {
		return fmt.Errorf("bad output header %q", header)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 0 {
		return fmt.Errorf("bad output header %q", header)
	}
	dst := f[3]
	var enc strings.Builder
	end := EndMarker + " " + p.nonce + "@@"
	for {
		l, err := br.ReadString('\n')
		l = strings.TrimRight(l, "\r\n")
		if l == end {
			break
		}
		if err != nil {
			return fmt.Errorf("output %s: stream ended inside the block", dst)
		}
		enc.WriteString(l)
	}
	b, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return fmt.Errorf("output %s: %v", dst, err)
	}
	if len(b) != n {
		return fmt.Errorf("output %s: got %d bytes, header says %d", dst, len(b), n)
	}
	if !p.outputAllowed(dst) {
		return fmt.Errorf("output %s: not a requested output file", dst)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// outputAllowed reports whether dst is one of p.outputs or lies under one.
func (p *streamParser) outputAllowed(dst string) bool {
	if !filepath.IsAbs(dst) || filepath.Clean(dst) != dst {
		return false
	}
	for _, o := range p.outputs {
		if dst == o || strings.HasPrefix(dst, o+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// CaptureFile is one file of a capture stream, as parsed by ParseCapture.
type CaptureFile struct {
	Path string // absolute guest path
	Data []byte
}

// errCapture reports a malformed capture block.
var errCapture = errors.New("malformed capture block")

// readCaptureBlock reads one "@@FILE <path> <len>@@" block whose header line
// was already consumed: exactly len bytes of content, an optional newline
// (added when the content did not end with one), then "@@END@@".
func readCaptureBlock(br *bufio.Reader, header string) (CaptureFile, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(header, "@@FILE "), "@@")
	i := strings.LastIndexByte(h, ' ')
	if i < 0 {
		return CaptureFile{}, fmt.Errorf("%w: header %q", errCapture, header)
	}
	name, ns := h[:i], h[i+1:]
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 || n > 64<<20 {
		return CaptureFile{}, fmt.Errorf("%w: header %q", errCapture, header)
	}
	clean := path.Clean(name)
	if !path.IsAbs(clean) || clean != name || clean == "/" {
		return CaptureFile{}, fmt.Errorf("%w: path %q must be absolute and clean", errCapture, name)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return CaptureFile{}, fmt.Errorf("%w: path %q has a control character", errCapture, name)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(br, data); err != nil {
		return CaptureFile{}, fmt.Errorf("%w: %s: %v", errCapture, name, err)
	}
	for {
		l, err := br.ReadString('\n')
		t := strings.TrimRight(l, "\r\n")
		if t == "@@END@@" {
			return CaptureFile{Path: name, Data: data}, nil
		}
		if t != "" || err != nil {
			return CaptureFile{}, fmt.Errorf("%w: %s: want @@END@@ after %d bytes, got %q", errCapture, name, n, l)
		}
	}
}

func (p *streamParser) readCapture(br *bufio.Reader, header string) error {
	cf, err := readCaptureBlock(br, header)
	if err != nil {
		return err
	}
	if err := WriteCaptureFile(p.captureOut, cf); err != nil {
		return err
	}
	p.captured++
	return nil
}

// WriteCaptureFile writes cf under dir at its guest path.
func WriteCaptureFile(dir string, cf CaptureFile) error {
	dst := filepath.Join(dir, filepath.FromSlash(cf.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, cf.Data, 0o644)
}

// ParseCapture reads a capture stream (as printed by the capture program)
// and returns its files; other lines are ignored.
func ParseCapture(r io.Reader) ([]CaptureFile, error) {
	br := bufio.NewReader(r)
	var files []CaptureFile
	for {
		l, err := br.ReadString('\n')
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "@@FILE ") {
			cf, cerr := readCaptureBlock(br, t)
			if cerr != nil {
				return files, cerr
			}
			files = append(files, cf)
			continue
		}
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return files, err
		}
	}
}
