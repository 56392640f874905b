package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memdebug"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const fixture = "../../memwatch/testdata/v1-limit"

func TestFixtureText(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{root: fixture}); err != nil {
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
	if err := run(context.Background(), &out, config{root: fixture, json: true}); err != nil {
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
	w, err := memwatch.New(memwatch.WithRoot(fixture), memwatch.WithInterval(time.Hour), memwatch.WithEvents(false))
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
