package memwatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-memwatch/memwatch/cgroupstat"
)

// schemaCases are the golden snapshots (a real v1 kernel fixture, the
// process view alone, the Go view alone, a v2 container with the v2
// counters) and one more, v2-actions, so that between them every key of
// the schema is written with a non-null value: v2-synthetic with the
// Watcher's actions and the kernel breakdown of memory.stat.
func schemaCases(t *testing.T) map[string]*Snapshot {
	cases := goldenCases(t)
	acted := *cases["v2-synthetic"]
	st := &acted.Cgroup.Stats.Stat
	st.KernelStack, st.PageTables, st.Percpu = 8*mi, 6*mi, 1*mi
	st.Present |= cgroupstat.StatKernelStack | cgroupstat.StatPageTables | cgroupstat.StatPercpu
	acted.Attribution = Attribute(&acted)
	acted.Actions = Actions{
		Enabled:         true,
		MemLimit:        1000 * mi,
		MemLimitReason:  "limit 1.17 GiB, budget 95%",
		MemLimitSource:  SourceCgroupMax,
		MemLimitBound:   BoundBudget,
		MemLimitDecided: 1001 * mi,
		MemLimitBudget:  1100 * mi,
		MemLimitChanged: fixtureTime.Add(-time.Minute),
		GOGC:            50, GOGCSet: true,
		FreeOSMemoryTime: fixtureTime.Add(-time.Second), FreeOSMemoryCount: 3,
		Shed: ShedSignal{Bytes: 64 * mi, WontFit: true, Reason: "live heap above the budget"},
	}
	cases["v2-actions"] = &acted

	// Parts that failed on a v1 cgroup, read by hand (their errors are
	// strings; the values of stat and failcnt are the last good ones).
	deg := *cases["v1-limit"]
	errs := &deg.Cgroup.Stats.Errs
	for _, p := range []cgroupstat.Part{cgroupstat.PartSwap, cgroupstat.PartStat, cgroupstat.PartEventsLocal, cgroupstat.PartFailcnt} {
		errs[p] = errors.New("read " + p.String() + ": no such device")
	}
	deg.Attribution = Attribute(&deg)
	cases["v1-parts-failed"] = &deg
	return cases
}

// TestSchemaKeys checks schemaKeys against what MarshalJSON writes: every
// key written is listed, every listed key is written (with a non-null value
// of its type in at least one case), and every key that is not optional is
// present whenever the object holding it is not null.
func TestSchemaKeys(t *testing.T) {
	table := map[string]schemaKey{} // path → its row
	var order []string
	for _, k := range schemaKeys {
		for _, p := range k.paths() {
			if _, dup := table[p]; dup {
				t.Errorf("schemaKeys lists %s twice", p)
			}
			table[p] = k
			order = append(order, p)
		}
	}
	// inner holds the paths with listed keys below them: objects the walk
	// descends into. Other objects (attribution, gap.reclaim, go.classes)
	// have data for keys.
	inner := map[string]bool{}
	for p := range table {
		for i := range len(p) {
			if p[i] == '.' {
				inner[p[:i]] = true
			}
		}
	}
	for p, k := range table {
		if inner[p] && k.Type != "object" {
			t.Errorf("schemaKeys: %s has keys below it but type %s", p, k.Type)
		}
	}

	nonNull := map[string]bool{}
	for name, snap := range schemaCases(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			var walk func(prefix string, obj map[string]any)
			walk = func(prefix string, obj map[string]any) {
				for key, v := range obj {
					p := prefix + key
					k, listed := table[p]
					if !listed && !inner[p] {
						t.Errorf("MarshalJSON writes %s, which schemaKeys (schema.go) does not list", p)
						continue
					}
					if v == nil {
						continue
					}
					if listed {
						nonNull[p] = true
						if !hasType(v, k.Type) {
							t.Errorf("%s = %v (%T), schemaKeys says %s", p, v, v, k.Type)
						}
					}
					if sub, ok := v.(map[string]any); ok && inner[p] {
						walk(p+".", sub)
					}
				}
			}
			walk("", m)

			for _, p := range order {
				parent := m
				if i := strings.LastIndexByte(p, '.'); i >= 0 {
					v, _ := lookup(m, p[:i])
					var ok bool
					if parent, ok = v.(map[string]any); !ok {
						continue // the object holding p is null or absent
					}
				}
				if _, ok := parent[p[strings.LastIndexByte(p, '.')+1:]]; !ok && !table[p].Optional {
					t.Errorf("%s missing: schemaKeys lists it, MarshalJSON does not write it", p)
				}
			}
			if _, ok := m["actions"]; ok != snap.Actions.Enabled {
				t.Errorf("actions present %v, Actions.Enabled %v", ok, snap.Actions.Enabled)
			}
		})
	}
	if t.Failed() {
		return
	}
	for _, p := range order {
		if !nonNull[p] {
			t.Errorf("schemaKeys lists %s, which MarshalJSON never writes with a value in these cases", p)
		}
	}
}

