package vm

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"max", -1, false},
		{"MAX", -1, false},
		{"268435456", 268435456, false},
		{"256M", 256 << 20, false},
		{"256MiB", 256 << 20, false},
		{"256mib", 256 << 20, false},
		{"1G", 1 << 30, false},
		{"1GiB", 1 << 30, false},
		{"4k", 4096, false},
		{" 160M ", 160 << 20, false},
		{"0", 0, false},
		{"", 0, true},
		{"-1", 0, true},
		{"12X", 0, true},
		{"1.5G", 0, true},
		{"M", 0, true},
		{"99999999999G", 0, true},
	} {
		got, err := ParseLimit(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d, err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if s, err := NormalizeLimit("", "256MiB"); err != nil || s != "268435456" {
		t.Errorf("NormalizeLimit default = %q, %v", s, err)
	}
	if s, err := NormalizeLimit("max", "1"); err != nil || s != "max" {
		t.Errorf("NormalizeLimit(max) = %q, %v", s, err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Mode: ModeV2, Nonce: "n", Path: TestBinPath, Max: "268435456", High: "max"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"mode":        func(c *Config) { c.Mode = "v3" },
		"nonce":       func(c *Config) { c.Nonce = "" },
		"path":        func(c *Config) { c.Path = "" },
		"max":         func(c *Config) { c.Max = "lots" },
		"hybrid high": func(c *Config) { c.Mode = ModeHybrid; c.High = "1000" },
	} {
		c := ok
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func writeTestArchive(t *testing.T) ([]byte, string) {
	t.Helper()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "deep", "f.txt"), []byte("fixture\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/deep/f.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf)
	steps := []error{
		w.Dir("proc", 0o755),
		w.CharDev("dev/console", 0o600, 5, 1),
		w.Bytes("mw/config.json", 0o644, []byte(`{"a":1}`)), // 7 bytes: needs padding
		w.Bytes("/a/b/c/empty", 0o644, nil),
	}
	_, err := w.Tree("/work/pkg/testdata", src)
	steps = append(steps, err, w.Close())
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return buf.Bytes(), src
}

func TestCPIORoundTrip(t *testing.T) {
	b, _ := writeTestArchive(t)
	if len(b)%512 != 0 {
		t.Errorf("archive length %d not padded to 512", len(b))
	}
	ents, err := ReadCPIO(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]CPIOEntry{}
	var names []string
	for _, e := range ents {
		if _, dup := byName[e.Name]; dup {
			t.Errorf("duplicate entry %q", e.Name)
		}
		// The kernel needs each parent before its children.
		if d := filepath.Dir(e.Name); d != "." {
			if p, ok := byName[d]; !ok || p.Mode&0o170000 != cpioDir {
				t.Errorf("%q comes before its directory %q", e.Name, d)
			}
		}
		byName[e.Name] = e
		names = append(names, e.Name)
	}
	check := func(name string, mode uint32, data string) {
		t.Helper()
		e, ok := byName[name]
		if !ok {
			t.Errorf("missing %q in %v", name, names)
			return
		}
		if e.Mode != mode || string(e.Data) != data {
			t.Errorf("%q: mode %o data %q; want %o %q", name, e.Mode, e.Data, mode, data)
		}
	}
	check("proc", cpioDir|0o755, "")
	check("dev", cpioDir|0o755, "")
	check("mw/config.json", cpioRegular|0o644, `{"a":1}`)
	check("a/b/c/empty", cpioRegular|0o644, "")
	check("work/pkg/testdata/sub/deep/f.txt", cpioRegular|0o640, "fixture\n")
	check("work/pkg/testdata/link", cpioSymlink|0o777, "sub/deep/f.txt")
	if e := byName["dev/console"]; e.Mode != cpioCharDev|0o600 || e.RMajor != 5 || e.RMinor != 1 {
		t.Errorf("dev/console = %+v", e)
	}
}

// TestCPIOAgainstCpioTool checks the archive with GNU cpio as an
// independent reader.
func TestCPIOAgainstCpioTool(t *testing.T) {
	tool, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("needs the cpio tool (Debian package cpio, installed by scripts/vm-kernel.sh)")
	}
	b, _ := writeTestArchive(t)
	dst := t.TempDir()
	cmd := exec.Command(tool, "-i", "-d", "--no-absolute-filenames", "--quiet")
	cmd.Dir = dst
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		// Unpacking the device node needs root; list instead.
		if !strings.Contains(string(out), "console") {
			t.Fatalf("cpio -i: %v: %s", err, out)
		}
	}
	got, err := os.ReadFile(filepath.Join(dst, "work/pkg/testdata/sub/deep/f.txt"))
	if err != nil || string(got) != "fixture\n" {
		t.Errorf("cpio unpacked f.txt = %q, %v", got, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "work/pkg/testdata/link")); err != nil || l != "sub/deep/f.txt" {
		t.Errorf("cpio unpacked link = %q, %v", l, err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "mw/config.json")); err != nil || string(got) != `{"a":1}` {
		t.Errorf("cpio unpacked config.json = %q, %v", got, err)
	}
	st, err := os.Stat(filepath.Join(dst, "work/pkg/testdata/sub/deep/f.txt"))
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("f.txt mode = %v, %v", st.Mode(), err)
	}
}

func TestReadCPIOErrors(t *testing.T) {
	good, _ := writeTestArchive(t)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"bad magic": append([]byte("070707"), good[6:]...),
		"truncated": good[:200],
		"bad hex":   append(append([]byte{}, good[:10]...), append([]byte("zz"), good[12:]...)...),
	} {
		if _, err := ReadCPIO(bytes.NewReader(b)); !errors.Is(err, errCPIO) {
			t.Errorf("%s: err = %v, want errCPIO", name, err)
		}
	}
}

func TestCPIOTreeRejectsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("mkfifo", filepath.Join(dir, "fifo")).Run(); err != nil {
		t.Skip("needs mkfifo")
	}
	w := NewCPIOWriter(&bytes.Buffer{})
	if _, err := w.Tree("t", dir); err == nil || !strings.Contains(err.Error(), "unsupported file type") {
		t.Errorf("Tree with a fifo: err = %v", err)
	}
}

// stream builds a console stream.
func stream(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func newParser(nonce string) (*streamParser, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &streamParser{nonce: nonce, stdout: &out, stderr: &errb}, &out, &errb
}

func TestStreamParser(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "cover", "prof.out")
	payload := []byte("mode: set\nx.go:1.1,2.2 1 1\n")
	enc := base64.StdEncoding.EncodeToString(payload)
	in := stream(
		"\x1bc\x1b[?7lSeaBIOS (version 1.16)",
		"[    0.1] Linux version 6.1",
		"@@MEMWATCH-VM-START wrongnonce@@",
		"\x1bc\x1b[2J@@MEMWATCH-VM-START abc@@",
		"=== RUN   TestX",
		"@@MEMWATCH-VM-EXIT 0 forged@@",
		"vm-init: note",
		"--- PASS: TestX (0.00s)\r",
		"PASS",
		fmt.Sprintf("@@MEMWATCH-VM-OUT abc %d %s@@", len(payload), dst),
		enc[:10],
		enc[10:],
		"@@MEMWATCH-VM-END abc@@",
		"@@MEMWATCH-VM-EXIT 3 abc@@",
		"[    9.9] reboot: Power down",
	)
	p, out, errb := newParser("abc")
	p.outputs = []string{filepath.Dir(dst)}
	var started, exited int
	p.onStart = func() { started++ }
	p.onExit = func() { exited++ }
	if err := p.parse(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if !p.started || !p.exited || p.status != 3 || started != 1 || exited != 1 {
		t.Fatalf("started=%v exited=%v status=%d callbacks %d/%d", p.started, p.exited, p.status, started, exited)
	}
	wantOut := "=== RUN   TestX\n@@MEMWATCH-VM-EXIT 0 forged@@\n--- PASS: TestX (0.00s)\nPASS\n"
	if out.String() != wantOut {
		t.Errorf("stdout = %q, want %q", out.String(), wantOut)
	}
	if errb.String() != "vm-init: note\n" {
		t.Errorf("stderr = %q", errb.String())
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("returned file = %q, %v", got, err)
	}
	if len(p.boot) != 3 || !strings.Contains(p.boot[1], "Linux version") {
		t.Errorf("boot log = %q", p.boot)
	}
}

func TestStreamParserNoMarker(t *testing.T) {
	var lines []string
	for i := range bootLines + 50 {
		lines = append(lines, fmt.Sprintf("[ %d ] kernel line", i))
	}
	lines = append(lines, "Kernel panic - not syncing: VFS: Unable to mount root fs")
	p, out, _ := newParser("abc")
	if err := p.parse(strings.NewReader(stream(lines...))); err != nil {
		t.Fatal(err)
	}
	if p.started || p.exited || out.Len() != 0 {
		t.Fatalf("started=%v exited=%v out=%q", p.started, p.exited, out)
	}
	if len(p.boot) != bootLines || !strings.HasPrefix(p.boot[len(p.boot)-1], "Kernel panic") {
		t.Errorf("boot log kept %d lines, last %q", len(p.boot), p.boot[len(p.boot)-1])
	}
}

func TestStreamParserSetupFailure(t *testing.T) {
	p, _, errb := newParser("abc")
	in := stream("vm-init: error: config: open /mw/config.json: no such file", "@@MEMWATCH-VM-EXIT 125 -@@")
	if err := p.parse(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if !p.exited || p.status != StatusSetupFailed || p.started {
		t.Errorf("exited=%v status=%d started=%v", p.exited, p.status, p.started)
	}
	if !strings.Contains(errb.String(), "config.json") {
		t.Errorf("stderr = %q", errb.String())
	}
	// "-" is only accepted for the setup failure status.
	p, _, _ = newParser("abc")
	_ = p.parse(strings.NewReader(stream("@@MEMWATCH-VM-EXIT 0 -@@")))
	if p.exited {
		t.Error("EXIT 0 with nonce - accepted")
	}
}

func TestStreamParserBadOutBlock(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "x")
	in := stream("@@MEMWATCH-VM-START n@@",
		"@@MEMWATCH-VM-OUT n 99 "+dst+"@@", base64.StdEncoding.EncodeToString([]byte("short")), "@@MEMWATCH-VM-END n@@",
		"@@MEMWATCH-VM-EXIT 0 n@@")
	p, _, _ := newParser("n")
	p.outputs = []string{dst}
	err := p.parse(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "header says 99") {
		t.Errorf("err = %v", err)
	}
	if !p.exited {
		t.Error("parsing stopped at the bad block")
	}
	if _, serr := os.Stat(dst); serr == nil {
		t.Error("file of a bad block written")
	}
	// A well-formed block for a path that was not requested is refused.
	other := filepath.Join(filepath.Dir(dst), "other")
	in = stream("@@MEMWATCH-VM-START n@@",
		"@@MEMWATCH-VM-OUT n 2 "+other+"@@", base64.StdEncoding.EncodeToString([]byte("hi")), "@@MEMWATCH-VM-END n@@",
		"@@MEMWATCH-VM-EXIT 0 n@@")
	p, _, _ = newParser("n")
	p.outputs = []string{dst}
	if err := p.parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "not a requested output") {
		t.Errorf("unrequested output: err = %v", err)
	}
	if _, serr := os.Stat(other); serr == nil {
		t.Error("unrequested output file written")
	}
}

