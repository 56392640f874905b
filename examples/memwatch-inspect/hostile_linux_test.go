//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
	"github.com/go-memwatch/memwatch/memwatch"
	"golang.org/x/sys/unix"
)

// caseTimeout bounds one run of memwatch-inspect: a hang fails its case.
const caseTimeout = 5 * time.Second

// envHostileDir keeps the corpus: the roots are built under this directory
// and left there, to run the command on them by hand
// (memwatch-inspect -root DIR/<case>/root).
const envHostileDir = "MEMWATCH_HOSTILE_DIR"

// TestHostileCorpus runs memwatch-inspect -root, text and -json, on every
// case of the hostile corpus (hostile_cases_linux_test.go) and checks the
// class invariants:
//
//   - no panic, no hang (caseTimeout), no unbounded allocation, no
//     descriptor or goroutine left open after the run;
//   - exit status 0 or 2 as the command documents, never 1 for a bad
//     kernel file, the same for text and JSON, and the case's own when it
//     names one; status 2 says why on stderr, status 0 is silent;
//   - the JSON is valid and states no impossible number: no byte count of
//     an exbibyte or more (2^60: usage, limits, stat keys, ...), no negative
//     byte count except the signed headroom, no integer of 2^63 or more (the
//     kernel's counters are signed longs), no negative percentage, no PSI
//     average outside 0–100; the text has no NaN, Inf or EiB;
//   - no path is read outside the root: for escape cases a canary tree lies
//     beside the root; an inotify watch sees any open of it, and its
//     numbers must not appear in the output;
//   - the case's checks: what issue 11 requires of it (the cgroup's usage
//     and limit survive the loss of any other file, a root cgroup or a
//     hierarchy without the memory controller is "no limit", ...).
//
// Each case runs in a child process (see batchMain), so that a hang, a
// crash or a runaway allocation fails that case alone.
func TestHostileCorpus(t *testing.T) {
	t0 := time.Now()
	bs := bases()
	for _, b := range bs {
		loadBase(t, b)
	}
	cases := selectCases(hostileCases(bs))
	dir := t.TempDir()
	if d := os.Getenv(envHostileDir); d != "" {
		dir = d
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	built := buildCorpus(t, dir, cases)
	buildTime := time.Since(t0)

	// Watch every canary tree for opens, from now on.
	watch := newCanaryWatch(t)
	defer watch.close()
	for i := range built {
		if built[i].c.escape && built[i].skip == "" {
			watch.add(t, i, built[i].outside)
		}
	}

	var entries []batchEntry
	for i := range built {
		if built[i].skip != "" {
			continue
		}
		for _, m := range modes {
			out := filepath.Join(built[i].dir, m.name)
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			built[i].entry[m.name] = len(entries)
			entries = append(entries, batchEntry{Args: append([]string{"-root", built[i].root}, m.args...), Out: out})
		}
	}
	t1 := time.Now()
	outcomes := runBatch(t, dir, entries)
	runTime := time.Since(t1)
	opened := watch.events(t)

	var slowest time.Duration
	var slowestName string
	for i := range built {
		b := &built[i]
		t.Run(b.c.name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			for _, ev := range opened[i] {
				t.Errorf("read outside the root: %s", ev)
			}
			status := map[string]int{}
			for _, m := range modes {
				o := outcomes[b.entry[m.name]]
				if o.res.Elapsed > slowest {
					slowest, slowestName = o.res.Elapsed, b.c.name+" "+m.name
				}
				status[m.name] = checkOutcome(t, b, m.name, o)
			}
			if status["text"] != status["json"] && status["text"] >= 0 && status["json"] >= 0 {
				t.Errorf("exit status %d for text, %d for JSON", status["text"], status["json"])
			}
		})
	}
	t.Logf("%d cases (%d runs) in %v: roots built in %v, run in %v; slowest run %v (%s)",
		len(built), len(entries), time.Since(t0).Round(time.Millisecond), buildTime.Round(time.Millisecond),
		runTime.Round(time.Millisecond), slowest.Round(time.Microsecond), slowestName)
}

