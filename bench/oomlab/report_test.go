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
			r.Last = progress{Done: true, Ops: 1000, CPU: 1, GCCPU: 0.1, CacheBytes: 90 << 20}
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
	pol := []string{policyNone, policyStatic, policyMemwatch}
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
	pol := []string{policyStatic, policyMemwatch}
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
	ts := checkTargets(res, []scenario{fits}, []string{policyStatic, policyMemwatch}, 0.9, time.Second)
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
		reaction time.Duration
		met      bool
	}{{300 * time.Millisecond, true}, {1200 * time.Millisecond, true}, {1300 * time.Millisecond, false}, {0, false}} {
		res := runs("lowered", policyMemwatch, 2, 2, func(r *result) {
			r.LoweredAt = 1
			if r.Rep == 2 {
				r.Reaction = tc.reaction
			} else {
				r.Reaction = 100 * time.Millisecond
			}
		})
		ts := checkTargets(res, []scenario{low}, []string{policyMemwatch}, 0.9, time.Second)
		got, ok := find(ts, "memwatch follows the lowered limit")
		if !ok || got.met != tc.met {
			t.Errorf("reaction %s: %+v (found %v), want met=%v", tc.reaction, got, ok, tc.met)
		}
	}
}

func TestPrintTable(t *testing.T) {
	fits, _ := scenarioByName("fits")
	low, _ := scenarioByName("lowered")
	res := append(runs("fits", policyMemwatch, 4, 3, nil), runs("fits", policyNone, 4, 0, nil)...)
	res = append(res, runs("lowered", policyMemwatch, 2, 2, func(r *result) { r.LoweredAt, r.Reaction = 1, 420*time.Millisecond })...)
	var buf bytes.Buffer
	printTable(&buf, res, []scenario{fits, low}, []string{policyNone, policyMemwatch}, 256<<20)
	out := buf.String()
	rows := map[string]string{} // "scenario policy" -> the rest, single-spaced
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			rows[f[0]+" "+f[1]] = strings.Join(f[2:], " ")
		}
	}
	for row, want := range map[string]string{
		"fits none":        "0/4 - - 200 MiB - / 90 MiB - -",
		"fits memwatch":    "3/4 1k 10.0% 200 MiB 90 MiB / 90 MiB 0 MiB -",
		"lowered memwatch": "2/2 1k 10.0% 200 MiB 90 MiB / 128 MiB 0 MiB max 420ms",
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
