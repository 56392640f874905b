package vm

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"max", "268435456", "256M", "256MiB", "1G", "4k", "", "-1", "1.5G", "99999999999G", " 7 B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseLimit(s)
		if err != nil {
			return
		}
		if n < -1 {
			t.Fatalf("ParseLimit(%q) = %d", s, n)
		}
		back, err := ParseLimit(FormatLimit(n))
		if err != nil || back != n {
			t.Fatalf("round trip of %q: %d -> %q -> %d, %v", s, n, FormatLimit(n), back, err)
		}
	})
}

func FuzzReadCPIO(f *testing.F) {
	var buf bytes.Buffer
	w := NewCPIOWriter(&buf)
	_ = w.Dir("dev", 0o755)
	_ = w.CharDev("dev/console", 0o600, 5, 1)
	_ = w.Bytes("a/b", 0o644, []byte("xyz"))
	_ = w.Symlink("a/l", "b")
	_ = w.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:120])
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, err := ReadCPIO(bytes.NewReader(b))
		if err != nil {
			return
		}
		// What parses rewrites to an archive that parses the same.
		var out bytes.Buffer
		w := NewCPIOWriter(&out)
		var kept []CPIOEntry
		for _, e := range ents {
			if e.Mode&0o170000 != cpioRegular {
				continue
			}
			n, err := cpioClean(e.Name)
			if err != nil || w.dirs[n] {
				continue
			}
			if err := w.Bytes(n, 0o644, e.Data); err != nil {
				t.Fatal(err)
			}
			kept = append(kept, CPIOEntry{Name: n, Data: e.Data})
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := ReadCPIO(&out)
		if err != nil {
			t.Fatalf("rewritten archive: %v", err)
		}
		var files []CPIOEntry
		for _, e := range again {
			if e.Mode&0o170000 == cpioRegular {
				files = append(files, CPIOEntry{Name: e.Name, Data: e.Data})
			}
		}
		if len(files) != len(kept) {
			t.Fatalf("rewritten archive has %d files, want %d", len(files), len(kept))
		}
		for i := range files {
			if files[i].Name != kept[i].Name || !bytes.Equal(files[i].Data, kept[i].Data) {
				t.Fatalf("file %d: %q %q, want %q %q", i, files[i].Name, files[i].Data, kept[i].Name, kept[i].Data)
			}
		}
	})
}

func FuzzParseCapture(f *testing.F) {
	f.Add(captureStream(map[string]string{"/proc/self/cgroup": "0::/mw/test\n", "/x": "", "/y": "abc"}, []string{"/proc/self/cgroup", "/x", "/y"}))
	f.Add("@@FILE /proc/x 10@@\nab")
	f.Add("@@FILE /a 1@@\nabc\n@@END@@\n")
	f.Fuzz(func(t *testing.T, s string) {
		files, err := ParseCapture(strings.NewReader(s))
		if err != nil {
			return
		}
		m := map[string]string{}
		var order []string
		for _, cf := range files {
			if strings.ContainsAny(cf.Path, "\n\r") {
				t.Fatalf("path with a newline: %q", cf.Path)
			}
			if _, dup := m[cf.Path]; dup {
				return
			}
			m[cf.Path] = string(cf.Data)
			order = append(order, cf.Path)
		}
		again, err := ParseCapture(strings.NewReader(captureStream(m, order)))
		if err != nil {
			t.Fatalf("re-serialised capture: %v", err)
		}
		if len(again) != len(files) {
			t.Fatalf("re-serialised capture: %d files, want %d", len(again), len(files))
		}
		for i := range again {
			if again[i].Path != files[i].Path || !bytes.Equal(again[i].Data, files[i].Data) {
				t.Fatalf("file %d changed on round trip", i)
			}
		}
	})
}

func FuzzStreamParser(f *testing.F) {
	f.Add(stream("junk@@MEMWATCH-VM-START n@@", "out", "@@MEMWATCH-VM-OUT n 2 /tmp/x@@", "aGk=", "@@MEMWATCH-VM-END n@@", "@@MEMWATCH-VM-EXIT 7 n@@"))
	f.Add(stream("@@MEMWATCH-VM-START n@@", "@@FILE /a 3@@", "abc", "@@END@@", "@@MEMWATCH-VM-EXIT 0 n@@"))
	f.Add("@@MEMWATCH-VM-EXIT 125 -@@")
	f.Fuzz(func(t *testing.T, s string) {
		// No outputs and no capture directory: nothing may be written.
		p := &streamParser{nonce: "n", stdout: io.Discard, stderr: io.Discard}
		_ = p.parse(strings.NewReader(s))
		if p.exited && !strings.Contains(s, ExitMarker) {
			t.Fatal("exit without a marker")
		}
		if p.started && !strings.Contains(s, StartMarker+" n@@") {
			t.Fatal("start without the marker")
		}
		if p.captured != 0 {
			t.Fatal("captured without a capture directory")
		}
		if len(p.boot) > bootLines {
			t.Fatalf("boot log grew to %d lines", len(p.boot))
		}
	})
}
