//go:build linux

package procstat_test

import (
	"fmt"
	"log"
	"path/filepath"

	"github.com/go-memwatch/memwatch/procstat"
)

// Open a Reader for this process and read its memory; keep the Reader for
// repeated reads (the files stay open).
func ExampleOpen() {
	r, err := procstat.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	var st procstat.Status
	if err := r.ReadStatus(&st); err != nil {
		log.Fatal(err)
	}
	var mi procstat.Meminfo
	if err := r.ReadMeminfo(&mi); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("RSS %d MiB (anon %d MiB, file %d MiB), peak %d MiB, host %d MiB\n",
		st.VmRSS>>20, st.RssAnon>>20, st.RssFile>>20, st.VmHWM>>20, mi.MemTotal>>20)
}

// ReadStatm is the hot path: one pread into a reused buffer, no allocation.
func ExampleReader_ReadStatm() {
	r, err := procstat.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	var s procstat.Statm
	if err := r.ReadStatm(&s); err != nil {
		log.Fatal(err)
	}
	fmt.Println("resident memory reported:", s.Resident > 0)
	// Output: resident memory reported: true
}

// WithRoot reads a tree copied from a real kernel instead of /proc.
func ExampleWithRoot() {
	r, err := procstat.Open(
		procstat.WithRoot(filepath.Join("testdata", "linux-6.18-go")),
		procstat.WithPageSize(4096),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	var s procstat.Statm
	if err := r.ReadStatm(&s); err != nil {
		log.Fatal(err)
	}
	var st procstat.Status
	if err := r.ReadStatus(&st); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("RSS %d KiB, of which anon %d KiB; %d threads\n", s.Resident>>10, st.RssAnon>>10, st.Threads)
	// Output: RSS 35488 KiB, of which anon 33948 KiB; 4 threads
}
