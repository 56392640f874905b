package memwatch

import (
	"bytes"
	"encoding/json"
	"expvar"
	"net/http"
	"strings"
	"sync"
)

// Handler returns an http.Handler serving the latest snapshot: JSON (the
// schema in the package documentation) by default, the human rendering
// (WriteText) with ?format=text or an Accept header preferring text/plain.
// Before Start it answers 503 Service Unavailable.
func (w *Watcher) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s := w.Latest()
		if s == nil {
			http.Error(rw, "memwatch: watcher not started", http.StatusServiceUnavailable)
			return
		}
		rw.Header().Set("Cache-Control", "no-store")
		var buf bytes.Buffer
		if wantsText(r) {
			if err := s.WriteText(&buf); err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			b, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			buf.Write(b)
			buf.WriteByte('\n')
			rw.Header().Set("Content-Type", "application/json")
		}
		if r.Method == http.MethodHead {
			return
		}
		rw.Write(buf.Bytes())
	})
}

func wantsText(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "text":
		return true
	case "json":
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case "text/plain":
			return true
		case "application/json", "*/*":
			return false
		}
	}
	return false
}

// watcherVar is the expvar.Var of a Watcher.
type watcherVar struct{ w *Watcher }

// String returns the latest snapshot as JSON ("null" before Start).
func (v watcherVar) String() string {
	s := v.w.Latest()
	if s == nil {
		return "null"
	}
	b, err := json.Marshal(s)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return string(b)
}

// Var returns an expvar.Var whose String is the latest snapshot as JSON.
func (w *Watcher) Var() expvar.Var { return watcherVar{w} }

var publishMu sync.Mutex

// Publish publishes Var under name in expvar (and so at /debug/vars). Unlike
// expvar.Publish it does not panic when the name is taken: it reports false
// and leaves the existing variable.
func (w *Watcher) Publish(name string) bool {
	publishMu.Lock()
	defer publishMu.Unlock()
	if expvar.Get(name) != nil {
		return false
	}
	expvar.Publish(name, w.Var())
	return true
}