// selectCases keeps the cases a -run pattern selects below
// TestHostileCorpus (go test -run 'TestHostileCorpus/v1/memory.stat/'
// builds and runs only those), so that one case is quick to reproduce.
func selectCases(cases []hostileCase) []hostileCase {
	f := flag.Lookup("test.run")
	if f == nil {
		return cases
	}
	parts := strings.Split(f.Value.String(), "/")
	if len(parts) < 2 {
		return cases
	}
	var res []*regexp.Regexp
	for _, p := range parts[1:] {
		re, err := regexp.Compile(p)
		if err != nil {
			return cases // go test reports the bad pattern
		}
		res = append(res, re)
	}
	var out []hostileCase
next:
	for _, c := range cases {
		elems := strings.Split(c.name, "/")
		for i, re := range res {
			if i < len(elems) && !re.MatchString(elems[i]) {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

// modes are the two renderings each case runs in.
var modes = []struct {
	name string
	args []string
}{{"text", nil}, {"json", []string{"-json"}}}

// builtCase is a case with its root on disk.
type builtCase struct {
	c       hostileCase
	dir     string // the case's directory: root/, outside/, text/, json/
	root    string
	outside string // the canary tree (escape cases)
	skip    string // why the case cannot be built here
	entry   map[string]int
}

// checkOutcome checks one run against the invariants and the case's
// checks; it returns the exit status (-1 when the run did not finish).
func checkOutcome(t *testing.T, b *builtCase, mode string, o outcome) int {
	t.Helper()
	if o.failure != "" {
		t.Errorf("%s: %s", mode, o.failure)
		return -1
	}
	r := o.res
	switch {
	case r.Status == exitError:
		t.Errorf("%s: exit status 1 for a bad kernel file (stderr %q)", mode, o.stderr)
	case r.Status != exitOK && r.Status != exitPartial:
		t.Errorf("%s: exit status %d", mode, r.Status)
	case b.c.want != anyStatus && r.Status != b.c.want:
		t.Errorf("%s: exit status %d, want %d (stderr %q)", mode, r.Status, b.c.want, o.stderr)
	}
	if r.Status == exitPartial && !strings.Contains(o.stderr, "partial snapshot: ") {
		t.Errorf("%s: status 2 without the reason on stderr: %q", mode, o.stderr)
	}
	if r.Status == exitOK && o.stderr != "" {
		t.Errorf("%s: status 0 with stderr %q", mode, o.stderr)
	}
	if r.FDsAfter != r.FDsBefore {
		t.Errorf("%s: %d descriptors open before the run, %d after", mode, r.FDsBefore, r.FDsAfter)
	}
	if r.GoroutinesAfter != r.GoroutinesBefore {
		t.Errorf("%s: %d goroutines before the run, %d after", mode, r.GoroutinesBefore, r.GoroutinesAfter)
	}
	if b.c.escape {
		for _, s := range canaryStrings {
			if strings.Contains(o.stdout, s) || strings.Contains(o.stderr, s) {
				t.Errorf("%s: the output shows %q from the canary tree outside the root", mode, s)
			}
		}
	}
	if r.Status != exitOK && r.Status != exitPartial {
		return r.Status
	}
	if mode == "text" {
		for _, p := range textProblems(o.stdout) {
			t.Errorf("text: %s", p)
		}
		return r.Status
	}
	doc, problems := jsonProblems([]byte(o.stdout))
	for _, p := range problems {
		t.Errorf("json: %s", p)
	}
	if doc != nil {
		for _, c := range b.c.checks {
			if msg := c.fn(doc); msg != "" {
				t.Errorf("%s: %s", c.name, msg)
			}
		}
	}
	return r.Status
}

// loadBase reads the unmutated fixture in process (it is a committed,
// well-formed tree) for the values the checks compare with.
func loadBase(t *testing.T, b *base) {
	t.Helper()
	s, err := memwatch.Read(memwatch.WithRoot(b.dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil || !s.Cgroup.Available || !s.Process.Available {
		t.Fatalf("base %s does not read cleanly: %v", b.dir, err)
	}
	b.usage, b.limit, b.rss = s.Cgroup.Stats.Usage, s.Cgroup.Stats.Limit, s.Process.RSS()
	b.failcnt = s.Cgroup.Stats.Events.Failcnt
	if b.limit == cgroupstat.Unlimited {
		t.Fatalf("base %s has no limit", b.dir)
	}
}

// buildCorpus writes every case's root (and canary tree) under dir. Each
// root is a tree of hard links to one pristine copy of its base; every
// mutation replaces the entry it changes, never the shared inode.
func buildCorpus(t *testing.T, dir string, cases []hostileCase) []builtCase {
	t.Helper()
	pristine := map[*base]string{}
	for _, c := range cases {
		if _, ok := pristine[c.base]; !ok {
			p := filepath.Join(dir, "pristine-"+c.base.name)
			fixture.CopyTo(t, c.base.dir, p) // beside the cases: they hard-link to it
			pristine[c.base] = p
		}
	}
	seen := map[string]bool{}
	out := make([]builtCase, len(cases))
	for i, c := range cases {
		if seen[c.name] {
			t.Fatalf("case %s twice", c.name)
		}
		seen[c.name] = true
		cd := filepath.Join(dir, strings.ReplaceAll(c.name, "/", "_"))
		b := builtCase{c: c, dir: cd, root: filepath.Join(cd, "root"), outside: filepath.Join(cd, "outside"), entry: map[string]int{}}
		linkTree(t, pristine[c.base], b.root)
		if c.escape {
			linkTree(t, pristine[c.base], b.outside)
			canary(&caseTree{t: t, root: b.outside}, c.base)
		}
		ct := &caseTree{t: t, root: b.root, outside: b.outside}
		c.mutate(ct)
		b.skip = ct.skip
		out[i] = b
	}
	return out
}

// linkTree makes dst a tree of hard links to the files of src.
func linkTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return os.Link(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The canary tree's numbers: a reader that leaves the root reads a
// well-formed cgroup and process with these values, and shows them.
const (
	canaryUsage    = 271828183
	canaryLimit    = 314159265
	canaryRSSPages = 33333
	canaryMemKB    = 27182818
)

// canaryStrings are the canary numbers as the JSON and the text show them.
var canaryStrings = []string{
	strconv.Itoa(canaryUsage), strconv.Itoa(canaryLimit), strconv.Itoa(canaryRSSPages * 4096), strconv.FormatUint(canaryMemKB*1024, 10),
	memwatch.FormatBytes(canaryUsage), memwatch.FormatBytes(canaryLimit),
}

// canary rewrites a copy of the base into the canary tree.
func canary(c *caseTree, b *base) {
	c.put(b.cg+"/"+b.usageF, strconv.Itoa(canaryUsage)+"\n")
	c.put("proc/self/statm", fmt.Sprintf("77777 %d 482 224 0 44134 0\n", canaryRSSPages))
	c.setKB("proc/meminfo", "MemTotal", strconv.Itoa(canaryMemKB))
	if b.version == 1 {
		c.put(b.cg+"/memory.limit_in_bytes", strconv.Itoa(canaryLimit)+"\n")
		c.setKey(b.cg+"/memory.stat", "hierarchical_memory_limit", strconv.Itoa(canaryLimit))
		c.setPSI("proc/pressure/memory", "some", "total", strconv.Itoa(canaryUsage))
	} else {
		c.put(b.cg+"/memory.max", strconv.Itoa(canaryLimit)+"\n")
		c.setPSI(b.cg+"/memory.pressure", "some", "total", strconv.Itoa(canaryUsage))
	}
}

// caseTree changes one root. Every change replaces the directory entry
// (the files are hard links shared with other roots).
type caseTree struct {
	t       testing.TB
	root    string
	outside string
	skip    string
}

func (c *caseTree) p(rel string) string { return filepath.Join(c.root, rel) }

func (c *caseTree) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("building %s: %v", c.root, err)
	}
}

func (c *caseTree) read(rel string) string {
	b, err := os.ReadFile(c.p(rel))
	c.must(err)
	return string(b)
}

// put replaces rel with a new regular file.
func (c *caseTree) put(rel, data string) {
	c.remove(rel)
	c.must(os.WriteFile(c.p(rel), []byte(data), 0o644))
}

func (c *caseTree) edit(rel string, f func(string) string) { c.put(rel, f(c.read(rel))) }

func (c *caseTree) remove(rel string) { c.must(os.RemoveAll(c.p(rel))) }

func (c *caseTree) mkdir(rel string) { c.must(os.MkdirAll(c.p(rel), 0o755)) }

func (c *caseTree) fifo(rel string) {
	c.remove(rel)
	c.must(unix.Mkfifo(c.p(rel), 0o644))
}

func (c *caseTree) symlink(rel, target string) {
	c.remove(rel)
	c.must(os.Symlink(target, c.p(rel)))
}

// mknod puts a character device in place of rel; without the privilege
// (CAP_MKNOD) the case is skipped.
func (c *caseTree) mknod(rel string, major, minor uint32) {
	c.remove(rel)
	err := unix.Mknod(c.p(rel), unix.S_IFCHR|0o644, int(unix.Mkdev(major, minor)))
	if errors.Is(err, unix.EPERM) {
		c.skip = "creating a device file needs CAP_MKNOD"
		return
	}
	c.must(err)
}

// chmod changes the mode of a copy of rel (not of the shared inode).
func (c *caseTree) chmod(rel string, mode os.FileMode) {
	c.put(rel, c.read(rel))
	c.must(os.Chmod(c.p(rel), mode))
}

// lines edits rel line by line; fn returns the new line and whether it
// changed something. A file where nothing changed is a mistake in the table.
func (c *caseTree) lines(rel, what string, fn func(line string) (string, bool)) {
	c.t.Helper()
	found := false
	c.edit(rel, func(s string) string {
		ls := strings.Split(s, "\n")
		for i, l := range ls {
			if n, ok := fn(l); ok {
				ls[i], found = n, true
			}
		}
		return strings.Join(ls, "\n")
	})
	if !found {
		c.t.Fatalf("building %s: %s not found in %s", c.root, what, rel)
	}
}

// setKey sets the value of key in a "key value" file.
func (c *caseTree) setKey(rel, key, v string) {
	c.lines(rel, key, func(l string) (string, bool) {
		k, _, ok := strings.Cut(l, " ")
		return key + " " + v, ok && k == key
	})
}

// dropKeys deletes the lines of the given keys (those present).
func (c *caseTree) dropKeys(rel string, keys ...string) {
	c.edit(rel, func(s string) string {
		var out []string
		for l := range strings.SplitSeq(s, "\n") {
			k, _, _ := strings.Cut(l, " ")
			if !slices.Contains(keys, k) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	})
}

// dropWord deletes a word from a one-line list file (cgroup.controllers).
func (c *caseTree) dropWord(rel, word string) {
	c.edit(rel, func(s string) string {
		var keep []string
		for _, w := range strings.Fields(s) {
			if w != word {
				keep = append(keep, w)
			}
		}
		return strings.Join(keep, " ") + "\n"
	})
}

// setPSI sets field ("avg10", "total", ...) of the "some" or "full" line.
func (c *caseTree) setPSI(rel, line, field, v string) {
	c.lines(rel, line+" "+field, func(l string) (string, bool) {
		fs := strings.Fields(l)
		if len(fs) == 0 || fs[0] != line {
			return l, false
		}
		for i, f := range fs {
			if k, _, ok := strings.Cut(f, "="); ok && k == field {
				fs[i] = field + "=" + v
				return strings.Join(fs, " "), true
			}
		}
		return l, false
	})
}

// setKB sets the number of a "Key:   N kB" line.
func (c *caseTree) setKB(rel, key, v string) {
	c.lines(rel, key, func(l string) (string, bool) {
		k, _, ok := strings.Cut(l, ":")
		return key + ":\t" + v + " kB", ok && k == key
	})
}

// setField sets the i-th space-separated field of a one-line file.
func (c *caseTree) setField(rel string, i int, v string) {
	c.edit(rel, func(s string) string {
		fs := strings.Fields(s)
		if i >= len(fs) {
			c.t.Fatalf("building %s: %s has %d fields", c.root, rel, len(fs))
		}
		fs[i] = v
		return strings.Join(fs, " ") + "\n"
	})
}

// outcome is one run's result as the parent sees it.
type outcome struct {
	failure        string // the run did not finish: hang, crash, runaway
	res            batchResult
	stdout, stderr string
}

// runBatch runs the entries in child processes, restarting after a case
// that does not finish.
func runBatch(t *testing.T, dir string, entries []batchEntry) []outcome {
	t.Helper()
	manifest := filepath.Join(dir, "manifest.json")
	mb, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]outcome, len(entries))
	for next := 0; next < len(entries); {
		next = runChild(t, self, manifest, next, entries, out)
	}
	return out
}

// runChild runs entries from start in one child and returns the index to
// go on from.
func runChild(t *testing.T, self, manifest string, start int, entries []batchEntry, out []outcome) int {
	t.Helper()
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envBatch+"="+manifest, envBatchStart+"="+strconv.Itoa(start))
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	cur, running := start, false
	timer := time.NewTimer(caseTimeout)
	defer timer.Stop()
	fail := func(msg string) int {
		out[cur].failure = msg
		return cur + 1
	}
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				werr := cmd.Wait()
				if cur >= len(entries) {
					return cur
				}
				if !running && cur == start {
					t.Fatalf("batch child exited before its first case: %v; stderr %q", werr, tail(stderr.String()))
				}
				return fail(fmt.Sprintf("the run crashed (%v): %s", werr, tail(stderr.String())))
			}
			verb, num, _ := strings.Cut(line, " ")
			i, err := strconv.Atoi(num)
			if err != nil {
				continue // something else printed on stdout
			}
			switch verb {
			case "start":
				cur, running = i, true
			case "done":
				out[i] = readOutcome(t, entries[i].Out)
				cur, running = i+1, false
			}
			timer.Reset(caseTimeout)
		case <-timer.C:
			cmd.Process.Kill()
			for range lines {
			}
			cmd.Wait()
			return fail(fmt.Sprintf("hang: no result after %v (args %q)", caseTimeout, entries[cur].Args))
		}
	}
}

