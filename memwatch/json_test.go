package memwatch

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

func TestGoldenJSON(t *testing.T) {
	for name, snap := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := json.Indent(&b, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			b.WriteByte('\n')
			checkGolden(t, filepath.Join("testdata", name+".json.golden"), b.Bytes())
		})
	}
}

func lookup(m map[string]any, dotted string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(dotted, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestJSONSchema(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(t *testing.T, path string, v any)
	walk = func(t *testing.T, path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(t, path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(t, path, x)
			}
		case float64:
			if strings.HasSuffix(path, "_bytes") && v != float64(int64(v)) {
				t.Errorf("%s = %v is not an integer", path, v)
			}
		}
	}
	for name, snap := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := snap.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			// Which keys are present is TestSchemaKeys's job.
			walk(t, "", m)

			// Null semantics.
			lim, _ := lookup(m, "cgroup.limit_bytes")
			if snap.Cgroup.Available && snap.Attribution.Headroom.HasLimit {
				if lim != float64(snap.Cgroup.Stats.Limit) {
					t.Errorf("limit_bytes %v, want %d", lim, snap.Cgroup.Stats.Limit)
				}
			} else if lim != nil {
				t.Errorf("limit_bytes %v without a limit, want null", lim)
			}
			if lvl, _ := lookup(m, "level"); lvl != snap.Level.String() {
				t.Errorf("level %v", lvl)
			}
			// The attribution object lists every part in order; known parts
			// sum to gap.total_bytes.
			attr, _ := lookup(m, "attribution")
			var sum float64
			for _, p := range snap.Attribution.Parts {
				v, ok := attr.(map[string]any)[p.Name()]
				if !ok {
					t.Errorf("attribution.%s missing", p.Name())
				}
				if (v == nil) == p.Known {
					t.Errorf("attribution.%s = %v, known %v", p.Name(), v, p.Known)
				}
				if f, ok := v.(float64); ok {
					sum += f
				}
			}
			if total, _ := lookup(m, "gap.total_bytes"); total != sum {
				t.Errorf("attribution sums to %v, gap.total_bytes %v", sum, total)
			}
			// Key order of the attribution object is the part order.
			i := bytes.Index(raw, []byte(`"attribution":{`))
			prev := -1
			for _, p := range snap.Attribution.Parts {
				j := bytes.Index(raw[i:], []byte(`"`+p.Name()+`":`))
				if j <= prev {
					t.Errorf("attribution.%s out of order", p.Name())
				}
				prev = j
			}
		})
	}
}

func TestJSONUnavailableViews(t *testing.T) {
	snap := goldenCases(t)["go-only"]
	raw, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cgroup.version", "cgroup.usage_bytes", "process.rss_bytes", "host.mem_total_bytes",
		"cgroup.events.oom_kill", "cgroup.stat.anon_bytes", "cgroup.psi.source", "cgroup.psi.some"} {
		if v, _ := lookup(m, k); v != nil {
			t.Errorf("%s = %v for an unavailable view, want null", k, v)
		}
	}
	if v, _ := lookup(m, "cgroup.error"); v != cgroupstat.ErrUnsupported.Error() {
		t.Errorf("cgroup.error = %v", v)
	}
	if v, _ := lookup(m, "cgroup.available"); v != false {
		t.Errorf("cgroup.available = %v", v)
	}
}

// TestJSONValueAndPointer: MarshalJSON has a value receiver, so a Snapshot
// and a *Snapshot (alone or inside another value) marshal to the same bytes.
func TestJSONValueAndPointer(t *testing.T) {
	for name, snap := range schemaCases(t) {
		t.Run(name, func(t *testing.T) {
			byPtr, err := json.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			byVal, err := json.Marshal(*snap)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(byVal, byPtr) {
				t.Errorf("json.Marshal of the value differs from the pointer's:\n--- value\n%s\n--- pointer\n%s", byVal, byPtr)
			}
			if !bytes.HasPrefix(byVal, []byte(`{"time":`)) {
				t.Errorf("value not marshaled by MarshalJSON: %.80s", byVal)
			}
			type wrap struct {
				V Snapshot
				P *Snapshot
			}
			both, err := json.Marshal(wrap{*snap, snap})
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"V":` + string(byPtr) + `,"P":` + string(byPtr) + `}`; string(both) != want {
				t.Errorf("as struct fields, the value and the pointer marshal differently:\n%s", both)
			}
		})
	}
}
