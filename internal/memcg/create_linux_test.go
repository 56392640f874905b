package memcg

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const mib = 1 << 20

// create makes a Group for the test, skipping where memory cgroups cannot be
// made, and removes it when the test ends.
func create(t *testing.T, opts ...Option) *Group {
	t.Helper()
	g, err := Create("memcg-"+t.Name(), append(opts, WithLogf(t.Logf))...)
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
	return g
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCreateRemove(t *testing.T) {
	g := create(t, WithLimit(64*mib), WithParentLimit(48*mib), WithNoSwap())
	dir, parent := g.Dir(), g.ParentDir()
	if filepath.Dir(dir) != parent {
		t.Fatalf("child %s not inside parent %s", dir, parent)
	}
	if !strings.HasSuffix(dir, g.Path()) && !strings.HasSuffix(g.Path(), filepath.Base(dir)) {
		t.Fatalf("Path %q does not name %s", g.Path(), dir)
	}
	if !strings.Contains(filepath.Base(dir), "TestCreateRemove") {
		t.Errorf("directory %s is not named after its label", dir)
	}
	limit := "memory.max"
	if g.Version() == 1 {
		limit = "memory.limit_in_bytes"
	}
	if got := readTrim(t, filepath.Join(dir, limit)); got != strconv.Itoa(64*mib) {
		t.Fatalf("%s = %s", limit, got)
	}
	if got := readTrim(t, filepath.Join(parent, limit)); got != strconv.Itoa(48*mib) {
		t.Fatalf("parent %s = %s", limit, got)
	}
	if g.Version() == 1 && g.SwapLimited() {
		if got := readTrim(t, filepath.Join(dir, "memory.memsw.limit_in_bytes")); got != strconv.Itoa(64*mib) {
			t.Fatalf("memsw = %s", got)
		}
	}
	if err := g.SetLimit(32 * mib); err != nil {
		t.Fatal(err)
	}
	if b, err := g.ReadFile(limit); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(32*mib) {
		t.Fatalf("after SetLimit %s = %q, %v", limit, b, err)
	}
	if n, err := g.OOMKills(); err != nil || n != 0 {
		t.Fatalf("fresh cgroup oom_kill %d, %v", n, err)
	}
	if u, err := g.Usage(); err != nil || u > mib {
		t.Fatalf("fresh cgroup usage %d, %v", u, err)
	}
	if p, err := g.Peak(); err != nil && !errors.Is(err, os.ErrNotExist) || p > mib {
		t.Fatalf("fresh cgroup peak %d, %v", p, err)
	}
	if pids, err := g.Procs(); err != nil || len(pids) != 0 {
		t.Fatalf("fresh cgroup procs %v, %v", pids, err)
	}
	if _, err := g.Stat("no_such_key"); err == nil || !strings.Contains(err.Error(), "memory.stat") {
		t.Fatalf("missing key: %v (want an error naming the file)", err)
	}
	// Remove kills what is inside and deletes both directories; a second
	// Remove does nothing.
	startHolder(t, g)
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, parent} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Remove: %v", d, err)
		}
	}
	if err := g.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestCreateRefusesWhatTheVersionLacks(t *testing.T) {
	g := create(t)
	if g.Version() != 1 {
		t.Skip("v1 only: memory.high and memsw")
	}
	parent := filepath.Dir(g.Dir())
	before, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create("memcg-high", WithHigh(mib)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("WithHigh on v1: %v, want ErrUnavailable", err)
	}
	if _, err := Create("memcg-swap", WithSwapLimit(mib)); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("WithSwapLimit without WithLimit on v1: %v, want a plain error", err)
	}
	after, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("refused Create left something in %s: %d entries, then %d", parent, len(before), len(after))
	}
}
