package procstat

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Fixture trees copied from this host's real /proc (Linux 6.18), see
// testdata/README.md.
const (
	fixGo      = "linux-6.18-go"      // a stopped Go process: statm, status, smaps_rollup, meminfo
	fixTrimmed = "trimmed-old-kernel" // fixGo with the lines older kernels lack removed
	fixKthread = "kthread"            // kthreadd (pid 2): no address space
)

const fixturePageSize = 4096 // the page size of the host the fixtures come from

func fixturePath(name string, elem ...string) string {
	return filepath.Join(append([]string{"testdata", name, "proc"}, elem...)...)
}

func readFixture(t testing.TB, name string, elem ...string) (string, []byte) {
	t.Helper()
	p := fixturePath(name, elem...)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

// refKV is a deliberately naive, independent reading of a "Key: value [kB]"
// file with strings.Fields, used as the oracle for the hand parsers.
func refKV(t *testing.T, b []byte) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if !ok || len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) == 2 && f[1] == "kB" {
			n *= 1024
		}
		m[k] = n
	}
	return m
}

func TestParseStatmFixtures(t *testing.T) {
	for _, name := range []string{fixGo, fixTrimmed} {
		t.Run(name, func(t *testing.T) {
			file, b := readFixture(t, name, "self", "statm")
			var s Statm
			if err := ParseStatm(file, b, fixturePageSize, &s); err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(string(b))
			if len(f) != 7 {
				t.Fatalf("fixture has %d fields", len(f))
			}
			want := func(i int) uint64 {
				n, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n * fixturePageSize
			}
			got := Statm{Size: want(0), Resident: want(1), Shared: want(2), Text: want(3), Data: want(5)}
			if s != got {
				t.Fatalf("ParseStatm = %+v, want %+v", s, got)
			}
			// The fixture was captured from a stopped process: statm and
			// status come from the same kernel counters.
			_, sb := readFixture(t, name, "self", "status")
			var st Status
			if err := ParseStatus(file, sb, &st); err != nil {
				t.Fatal(err)
			}
			if s.Resident != st.VmRSS || s.Size != st.VmSize {
				t.Errorf("statm resident/size %d/%d != status VmRSS/VmSize %d/%d", s.Resident, s.Size, st.VmRSS, st.VmSize)
			}
		})
	}
	t.Run(fixKthread, func(t *testing.T) {
		file, b := readFixture(t, fixKthread, "2", "statm")
		s := Statm{Size: 1}
		if err := ParseStatm(file, b, fixturePageSize, &s); err != nil {
			t.Fatal(err)
		}
		if s != (Statm{}) {
			t.Fatalf("kernel thread statm = %+v, want zeros", s)
		}
	})
}

func TestParseStatusFixtures(t *testing.T) {
	fields := []struct {
		key string
		bit StatusFields
		get func(*Status) uint64
	}{
		{"VmRSS", HasVmRSS, func(s *Status) uint64 { return s.VmRSS }},
		{"RssAnon", HasRssAnon, func(s *Status) uint64 { return s.RssAnon }},
		{"RssFile", HasRssFile, func(s *Status) uint64 { return s.RssFile }},
		{"RssShmem", HasRssShmem, func(s *Status) uint64 { return s.RssShmem }},
		{"VmHWM", HasVmHWM, func(s *Status) uint64 { return s.VmHWM }},
		{"VmSwap", HasVmSwap, func(s *Status) uint64 { return s.VmSwap }},
		{"VmPeak", HasVmPeak, func(s *Status) uint64 { return s.VmPeak }},
		{"VmSize", HasVmSize, func(s *Status) uint64 { return s.VmSize }},
		{"Threads", HasThreads, func(s *Status) uint64 { return s.Threads }},
	}
	cases := []struct {
		name    string
		pid     string
		present StatusFields
	}{
		{fixGo, "self", HasVmRSS | HasRssAnon | HasRssFile | HasRssShmem | HasVmHWM | HasVmSwap | HasVmPeak | HasVmSize | HasThreads},
		{fixTrimmed, "self", HasVmRSS | HasVmHWM | HasVmPeak | HasVmSize | HasThreads},
		{fixKthread, "2", HasThreads},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file, b := readFixture(t, c.name, c.pid, "status")
			var s Status
			if err := ParseStatus(file, b, &s); err != nil {
				t.Fatal(err)
			}
			if s.Present != c.present {
				t.Errorf("Present = %09b, want %09b", s.Present, c.present)
			}
			ref := refKV(t, b)
			for _, f := range fields {
				want, ok := ref[f.key]
				if ok != (s.Present&f.bit != 0) {
					t.Errorf("%s: in file %v, Present bit %v", f.key, ok, s.Present&f.bit != 0)
				}
				if got := f.get(&s); got != want {
					t.Errorf("%s = %d, want %d", f.key, got, want)
				}
			}
			if s.Present&HasRssAnon != 0 && s.VmRSS != s.RssAnon+s.RssFile+s.RssShmem {
				t.Errorf("VmRSS %d != RssAnon+RssFile+RssShmem %d", s.VmRSS, s.RssAnon+s.RssFile+s.RssShmem)
			}
			if s.Threads == 0 {
				t.Error("Threads = 0")
			}
		})
	}
}