func captureStream(files map[string]string, order []string) string {
	var b strings.Builder
	b.WriteString("@@MEMWATCH-VM-START n@@\nsome output\n")
	for _, p := range order {
		c := files[p]
		fmt.Fprintf(&b, "@@FILE %s %d@@\n%s", p, len(c), c)
		if len(c) > 0 && !strings.HasSuffix(c, "\n") {
			b.WriteByte('\n')
		}
		b.WriteString("@@END@@\n")
	}
	b.WriteString("@@MEMWATCH-VM-EXIT 0 n@@\n")
	return b.String()
}

func TestCapture(t *testing.T) {
	files := map[string]string{
		"/proc/self/cgroup":                     "0::/mw/test\n",
		"/sys/fs/cgroup/mw/test/memory.max":     "268435456\n",
		"/sys/fs/cgroup/mw/cgroup.procs":        "",
		"/sys/fs/cgroup/mw/test/no-newline":     "abc",
		"/sys/fs/cgroup/mw/test/@@END@@ inside": "x\n@@END@@\ny\n",
	}
	order := []string{"/proc/self/cgroup", "/sys/fs/cgroup/mw/test/memory.max", "/sys/fs/cgroup/mw/cgroup.procs",
		"/sys/fs/cgroup/mw/test/no-newline", "/sys/fs/cgroup/mw/test/@@END@@ inside"}
	in := captureStream(files, order)

	got, err := ParseCapture(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(order) {
		t.Fatalf("ParseCapture: %d files, want %d", len(got), len(order))
	}
	for i, cf := range got {
		if cf.Path != order[i] || string(cf.Data) != files[order[i]] {
			t.Errorf("file %d = %q %q, want %q %q", i, cf.Path, cf.Data, order[i], files[order[i]])
		}
	}

	dir := t.TempDir()
	p, out, _ := newParser("n")
	p.captureOut = dir
	if err := p.parse(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if p.captured != len(order) || out.String() != "some output\n" {
		t.Errorf("captured %d, stdout %q", p.captured, out)
	}
	for _, name := range order {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != files[name] {
			t.Errorf("%s = %q, %v; want %q", name, b, err, files[name])
		}
	}
}

func TestCaptureErrors(t *testing.T) {
	for name, in := range map[string]string{
		"relative":   "@@FILE proc/x 1@@\na\n@@END@@\n",
		"dotdot":     "@@FILE /proc/../../etc/x 1@@\na\n@@END@@\n",
		"root":       "@@FILE / 1@@\na\n@@END@@\n",
		"no length":  "@@FILE /proc/x@@\na\n@@END@@\n",
		"bad length": "@@FILE /proc/x -1@@\na\n@@END@@\n",
		"short":      "@@FILE /proc/x 10@@\nab",
		"long":       "@@FILE /proc/x 1@@\nabc\n@@END@@\n",
		"no end":     "@@FILE /proc/x 2@@\nab\n",
	} {
		if _, err := ParseCapture(strings.NewReader(in)); !errors.Is(err, errCapture) {
			t.Errorf("%s: err = %v, want errCapture", name, err)
		}
	}
}

func TestGuestFiles(t *testing.T) {
	args := []string{
		"-test.v=true", "-test.timeout=10m0s",
		"-test.testlogfile=/tmp/go-build1/b001/testlog.txt",
		"-test.gocoverdir", "/tmp/go-build1/b001/gocoverdir",
		"-test.outputdir=/out",
		"-test.cpuprofile=cpu.out",
		"--test.coverprofile=/abs/cover.out",
	}
	mkdirs, outputs := guestFiles(args, "/pkg")
	wantMk := []string{"/out", "/tmp/go-build1/b001", "/tmp/go-build1/b001/gocoverdir", "/out", "/abs"}
	wantOut := []string{"/tmp/go-build1/b001/gocoverdir", "/out/cpu.out", "/abs/cover.out"}
	asSet := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	if !reflect.DeepEqual(asSet(mkdirs), asSet(wantMk)) {
		t.Errorf("mkdirs = %v, want %v", mkdirs, wantMk)
	}
	if !reflect.DeepEqual(asSet(outputs), asSet(wantOut)) {
		t.Errorf("outputs = %v, want %v (testlogfile must not be returned)", outputs, wantOut)
	}
	_, outputs = guestFiles([]string{"-test.memprofile=mem.out"}, "/pkg")
	if !reflect.DeepEqual(outputs, []string{"/pkg/mem.out"}) {
		t.Errorf("relative profile without outputdir: %v", outputs)
	}
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		o            Options
		guest, total time.Duration
	}{
		{Options{Args: []string{"-test.timeout=1m0s"}}, 90 * time.Second, 180 * time.Second},
		{Options{Args: []string{"-test.timeout=0s"}}, 10 * time.Minute, 11*time.Minute + 30*time.Second},
		{Options{}, 10 * time.Minute, 11*time.Minute + 30*time.Second},
		{Options{Timeout: 10 * time.Minute, Args: []string{"-test.timeout=1h"}}, 10*time.Minute - 90*time.Second, 10 * time.Minute},
		{Options{Timeout: 40 * time.Second}, 20 * time.Second, 40 * time.Second},
	} {
		g, tot := timeouts(&tc.o)
		if g != tc.guest || tot != tc.total {
			t.Errorf("timeouts(%+v) = %v, %v; want %v, %v", tc.o, g, tot, tc.guest, tc.total)
		}
	}
}

func TestEnv(t *testing.T) {
	for name, want := range map[string]bool{
		"MEMWATCH_VM_MAX": true, "MEMWATCH_X": true, "GOMAXPROCS": true, "GOTRACEBACK": true,
		"GODEBUG": true, "GOGC": true, "GOMEMLIMIT": true, "HOME": false, "PATH": false, "GOFLAGS": false,
	} {
		if passEnv(name) != want {
			t.Errorf("passEnv(%s) = %v", name, !want)
		}
	}
	got := dedupEnv([]string{"A=1", "B=2", "A=3", "C=", "B=4"})
	if want := []string{"A=3", "B=4", "C="}; !reflect.DeepEqual(got, want) {
		t.Errorf("dedupEnv = %v, want %v", got, want)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv("MEMWATCH_VM_MEM", "1G")
	t.Setenv("MEMWATCH_VM_SCRATCH", "64")
	t.Setenv("MEMWATCH_VM_TIMEOUT", "3m")
	t.Setenv("MEMWATCH_VM_MODE", "hybrid")
	o, err := OptionsFromEnv("/bin/x", []string{"-test.v"}, "/pkg")
	if err != nil {
		t.Fatal(err)
	}
	if o.MemMiB != 1024 || o.ScratchMiB != 64 || o.Timeout != 3*time.Minute || o.Mode != ModeHybrid {
		t.Errorf("options = %+v", o)
	}
	t.Setenv("MEMWATCH_VM_MEM", "lots")
	if _, err := OptionsFromEnv("/bin/x", nil, "/pkg"); err == nil {
		t.Error("bad MEMWATCH_VM_MEM accepted")
	}
}

func TestRunUnavailable(t *testing.T) {
	_, err := Run(context.Background(), Options{Binary: "/bin/true", Kernel: filepath.Join(t.TempDir(), "no-vmlinuz")})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("missing kernel: err = %v, want ErrUnavailable", err)
	}
	t.Setenv("MEMWATCH_VM_KERNEL", filepath.Join(t.TempDir(), "no-vmlinuz"))
	if _, err := KernelPath(); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "vm-kernel.sh") {
		t.Errorf("KernelPath: %v", err)
	}
	// The reason names what is missing: the kernel, QEMU, or (a 32-bit or
	// non-Linux test binary) the host the harness needs.
	if ok, reason := Available(); ok || !strings.Contains(reason, "no-vmlinuz") && !strings.Contains(reason, "qemu") &&
		!strings.Contains(reason, "linux/amd64 host") {
		t.Errorf("Available() = %v, %q", ok, reason)
	}
	t.Setenv("MEMWATCH_VM_QEMU", "definitely-not-qemu")
	if _, err := QEMUPath(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("QEMUPath: %v", err)
	}
}

