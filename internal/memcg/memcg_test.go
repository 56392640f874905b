package memcg

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestDirName(t *testing.T) {
	pid := os.Getpid()
	for _, tc := range []struct{ label, prefix string }{
		{"cgtest-TestX/sub case", "cgtest-TestX_sub_case-"},
		{"memtest-Test_ü.α", "memtest-Test____-"},
		{"", "-"},
		{strings.Repeat("a", 100), strings.Repeat("a", 64) + "-"},
	} {
		got := dirName(tc.label)
		if !strings.HasPrefix(got, tc.prefix+fmt.Sprint(pid)+"-") {
			t.Errorf("dirName(%q) = %q, want prefix %q + pid", tc.label, got, tc.prefix)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(got) {
			t.Errorf("dirName(%q) = %q: not a plain name", tc.label, got)
		}
	}
	if a, b := dirName("x"), dirName("x"); a == b {
		t.Errorf("two names for the same label are equal: %q", a)
	}
}

func TestUnavailableError(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", unavailablef("needs %s", "root"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v does not match ErrUnavailable", err)
	}
	if err.Error() != "wrapped: needs root" {
		t.Fatalf("text %q: the reason should stand alone", err)
	}
	if errors.Is(errors.New("other"), ErrUnavailable) {
		t.Fatal("a plain error matches ErrUnavailable")
	}
}