// hasType reports whether a value decoded by encoding/json has the schema
// type typ.
func hasType(v any, typ string) bool {
	switch v := v.(type) {
	case string:
		return typ == "string"
	case bool:
		return typ == "bool"
	case float64:
		return typ == "float" || typ == "int" && v == math.Trunc(v)
	case map[string]any:
		return typ == "object"
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return typ == "[string]"
	}
	return false
}

// TestSchemaValues checks the value lists that schemaKeys states in words
// against the names in code.
func TestSchemaValues(t *testing.T) {
	meaning := map[string]string{}
	for _, k := range schemaKeys {
		for _, p := range k.paths() {
			meaning[p] = k.Meaning
		}
	}
	quoted := func(names ...string) string {
		for i, n := range names {
			names[i] = fmt.Sprintf("%q", n)
		}
		return strings.Join(names, " | ")
	}
	var parts []string
	for id := range NumParts {
		parts = append(parts, id.String())
	}
	var reclaims, sources, bounds, levels []string
	for r := range Reclaim(len(reclaimNames)) {
		reclaims = append(reclaims, r.String())
	}
	for s := range LimitSource(len(limitSourceNames)) {
		sources = append(sources, s.String())
	}
	for b := range LimitBound(len(limitBoundNames)) {
		bounds = append(bounds, b.String())
	}
	for _, l := range []Level{LevelUnknown, LevelOK, LevelWarn, LevelCritical} {
		levels = append(levels, l.String())
	}
	for path, want := range map[string]string{
		"attribution":             "in this order: " + strings.Join(parts, ", ") + ".",
		"gap.reclaim":             quoted(reclaims...),
		"actions.memlimit_source": quoted(sources...),
		"actions.memlimit_bound":  quoted(bounds...),
		"level":                   quoted(levels...),
		"gap.base":                fmt.Sprintf("%q (usage) | %q (RSS) | %q (retained)", BaseCgroup, BaseProcess, BaseGo),
	} {
		if !strings.Contains(meaning[path], want) {
			t.Errorf("schemaKeys %s: %q does not list %s", path, meaning[path], want)
		}
	}
}

// schemaDocMarker is the line of doc.go after which the key list is
// generated, up to the package clause.
const schemaDocMarker = "// The keys, with the JSON type of their non-null values:"

// Columns of the generated key list.
const (
	docKeyWidth  = 30  // key column
	docTypeWidth = 9   // type column
	docWidth     = 110 // line width, after the tab
)

// schemaDoc renders keys as the comment lines that end doc.go, one row per
// schemaKey: key, type, meaning, the meaning wrapped under its column. A
// key too long for its column gets lines of its own, and the type and
// meaning start on the next.
func schemaDoc(keys []schemaKey) string {
	var b strings.Builder
	b.WriteString("//\n")
	line := func(s string) { fmt.Fprintf(&b, "//\t%s\n", strings.TrimRight(s, " ")) }
	for _, k := range keys {
		key := k.Path
		if len(k.Keys) > 0 {
			key += "." + strings.Join(k.Keys, ", ")
		}
		if utf8.RuneCountInString(key) >= docKeyWidth {
			for i, l := range wrap(key, docWidth-4) {
				if i > 0 {
					l = "    " + l
				}
				line(l)
			}
			key = ""
		}
		for i, m := range wrap(k.Meaning, docWidth-docKeyWidth-docTypeWidth) {
			if i == 0 {
				line(fmt.Sprintf("%-*s%-*s%s", docKeyWidth, key, docTypeWidth, k.Type, m))
			} else {
				line(fmt.Sprintf("%*s%s", docKeyWidth+docTypeWidth, "", m))
			}
		}
	}
	return b.String()
}

// wrap splits s at spaces into lines of at most width runes (longer words
// stay whole).
func wrap(s string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(w) <= width:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
	}
	return append(lines, cur)
}

// TestSchemaDoc fails when the key list of doc.go's JSON schema section
// differs from schemaKeys; with -update (go generate ./memwatch/) it
// rewrites it.
func TestSchemaDoc(t *testing.T) {
	const file = "doc.go"
	src, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !*update {
		t.Skip("doc.go is not here: the test binary runs away from its sources (the QEMU VM ships testdata only)")
	}
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	i := strings.Index(doc, "\n"+schemaDocMarker+"\n")
	j := strings.Index(doc, "\npackage memwatch\n")
	if i < 0 || j < i {
		t.Fatalf("%s: no line %q before the package clause", file, schemaDocMarker)
	}
	head := doc[:i+len(schemaDocMarker)+2]
	want := head + schemaDoc(schemaKeys) + doc[j+1:]
	if *update {
		if want != doc {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the key list of %s", file)
		}
		return
	}
	if want != doc {
		got, exp := strings.Split(doc, "\n"), strings.Split(want, "\n")
		n := 0
		for n < len(got) && n < len(exp) && got[n] == exp[n] {
			n++
		}
		at := func(l []string) string {
			if n < len(l) {
				return l[n]
			}
			return "(end of file)"
		}
		t.Errorf("%s: the JSON key list differs from schemaKeys (schema.go); regenerate it with\n"+
			"\tgo generate ./memwatch/\n(go test ./memwatch/ -run TestSchemaDoc -update). First difference, line %d:\n"+
			"  doc.go:    %s\n  generated: %s", file, n+1, at(got), at(exp))
	}
}
