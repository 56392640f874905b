//go:build !race

package cgtest

const raceEnabled = false
