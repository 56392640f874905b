package memdebug_test

import (
	"context"
	"encoding/json"
	"expvar"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
	"github.com/go-memwatch/memwatch/memwatch/memdebug"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixtureWatcher returns a Watcher (not started) reading a copy of the
// memwatch package's v1 fixture tree, sampling once an hour.
func fixtureWatcher(t *testing.T) *memwatch.Watcher {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: the fixture is read through the Linux cgroup reader")
	}
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../testdata/v1-limit")); err != nil {
		t.Fatal(err)
	}
	w, err := memwatch.New(memwatch.WithRoot(root), memwatch.WithInterval(time.Hour), memwatch.WithMinInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

func started(t *testing.T) *memwatch.Watcher {
	t.Helper()
	w := fixtureWatcher(t)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

func do(t *testing.T, h http.Handler, method, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestHandler(t *testing.T) {
	idle := fixtureWatcher(t)
	if rec := do(t, memdebug.Handler(idle), "GET", "/debug/memwatch", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Start: %d", rec.Code)
	}

	// A nil *Watcher (memwatch/auto's when it is off) has no snapshot.
	var none *memwatch.Watcher
	if rec := do(t, memdebug.Handler(none), "GET", "/debug/memwatch", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("nil Watcher: %d", rec.Code)
	}

	w := started(t)
	h := memdebug.Handler(w)
	rec := do(t, h, "GET", "/debug/memwatch", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Fatalf("X-Content-Type-Options %q", got)
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
		rec := do(t, h, "GET", c.target, c.accept)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("%+v: %d %q", c, rec.Code, rec.Header().Get("Content-Type"))
		}
		if rec.Body.String() != want.String() {
			t.Fatalf("%+v: text differs:\n%s\nwant\n%s", c, rec.Body.String(), want.String())
		}
	}
	if rec := do(t, h, "GET", "/debug/memwatch?format=json", "text/plain"); !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatal("format=json does not win over Accept")
	}
	if rec := do(t, h, "HEAD", "/debug/memwatch", ""); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d, %d body bytes", rec.Code, rec.Body.Len())
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		rec := do(t, h, method, "/debug/memwatch", "")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Fatalf("%s: %d, Allow %q", method, rec.Code, rec.Header().Get("Allow"))
		}
	}

	// A stopped Watcher's snapshot is stale: the handler says so instead of
	// serving it forever.
	w.Stop()
	if rec := do(t, h, "GET", "/debug/memwatch", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("after Stop: %d", rec.Code)
	}
}

func TestVar(t *testing.T) {
	var _ expvar.Var = (*memdebug.Var)(nil)
	w := started(t)
	v := memdebug.NewVar(w)
	var m map[string]any
	if err := json.Unmarshal([]byte(v.String()), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["cgroup"]; !ok {
		t.Fatalf("var JSON lacks cgroup: %v", m)
	}
	name := "memwatch_test_" + time.Now().Format("150405.000000000")
	expvar.Publish(name, v)
	if expvar.Get(name) != v {
		t.Fatal("not published")
	}

	// A reload: the old Watcher stops, the Var shows null until it is given
	// the new one.
	w.Stop()
	if s := v.String(); s != "null" {
		t.Fatalf("after Stop: %.80s", s)
	}
	w2 := started(t)
	v.Set(w2)
	if s := v.String(); !strings.Contains(s, `"cgroup"`) {
		t.Fatalf("after Set: %.80s", s)
	}
	v.Set(nil)
	if s := v.String(); s != "null" {
		t.Fatalf("after Set(nil): %.80s", s)
	}
	if s := new(memdebug.Var).String(); s != "null" {
		t.Fatalf("zero Var: %s", s)
	}
	if s := memdebug.NewVar(fixtureWatcher(t)).String(); s != "null" {
		t.Fatalf("before Start: %s", s)
	}
}

func TestHandlerOverHTTP(t *testing.T) {
	w := started(t)
	srv := httptest.NewServer(memdebug.Handler(w))
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
