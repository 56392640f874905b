//go:build linux

package procstat

import (
	"testing"

	"github.com/prometheus/procfs"
)

// Benchmarks of our readers against prometheus/procfs on this process's real
// /proc. Compare them as ratios within one run.

func benchReader(b *testing.B) *Reader {
	b.Helper()
	r, err := Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func benchProcfs(b *testing.B) procfs.Proc {
	b.Helper()
	fs, err := procfs.NewFS("/proc")
	if err != nil {
		b.Fatal(err)
	}
	p, err := fs.Self()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkProcRead is the hot path: ReadStatm.
func BenchmarkProcRead(b *testing.B) {
	r := benchReader(b)
	var s Statm
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadStatm(&s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcReadStatus(b *testing.B) {
	r := benchReader(b)
	var s Status
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadStatus(&s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcReadSmapsRollup(b *testing.B) {
	r := benchReader(b)
	var s SmapsRollup
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadSmapsRollup(&s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcReadMeminfo(b *testing.B) {
	r := benchReader(b)
	var m Meminfo
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadMeminfo(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcfsStatm(b *testing.B) {
	p := benchProcfs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Statm(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcfsStatus(b *testing.B) {
	p := benchProcfs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.NewStatus(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcfsSmapsRollup(b *testing.B) {
	p := benchProcfs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ProcSMapsRollup(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcfsMeminfo(b *testing.B) {
	fs, err := procfs.NewFS("/proc")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fs.Meminfo(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseStatus isolates the parser from the syscall.
func BenchmarkParseStatus(b *testing.B) {
	file, data := readFixture(b, fixGo, "self", "status")
	var s Status
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseStatus(file, data, &s); err != nil {
			b.Fatal(err)
		}
	}
}
