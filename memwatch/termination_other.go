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
