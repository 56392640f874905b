package bytefmt

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

const (
	ki = 1 << 10
	mi = 1 << 20
	gi = 1 << 30
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1, "1 B"}, {512, "512 B"}, {1023, "1023 B"},
		{1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {10 * ki, "10.0 KiB"},
		{mi - 52, "1023.9 KiB"}, {mi - 51, "1.0 MiB"}, {mi - 1, "1.0 MiB"}, {mi, "1.0 MiB"},
		{4020383, "3.8 MiB"}, {140 * mi, "140.0 MiB"}, {233 * mi, "233.0 MiB"}, {1023 * mi, "1023.0 MiB"},
		{gi - 52*ki, "1023.9 MiB"}, {gi - 51*ki, "1.00 GiB"},
		{1 << 30, "1.00 GiB"}, {1202590843, "1.12 GiB"}, {24 << 30, "24.0 GiB"},
		{10*gi - 6*mi, "9.99 GiB"}, {10*gi - 5*mi, "10.0 GiB"},
		{1 << 40, "1.00 TiB"}, {1 << 50, "1.00 PiB"}, {1 << 60, "1.00 EiB"},
		{math.MaxUint64, "16.0 EiB"},
	} {
		if got := Format(tc.n); got != tc.want {
			t.Errorf("Format(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestCompact(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {1536, "1.5 KiB"},
		{99*ki + 1000, "100 KiB"}, {1023 * ki, "1023 KiB"}, {mi - 513, "1023 KiB"}, {mi - 512, "1 MiB"},
		{32 * mi, "32 MiB"}, {81 * mi, "81 MiB"}, {150 * mi, "150 MiB"}, {150*mi + 400*ki, "150 MiB"}, {99*mi + 400*ki, "99.4 MiB"}, {mi + mi/10, "1.1 MiB"},
		{3 << 30, "3 GiB"}, {1.5 * gi, "1.5 GiB"}, {1 << 40, "1 TiB"},
		{math.MaxUint64, "16 EiB"},
	} {
		if got := Compact(tc.n); got != tc.want {
			t.Errorf("Compact(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestSigned(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {-1, "-1 B"}, {140 * mi, "140.0 MiB"}, {-140 * mi, "-140.0 MiB"},
		{math.MinInt64, "-8.00 EiB"}, {math.MaxInt64, "8.00 EiB"},
	} {
		if got := Signed(tc.n); got != tc.want {
			t.Errorf("Signed(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// parse reads a formatted count back: its value in bytes, the number of
// decimals and the unit's index.
func parse(t *testing.T, s string) (v float64, decimals, unit int) {
	t.Helper()
	num, u, ok := strings.Cut(s, " ")
	if !ok {
		t.Fatalf("%q: no space between number and unit", s)
	}
	unit = -1
	for i, name := range units {
		if u == name {
			unit = i
		}
	}
	if unit < 0 {
		t.Fatalf("%q: unknown unit", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || strings.HasPrefix(num, "+") {
		t.Fatalf("%q: bad number: %v", s, err)
	}
	if _, frac, ok := strings.Cut(num, "."); ok {
		decimals = len(frac)
	}
	return f * math.Pow(1024, float64(unit)), decimals, unit
}

// checkBack checks that s reads back as n within the rounding of its last
// decimal, in the largest unit below n.
func checkBack(t *testing.T, n uint64, s string, decimals, unit int, v float64) {
	t.Helper()
	step := math.Pow(1024, float64(unit))
	tol := 0.5*math.Pow10(-decimals)*step + 1e-12*float64(n)
	if math.Abs(v-float64(n)) > tol {
		t.Fatalf("%d formatted as %q reads back as %.0f (off by more than %.0f)", n, s, v, tol)
	}
	if unit > 0 && v < 0.995*step {
		t.Fatalf("%d formatted as %q: below one %s", n, s, units[unit])
	}
	if unit < len(units)-1 && v >= 1024*step {
		t.Fatalf("%d formatted as %q: 1024 or more of a unit", n, s)
	}
	if unit == 0 && (decimals != 0 || v != float64(n)) {
		t.Fatalf("%d bytes formatted as %q", n, s)
	}
}

// check checks the three formatters on n: each reads back as n, in the
// right unit, with the style's decimals, and Signed agrees with Format.
func check(t *testing.T, n uint64) {
	s := Format(n)
	v, dec, unit := parse(t, s)
	checkBack(t, n, s, dec, unit, v)
	if unit > 0 && dec != 1 && !(dec == 2 && unit >= 3 && v < 10*math.Pow(1024, float64(unit))) {
		t.Fatalf("%d formatted as %q: %d decimals", n, s, dec)
	}

	c := Compact(n)
	v, dec, unit = parse(t, c)
	checkBack(t, n, c, dec, unit, v)
	if dec > 1 || dec == 1 && (strings.HasSuffix(c, ".0 "+units[unit]) || v >= 100*math.Pow(1024, float64(unit))) {
		t.Fatalf("%d formatted compactly as %q", n, c)
	}

	if n <= math.MaxInt64 {
		if got := Signed(int64(n)); got != s {
			t.Fatalf("Signed(%d) = %q, Format %q", n, got, s)
		}
		if got := Signed(-int64(n)); n > 0 && got != "-"+s {
			t.Fatalf("Signed(-%d) = %q, want -%q", n, got, s)
		}
	}
}

// Values around every unit boundary and change of decimals: every byte
// within 2 KiB, then offsets growing by an eighth up to an eighth of the
// mark, with their neighbours, which cross each rounding threshold.
func TestBoundaries(t *testing.T) {
	for unit := 1; unit < len(units); unit++ {
		step := uint64(1) << (10 * unit)
		for _, mark := range []uint64{1, 10, 100, 1023, 1024} {
			if float64(mark)*float64(step) >= math.MaxUint64 {
				continue
			}
			center := mark * step
			around := func(d uint64) {
				check(t, center-d)
				if center+d >= center {
					check(t, center+d)
				}
			}
			for d := range uint64(2048) {
				around(d)
			}
			for d := uint64(2048); d < center/8; d += d/8 + 1 {
				around(d - 1)
				around(d)
				around(d + 1)
			}
		}
	}
}

func FuzzFormat(f *testing.F) {
	for _, n := range []uint64{0, 1023, 1024, mi - 1, 10*gi - 5*mi, gi + 1, math.MaxUint64, math.MaxInt64 + 1} {
		f.Add(n)
	}
	f.Fuzz(check)
}
