package memwatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkAgainstOracle marshals s with Snapshot.MarshalJSON and with the
// reflect-based oracle (json_oracle_test.go) and fails unless both fail or
// both write the same bytes. It returns MarshalJSON's error.
func checkAgainstOracle(t *testing.T, s *Snapshot) error {
	t.Helper()
	got, err := s.MarshalJSON()
	want, wantErr := oracleMarshalJSON(s)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("MarshalJSON error %v, encoding/json error %v", err, wantErr)
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		lo := max(i-60, 0)
		t.Fatalf("MarshalJSON differs from encoding/json at byte %d:\n got  …%s\n want …%s", i,
			got[lo:min(i+60, len(got))], want[lo:min(i+60, len(want))])
	}
	if !json.Valid(got) {
		t.Fatalf("MarshalJSON wrote invalid JSON: %s", got)
	}
	// json.Marshal compacts and HTML-escapes what MarshalJSON returns: it
	// must have nothing left to change.
	via, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(via, got) {
		t.Fatalf("json.Marshal rewrote MarshalJSON's output:\n%s\n%s", via, got)
	}
	return nil
}

// nastyStrings hold every byte class the quoter treats apart: quotes and
// backslashes, control characters (with and without a short escape), DEL,
// the HTML characters, U+2028/U+2029, valid multi-byte UTF-8, invalid UTF-8
// (a stray continuation byte, a truncated sequence, an encoded surrogate,
// an overlong form, bytes that never occur) and the separators go.classes
// keys rewrite.
var nastyStrings = []string{
	"",
	`say "hi" \ bye`,
	"\x00\x01\x07\x0b\x0e\x1b\x1f",
	"\b\f\n\r\t",
	"\x7f",
	"<script>a && b</script>",
	"line\u2028para\u2029end",
	"é 中 😀 \u00a0 \ufeff \ufffd",
	"\x80",
	"a\xc3",
	"\xe2\x80",
	"\xed\xa0\x80",
	"\xc0\xaf",
	"\xff\xfe\xf8",
	"heap/objects-a/b",
	"open /sys/fs/cgroup/memory.max: no such file or directory",
}

