package cgroupstat

import "testing"

func TestRelPath(t *testing.T) {
	for _, c := range []struct {
		root, path, rel string
		ok              bool
	}{
		{"/", "/", "/", true},
		{"/", "/a/b", "/a/b", true},
		{"/a", "/a", "/", true},
		{"/a", "/a/b", "/b", true},
		{"/a", "/ab", "", false},
		{"/a/b", "/a", "", false},
		{"/", "/../x", "", false},    // sibling outside the namespace
		{"/../..", "/", "", false},   // mount root above the namespace root
		{"/a", "/a/../b", "", false}, // never trust a lexical ".."
		{"/", "/a//b", "", false},
		{"/", "a", "", false},
		{"", "/a", "", false},
	} {
		rel, ok := relPath(c.root, c.path)
		if rel != c.rel || ok != c.ok {
			t.Errorf("relPath(%q, %q) = %q, %v; want %q, %v", c.root, c.path, rel, ok, c.rel, c.ok)
		}
	}
}

// FuzzRelPath checks the path translation that decides which directory is
// read: whatever it accepts joins back to the original path and contains no
// "." or ".." component.
func FuzzRelPath(f *testing.F) {
	f.Add("/", "/a/b")
	f.Add("/docker/x", "/docker/x")
	f.Add("/../..", "/")
	f.Add("/", "/../x")
	f.Fuzz(func(t *testing.T, root, path string) {
		rel, ok := relPath(root, path)
		if !ok {
			return
		}
		if !cleanAbs(rel) || !cleanAbs(root) {
			t.Fatalf("relPath(%q, %q) accepted %q", root, path, rel)
		}
		joined := root + rel
		if root == "/" {
			joined = rel
		} else if rel == "/" {
			joined = root
		}
		if joined != path {
			t.Fatalf("relPath(%q, %q) = %q does not join back", root, path, rel)
		}
	})
}
