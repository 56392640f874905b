package memwatch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
)

func TestGoldenText(t *testing.T) {
	for name, snap := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := snap.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if s := snap.String(); s != b.String() {
				t.Error("String() differs from WriteText")
			}
			checkGolden(t, filepath.Join("testdata", name+".txt.golden"), b.Bytes())
		})
	}
}

func TestVerdict(t *testing.T) {
	cases := goldenCases(t)
	for name, want := range map[string]string{
		"v1-limit":     "usage is 41.3% of limit (211.3 MiB of 512.0 MiB), working set 31.9%; 48.1 MiB is page cache, reclaimable (48.1 MiB dirty, after writeback); non-Go memory at least 36.8 MiB; other processes in the cgroup 21.0 MiB",
		"go-only":      "Go runtime view only; retained 94.9 MiB",
		"v2-synthetic": "usage is 95.8% of limit (1.12 GiB of 1.17 GiB), working set 85.8%; 50.0 MiB above memory.high (throttled); 270.0 MiB is page cache, reclaimable (10.0 MiB dirty, after writeback); non-Go memory at least 334.0 MiB; other processes in the cgroup 80.0 MiB; 2 OOM kills",
	} {
		if got := cases[name].Verdict(); got != want {
			t.Errorf("%s verdict:\n got %q\nwant %q", name, got, want)
		}
	}
	if got := cases["proc-only"].Verdict(); !strings.HasPrefix(got, "no memory cgroup; RSS ") {
		t.Errorf("proc-only verdict %q", got)
	}
}

// TestStringValueAndPointer: String has a value receiver, so fmt prints a
// Snapshot and a *Snapshot the same: the text rendering, not a struct dump.
func TestStringValueAndPointer(t *testing.T) {
	for name, snap := range schemaCases(t) {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := snap.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			want := b.String()
			for _, tc := range []struct {
				how, got string
			}{
				{"pointer String", snap.String()},
				{"value String", (*snap).String()},
				{"fmt.Sprint(pointer)", fmt.Sprint(snap)},
				{"fmt.Sprint(value)", fmt.Sprint(*snap)},
				{"fmt.Sprintf(%v, pointer)", fmt.Sprintf("%v", snap)},
				{"fmt.Sprintf(%+v, value)", fmt.Sprintf("%+v", *snap)},
			} {
				if tc.got != want {
					t.Errorf("%s differs from WriteText:\n--- got\n%s\n--- want\n%s", tc.how, tc.got, want)
				}
			}
		})
	}
}

// text renders s with WriteText.
func text(t *testing.T, s *Snapshot) string {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// lineWith returns the first line of txt that starts with prefix (after
// the indentation), or fails.
func lineWith(t *testing.T, txt, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(txt, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), prefix) {
			return l
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", prefix, txt)
	return ""
}

// notesSection returns the lines of the notes section, without the header.
func notesSection(txt string) []string {
	_, after, ok := strings.Cut(txt, "\nnotes\n")
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimSuffix(after, "\n"), "\n")
}

// v2Snap is a v2 cgroup snapshot with a 1200 MiB limit (see v2Stats).
func v2Snap(g GoStats, p ProcessStats, st cgroupstat.Stats) *Snapshot {
	s := &Snapshot{Time: fixtureTime, Full: true, Go: g, Process: p, Cgroup: cg(st)}
	s.Attribution = Attribute(s)
	return s
}

// TestTextBeforeFirstGC: before the first GC /gc/heap/live is 0; the text
// says so instead of "0 B", and only then.
func TestTextBeforeFirstGC(t *testing.T) {
	g := baseGo()
	g.HeapLive, g.GCCycles = 0, 0
	txt := text(t, v2Snap(g, proc(520, 30, 28, 2), v2Stats()))
	if l := lineWith(t, txt, "heap live "); !strings.Contains(l, "no GC yet") || regexp.MustCompile(`heap live +0 B`).MatchString(l) {
		t.Errorf("heap live row: %q", l)
	}
	if l := lineWith(t, txt, "go_heap_live "); !strings.Contains(l, "no GC yet") {
		t.Errorf("go_heap_live row: %q", l)
	}

	// After a GC a live heap of 0 is a number like any other.
	g.GCCycles = 1
	txt = text(t, v2Snap(g, proc(520, 30, 28, 2), v2Stats()))
	if strings.Contains(txt, "no GC yet") {
		t.Errorf("no GC yet after a GC:\n%s", txt)
	}
	// A runtime without the cycle count cannot tell.
	g.GCCycles, g.Present = 0, g.Present&^GoGCCycles
	if txt := text(t, v2Snap(g, proc(520, 30, 28, 2), v2Stats())); strings.Contains(txt, "no GC yet") {
		t.Errorf("no GC yet without /gc/cycles/total:\n%s", txt)
	}
}