// jsonVariants are hand-made snapshots for TestMarshalJSONOracle: the
// schema cases with nasty strings, extreme numbers and times, and values
// encoding/json refuses (wantErr: the path the error names).
func jsonVariants(t *testing.T) []jsonVariant {
	cases := schemaCases(t)
	var out []jsonVariant
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		out = append(out, jsonVariant{name: name, s: *cases[name]})
	}
	base := *cases["v2-actions"]
	v1 := *cases["v1-limit"]
	add := func(name string, from *Snapshot, wantErr string, f func(s *Snapshot)) {
		s := *from
		f(&s)
		out = append(out, jsonVariant{name, s, wantErr})
	}

	for i, str := range nastyStrings {
		add("string"+string(rune('a'+i)), &base, "", func(s *Snapshot) {
			s.Sampling.Mode = str
			s.Cgroup.Err = errors.New(str)
			s.Cgroup.Stats.Path = str
			s.Cgroup.Location.Dir = str + "/" + str
			s.Process.Err = errors.New(str + str)
			s.Host.Err = errors.New(str)
			s.Go.NumClasses = max(s.Go.NumClasses, 3)
			s.Go.Classes[0].Name = printableASCII(str)
			s.Go.Classes[2].Name = "x/" + printableASCII(str) + "-y"
			s.Actions.MemLimitReason = str
			s.Actions.Shed.Reason = str
		})
	}
	add("cgroup-unavailable", &v1, "", func(s *Snapshot) {
		s.Cgroup.Available = false
		s.Cgroup.Err = errors.New("gone")
		s.Cgroup.Location.Hybrid = true
		s.Cgroup.Stats.AncestorsHidden = true
		s.Process.Available, s.Host.Available = false, false
	})
	add("cgroup-not-full", &v1, "", func(s *Snapshot) {
		s.Cgroup.Stats.Full = false
		s.Cgroup.Err = errors.New("memory.stat: \"bad\" line")
		s.Cgroup.Location.Hybrid = true
	})
	add("v2-no-local-no-psi", &base, "", func(s *Snapshot) {
		s.Cgroup.Stats.Events.HasLocal = false
		s.Cgroup.Stats.PSI.Source = 0
		s.Cgroup.Stats.HasSwap = false
	})
	add("v1-no-events", &v1, "", func(s *Snapshot) { s.Cgroup.Stats.Events.HasEvents = false })
	add("max-numbers", &base, "", func(s *Snapshot) {
		const u = math.MaxUint64
		st := &s.Cgroup.Stats
		st.Usage, st.WorkingSet, st.Peak, st.SwapUsage = u, u, u, u
		st.Stat.Anon, st.Stat.Kernel, st.Stat.Sock, st.Stat.AnonTHP = u, u, u, u
		st.Events.OOMKill, st.Events.Local.OOMGroupKill, st.PSI.Some.Total = u, u, u
		s.Go.Alloc, s.Go.GOMEMLIMIT, s.Go.GOGC = u, math.MaxInt64-1, math.MaxInt64
		s.Go.Classes[1].Bytes = u
		a := &s.Attribution
		a.Parts[0].Bytes, a.Total, a.OvercountBytes = u, u, u
		a.Headroom.ToLimit, a.Headroom.ToHigh, a.Headroom.AvailableBeforeOOM = math.MinInt64, math.MaxInt64, -1
		a.Notes = ^Notes(0)
		s.Actions.MemLimit, s.Actions.MemLimitDecided, s.Actions.MemLimitBudget = u, NoMemLimit-1, NoMemLimit
		s.Actions.GOGC, s.Actions.FreeOSMemoryCount, s.Actions.Shed.Bytes = math.MinInt, u, u
	})
	add("zero-numbers", &base, "", func(s *Snapshot) {
		st := &s.Cgroup.Stats
		st.Usage, st.Limit, st.High, st.SwapLimit = 0, 0, 0, 0
		s.Go = GoStats{NumClasses: 2, Present: GoGOGC | GoHeapLive}
		s.Attribution = Attribution{Headroom: Headroom{HasLimit: true, HasHigh: true}}
		s.Actions = Actions{Enabled: true, MemLimitDecided: NoMemLimit, GOGCSet: true}
	})
	for i, f := range []float64{0, math.Copysign(0, -1), 1e-6, 9.99999e-7, 1e-7, -1e-7, 1.5e-10, 5e-324,
		math.SmallestNonzeroFloat64 * 3, 1e20, 999999999999999999999, 1e21, -1e21, 1.5e300, math.MaxFloat64,
		0.1, 1.0 / 3, 100, 123456789.125, -42.5, 2.5e-8} {
		add("float"+string(rune('a'+i)), &base, "", func(s *Snapshot) {
			s.Go.GCCPUFraction, s.Go.GCCPUWindowSeconds = f, -f
			s.Cgroup.Stats.PSI.Some.Avg10, s.Cgroup.Stats.PSI.Full.Avg300 = f, f/7
			s.Attribution.Headroom.UsagePercent, s.Attribution.Headroom.WorkingSetPercent = f, f/3
			s.Sampling.Interval = time.Duration(f*1e9) + 1
		})
	}
	for _, bad := range []struct {
		name, path string
		f          func(s *Snapshot, v float64)
	}{
		{"gc-cpu", "go.gc_cpu_fraction", func(s *Snapshot, v float64) { s.Go.GCCPUFraction = v }},
		{"psi", "cgroup.psi.full.avg60", func(s *Snapshot, v float64) { s.Cgroup.Stats.PSI.Full.Avg60 = v }},
		{"headroom", "headroom.working_set_percent", func(s *Snapshot, v float64) { s.Attribution.Headroom.WorkingSetPercent = v }},
	} {
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			add(bad.name+"-"+floatName(v), &base, bad.path,
				func(s *Snapshot) { bad.f(s, v) })
		}
	}
	// A float encoding/json refuses where the oracle writes null instead
	// (no limit) is no error.
	add("nan-unused", &base, "", func(s *Snapshot) {
		s.Attribution.Headroom.HasLimit, s.Attribution.Headroom.HasUsagePercent = false, false
		s.Attribution.Headroom.UsagePercent = math.NaN()
	})

	ist := time.FixedZone("IST", 5*3600+30*60)
	for i, tm := range []time.Time{
		{}, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2025, 1, 2, 3, 4, 5, 120000000, ist), time.Date(2025, 1, 2, 3, 4, 5, 1, time.FixedZone("", -(23*3600+59*60))),
		time.Date(2025, 6, 1, 0, 0, 0, 0, time.FixedZone("", -30)), time.Date(2025, 6, 1, 0, 0, 0, 1000, time.Local),
	} {
		add("time"+string(rune('a'+i)), &base, "", func(s *Snapshot) {
			s.Time, s.DetailTime, s.Actions.MemLimitChanged, s.Actions.FreeOSMemoryTime = tm, tm, tm, tm
		})
	}
	add("year-36812", &base, "time", func(s *Snapshot) { s.Time = time.Unix(1<<40, 0) })
	add("year-10000", &base, "time", func(s *Snapshot) { s.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })
	add("year-minus-1", &base, "detail_time", func(s *Snapshot) { s.DetailTime = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) })
	add("zone-24h", &base, "actions.memlimit_changed", func(s *Snapshot) {
		s.Actions.MemLimitChanged = time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))
	})
	add("level-invalid", &base, "level", func(s *Snapshot) { s.Level = LevelCritical + 1 })
	add("reclaim-invalid", &base, "", func(s *Snapshot) { s.Attribution.Parts[2].Reclaim = 200 })
	add("no-notes", &base, "", func(s *Snapshot) { s.Attribution.Notes = 0 })
	add("actions-disabled", &base, "", func(s *Snapshot) { s.Actions.Enabled = false })
	add("classes-none", &base, "", func(s *Snapshot) { s.Go.NumClasses = 0 })
	add("classes-too-many", &base, "", func(s *Snapshot) { s.Go.NumClasses = maxGoClasses + 5 })
	return out
}