func TestParseSmapsRollupFixtures(t *testing.T) {
	keys := map[string]func(*SmapsRollup) uint64{
		"Rss": func(s *SmapsRollup) uint64 { return s.Rss }, "Pss": func(s *SmapsRollup) uint64 { return s.Pss },
		"Pss_Dirty": func(s *SmapsRollup) uint64 { return s.PssDirty }, "Pss_Anon": func(s *SmapsRollup) uint64 { return s.PssAnon },
		"Pss_File": func(s *SmapsRollup) uint64 { return s.PssFile }, "Pss_Shmem": func(s *SmapsRollup) uint64 { return s.PssShmem },
		"Shared_Clean": func(s *SmapsRollup) uint64 { return s.SharedClean }, "Shared_Dirty": func(s *SmapsRollup) uint64 { return s.SharedDirty },
		"Private_Clean": func(s *SmapsRollup) uint64 { return s.PrivateClean }, "Private_Dirty": func(s *SmapsRollup) uint64 { return s.PrivateDirty },
		"Referenced": func(s *SmapsRollup) uint64 { return s.Referenced }, "Anonymous": func(s *SmapsRollup) uint64 { return s.Anonymous },
		"LazyFree": func(s *SmapsRollup) uint64 { return s.LazyFree }, "AnonHugePages": func(s *SmapsRollup) uint64 { return s.AnonHugePages },
		"ShmemPmdMapped": func(s *SmapsRollup) uint64 { return s.ShmemPmdMapped }, "FilePmdMapped": func(s *SmapsRollup) uint64 { return s.FilePmdMapped },
		"Swap": func(s *SmapsRollup) uint64 { return s.Swap }, "SwapPss": func(s *SmapsRollup) uint64 { return s.SwapPss },
		"Locked": func(s *SmapsRollup) uint64 { return s.Locked },
	}
	all := SmapsFields(1<<len(keys) - 1)
	cases := []struct {
		name    string
		present SmapsFields
	}{
		{fixGo, all},
		{fixTrimmed, all &^ (HasPssDirty | HasPssAnon | HasPssFile | HasPssShmem | HasLazyFree)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file, b := readFixture(t, c.name, "self", "smaps_rollup")
			var s SmapsRollup
			if err := ParseSmapsRollup(file, b, &s); err != nil {
				t.Fatal(err)
			}
			if s.Present != c.present {
				t.Errorf("Present = %019b, want %019b", s.Present, c.present)
			}
			ref := refKV(t, b)
			for k, get := range keys {
				if got, want := get(&s), ref[k]; got != want {
					t.Errorf("%s = %d, want %d", k, got, want)
				}
			}
			if s.Rss == 0 || s.Rss != s.SharedClean+s.SharedDirty+s.PrivateClean+s.PrivateDirty {
				t.Errorf("Rss %d != Shared+Private %d", s.Rss, s.SharedClean+s.SharedDirty+s.PrivateClean+s.PrivateDirty)
			}
		})
	}
}

