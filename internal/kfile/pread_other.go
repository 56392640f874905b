//go:build !unix

package kfile

import (
	"errors"
	"io"
	"os"
)

// sysFD is unused where there is no pread(2): reads go through os.File.
type sysFD struct{}

func newSysFD(*os.File) sysFD { return sysFD{} }

func (sysFD) uintptr(f *os.File) uintptr { return f.Fd() }

// pread reads into b from offset 0.
func (sysFD) pread(f *os.File, b []byte) (int, error) {
	n, err := f.ReadAt(b, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