func readOutcome(t *testing.T, dir string) outcome {
	t.Helper()
	var o outcome
	rb, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &o.res); err != nil {
		t.Fatal(err)
	}
	so, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	se, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	o.stdout, o.stderr = string(so), string(se)
	return o
}

// tail returns the end of a child's stderr for a failure message.
func tail(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// canaryWatch reports opens of the canary trees (inotify IN_OPEN and
// IN_ACCESS on every directory of each).
type canaryWatch struct {
	fd  int
	wds map[int32]struct {
		cas int
		dir string
	}
}

func newCanaryWatch(t *testing.T) *canaryWatch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	return &canaryWatch{fd: fd, wds: map[int32]struct {
		cas int
		dir string
	}{}}
}

func (w *canaryWatch) add(t *testing.T, cas int, tree string) {
	// The directories first, then the watches: the walk itself opens them.
	var dirs []string
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dirs {
		wd, err := unix.InotifyAddWatch(w.fd, p, unix.IN_OPEN|unix.IN_ACCESS)
		if err != nil {
			t.Fatalf("inotify watch %s: %v", p, err)
		}
		w.wds[int32(wd)] = struct {
			cas int
			dir string
		}{cas, p}
	}
}

// events returns, per case, the paths opened in its canary tree.
func (w *canaryWatch) events(t *testing.T) map[int][]string {
	got := map[int][]string{}
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return got
		}
		if err != nil {
			t.Fatalf("inotify read: %v", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			wd := int32(binary.NativeEndian.Uint32(b[0:4]))
			mask := binary.NativeEndian.Uint32(b[4:8])
			nameLen := int(binary.NativeEndian.Uint32(b[12:16]))
			name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+nameLen], "\x00"))
			b = b[unix.SizeofInotifyEvent+nameLen:]
			if mask&unix.IN_Q_OVERFLOW != 0 {
				t.Errorf("inotify queue overflowed: the canary check is incomplete")
				continue
			}
			if c, ok := w.wds[wd]; ok {
				got[c.cas] = append(got[c.cas], fmt.Sprintf("%s (mask %#x)", filepath.Join(c.dir, name), mask))
			}
		}
	}
}

