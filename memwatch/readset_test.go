package memwatch

import (
	_ "unsafe" // go:linkname

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/internal/kfile"
	"github.com/go-memwatch/memwatch/procstat"
)

// The floor benchmarks time preading the kernel files a sample re-reads,
// and take the list from the readers themselves: appendFiles, kept beside
// ReadCheap and ReadFull (and checked against them by the readers' tests).
// The methods are pulled in here by go:linkname, not published through hook
// variables set by the readers' init functions: those made every program
// that imports memwatch link both lists and their closures (10.5 KB of
// binary in an auto program).

// readsetProc appends the files a cheap read (statm) or a full read (statm,
// status and meminfo, those opened so far) of r re-reads.
//
//go:linkname readsetProc github.com/go-memwatch/memwatch/procstat.(*Reader).appendFiles
func readsetProc(r *procstat.Reader, dst []*kfile.File, full bool) []*kfile.File

// readsetCgroup appends the files ReadCheap (full false) or ReadFull (full
// true) of r re-reads.
//
//go:linkname readsetCgroup github.com/go-memwatch/memwatch/cgroupstat.(*Reader).appendFiles
func readsetCgroup(r *cgroupstat.Reader, dst []*kfile.File, full bool) []*kfile.File
