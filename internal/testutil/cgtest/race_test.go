//go:build race

package cgtest

// raceEnabled: the race detector's shadow memory roughly doubles what the
// Go heap costs in RSS, and its runtime adds about 14 MiB.
const raceEnabled = true
