//go:build !linux

package cgtest

import "errors"

// touchAnon needs Linux; nothing runs a workload elsewhere, since Create
// skips there.
func touchAnon(int) ([]byte, error) {
	return nil, errors.New("cgtest: anonymous memory workloads need Linux")
}
