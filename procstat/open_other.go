//go:build !linux

package procstat

import "fmt"

// Open returns an error wrapping ErrUnsupported: this operating system has no
// Linux /proc. The pure parsers (ParseStatm and the others) still work.
func Open(opts ...Option) (*Reader, error) {
	if _, _, err := resolve(opts); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("procstat: open: %w", ErrUnsupported)
}
