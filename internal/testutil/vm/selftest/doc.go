// Package selftest holds the end-to-end test of the QEMU VM harness
// (internal/testutil/vm). Its tests do their work only inside the VM:
//
//	go build -o bin/vmexec ./internal/testutil/vm/cmd/vmexec
//	go test -exec "$(pwd)/bin/vmexec" ./internal/testutil/vm/selftest/
//
// Elsewhere they skip.
package selftest