type jsonVariant struct {
	name    string
	s       Snapshot
	wantErr string // path the error names; "" for no error
}

// printableASCII drops the bytes of s outside ' '…'~'. The oracle writes
// go.classes keys with fmt's %q, which is JSON only for printable ASCII
// (runtime/metrics class names are); TestJSONClassNames covers the rest.
func printableASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return -1
		}
		return r
	}, s)
}

// floatName names a float JSON cannot hold, for a subtest.
func floatName(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case f > 0:
		return "inf"
	}
	return "-inf"
}

// TestMarshalJSONOracle compares Snapshot.MarshalJSON with the
// reflect-based oracle byte for byte, on the golden fixtures and on
// hand-made snapshots with nasty strings, extreme numbers and times, and
// values JSON cannot hold.
func TestMarshalJSONOracle(t *testing.T) {
	for _, v := range jsonVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			err := checkAgainstOracle(t, &v.s)
			switch {
			case v.wantErr == "" && err != nil:
				t.Fatal(err)
			case v.wantErr != "" && err == nil:
				t.Fatalf("no error, want one naming %s", v.wantErr)
			case err != nil && !strings.Contains(err.Error(), ": "+v.wantErr+": "):
				t.Errorf("error %q does not name %s", err, v.wantErr)
			}
		})
	}
}

// TestJSONClassNames: go.classes keys are the class names with '/' and '-'
// turned into '_', escaped as encoding/json escapes any string, even for
// names the runtime never uses (where the oracle, quoting them with %q,
// would write invalid JSON).
func TestJSONClassNames(t *testing.T) {
	s := schemaCases(t)["v1-limit"]
	for _, name := range nastyStrings {
		s.Go.NumClasses = 2
		s.Go.Classes[0] = GoClass{Name: "a/b", Bytes: 1}
		s.Go.Classes[1] = GoClass{Name: "x-" + name + "/y", Bytes: 7}
		raw, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Go struct{ Classes map[string]uint64 }
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		key, err := json.Marshal(strings.NewReplacer("/", "_", "-", "_").Replace(s.Go.Classes[1].Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, append(key, []byte(":7")...)) {
			t.Errorf("%q: key %s not written", name, key)
		}
		var want string
		if err := json.Unmarshal(key, &want); err != nil {
			t.Fatal(err)
		}
		if len(m.Go.Classes) != 2 || m.Go.Classes["a_b"] != 1 || m.Go.Classes[want] != 7 {
			t.Errorf("%q: classes %v, want a_b and %q", name, m.Go.Classes, want)
		}
	}
}

// TestAppendJSONString compares the quoter with encoding/json on every
// single byte and on nasty strings, one by one and glued together.
func TestAppendJSONString(t *testing.T) {
	in := slices.Clone(nastyStrings)
	for c := range 256 {
		in = append(in, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"z")
	}
	in = append(in, strings.Join(nastyStrings, ""), string(rune(0x2027))+string(rune(0x202a)))
	for _, s := range in {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}

// TestSchemaKeyOrder checks that MarshalJSON writes the keys in the order
// schemaKeys lists them. Object rows are left out: a row such as
// cgroup.psi.some, full comes before the keys of both objects.
func TestSchemaKeyOrder(t *testing.T) {
	rank := map[string]int{}
	for _, k := range schemaKeys {
		if k.Type == "object" {
			continue
		}
		for _, p := range k.paths() {
			rank[p] = len(rank)
		}
	}
	for name, snap := range schemaCases(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := snap.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			last, lastPath := -1, ""
			var value func(prefix string)
			value = func(prefix string) {
				tok, err := dec.Token()
				if err != nil {
					t.Fatal(err)
				}
				switch tok {
				case json.Delim('{'):
					for dec.More() {
						k, err := dec.Token()
						if err != nil {
							t.Fatal(err)
						}
						p := prefix + k.(string)
						if r, ok := rank[p]; ok {
							if r < last {
								t.Errorf("%s written after %s, listed before it", p, lastPath)
							}
							last, lastPath = r, p
						}
						value(p + ".")
					}
					dec.Token() // '}'
				case json.Delim('['):
					for dec.More() {
						value(prefix)
					}
					dec.Token() // ']'
				}
			}
			value("")
			if last < 0 {
				t.Fatal("no listed key written")
			}
		})
	}
}

