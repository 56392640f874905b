package kfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseUint(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "42": 42, "007": 7, "18446744073709551615": 1<<64 - 1,
		"000000000000000000000000000001": 1, // leading zeros are still one number
	} {
		if got, ok := ParseUint([]byte(in)); !ok || got != want {
			t.Errorf("ParseUint(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1 ", " 1", "1a", "18446744073709551616", "99999999999999999999999"} {
		if got, ok := ParseUint([]byte(in)); ok {
			t.Errorf("ParseUint(%q) = %d, ok; want failure", in, got)
		}
	}
}

func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "18446744073709551615", "18446744073709551616", "-1", "00012", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseUint([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		if strings.ContainsAny(s, "+_") {
			err = strconv.ErrSyntax // strconv forms the kernel never prints
		}
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("ParseUint(%q) = %d, %v; strconv %d, %v", s, got, ok, want, err)
		}
	})
}

func TestParseIntAndFixed(t *testing.T) {
	if v, ok := ParseInt([]byte("-9223372036854775808")); !ok || v != -1<<63 {
		t.Errorf("ParseInt(min) = %d, %v", v, ok)
	}
	if _, ok := ParseInt([]byte("9223372036854775808")); ok {
		t.Error("ParseInt accepted 2^63")
	}
	for in, want := range map[string]float64{"0.00": 0, "12.34": 12.34, "100": 100, "1.5": 1.5} {
		if got, ok := ParseFixed([]byte(in)); !ok || got != want {
			t.Errorf("ParseFixed(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ".5", "1.", "1.2.3", "a.1", "1.1234567890"} {
		if _, ok := ParseFixed([]byte(in)); ok {
			t.Errorf("ParseFixed(%q) accepted", in)
		}
	}
}

func TestLinesAndFields(t *testing.T) {
	var got []string
	Lines([]byte("a 1\n\nb  2\nc"), func(n int, line []byte) bool {
		f, rest := NextField(line)
		got = append(got, strconv.Itoa(n)+":"+string(f)+"|"+string(TrimSpace(rest)))
		return n < 3
	})
	if want := "1:a|1 2:| 3:b|2"; strings.Join(got, " ") != want {
		t.Errorf("Lines = %q, want %q", strings.Join(got, " "), want)
	}
}

// TestFileRereads proves a File sees new content at offset 0 on every Read,
// grows its buffer for a larger file, and does not allocate once grown.
func TestFileRereads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, err := f.Read(); err != nil || string(b) != "one\n" {
		t.Fatalf("Read = %q, %v", b, err)
	}
	big := strings.Repeat("x", 1000)
	if err := os.WriteFile(p, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := f.Read(); err != nil || string(b) != big {
		t.Fatalf("Read after growth = %d bytes, %v", len(b), err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = f.Read() }); n != 0 {
		t.Errorf("Read allocates %v times per call", n)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestParseErrorNamesFileAndLine(t *testing.T) {
	err := error(Errorf("/proc/x", 3, "bad %s", "value"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "/proc/x" || pe.Line != 3 {
		t.Fatalf("got %#v", err)
	}
	if want := "parse /proc/x:3: bad value"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
