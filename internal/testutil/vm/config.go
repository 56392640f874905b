package vm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Markers printed by the init on the serial console. Each carries the nonce
// of the run, so output of the test binary cannot be mistaken for them.
const (
	// StartMarker precedes the test binary's output: "@@MEMWATCH-VM-START <nonce>@@".
	StartMarker = "@@MEMWATCH-VM-START"
	// ExitMarker reports the exit status: "@@MEMWATCH-VM-EXIT <status> <nonce>@@".
	ExitMarker = "@@MEMWATCH-VM-EXIT"
	// OutMarker starts a base64 block returning an output file of the test
	// binary (a profile, coverage data): "@@MEMWATCH-VM-OUT <nonce> <len> <host path>@@".
	OutMarker = "@@MEMWATCH-VM-OUT"
	// EndMarker closes an OutMarker block.
	EndMarker = "@@MEMWATCH-VM-END"
)

// Exit statuses reported by the init besides the test binary's own.
const (
	// StatusSetupFailed means the init could not prepare the guest or
	// start the test binary.
	StatusSetupFailed = 125
	// StatusTimeout means the test binary exceeded its time bound and was killed.
	StatusTimeout = 124
)

// ConfigPath is where the init finds its Config inside the initramfs.
const ConfigPath = "/mw/config.json"

// TestBinPath is where the test binary is placed inside the initramfs.
const TestBinPath = "/test.bin"

// ScratchDir is where the optional ext4 scratch disk is mounted in the guest.
const ScratchDir = "/scratch"

// CgroupParent and CgroupTest are the cgroups the init creates, relative to
// the root of the memory hierarchy; the test binary runs in CgroupTest.
const (
	CgroupParent = "/mw"
	CgroupTest   = "/mw/test"
)

// Mode names the cgroup layout of the guest.
type Mode string

// Modes.
const (
	// ModeV2 mounts cgroup2 at /sys/fs/cgroup (nsdelegate,memory_recursiveprot).
	ModeV2 Mode = "v2"
	// ModeHybrid mounts a tmpfs at /sys/fs/cgroup, the v1 memory controller
	// at /sys/fs/cgroup/memory and cgroup2 (no controllers) at /sys/fs/cgroup/unified.
	ModeHybrid Mode = "hybrid"
)

// Config is what vmexec tells the init, as JSON at ConfigPath.
type Config struct {
	Mode      Mode   `json:"mode"`
	Nonce     string `json:"nonce"`
	Max       string `json:"max"`       // memory.max of CgroupTest: bytes or "max"
	High      string `json:"high"`      // memory.high of CgroupTest (v2): bytes or "max"
	ParentMax string `json:"parentMax"` // memory.max of CgroupParent: bytes or "max"
	// TimeoutSec bounds the test binary's run; 0 means no bound (vmexec
	// always sets one).
	TimeoutSec int      `json:"timeoutSec"`
	Path       string   `json:"path"` // binary to run, normally TestBinPath
	Args       []string `json:"args"` // argv[1:]
	Env        []string `json:"env"`  // complete environment of the binary
	Dir        string   `json:"dir"`  // working directory
	// MountTmp mounts a tmpfs at /tmp (false when Dir lies under /tmp).
	MountTmp bool `json:"mountTmp"`
	// Mkdirs are created (with parents) after the mounts, e.g. the
	// directories of -test.* output files.
	Mkdirs []string `json:"mkdirs"`
	// Outputs are files (or directories, all regular files in them) sent back
	// to the host after the test binary exits.
	Outputs []string `json:"outputs"`
	// ScratchDev, when set, is an ext4 block device mounted at ScratchDir.
	ScratchDev string `json:"scratchDev"`
}

// Validate reports a Config the init cannot act on.
func (c *Config) Validate() error {
	switch c.Mode {
	case ModeV2, ModeHybrid:
	default:
		return fmt.Errorf("mode %q: want %q or %q", c.Mode, ModeV2, ModeHybrid)
	}
	if c.Nonce == "" {
		return errors.New("empty nonce")
	}
	if c.Path == "" {
		return errors.New("empty path")
	}
	for _, kv := range []struct{ name, v string }{{"max", c.Max}, {"high", c.High}, {"parentMax", c.ParentMax}} {
		if kv.v == "" {
			continue
		}
		if _, err := ParseLimit(kv.v); err != nil {
			return fmt.Errorf("%s: %w", kv.name, err)
		}
	}
	if c.Mode == ModeHybrid && c.High != "" && c.High != "max" {
		return errors.New("high: memory.high does not exist in cgroup v1 (hybrid mode)")
	}
	return nil
}

// ParseLimit parses a memory limit: "max" (returned as -1), a byte count, or
// a size with a binary suffix K, M, G (optionally KiB, MiB, GiB, case
// insensitive). The result is a byte count or -1 for "max".
func ParseLimit(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	if strings.EqualFold(t, "max") {
		return -1, nil
	}
	mult := int64(1)
	u := strings.ToUpper(t)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			mult = suf.m
			u = strings.TrimSpace(strings.TrimSuffix(u, suf.s))
			break
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want bytes, a size like 256M or 1GiB, or max", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// FormatLimit renders a ParseLimit result the way cgroup files take it.
func FormatLimit(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// NormalizeLimit parses s (empty means def) and renders it as bytes or "max".
func NormalizeLimit(s, def string) (string, error) {
	if strings.TrimSpace(s) == "" {
		s = def
	}
	n, err := ParseLimit(s)
	if err != nil {
		return "", err
	}
	return FormatLimit(n), nil
}