// FuzzMarshalJSON fuzzes strings (errors, paths, reasons, class names),
// integers, floats and the time of a golden snapshot and compares
// Snapshot.MarshalJSON with the reflect-based oracle. The seed corpus is in
// testdata/fuzz/FuzzMarshalJSON.
func FuzzMarshalJSON(f *testing.F) {
	f.Add(uint8(4), "close", "limit 1.17 GiB", "heap/objects", uint64(1<<30), int64(-5<<20), 0.31, 87.5,
		int64(1764203760), int64(0), int32(0))
	var (
		once  sync.Once
		bases []Snapshot
	)
	f.Fuzz(func(t *testing.T, which uint8, s1, s2, s3 string, u uint64, i int64, f1, f2 float64,
		sec, nsec int64, zone int32) {
		once.Do(func() {
			cases := schemaCases(t)
			for _, name := range slices.Sorted(maps.Keys(cases)) {
				bases = append(bases, *cases[name])
			}
		})
		if len(bases) == 0 {
			t.Skip("no base snapshots")
		}
		s := bases[int(which)%len(bases)]
		if which&0x80 != 0 {
			s.Actions.Enabled = !s.Actions.Enabled
		}
		s.Sampling.Mode = s1
		s.Cgroup.Err = errors.New(s1)
		s.Cgroup.Stats.Path = s2
		s.Cgroup.Location.Dir = s3
		s.Process.Err = errors.New(s2)
		s.Go.NumClasses = max(s.Go.NumClasses, 2)
		s.Go.Classes[0].Name = printableASCII(s3)
		s.Actions.MemLimitReason, s.Actions.Shed.Reason = s1, s2

		s.Cgroup.Stats.Usage, s.Go.Alloc, s.Attribution.Total = u, u, u
		s.Cgroup.Stats.Stat.Anon, s.Go.Classes[1].Bytes = u, u
		s.Attribution.Headroom.ToLimit, s.Go.GOGC, s.Actions.GOGC = i, i, int(i)
		s.Go.GOMEMLIMIT = i
		s.Go.GCCPUFraction, s.Cgroup.Stats.PSI.Some.Avg10 = f1, f1
		s.Attribution.Headroom.UsagePercent, s.Go.GCCPUWindowSeconds = f2, f2
		s.Sampling.Interval = time.Duration(i)
		s.Time = time.Unix(sec, nsec).In(time.FixedZone("", int(zone)))
		checkAgainstOracle(t, &s)
	})
}

// BenchmarkMarshalJSON compares MarshalJSON (appender) with the
// reflect-based oracle on the v1-limit fixture:
//
//	go test ./memwatch/ -run '^$' -bench MarshalJSON -count 5
func BenchmarkMarshalJSON(b *testing.B) {
	s := fixtureSnapshot(b, "testdata/v1-limit")
	b.Run("appender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := oracleMarshalJSON(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMarshalJSONRatio alternates the two encoders per iteration, so
// both see the same machine load, and reports reflect/appender.
func BenchmarkMarshalJSONRatio(b *testing.B) {
	s := fixtureSnapshot(b, "testdata/v1-limit")
	var app, refl time.Duration
	for b.Loop() {
		t0 := time.Now()
		_, _ = s.MarshalJSON()
		t1 := time.Now()
		_, _ = oracleMarshalJSON(s)
		t2 := time.Now()
		app += t1.Sub(t0)
		refl += t2.Sub(t1)
	}
	b.ReportMetric(float64(refl)/float64(app), "reflect/appender")
}
