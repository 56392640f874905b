package memwatch

import (
	"context"
	"encoding/json"
	"expvar"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func startedFixtureWatcher(t *testing.T) *Watcher {
	t.Helper()
	root, _ := fixtureV1(t)
	w, err := New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

func get(t *testing.T, h http.Handler, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestHandler(t *testing.T) {
	root, _ := fixtureV1(t)
	idle, err := New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Stop()
	if rec := get(t, idle.Handler(), "/debug/memwatch", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Start: %d", rec.Code)
	}

	w := startedFixtureWatcher(t)
	h := w.Handler()
	rec := get(t, h, "/debug/memwatch", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["level"] != "ok" {
		t.Fatalf("level %v", m["level"])
	}
	sampling := m["sampling"].(map[string]any)
	if sampling["mode"] != "poll" || sampling["interval_seconds"] != float64(3600) {
		t.Fatalf("sampling %v", sampling)
	}
	var want strings.Builder
	if err := w.Latest().WriteText(&want); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ target, accept string }{
		{"/debug/memwatch?format=text", ""},
		{"/debug/memwatch", "text/plain"},
		{"/debug/memwatch", "text/plain;q=0.9, application/json;q=0.5"},
	} {
		rec := get(t, h, c.target, c.accept)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("%+v: %d %q", c, rec.Code, rec.Header().Get("Content-Type"))
		}
		if rec.Body.String() != want.String() {
			t.Fatalf("%+v: text differs:\n%s\nwant\n%s", c, rec.Body.String(), want.String())
		}
	}
	if rec := get(t, h, "/debug/memwatch?format=json", "text/plain"); !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatal("format=json does not win over Accept")
	}
}

func TestVarAndPublish(t *testing.T) {
	w := startedFixtureWatcher(t)
	var m map[string]any
	if err := json.Unmarshal([]byte(w.Var().String()), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["cgroup"]; !ok {
		t.Fatalf("var JSON lacks cgroup: %v", m)
	}
	name := "memwatch_test_" + time.Now().Format("150405.000000000")
	if !w.Publish(name) {
		t.Fatal("first Publish failed")
	}
	if w.Publish(name) {
		t.Fatal("duplicate Publish reported success")
	}
	if expvar.Get(name) == nil {
		t.Fatal("not published")
	}
	root, _ := fixtureV1(t)
	idle, err := New(slowOpts(root)...)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Stop()
	if s := idle.Var().String(); s != "null" {
		t.Fatalf("before Start: %s", s)
	}
}

func TestHandlerOverHTTP(t *testing.T) {
	w := startedFixtureWatcher(t)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?format=text")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "cgroup") {
		t.Fatalf("text body: %s", b)
	}
	srv.Client().CloseIdleConnections()
}
