package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func runs(scn, policy string, n, survived int, mod func(*result)) []result {
	var out []result
	for i := range n {
		r := result{Scenario: scn, Policy: policy, Rep: i + 1, Peak: 200 << 20}
		if i < survived {
			r.Last = progress{Done: true, Ops: 1000, CPU: 1, SteadyWall: 2 * time.Second, GCCPU: 0.1, CacheBytes: 90 << 20}
		} else {
			r.Killed, r.OOMKills = true, 1
		}
		if mod != nil {
			mod(&r)
		}
		out = append(out, r)
	}
	return out
}

// pols parses policy specs that must be valid.
func pols(t *testing.T, specs ...string) []policy {
	t.Helper()
	var out []policy
	for _, s := range specs {
		p, err := parsePolicy(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func find(ts []target, prefix string) (target, bool) {
	for _, t := range ts {
		if strings.HasPrefix(t.what, prefix) {
			return t, true
		}
	}
	return target{}, false
}

func TestCheckTargetsSurvival(t *testing.T) {
	fits, _ := scenarioByName("fits")
	pol := pols(t, policyNone, policyStatic, policyMemwatch)
	for _, tc := range []struct {
		survived int
		met      bool
	}{{10, true}, {9, true}, {8, false}, {0, false}} {
		res := append(runs("fits", policyMemwatch, 10, tc.survived, nil), runs("fits", policyStatic, 10, 0, nil)...)
		ts := checkTargets(res, []scenario{fits}, pol, 0.9, time.Second)
		got, ok := find(ts, "memwatch survives fits")
		if !ok || got.met != tc.met || !got.enforced {
			t.Errorf("%d/10 survived: target %+v (found %v), want met=%v enforced", tc.survived, got, ok, tc.met)
		}
		if _, ok := find(ts, "memwatch sheds nothing"); ok {
			t.Errorf("static90 never survived, yet the shed target was checked: %+v", ts)
		}
	}
}

func TestCheckTargetsShedOnlyWhereDataFits(t *testing.T) {
	shedding := func(r *result) { r.Last.ShedBytes = 4 << 20 }
	pol := pols(t, policyStatic, policyMemwatch)
	for _, name := range []string{"fits", "near-limit"} {
		s, _ := scenarioByName(name)
		res := append(runs(name, policyMemwatch, 3, 3, shedding), runs(name, policyStatic, 3, 3, nil)...)
		ts := checkTargets(res, []scenario{s}, pol, 0.9, time.Second)
		got, ok := find(ts, "memwatch sheds nothing")
		if s.NeedsShed {
			if ok {
				t.Errorf("%s: shedding is the point of the scenario, yet checked: %+v", name, got)
			}
			continue
		}
		if !ok || got.met || !got.enforced {
			t.Errorf("%s: memwatch shed 4 MiB where static90 survived: target %+v (found %v), want missed", name, got, ok)
		}
	}
}

func TestCheckTargetsGCCPUNotEnforced(t *testing.T) {
	fits, _ := scenarioByName("fits")
	res := append(runs("fits", policyMemwatch, 3, 3, func(r *result) { r.Last.GCCPU = 0.30 }),
		runs("fits", policyStatic, 3, 3, nil)...)
	ts := checkTargets(res, []scenario{fits}, pols(t, policyStatic, policyMemwatch), 0.9, time.Second)
	got, ok := find(ts, "memwatch GC CPU no worse")
	if !ok || got.met || got.enforced {
		t.Fatalf("GC CPU 30%% vs 10%%: %+v (found %v), want missed and not enforced", got, ok)
	}
	var buf bytes.Buffer
	if !printTargets(&buf, ts) {
		t.Errorf("a missed unenforced target failed the check:\n%s", &buf)
	}
	if !strings.Contains(buf.String(), "MISSED memwatch GC CPU") {
		t.Errorf("verdict does not show the miss:\n%s", &buf)
	}
}

func TestCheckTargetsLoweredReaction(t *testing.T) {
	low, _ := scenarioByName("lowered")
	for _, tc := range []struct {
		followed bool
		reaction time.Duration
		met      bool
	}{
		{true, 300 * time.Millisecond, true}, {true, 1200 * time.Millisecond, true},
		{true, 1300 * time.Millisecond, false}, {false, 0, false},
		{true, 0, true}, // seen while the lowering write still ran
	} {
		res := runs("lowered", policyMemwatch, 2, 2, func(r *result) {
			r.LoweredAt, r.Followed = 1, true
			if r.Rep == 2 {
				r.Followed, r.Reaction = tc.followed, tc.reaction
			} else {
				r.Reaction = 100 * time.Millisecond
			}
		})
		ts := checkTargets(res, []scenario{low}, pols(t, policyMemwatch), 0.9, time.Second)
		got, ok := find(ts, "memwatch follows the lowered limit")
		if !ok || got.met != tc.met || !got.enforced {
			t.Errorf("followed %v in %s: %+v (found %v), want met=%v, enforced", tc.followed, tc.reaction, got, ok, tc.met)
		}
	}
}

// Policies known to die in a scenario are reported there, not enforced:
// memwatch without OnShed where only shedding fits, adaptive GOGC under a
// lowered limit.
func TestCheckTargetsKnownDeathsNotEnforced(t *testing.T) {
	near, _ := scenarioByName("near-limit")
	low, _ := scenarioByName("lowered")
	fits, _ := scenarioByName("fits")
	var res []result
	for _, s := range []string{"near-limit", "lowered", "fits"} {
		for _, p := range []string{policyNoShed, policyMWGOGC + "/pc=10ms"} {
			res = append(res, runs(s, p, 2, 0, func(r *result) { r.LoweredAt = 1 })...)
		}
	}
	ts := checkTargets(res, []scenario{near, low, fits}, pols(t, policyNoShed, policyMWGOGC+"/pc=10ms"), 0.9, time.Second)
	for prefix, enforced := range map[string]bool{
		"memwatch-noshed survives near-limit":       false,
		"memwatch-noshed survives lowered":          true,
		"memwatch-noshed survives fits":             true,
		"memwatch-gogc/pc=10ms survives near-limit": true,
		"memwatch-gogc/pc=10ms survives lowered":    false,
		"memwatch-gogc/pc=10ms survives fits":       true,
	} {
		got, ok := find(ts, prefix)
		if !ok || got.met || got.enforced != enforced {
			t.Errorf("%s: %+v (found %v), want missed, enforced=%v", prefix, got, ok, enforced)
		}
	}
	if got, ok := find(ts, "memwatch-gogc/pc=10ms follows the lowered"); !ok || got.enforced {
		t.Errorf("adaptive GOGC's reaction to a lowering: %+v (found %v), want not enforced", got, ok)
	}
}

func TestCheckTargetsMemoryHigh(t *testing.T) {
	high, _ := scenarioByName("high")
	for _, tc := range []struct {
		mw, st uint64
		met    bool
	}{{0, 500, true}, {50, 500, true}, {51, 500, false}, {0, 0, true}} {
		res := append(runs("high", policyMemwatch, 3, 3, func(r *result) { r.Counters = cgCounters{HasV2: true, High: tc.mw} }),
			runs("high", policyStatic, 3, 3, func(r *result) { r.Counters = cgCounters{HasV2: true, High: tc.st} })...)
		ts := checkTargets(res, []scenario{high}, pols(t, policyStatic, policyMemwatch), 0.9, time.Second)
		got, ok := find(ts, "memwatch stays below memory.high")
		if !ok || got.met != tc.met || !got.enforced {
			t.Errorf("%d vs %d events: %+v (found %v), want met=%v, enforced", tc.mw, tc.st, got, ok, tc.met)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for spec, want := range map[string]policy{
		"none":                       {Name: "none", Base: policyNone},
		"memwatch/pc=0":              {Name: "memwatch/pc=0", Base: policyMemwatch, HasPollCheck: true},
		"memwatch-gogc/pc=10ms":      {Name: "memwatch-gogc/pc=10ms", Base: policyMWGOGC, HasPollCheck: true, PollCheck: 10 * time.Millisecond},
		"memwatch-gogc/aim=0.5/pc=0": {Name: "memwatch-gogc/aim=0.5/pc=0", Base: policyMWGOGC, Aim: 0.5, HasPollCheck: true},
		"memwatch-noshed/iv=50ms":    {Name: "memwatch-noshed/iv=50ms", Base: policyNoShed, Interval: 50 * time.Millisecond},
		"memwatch/ev=0":              {Name: "memwatch/ev=0", Base: policyMemwatch, NoEvents: true},
	} {
		got, err := parsePolicy(spec)
		if err != nil || got != want {
			t.Errorf("parsePolicy(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"nope", "static90/pc=10ms", "memwatch/aim=0.5", "memwatch-gogc/aim=0",
		"memwatch-gogc/aim=1.5", "memwatch/pc=-1s", "memwatch/pc=soon", "memwatch/x=1", "memwatch/iv=5ms", "none/iv=1s", "memwatch/ev=1", "static90/ev=0"} {
		if p, err := parsePolicy(bad); err == nil {
			t.Errorf("parsePolicy(%q) = %+v, want an error", bad, p)
		}
	}
	if _, err := parsePolicies("memwatch,memwatch"); err == nil {
		t.Error("a policy listed twice was accepted")
	}
}

func TestPrintTable(t *testing.T) {
	fits, _ := scenarioByName("fits")
	low, _ := scenarioByName("lowered")
	spk, _ := scenarioByName("spike")
	res := append(runs("fits", policyMemwatch, 4, 3, nil), runs("fits", policyNone, 4, 0, nil)...)
	res = append(res, runs("fits", policyStatic, 1, 1, func(r *result) { r.Last.Ops = 2000 })...)
	res = append(res, runs("lowered", policyMemwatch, 2, 2, func(r *result) {
		r.LoweredAt, r.Followed, r.Reaction = 1, true, 420*time.Millisecond
	})...)
	res = append(res, runs("lowered", policyMWGOGC, 3, 0, func(r *result) {
		r.LoweredAt, r.KilledAtCut = 1, r.Rep == 1
		r.DiedAfterCut = time.Duration(r.Rep) * 100 * time.Millisecond
	})...)
	res = append(res, runs("spike", policyMemwatch, 2, 2, func(r *result) {
		r.Last.SpikeAt, r.Last.SpikeDone, r.Last.SpikeLevel = 1e9, 1e9+int64(20*time.Millisecond), "warn"
		r.Last.SpikeShed = 1e9 + int64(r.Rep)*int64(100*time.Millisecond)
	})...)
	var buf bytes.Buffer
	printTable(&buf, res, []scenario{fits, low, spk}, pols(t, policyNone, policyStatic, policyMemwatch, policyMWGOGC), 256<<20)
	out := buf.String()
	rows := map[string]string{} // "scenario policy" -> the rest, single-spaced
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			rows[f[0]+" "+f[1]] = strings.Join(f[2:], " ")
		}
	}
	for row, want := range map[string]string{
		"fits none":        "0/4 - - - 200 MiB - / 90 MiB - -",
		"fits static90":    "1/1 1k (1.00×) 2k (1.00×) 10.0% 200 MiB 90 MiB / 90 MiB 0 MiB -",
		"fits memwatch":    "3/4 0k (0.50×) 1k (0.50×) 10.0% 200 MiB 90 MiB / 90 MiB 0 MiB -",
		"lowered memwatch": "2/2 0k 1k 10.0% 200 MiB 90 MiB / 128 MiB 0 MiB GOMEMLIMIT followed in max 420ms",
		"lowered memwatch-gogc": "0/3 - - - 200 MiB - / 128 MiB - GOMEMLIMIT never followed; " +
			"1 killed in the lowering write; 2 killed after it (median +250ms)",
		"spike memwatch": "2/2 0k 1k 10.0% 200 MiB 90 MiB / 102 MiB 0 MiB spike charged in 20ms; level at spike warn×2; no warn after it; " +
			"OnShed after 150ms (median of 2)",
	} {
		if got := rows[row]; got != want {
			t.Errorf("row %q = %q, want %q\n%s", row, got, want, out)
		}
	}
	if _, ok := rows["lowered none"]; ok {
		t.Errorf("table has a row for a policy that did not run:\n%s", out)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := median(nil); got == got {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestSelectNames(t *testing.T) {
	got, err := selectNames("fits, lowered", scenarioNames())
	if err != nil || len(got) != 2 || got[0] != "fits" || got[1] != "lowered" {
		t.Errorf("selectNames = %v, %v", got, err)
	}
	if all, err := selectNames("all", allPolicies); err != nil || len(all) != len(allPolicies) {
		t.Errorf("all = %v, %v", all, err)
	}
	if _, err := selectNames("fits,nope", scenarioNames()); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown name: err = %v", err)
	}
}

func TestApplicableSkipsV2OnlyOnV1(t *testing.T) {
	fits, _ := scenarioByName("fits")
	high, _ := scenarioByName("high")
	got, err := applicable([]scenario{fits, high}, true, "v1")
	if err != nil || len(got) != 1 || got[0].Name != "fits" {
		t.Errorf("all scenarios on v1: %v, %v; want fits alone", got, err)
	}
	if _, err := applicable([]scenario{high}, false, "v1"); err == nil || !strings.Contains(err.Error(), "needs cgroup v2") {
		t.Errorf("high named on v1: err = %v", err)
	}
	if got, err := applicable([]scenario{fits, high}, false, "v2"); err != nil || len(got) != 2 {
		t.Errorf("on v2: %v, %v; want both", got, err)
	}
}
