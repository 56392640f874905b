package memwatch

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
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
		"v1-limit":     "usage is 41% of limit (211.3 MiB of 512.0 MiB), working set 32%; 48.1 MiB is page cache, reclaimable (48.1 MiB dirty, after writeback); non-Go memory 36.8 MiB; other processes 21.0 MiB",
		"go-only":      "Go runtime view only; retained 94.9 MiB",
		"v2-synthetic": "usage is 96% of limit (1.12 GiB of 1.17 GiB), working set 86%; 50.0 MiB above memory.high (throttled); 270.0 MiB is page cache, reclaimable (10.0 MiB dirty, after writeback); non-Go memory 334.0 MiB; other processes 80.0 MiB; 2 OOM kills",
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