func (w *canaryWatch) close() { unix.Close(w.fd) }

// jsonDoc is decoded JSON output (numbers as json.Number).
type jsonDoc map[string]any

// get returns the value at a dotted path and whether the key is present.
func (j jsonDoc) get(path string) (any, bool) {
	var v any = map[string]any(j)
	for k := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// uint returns the unsigned integer at path.
func (j jsonDoc) uint(path string) (uint64, bool) {
	v, _ := j.get(path)
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	return u, err == nil
}

func (j jsonDoc) show(path string) string {
	v, ok := j.get(path)
	if !ok {
		return "absent"
	}
	if v == nil {
		return "null"
	}
	return fmt.Sprint(v)
}

// jsonProblems decodes the JSON output and lists its impossible values.
func jsonProblems(data []byte) (jsonDoc, []string) {
	if !json.Valid(data) {
		return nil, []string{fmt.Sprintf("invalid JSON: %.200q", data)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc jsonDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, []string{"not a JSON object: " + err.Error()}
	}
	var problems []string
	for _, key := range []string{"time", "cgroup", "process", "go", "host", "attribution", "gap", "headroom"} {
		if _, ok := doc[key]; !ok {
			problems = append(problems, "no "+key+" key")
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		case json.Number:
			if msg := impossible(path, string(v)); msg != "" {
				problems = append(problems, path+": "+msg)
			}
		}
	}
	walk("", map[string]any(doc))
	slices.Sort(problems)
	return doc, problems
}

// signedBytes are the byte counts that may be negative (a usage above the
// limit or memory.high).
var signedBytes = []string{"headroom.to_limit_bytes", "headroom.to_high_bytes", "headroom.available_before_oom_bytes"}

// impossible says what is impossible about the number n at path, or "".
// The schema's floats are the averages, percentages, fractions and
// seconds; every other number is an integer: a byte count (keys ending in
// _bytes, and the attribution's parts), a counter or a setting.
func impossible(path, n string) string {
	key := path[strings.LastIndexByte(path, '.')+1:]
	if strings.HasPrefix(key, "avg") || strings.HasSuffix(key, "_seconds") || strings.HasSuffix(key, "_fraction") ||
		key == "usage_percent" || key == "working_set_percent" {
		f, err := strconv.ParseFloat(n, 64)
		switch {
		case err != nil || math.IsInf(f, 0) || math.IsNaN(f):
			return "not a finite number: " + n
		case f < 0:
			return "negative " + n
		case strings.Contains(path, ".psi.") && f > 100:
			return "PSI average above 100%: " + n
		}
		return ""
	}
	bytesKey := strings.HasSuffix(key, "_bytes") || strings.HasPrefix(path, "attribution.")
	if strings.HasPrefix(n, "-") {
		v, err := strconv.ParseInt(n, 10, 64)
		switch {
		case err != nil:
			return n + " is not an int64"
		case bytesKey && !slices.Contains(signedBytes, path):
			return "negative byte count " + n
		case v <= -(1 << 60):
			return "a byte count of minus an exbibyte or more: " + n
		}
		return ""
	}
	v, err := strconv.ParseUint(n, 10, 64)
	switch {
	case err != nil:
		return n + " is not an integer"
	case v >= 1<<63:
		return "integer " + n + " ≥ 2^63: no kernel counter or size reaches it"
	case bytesKey && v >= 1<<60:
		return "byte count " + n + " ≥ 1 EiB stated as fact"
	}
	return ""
}

// textProblems lists the impossible renderings in the text output.
func textProblems(s string) []string {
	var problems []string
	if !strings.HasPrefix(s, "memwatch snapshot ") {
		problems = append(problems, fmt.Sprintf("no snapshot header: %.200q", s))
	}
	for _, bad := range []string{"NaN", "Inf", "EiB"} {
		if i := strings.Index(s, bad); i >= 0 {
			line := s[strings.LastIndexByte(s[:i], '\n')+1:]
			line, _, _ = strings.Cut(line, "\n")
			problems = append(problems, fmt.Sprintf("%s in %q", bad, line))
		}
	}
	return problems
}

// The checks of the table.

func cgroupKept(b *base) check {
	return check{"usage and limit survive (degrade per field)", func(j jsonDoc) string {
		if av, _ := j.get("cgroup.available"); av != true {
			return "cgroup view unavailable: " + j.show("cgroup.error")
		}
		if u, ok := j.uint("cgroup.usage_bytes"); !ok || u != b.usage {
			return fmt.Sprintf("cgroup usage %s, want %d", j.show("cgroup.usage_bytes"), b.usage)
		}
		if l, ok := j.uint("cgroup.limit_bytes"); !ok || l != b.limit {
			return fmt.Sprintf("cgroup limit %s, want %d", j.show("cgroup.limit_bytes"), b.limit)
		}
		return ""
	}}
}

func processKept(b *base) check {
	return check{"RSS survives", func(j jsonDoc) string {
		if av, _ := j.get("process.available"); av != true {
			return "process view unavailable: " + j.show("process.error")
		}
		if r, ok := j.uint("process.rss_bytes"); !ok || r != b.rss {
			return fmt.Sprintf("RSS %s, want %d", j.show("process.rss_bytes"), b.rss)
		}
		return ""
	}}
}

var cgroupAvailable = check{"cgroup view available", func(j jsonDoc) string {
	if av, _ := j.get("cgroup.available"); av != true {
		return "cgroup view unavailable: " + j.show("cgroup.error")
	}
	return ""
}}

var usageNotStated = check{"an impossible usage is not stated", func(j jsonDoc) string {
	if v, _ := j.get("cgroup.usage_bytes"); v != nil {
		return fmt.Sprintf("cgroup.usage_bytes %v", v)
	}
	return ""
}}

var noLimit = check{"no limit", func(j jsonDoc) string {
	if v, _ := j.get("cgroup.limit_bytes"); v != nil {
		return fmt.Sprintf("cgroup.limit_bytes %v, want null (no limit)", v)
	}
	return ""
}}

func limitIs(v uint64) check {
	return check{fmt.Sprintf("limit %d", v), func(j jsonDoc) string {
		if av, _ := j.get("cgroup.available"); av != true {
			return "cgroup view unavailable: " + j.show("cgroup.error")
		}
		if l, ok := j.uint("cgroup.limit_bytes"); !ok || l != v {
			return fmt.Sprintf("cgroup.limit_bytes %s, want %d", j.show("cgroup.limit_bytes"), v)
		}
		return ""
	}}
}

func failcntKept(b *base) check {
	return check{"failcnt reported without oom_control", func(j jsonDoc) string {
		if f, ok := j.uint("cgroup.events.failcnt"); !ok || f != b.failcnt {
			return fmt.Sprintf("cgroup.events.failcnt %s, want %d", j.show("cgroup.events.failcnt"), b.failcnt)
		}
		return ""
	}}
}
