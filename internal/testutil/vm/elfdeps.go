package vm

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// libFile is a host file placed at a guest path.
type libFile struct{ guest, host string }

// libDirs are where the guest loader looks without an ld.so.cache (Debian's
// multiarch directories are built into its loader).
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// sharedLibs returns the ELF interpreter and the shared libraries (DT_NEEDED,
// transitively) a dynamically linked binary needs, or nothing for a static one.
func sharedLibs(binary string) ([]libFile, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return nil, fmt.Errorf("%s: PT_INTERP: %w", binary, err)
			}
			if n := len(b); n > 0 && b[n-1] == 0 {
				b = b[:n-1]
			}
			interp = string(b)
		}
	}
	if interp == "" {
		return nil, nil
	}
	if _, err := os.Stat(interp); err != nil {
		return nil, fmt.Errorf("%s needs the loader %s: %w", binary, interp, err)
	}
	out := []libFile{{guest: interp, host: interp}}
	seen := map[string]bool{}
	var walk func(path string) error
	walk = func(path string) error {
		g, err := elf.Open(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		needed, err := g.ImportedLibraries()
		g.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, name := range needed {
			if seen[name] {
				continue
			}
			seen[name] = true
			found := ""
			for _, d := range libDirs {
				p := filepath.Join(d, name)
				if _, err := os.Stat(p); err == nil {
					found = p
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, not found in %v", path, name, libDirs)
			}
			out = append(out, libFile{guest: found, host: found})
			if err := walk(found); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(binary); err != nil {
		return nil, err
	}
	return out, nil
}
