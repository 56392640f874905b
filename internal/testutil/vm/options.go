package vm

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

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
