//go:build race

package memwatch

// snapshotRace reports a -race build: the race runtime allocates on its own,
// so allocation counts are not checked there.
const snapshotRace = true