func TestParseMeminfoFixtures(t *testing.T) {
	all := HasMemTotal | HasMemFree | HasMemAvailable | HasBuffers | HasCached | HasSwapTotal | HasSwapFree
	cases := []struct {
		name    string
		present MeminfoFields
	}{
		{fixGo, all},
		{fixTrimmed, all &^ HasMemAvailable},
		{fixKthread, all},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file, b := readFixture(t, c.name, "meminfo")
			var m Meminfo
			if err := ParseMeminfo(file, b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Present != c.present {
				t.Errorf("Present = %07b, want %07b", m.Present, c.present)
			}
			ref := refKV(t, b)
			got := Meminfo{ref["MemTotal"], ref["MemFree"], ref["MemAvailable"], ref["Buffers"], ref["Cached"], ref["SwapTotal"], ref["SwapFree"], m.Present}
			if m != got {
				t.Errorf("ParseMeminfo = %+v, want %+v", m, got)
			}
		})
	}
}

func TestParseValidVariants(t *testing.T) {
	t.Run("statm extra numeric fields ignored", func(t *testing.T) {
		var s Statm
		if err := ParseStatm("statm", []byte("1 2 3 4 0 5 0 9\n"), 4096, &s); err != nil {
			t.Fatal(err)
		}
		if want := (Statm{4096, 8192, 12288, 16384, 20480}); s != want {
			t.Fatalf("got %+v, want %+v", s, want)
		}
	})
	t.Run("statm largest value that fits", func(t *testing.T) {
		var s Statm
		// Below 2^63 bytes: no kernel counter reaches that.
		max := strconv.FormatUint(1<<51-1, 10)
		if err := ParseStatm("statm", []byte(max+" 0 0 0 0 0 0"), 4096, &s); err != nil {
			t.Fatal(err)
		}
		if s.Size != (1<<51-1)*4096 {
			t.Fatalf("Size = %d", s.Size)
		}
	})
	t.Run("status unknown keys and odd values ignored", func(t *testing.T) {
		in := "Name:\tweird: name kB\nHugetlbPages:\t 3 MB\nNewKernelKey:\tsomething else\nVmRSS:\t 9007199254740991 kB\nThreads:\t7\n\n"
		var s Status
		if err := ParseStatus("status", []byte(in), &s); err != nil {
			t.Fatal(err)
		}
		if s.VmRSS != 9007199254740991*1024 || s.Threads != 7 || s.Present != HasVmRSS|HasThreads {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("meminfo without trailing newline and with unit-less keys", func(t *testing.T) {
		var m Meminfo
		if err := ParseMeminfo("meminfo", []byte("HugePages_Total:       0\nMemTotal:  10 kB"), &m); err != nil {
			t.Fatal(err)
		}
		if m.MemTotal != 10240 || m.Present != HasMemTotal {
			t.Fatalf("got %+v", m)
		}
	})
}

type parseCase struct {
	name   string
	in     string
	line   int
	reason string
}

func checkParseError(t *testing.T, file string, c parseCase, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: got %v (%T), want *ParseError", c.name, err, err)
	}
	if pe.File != file || pe.Line != c.line || !strings.Contains(pe.Reason, c.reason) {
		t.Fatalf("%s: got %q (file %q line %d), want file %q line %d reason containing %q", c.name, err, pe.File, pe.Line, file, c.line, c.reason)
	}
}

func TestParseStatmMalformed(t *testing.T) {
	cases := []parseCase{
		{"empty", "", 0, "empty file"},
		{"six fields", "1 2 3 4 5 6\n", 1, "wrong field count: 6 fields"},
		{"blank line", "\n", 1, "wrong field count: 0"},
		{"letters", "1 2 3 x 5 6 7\n", 1, `field 4: bad number "x"`},
		{"negative", "-1 2 3 4 5 6 7\n", 1, "field 1: bad number"},
		{"extra non-numeric", "1 2 3 4 5 6 7 (cat)\n", 1, "field 8: bad number"},
		{"second line", "1 2 3 4 5 6 7\n8\n", 2, "unexpected content after the first line"},
		{"too many digits", "123456789012345678901 2 3 4 5 6 7", 1, "field 1: bad number"},
		{"uint64 overflow", "18446744073709551616 2 3 4 5 6 7", 1, "field 1: bad number"},
		{"bytes overflow", "2 4503599627370496 3 4 5 6 7", 1, "field 2: 4503599627370496 pages of 4096 bytes is at or above 2^63"},
		{"2^63 bytes", "2 2251799813685248 3 4 5 6 7", 1, "field 2: 2251799813685248 pages of 4096 bytes is at or above 2^63"},
	}
	for _, c := range cases {
		s := Statm{Size: 42}
		checkParseError(t, "/p/statm", c, ParseStatm("/p/statm", []byte(c.in), 4096, &s))
		if s != (Statm{Size: 42}) {
			t.Errorf("%s: destination modified on error: %+v", c.name, s)
		}
	}
	checkParseError(t, "/p/statm", parseCase{"page size 0", "", 0, "page size is 0"},
		ParseStatm("/p/statm", []byte("1 2 3 4 5 6 7"), 0, new(Statm)))
}

func TestParseStatusMalformed(t *testing.T) {
	const th = "Threads:\t1\n"
	cases := []parseCase{
		{"empty", "", 0, "missing required field Threads"},
		{"no Threads", "Name:\tx\nVmRSS:\t 4 kB\n", 0, "missing required field Threads"},
		{"MB unit", th + "VmRSS:\t 12 MB\n", 2, `VmRSS: unit "MB", want kB`},
		{"no unit", th + "VmHWM:\t 12\n", 2, "VmHWM: missing unit, want kB"},
		{"no value", th + "VmRSS:\n", 2, "VmRSS: missing value"},
		{"bad number", th + "RssAnon:\t 1x2 kB\n", 2, `RssAnon: bad number "1x2"`},
		{"trailing field", th + "VmSwap:\t 12 kB kB\n", 2, `VmSwap: unexpected field "kB"`},
		{"kB overflow", th + "VmRSS:\t 18014398509481984 kB\n", 2, "VmRSS: 18014398509481984 kB is at or above 2^63"},
		{"2^63 bytes", th + "VmSwap:\t 9007199254740992 kB\n", 2, "VmSwap: 9007199254740992 kB is at or above 2^63"},
		{"count at 2^63", "Threads:\t9223372036854775808\n", 1, "Threads: 9223372036854775808 is at or above 2^63"},
		{"digits overflow", th + "VmPeak:\t 99999999999999999999 kB\n", 2, "VmPeak: bad number"},
		{"duplicate", th + "VmRSS:\t 1 kB\nVmRSS:\t 2 kB\n", 3, "VmRSS: duplicate key"},
		{"duplicate Threads", th + th, 2, "Threads: duplicate key"},
		{"no colon", th + "garbage line\n", 2, `no ':' in line "garbage line"`},
		{"Threads with unit", "Threads:\t4 kB\n", 1, `Threads: unexpected field "kB"`},
		{"Threads negative", "Threads:\t-1\n", 1, "Threads: bad number"},
		{"Threads missing", "Threads:\n", 1, "Threads: missing value"},
	}
	for _, c := range cases {
		s := Status{VmRSS: 42}
		checkParseError(t, "/p/status", c, ParseStatus("/p/status", []byte(c.in), &s))
		if s != (Status{VmRSS: 42}) {
			t.Errorf("%s: destination modified on error: %+v", c.name, s)
		}
	}
}

func TestParseSmapsRollupMalformed(t *testing.T) {
	const hdr = "00400000-7fffeef4b000 ---p 00000000 00:00 0                              [rollup]\n"
	cases := []parseCase{
		{"empty", "", 0, "empty file"},
		{"whitespace", " \n", 0, "empty file"},
		{"no header", "Rss:  4 kB\n", 1, "header does not end in [rollup]"},
		{"smaps not rollup", "00400000-00401000 r--p 00000000 08:01 1234  /bin/x\nRss:  4 kB\n", 1, "header does not end in [rollup]"},
		{"no Rss", hdr + "Pss:  4 kB\n", 0, "missing required field Rss"},
		{"bad unit", hdr + "Rss:  4 mB\n", 2, `Rss: unit "mB", want kB`},
		{"duplicate", hdr + "Rss:  4 kB\nSwap: 0 kB\nSwap: 0 kB\n", 4, "Swap: duplicate key"},
		{"no colon", hdr + "Rss:  4 kB\nbroken\n", 3, "no ':' in line"},
		{"overflow", hdr + "Rss:  18446744073709551615 kB\n", 2, "at or above 2^63"},
	}
	for _, c := range cases {
		s := SmapsRollup{Rss: 42}
		checkParseError(t, "/p/smaps_rollup", c, ParseSmapsRollup("/p/smaps_rollup", []byte(c.in), &s))
		if s != (SmapsRollup{Rss: 42}) {
			t.Errorf("%s: destination modified on error: %+v", c.name, s)
		}
	}
}

func TestParseMeminfoMalformed(t *testing.T) {
	const mt = "MemTotal:       24683656 kB\n"
	cases := []parseCase{
		{"empty", "", 0, "missing required field MemTotal"},
		{"no MemTotal", "MemFree:  4 kB\n", 0, "missing required field MemTotal"},
		{"zero MemTotal", "MemTotal:  0 kB\n", 0, "MemTotal is 0"},
		{"bad unit", mt + "MemAvailable:  4 pages\n", 2, `MemAvailable: unit "pages", want kB`},
		{"bad number", mt + "Cached:  0x10 kB\n", 2, `Cached: bad number "0x10"`},
		{"duplicate", mt + mt, 2, "MemTotal: duplicate key"},
		{"no colon", mt + "HugePages_Total 0\n", 2, "no ':' in line"},
		{"overflow", "MemTotal: 18014398509481984 kB\n", 1, "at or above 2^63"},
	}
	for _, c := range cases {
		m := Meminfo{MemTotal: 42}
		checkParseError(t, "/p/meminfo", c, ParseMeminfo("/p/meminfo", []byte(c.in), &m))
		if m != (Meminfo{MemTotal: 42}) {
			t.Errorf("%s: destination modified on error: %+v", c.name, m)
		}
	}
}

func TestParsersDoNotAllocate(t *testing.T) {
	statmFile, statm := readFixture(t, fixGo, "self", "statm")
	statusFile, status := readFixture(t, fixGo, "self", "status")
	smapsFile, smaps := readFixture(t, fixGo, "self", "smaps_rollup")
	meminfoFile, meminfo := readFixture(t, fixGo, "meminfo")
	var (
		sm Statm
		st Status
		sr SmapsRollup
		mi Meminfo
	)
	for name, fn := range map[string]func() error{
		"ParseStatm":       func() error { return ParseStatm(statmFile, statm, 4096, &sm) },
		"ParseStatus":      func() error { return ParseStatus(statusFile, status, &st) },
		"ParseSmapsRollup": func() error { return ParseSmapsRollup(smapsFile, smaps, &sr) },
		"ParseMeminfo":     func() error { return ParseMeminfo(meminfoFile, meminfo, &mi) },
	} {
		var err error
		if n := testing.AllocsPerRun(100, func() { err = fn() }); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// BenchmarkParseMeminfo isolates the parser from the syscall, like
// BenchmarkParseStatus.
func BenchmarkParseMeminfo(b *testing.B) {
	file, data := readFixture(b, fixGo, "meminfo")
	var m Meminfo
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseMeminfo(file, data, &m); err != nil {
			b.Fatal(err)
		}
	}
}
