package cgroupstat

import (
	"errors"
	"testing"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

func TestParseMemTotal(t *testing.T) {
	v, err := parseMemTotal("m", []byte("MemTotal:       24683656 kB\nMemFree:        24441616 kB\n"))
	if err != nil || v != 24683656*1024 {
		t.Errorf("got %d, %v", v, err)
	}
	for _, in := range []string{"", "MemFree: 1 kB\n", "MemTotal: 1\n", "MemTotal: x kB\n", "MemTotal: 1 MB\n",
		"MemTotal: 0 kB\n", "MemTotal: 18446744073709551615 kB\n"} {
		_, err := parseMemTotal("m", []byte(in))
		var pe *kfile.ParseError
		if !errors.As(err, &pe) || pe.File != "m" {
			t.Errorf("%q: err %v, want *ParseError", in, err)
		}
	}
}

func FuzzParseMemTotal(f *testing.F) {
	f.Add([]byte("MemTotal:       24683656 kB\nMemFree:        24441616 kB\n"))
	f.Add([]byte("MemTotal: 18014398509481983 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseMemTotal("f", b)
		var pe *kfile.ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *ParseError", err)
		}
		if err == nil && (v == 0 || v%1024 != 0) {
			t.Fatalf("accepted %d", v)
		}
	})
}
