//go:build unix

package kfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAbsPath checks absPath against filepath.Abs with $PWD naming the
// working directory through a symbolic link, naming another directory, and
// unset.
func TestAbsPath(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(real)
	for _, pwd := range []string{link, real, dir, "relative", ""} {
		t.Setenv("PWD", pwd)
		for _, p := range []string{"a", "./a/b", "../x", "..", ".", "/abs/../p", "/"} {
			want, werr := filepath.Abs(p)
			got, err := absPath(p)
			if got != want || (err == nil) != (werr == nil) {
				t.Errorf("PWD=%q: absPath(%q) = %q, %v; filepath.Abs: %q, %v", pwd, p, got, err, want, werr)
			}
		}
	}
}
