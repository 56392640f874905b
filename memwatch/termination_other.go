//go:build !unix

package memwatch

import (
	"errors"
	"os"
)

// writeTerminationFile is not supported off Unix (Kubernetes termination
// messages are a Linux container feature).
func writeTerminationFile(path string, _ []byte) error {
	return &os.PathError{Op: "write", Path: path, Err: errors.ErrUnsupported}
}

// statDir reports whether path is a directory, with os.Stat's error.
func statDir(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}
