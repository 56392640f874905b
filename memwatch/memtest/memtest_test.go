package memtest

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/bytefmt"
)

const mib = 1 << 20

var sink []byte

var sinks [][]byte

// holdLive allocates a slice of n bytes, touches it, keeps it reachable for
// a few sampling intervals and drops it.
func holdLive(n int) func() {
	return func() {
		b := make([]byte, n)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(50 * time.Millisecond)
		runtime.KeepAlive(b)
	}
}

func TestLiveHeapBudget(t *testing.T) {
	fake := &fakeTB{}
	r := AssertBudget(fake, Budget{LiveHeap: 16 * mib}, holdLive(32*mib))
	msg := fake.failed()
	if !strings.Contains(msg, "peak live heap +") || !strings.Contains(msg, "> budget 16 MiB") {
		t.Fatalf("32 MiB live slice did not fail a 16 MiB LiveHeap budget: errors %q\n%v", msg, r)
	}
	if !strings.Contains(msg, "Go heap ") {
		t.Errorf("failure message has no attribution: %q", msg)
	}
	if g := r.LiveHeap.Growth(); g < 31*mib {
		t.Errorf("live heap growth %s, want about 32 MiB", bytefmt.Compact(g))
	}
	if r.LiveHeap.Quality != Sampled || r.Samples < 2 {
		t.Errorf("live heap quality %v with %d samples, want sampled", r.LiveHeap.Quality, r.Samples)
	}
	t.Logf("failure message: %s", msg)

	r = AssertBudget(t, Budget{LiveHeap: 64 * mib}, holdLive(32*mib))
	t.Logf("passing run:\n%v", r)
}

func TestRetained(t *testing.T) {
	sinks = nil
	r := Measure(func() { sinks = append(sinks, make([]byte, 8*mib)) })
	if got := r.Retained(); got < 15*mib/2 || got > 12*mib {
		t.Errorf("retained %s, want about 8 MiB", bytefmt.Compact(got))
	}
	sinks = nil
	r = Measure(holdLive(8 * mib))
	if got := r.Retained(); got > 2*mib {
		t.Errorf("retained %s after dropping the slice, want < 2 MiB", bytefmt.Compact(got))
	}
}

func TestAllocTotals(t *testing.T) {
	const n, size = 1000, 1024
	r := Measure(func() {
		for range n {
			sink = make([]byte, size)
		}
	})
	sink = nil
	if r.Alloc.Quality != Exact || r.AllocObjects.Quality != Exact {
		t.Fatalf("alloc quality %v/%v, want exact", r.Alloc.Quality, r.AllocObjects.Quality)
	}
	if got := r.Alloc.Growth(); got < n*size || got > n*size+256<<10 {
		t.Errorf("allocated %d bytes, want %d..%d", got, n*size, n*size+256<<10)
	}
	if got := r.AllocObjects.Growth(); got < n || got > n+500 {
		t.Errorf("allocated %d objects, want %d..%d", got, n, n+500)
	}

	fake := &fakeTB{}
	AssertBudget(fake, Budget{Alloc: n * size / 2}, func() {
		for range n {
			sink = make([]byte, size)
		}
	})
	sink = nil
	if msg := fake.failed(); !strings.Contains(msg, "allocated +") {
		t.Errorf("allocation over budget not reported: %q", msg)
	}
}

// The sampler must not allocate, or it would pollute the counters.
func TestMeasureOverhead(t *testing.T) {
	r := Measure(func() { time.Sleep(30 * time.Millisecond) })
	if r.Samples < 5 {
		t.Errorf("%d samples in 30 ms at %v", r.Samples, r.Interval)
	}
	if got := r.Alloc.Growth(); got > 16<<10 {
		t.Errorf("measuring an idle function allocated %d bytes over %d samples", got, r.Samples)
	}
}

func TestCheckUnavailable(t *testing.T) {
	r := Result{
		LiveHeap: Measurement{Quality: Sampled, Base: 10 * mib, Peak: 20 * mib},
		RSS:      Measurement{Reason: "not Linux"},
	}
	over, unchecked := r.Check(Budget{LiveHeap: 5 * mib, RSS: 1})
	if len(over) != 1 || over[0].Layer != "peak live heap" || over[0].Budget != 5*mib {
		t.Errorf("over = %+v", over)
	}
	if len(unchecked) != 1 || !strings.Contains(unchecked[0], "not Linux") {
		t.Errorf("unchecked = %q", unchecked)
	}
	want := "peak live heap +10 MiB > budget 5 MiB (base 10 MiB, peak 20 MiB, sampled)"
	if got := over[0].Error(); !strings.HasPrefix(got, want) {
		t.Errorf("message %q, want prefix %q", got, want)
	}
	fake := &fakeTB{}
	// A budget that holds produces no error.
	AssertBudget(fake, Budget{Alloc: 1 << 30, LiveHeap: 1 << 30}, func() {})
	if msg := fake.failed(); msg != "" {
		t.Errorf("unexpected failure %q", msg)
	}
}

func TestParseUint(t *testing.T) {
	for in, want := range map[string]uint64{"0\n": 0, "123456\n": 123456, "18446744073709551615": 1<<64 - 1} {
		if got, err := parseUint([]byte(in)); err != nil || got != want {
			t.Errorf("parseUint(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "\n", "x1", "-1", "18446744073709551616", "99999999999999999999"} {
		if _, err := parseUint([]byte(in)); err == nil {
			t.Errorf("parseUint(%q) succeeded", in)
		}
	}
}

// FuzzParseUint checks parseUint against strconv on the first field.
func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0\n", "9223372036854771712\n", "max\n", "123 456", "18446744073709551616", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		field := string(b)
		if i := strings.IndexAny(field, "\n "); i >= 0 {
			field = field[:i]
		}
		want, werr := strconv.ParseUint(field, 10, 64)
		if field != "" && (field[0] == '+' || strings.Contains(field, "_")) {
			werr = strconv.ErrSyntax // strconv accepts forms the kernel never prints
		}
		got, err := parseUint(b)
		if (err == nil) != (werr == nil) || (err == nil && got != want) {
			t.Fatalf("parseUint(%q) = %d, %v; strconv: %d, %v", b, got, err, want, werr)
		}
	})
}

func TestRunPattern(t *testing.T) {
	for name, want := range map[string]string{
		"TestX":           "^TestX$",
		"TestX/sub_1":     "^TestX$/^sub_1$",
		"TestX/a.b(c)+":   `^TestX$/^a\.b\(c\)\+$`,
		"TestX/sub#01/64": "^TestX$/^sub#01$/^64$",
	} {
		if got := RunPattern(name); got != want {
			t.Errorf("RunPattern(%q) = %q, want %q", name, got, want)
		}
	}
}