// TestTextCappedParts: every part the attribution capped is marked, with
// the note that explains why, and no other part is.
func TestTextCappedParts(t *testing.T) {
	over := v2Stats()
	over.Usage = 800 * mi
	for name, s := range map[string]*Snapshot{
		"go_not_resident": v2Snap(baseGo(), proc(330, 30, 28, 2), v2Stats()),
		"overcount":       v2Snap(baseGo(), proc(520, 30, 28, 2), over),
	} {
		t.Run(name, func(t *testing.T) {
			txt := text(t, s)
			n := 0
			for _, p := range s.Attribution.Parts {
				if !p.Known {
					continue
				}
				l := lineWith(t, txt, p.Name()+" ")
				if marked := strings.Contains(l, "capped ("+name+")"); marked != p.Capped {
					t.Errorf("capped %v, row %q", p.Capped, l)
				}
				if p.Capped {
					n++
				}
			}
			if n == 0 {
				t.Fatal("nothing capped: the case tests nothing")
			}
			l := lineWith(t, strings.Join(notesSection(txt), "\n"), name+" ")
			if !strings.Contains(l, "marked capped") {
				t.Errorf("%s note does not explain the mark: %q", name, l)
			}
		})
	}
}

// TestTextNotesLegend: every Notes bit is printed with a one-line
// explanation, never as a bare identifier.
func TestTextNotesLegend(t *testing.T) {
	for i, name := range noteNames {
		bit := Notes(1) << i
		s := v2Snap(baseGo(), proc(520, 30, 28, 2), v2Stats())
		s.Attribution.Notes = bit
		s.Attribution.GoNotResidentBytes, s.Attribution.OvercountBytes = 3*mi, 5*mi
		lines := notesSection(text(t, s))
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) > 0 && f[0] == name {
				found = true
				if len(f) < 6 || strings.Contains(l, "unknown note") {
					t.Errorf("%s: explanation too thin: %q", name, l)
				}
			}
		}
		if !found {
			t.Errorf("%s: not in the notes section %q", name, lines)
		}
		if got := noteText(bit, &s.Attribution); bit == NoteGoNotResident && !strings.Contains(got, "3.0 MiB") ||
			bit == NoteOvercount && !strings.Contains(got, "5.0 MiB") {
			t.Errorf("%s does not say how much: %q", name, got)
		}
	}
	// No caveat, no misreadable part: no notes section.
	s := &Snapshot{Go: baseGo()}
	s.Attribution = Attribute(s)
	s.Attribution.Notes = 0
	if txt := text(t, s); strings.Contains(txt, "\nnotes\n") {
		t.Errorf("empty notes section:\n%s", txt)
	}
}

// TestTextHeader: the attribution table has a header and spells the
// reclaim class out ("no" read as "absent").
func TestTextHeader(t *testing.T) {
	txt := text(t, v2Snap(baseGo(), proc(520, 30, 28, 2), v2Stats()))
	head := regexp.MustCompile(`(?m)^attribution of .*\n  part +bytes +share +reclaim +note$`)
	if !head.MatchString(txt) {
		t.Errorf("no header under the attribution line:\n%s", txt)
	}
	if regexp.MustCompile(`(?m)%  (no|runtime)( *$|  )`).MatchString(txt) {
		t.Errorf("reclaim class as a bare identifier:\n%s", txt)
	}
	for r, want := range map[Reclaim]string{NotReclaimable: "not reclaimable", Reclaimable: "reclaimable",
		Swappable: "swappable", RuntimeReleasable: "runtime can release", ReclaimUnknown: "unknown"} {
		if got := reclaimWords(r); got != want {
			t.Errorf("reclaimWords(%v) = %q, want %q", r, got, want)
		}
	}
	if l := lineWith(t, txt, "kernel "); !strings.Contains(l, "not reclaimable") {
		t.Errorf("kernel row %q", l)
	}
	if l := lineWith(t, txt, "go_heap_free "); !strings.Contains(l, "runtime can release") {
		t.Errorf("go_heap_free row %q", l)
	}
}

// TestVerdictPrecision: the verdict's percentages are the table's, to the
// same decimal: 0.4% is not rounded to "0%".
func TestVerdictPrecision(t *testing.T) {
	st := v2Stats()
	st.Limit, st.LimitRaw = 250000*mi, 250000*mi // usage 1000 MiB: 0.4%
	s := v2Snap(baseGo(), proc(520, 30, 28, 2), st)
	v := s.Verdict()
	if !strings.HasPrefix(v, "usage is 0.4% of limit") || !strings.Contains(v, "working set 0.4%") {
		t.Fatalf("verdict %q", v)
	}
	txt := text(t, s)
	if l := lineWith(t, txt, "limit "); !strings.Contains(l, "0.4% used") {
		t.Errorf("limit row %q", l)
	}
	// Every percentage of every golden verdict is printed in its table.
	pct := regexp.MustCompile(`[0-9]+\.[0-9]%`)
	for name, s := range goldenCases(t) {
		txt := text(t, s)
		for _, p := range pct.FindAllString(s.Verdict(), -1) {
			if !strings.Contains(strings.SplitN(txt, "\n", 3)[2], p) {
				t.Errorf("%s: verdict says %s, the table does not", name, p)
			}
		}
	}
}

