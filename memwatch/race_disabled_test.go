//go:build !race

package memwatch

const snapshotRace = false
