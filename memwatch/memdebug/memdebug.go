// Package memdebug serves a memwatch Watcher's latest snapshot for people
// and debug tooling: an [http.Handler] (JSON, or the text rendering) and an
// [expvar.Var].
//
// Importing memdebug registers nothing: no route on
// [http.DefaultServeMux], no expvar variable (it does not even import
// expvar, whose init registers /debug/vars on http.DefaultServeMux with the
// command line and a stop-the-world runtime.ReadMemStats). Mount [Handler]
// on the mux and listener of your choice, preferably one only operators
// reach (localhost, or an internal admin port), the way net/http/pprof is
// usually served; publish a [Var] with [expvar.Publish] if you want it
// there.
//
// The core package memwatch imports neither net/http nor expvar: programs
// that do not use this package do not pay for them.
package memdebug

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/go-memwatch/memwatch/memwatch"
)

// Handler returns an [http.Handler] serving the latest snapshot of src:
// JSON (the schema in the memwatch package documentation) by default, the
// text rendering ([memwatch.Snapshot.WriteText]) with ?format=text or an
// Accept header preferring text/plain. It answers 503 Service Unavailable
// while src has no current snapshot (a [memwatch.Watcher] before Start or
// after Stop), 405 Method Not Allowed to methods other than GET and HEAD,
// and sends no-store caching and X-Content-Type-Options: nosniff.
func Handler(src memwatch.Source) http.Handler {
	return &handler{src: src}
}

type handler struct{ src memwatch.Source }

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "memwatch: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s := new(memwatch.Snapshot)
	if h.src == nil || !h.src.LatestInto(s) {
		http.Error(rw, "memwatch: no current snapshot (watcher not started, or stopped)", http.StatusServiceUnavailable)
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
}

// wantsText reports whether the request asks for the text rendering:
// ?format= wins over the Accept header.
func wantsText(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "text":
		return true
	case "json":
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.TrimSpace(mt) {
		case "text/plain":
			return true
		case "application/json", "*/*":
			return false
		}
	}
	return false
}

// Var is an [expvar.Var] (it has the String method that interface needs)
// whose String is the latest snapshot of its source
// as JSON, or null when the source has no current snapshot (a Watcher
// before Start or after Stop, or no source). The source can be replaced,
// for example when a configuration reload replaces the Watcher, since
// expvar cannot unpublish or republish a name:
//
//	v := memdebug.NewVar(w)
//	expvar.Publish("memwatch", v)
//	// ... on reload:
//	w.Stop()
//	v.Set(w2)
//
// The zero Var has no source. A Var is safe for concurrent use.
type Var struct {
	src atomic.Pointer[sourceBox]
}

type sourceBox struct{ memwatch.Source }

// NewVar returns a Var reading src (which may be nil).
func NewVar(src memwatch.Source) *Var {
	v := new(Var)
	v.Set(src)
	return v
}

// Set replaces the source; nil makes the Var show null.
func (v *Var) Set(src memwatch.Source) {
	if src == nil {
		v.src.Store(nil)
		return
	}
	v.src.Store(&sourceBox{src})
}

// String returns the latest snapshot as JSON, or "null".
func (v *Var) String() string {
	box := v.src.Load()
	s := new(memwatch.Snapshot)
	if box == nil || !box.LatestInto(s) {
		return "null"
	}
	b, err := json.Marshal(s)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return string(b)
}