// TestVerdictNonGoLowerBound: non-Go memory is a lower bound (the Go parts
// may count pages that are not resident), and said so; none, not said.
func TestVerdictNonGoLowerBound(t *testing.T) {
	s := v2Snap(baseGo(), proc(520, 30, 28, 2), v2Stats())
	if v := s.Verdict(); !strings.Contains(v, "non-Go memory at least 154.0 MiB") {
		t.Errorf("verdict %q", v)
	}
	if l := lineWith(t, text(t, s), "non_go_anon "); !strings.Contains(l, "at least") {
		t.Errorf("non_go_anon row %q", l)
	}
	s = v2Snap(baseGo(), proc(330, 30, 28, 2), v2Stats()) // Go capped: non-Go 0
	if v := s.Verdict(); strings.Contains(v, "non-Go") {
		t.Errorf("verdict names 0 B of non-Go memory: %q", v)
	}
}

// TestTextOtherProcesses: other_processes is explained, with the cgroup's
// other processes when Read listed them.
func TestTextOtherProcesses(t *testing.T) {
	s := v2Snap(baseGo(), proc(520, 30, 28, 2), v2Stats()) // other processes 110 MiB
	other := func() string {
		return lineWith(t, strings.Join(notesSection(text(t, s)), "\n"), "other_processes ")
	}
	if l := other(); !strings.Contains(l, "`go run`") {
		t.Errorf("no members: %q", l)
	}
	s.Cgroup.Members = &cgroupstat.Members{Count: 9, SelfPID: 40, ParentPID: 33, Self: true,
		Others: []cgroupstat.Member{{PID: 33, Comm: "go"}, {PID: 12, Comm: "sh"}, {PID: 31}}}
	if l, want := other(), "8 in the cgroup now: 33 go (parent of this one), 12 sh, 31 (exited), and 5 more"; !strings.HasSuffix(l, want) {
		t.Errorf("members:\n got %q\nwant …%q", l, want)
	}
	s.Cgroup.Members = &cgroupstat.Members{Count: 1, SelfPID: 40, Self: true}
	if l := other(); !strings.Contains(l, "none is in the cgroup itself") {
		t.Errorf("alone: %q", l)
	}
	if l := lineWith(t, text(t, s), "other_processes "); !strings.Contains(l, "not this process") {
		t.Errorf("row %q", l)
	}
}

// TestReadMembers: Read lists the cgroup's processes (the fixture's
// cgroup with a cgroup.procs and comm files added), Sample does not.
func TestReadMembers(t *testing.T) {
	root := fixture.Copy(t, "testdata/v1-limit")
	// The fixture's process is 24209, its parent 24121 (proc/self/status).
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/fs/cgroup/memory/mwsnap/cgroup.procs", "24121\n24209\n24300\n")
	write("proc/24121/comm", "go\n")
	write("proc/24300/comm", "sidecar\n")
	s, err := Read(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	want := &cgroupstat.Members{Count: 3, SelfPID: 24209, ParentPID: 24121, Self: true,
		Others: []cgroupstat.Member{{PID: 24121, Comm: "go"}, {PID: 24300, Comm: "sidecar"}}}
	if !reflect.DeepEqual(s.Cgroup.Members, want) {
		t.Fatalf("members %+v, want %+v", s.Cgroup.Members, want)
	}

	// Sample reuses the snapshot and drops the list (it cannot refresh it
	// without allocating).
	sm, err := NewSampler(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	if err := sm.Sample(s, true); err != nil || s.Cgroup.Members != nil {
		t.Fatalf("Sample kept members %+v (%v)", s.Cgroup.Members, err)
	}

	// No cgroup.procs (the committed fixture): no list, no error.
	s, err = Read(WithRoot("testdata/v1-limit"))
	if err != nil || s.Cgroup.Members != nil {
		t.Fatalf("fixture without cgroup.procs: %+v, %v", s.Cgroup.Members, err)
	}
}

// TestTextContainerHeader: the cgroup line says what a container's view
// lacks (hidden ancestors, no writes: no kernel triggers).
func TestTextContainerHeader(t *testing.T) {
	st := v2Stats()
	st.AncestorsHidden = true
	s := v2Snap(baseGo(), proc(520, 30, 28, 2), st)
	s.Cgroup.Location.ReadOnly = true
	if l := lineWith(t, text(t, s), "cgroup "); l != "cgroup v2 /kubepods/pod1/c1, ancestors hidden, read-only" {
		t.Errorf("cgroup line %q", l)
	}
}
