// Package readset tells this module's benchmarks which kernel files a
// procstat or cgroupstat Reader reads, so that they can time preading those
// files alone: the floor a sample cannot go below.
//
// The readers own their open files and hand no descriptor out through their
// public API; these hooks live in an internal package so that only code of
// this module can reach them. Each reader package sets its hook when it is
// initialised (an assignment, nothing else); the memwatch benchmarks call
// them through the Sampler.
package readset

import "github.com/go-memwatch/memwatch/internal/kfile"

// Proc appends to dst the open files that a cheap read (statm) or a full
// read (statm, status and meminfo, those opened so far) of r, a
// *procstat.Reader, re-reads. Set by package procstat.
var Proc func(r any, full bool, dst []*kfile.File) []*kfile.File

// Cgroup appends to dst the files that ReadCheap (full false) or ReadFull
// (full true) of r, a *cgroupstat.Reader, re-reads. Set by package
// cgroupstat.
var Cgroup func(r any, full bool, dst []*kfile.File) []*kfile.File
