//go:build !linux

package procstat

import (
	"errors"
	"testing"
)

func TestOpenUnsupported(t *testing.T) {
	r, err := Open()
	if r != nil || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Open() = %v, %v; want nil, ErrUnsupported", r, err)
	}
}
