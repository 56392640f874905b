//go:build race

package memtest

// raceEnabled: the race detector's shadow memory roughly doubles what the Go
// heap costs in RSS and its runtime adds tens of MiB.
const raceEnabled = true