func TestSharedLibs(t *testing.T) {
	libs, err := sharedLibs("/bin/true")
	if err != nil {
		t.Skipf("needs a dynamically linked /bin/true: %v", err)
	}
	if len(libs) < 2 {
		t.Fatalf("/bin/true: libs = %v, want the loader and libc", libs)
	}
	var libc bool
	for _, l := range libs {
		if strings.HasPrefix(filepath.Base(l.guest), "libc.so") {
			libc = true
		}
		if _, err := os.Stat(l.host); err != nil {
			t.Errorf("%v: %v", l, err)
		}
	}
	if !libc {
		t.Errorf("libc not among %v", libs)
	}
	// A static binary needs nothing.
	static := filepath.Join(t.TempDir(), "static")
	cmd := exec.Command("go", "build", "-o", static, "./init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("go build: %v: %s", err, out)
	}
	if libs, err := sharedLibs(static); err != nil || len(libs) != 0 {
		t.Errorf("static init: %v, %v", libs, err)
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "pkg")
	if err := os.MkdirAll(filepath.Join(pkg, "testdata", "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "testdata", "proc", "meminfo"), []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("not an ELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Mode: ModeV2, Nonce: "n", Path: TestBinPath, Dir: pkg}
	out := filepath.Join(dir, "initrd")
	// A binary that is not ELF is refused with its name.
	if err := writeInitramfs(out, bin, bin, pkg, cfg); err == nil || !strings.Contains(err.Error(), bin) {
		t.Fatalf("non-ELF binary: err = %v", err)
	}
	static := filepath.Join(dir, "static")
	cmd := exec.Command("go", "build", "-o", static, "./init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("go build: %v: %s", err, b)
	}
	if err := writeInitramfs(out, static, static, pkg, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ents, err := ReadCPIO(f)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]uint32{}
	for _, e := range ents {
		have[e.Name] = e.Mode
	}
	rel := strings.TrimPrefix(pkg, "/")
	for name, mode := range map[string]uint32{
		"init":                         cpioRegular | 0o755,
		"test.bin":                     cpioRegular | 0o755,
		"dev/console":                  cpioCharDev | 0o600,
		"mw/config.json":               cpioRegular | 0o644,
		rel + "/testdata/proc/meminfo": cpioRegular | 0o644,
		"proc":                         cpioDir | 0o755,
		rel:                            cpioDir | 0o755,
	} {
		if got, ok := have[name]; !ok || got&^0o022 != mode&^0o022 {
			t.Errorf("%s: mode %o (present %v), want %o", name, got, ok, mode)
		}
	}
}
