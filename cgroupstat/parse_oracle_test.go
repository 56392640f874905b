package cgroupstat

import (
	"fmt"
	"testing"

	"github.com/go-memwatch/memwatch/internal/kfile"
)

// oracleKeyUints is the straightforward reading of "key value" lines that
// keyUints replaced (kfile.Lines, keyValue, kfile.ParseUint): the oracle
// for its one-pass fast path. It returns every line it accepts, as
// "n:key=value", and the error.
func oracleKeyUints(file string, b []byte) ([]string, error) {
	var out []string
	var err error
	seen := map[string]bool{}
	kfile.Lines(b, func(n int, line []byte) bool {
		key, val, ok := keyValue(line)
		if !ok {
			if len(kfile.TrimSpace(line)) == 0 {
				return true
			}
			err = kfile.Errorf(file, n, "want \"key value\", got %s", kfile.Quote(line))
			return false
		}
		x, ok := kfile.ParseUint(val)
		if !ok {
			err = kfile.Errorf(file, n, "bad value %s for %s", kfile.Quote(val), kfile.Quote(key))
			return false
		}
		if x > kfile.MaxCount {
			err = kfile.Errorf(file, n, "impossible value %s for %s (at or above 2^63)", kfile.Quote(val), kfile.Quote(key))
			return false
		}
		if seen[string(key)] {
			err = kfile.Errorf(file, n, "duplicate key %s", kfile.Quote(key))
			return false
		}
		seen[string(key)] = true
		out = append(out, fmt.Sprintf("%d:%s=%d", n, key, x))
		return true
	})
	return out, err
}

// FuzzKeyUints checks keyUints (behind ParseMemStat, ParseEvents and
// ParseOOMControl) against oracleKeyUints: the same lines, values and
// errors, on the fixtures and on anything the fuzzer makes of them.
func FuzzKeyUints(f *testing.F) {
	for _, s := range []string{
		"anon 1\nfile 2\n", "a 18446744073709551615\n", "a 18446744073709551616\n",
		"a 9999999999999999999\nb 10000000000000000000\n", "a 18446744073709551617\n", "a  1\n\tb 2 \r\n\n c 3", "a\n", "a 1 2\n",
		"a 01\nb 1x\n", "a \n", " 1\n", "k\x01 1\n", "\xff 7",
		"a 9223372036854775807\n", "a 9223372036854775808\n", "a 09223372036854775808\n",
		"a 1\nb 2\na 3\n", "a 1\r\na 1\n", "x\ty 1\n",
	} {
		f.Add([]byte(s))
	}
	// More keys than the hash table takes (the linear fallback), with and
	// without a repeat at the end.
	var many []byte
	for i := range 300 {
		many = fmt.Appendf(many, "key_%d %d\n", i, i)
	}
	f.Add(many)
	f.Add(fmt.Appendf(many, "key_7 1\n"))
	f.Add(fmt.Appendf(many, "key_299 1\n"))
	for _, p := range []string{
		"testdata/hybrid/sys/fs/cgroup/memory/memory.stat",
		"testdata/v2-child-256m/sys/fs/cgroup/mw/test/memory.stat",
		"testdata/v2-child-256m/sys/fs/cgroup/mw/test/memory.events",
		"testdata/hybrid/sys/fs/cgroup/memory/memory.oom_control",
	} {
		b, err := kfile.ReadOnce(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := oracleKeyUints("f", b)
		var got []string
		it := newKeyUints("f", b)
		for it.next() {
			got = append(got, fmt.Sprintf("%d:%s=%d", it.n, it.key, it.val))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(it.err) != fmt.Sprint(wantErr) {
			t.Fatalf("keyUints(%q) = %q, %v; oracle %q, %v", b, got, it.err, want, wantErr)
		}
	})
}
