package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/fixture"
	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memdebug"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if manifest := os.Getenv(envBatch); manifest != "" {
		os.Exit(batchMain(manifest)) // a child of the hostile corpus
	}
	goleak.VerifyTestMain(m)
}

const fixtureDir = "../../memwatch/testdata/v1-limit"

func TestFixtureText(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{root: fixtureDir}); err != nil {
		t.Fatal(err)
	}
	// The fixture's cgroup is /mwsnap with a 512 MiB limit.
	for _, want := range []string{"/mwsnap", "512"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFixtureJSON(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{root: fixtureDir, json: true}); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Cgroup struct {
			Path       string  `json:"path"`
			LimitBytes *uint64 `json:"limit_bytes"`
			UsageBytes uint64  `json:"usage_bytes"`
		} `json:"cgroup"`
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Cgroup.Path != "/mwsnap" || m.Cgroup.LimitBytes == nil || *m.Cgroup.LimitBytes != 536870912 || m.Cgroup.UsageBytes != 221585408 {
		t.Fatalf("fixture JSON: %+v", m.Cgroup)
	}
}

func TestBadRoot(t *testing.T) {
	if err := run(context.Background(), new(bytes.Buffer), config{root: "/nonexistent-memwatch"}); err == nil {
		t.Fatal("missing root accepted")
	}
}

func TestURL(t *testing.T) {
	w, err := memwatch.New(memwatch.WithRoot(fixtureDir), memwatch.WithInterval(time.Hour), memwatch.WithEvents(false))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(memdebug.Handler(w))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	defer http.DefaultClient.CloseIdleConnections()

	var text bytes.Buffer
	if err := run(context.Background(), &text, config{url: srv.URL + "/debug/memwatch", timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	w.Latest().WriteText(&want)
	if text.String() != want.String() {
		t.Fatalf("text over HTTP:\n%s\nwant\n%s", text.String(), want.String())
	}
	var js bytes.Buffer
	if err := run(context.Background(), &js, config{url: srv.URL, json: true, timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatalf("JSON over HTTP: %v\n%s", err, js.String())
	}
	if m["level"] != "ok" {
		t.Fatalf("level %v", m["level"])
	}
}

func TestURLErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	if err := run(context.Background(), new(bytes.Buffer), config{url: srv.URL, timeout: 5 * time.Second}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404 gave %v", err)
	}
	if err := run(context.Background(), new(bytes.Buffer), config{url: "file:///etc/passwd", timeout: time.Second}); err == nil {
		t.Fatal("file URL accepted")
	}
}

// TestExitStatus runs mainStatus as the command would and checks the
// documented exit statuses and that a partial snapshot is still printed.
func TestExitStatus(t *testing.T) {
	noCgroup := fixture.Copy(t, fixtureDir)
	if err := os.Remove(filepath.Join(noCgroup, "proc/self/cgroup")); err != nil {
		t.Fatal(err)
	}
	badUsage := fixture.Copy(t, fixtureDir)
	if err := os.WriteFile(filepath.Join(badUsage, "sys/fs/cgroup/memory/mwsnap/memory.usage_in_bytes"), []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badStat := fixture.Copy(t, fixtureDir)
	if err := os.WriteFile(filepath.Join(badStat, "sys/fs/cgroup/memory/mwsnap/memory.stat"), []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		args       []string
		want       int
		stdout     string // a substring of stdout ("" when nothing is printed)
		stderr     string // a substring of stderr ("" when it must be empty)
		jsonCgroup any    // cgroup.available in the JSON output, when -json
	}{
		{"fixture", []string{"-root", fixtureDir}, exitOK, "/mwsnap", "", nil},
		{"fixture json", []string{"-root", fixtureDir, "-json"}, exitOK, `"path": "/mwsnap"`, "", true},
		// No /proc/self/cgroup: the cgroup view is unsupported here, as
		// on a laptop: not a failure.
		{"unsupported view", []string{"-root", noCgroup}, exitOK, "unavailable: cgroupstat", "", nil},
		{"unsupported view json", []string{"-root", noCgroup, "-json"}, exitOK, `"available": false`, "", false},
		// A kernel file that does not parse: everything readable is
		// printed, the reason goes to stderr, status 2.
		{"failed view", []string{"-root", badUsage}, exitPartial, "memwatch snapshot ", "partial snapshot: cgroup view: ", nil},
		{"failed view json", []string{"-root", badUsage, "-json"}, exitPartial, `"rss_bytes": `, "memory.usage_in_bytes", false},
		// memory.stat spoilt: usage and limit stand, the parts that need
		// it are unknown; still a partial snapshot.
		{"unknown parts", []string{"-root", badStat}, exitPartial, "unknown", "partial snapshot: cgroup view, parts unknown: ", nil},
		{"unknown parts json", []string{"-root", badStat, "-json"}, exitPartial, `"stat": "parse `, "memory.stat", true},
		{"missing root", []string{"-root", "/nonexistent-memwatch"}, exitError, "", "root", nil},
		{"bad flag", []string{"-nope"}, exitError, "", "Usage of memwatch-inspect", nil},
		{"extra argument", []string{"-root", fixtureDir, "x"}, exitError, "", `unexpected argument "x"`, nil},
		{"help", []string{"-h"}, exitOK, "", "Usage of memwatch-inspect", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := mainStatus(c.args, &stdout, &stderr)
			if got != c.want {
				t.Errorf("exit status %d, want %d; stderr %q", got, c.want, stderr.String())
			}
			if c.stdout == "" && stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			if !strings.Contains(stdout.String(), c.stdout) {
				t.Errorf("stdout lacks %q:\n%s", c.stdout, stdout.String())
			}
			if c.stderr == "" && stderr.Len() > 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stderr lacks %q: %q", c.stderr, stderr.String())
			}
			if c.jsonCgroup != nil {
				var m struct {
					Cgroup struct {
						Available bool `json:"available"`
					} `json:"cgroup"`
					Process struct {
						Available bool `json:"available"`
					} `json:"process"`
				}
				if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
					t.Fatalf("stdout is not JSON: %v", err)
				}
				if m.Cgroup.Available != c.jsonCgroup || !m.Process.Available {
					t.Errorf("cgroup.available %v (want %v), process.available %v", m.Cgroup.Available, c.jsonCgroup, m.Process.Available)
				}
			}
		})
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestExitStatusWriteError: output that cannot be written is status 1,
// also for a snapshot that is partial.
func TestExitStatusWriteError(t *testing.T) {
	for _, js := range []bool{false, true} {
		err := run(context.Background(), failWriter{}, config{root: fixtureDir, json: js})
		if got := exitStatus(err); got != exitError || err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("json %v: exit status %d for %v, want 1", js, got, err)
		}
	}
	if got := exitStatus(fmt.Errorf("wrapped: %w", &partialError{errors.New("x")})); got != exitPartial {
		t.Errorf("wrapped partial error: status %d", got)
	}
}
