package cgtest

import (
	"os"

	"golang.org/x/sys/unix"
)

// touchAnon maps n bytes of private anonymous memory and writes every page.
func touchAnon(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	page := os.Getpagesize()
	for i := 0; i < n; i += page {
		b[i] = 1
	}
	return b, nil
}
