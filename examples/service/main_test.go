package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	public, debug := listen(t), listen(t)
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, public, debug, log, config{root: "../../memwatch/testdata/v1-limit", interval: time.Hour})
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	base, dbase := "http://"+public.Addr().String(), "http://"+debug.Addr().String()
	var body []byte
	for i := 0; ; i++ {
		resp, err := client.Get(dbase + "/debug/memwatch")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if m["level"] != "ok" {
		t.Fatalf("level %v", m["level"])
	}
	if _, vars := get(t, client, dbase+"/debug/vars"); !strings.Contains(vars, `"memwatch"`) {
		t.Fatal("memwatch not in /debug/vars")
	}
	// /metrics on the public listener: memwatch's metrics (the fixture's
	// 512 MiB limit) beside the Go and process collectors'.
	code, metrics := get(t, client, base+"/metrics")
	for _, want := range []string{"\nmemwatch_up 1\n", "\nmemwatch_cgroup_limit_bytes 5.36870912e+08\n",
		"\nmemwatch_level 1\n", "\ngo_gc_gomemlimit_bytes ", "\ngo_gc_gogc_percent ", "\nprocess_resident_memory_bytes "} {
		if code != http.StatusOK || !strings.Contains(metrics, want) {
			t.Fatalf("/metrics (%d) lacks %q:\n%s", code, want, metrics)
		}
	}
	// The debug endpoints are not on the public listener, nor /metrics on
	// the debug one.
	for _, url := range []string{base + "/debug/memwatch", base + "/debug/vars", dbase + "/metrics"} {
		if code, _ := get(t, client, url); code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", url, code)
		}
	}
	if code, hello := get(t, client, base+"/"); code != http.StatusOK || !strings.Contains(hello, "hello; memory: ok") {
		t.Errorf("/: %d %q", code, hello)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if !strings.Contains(logs.String(), "memory level changed") || !strings.Contains(logs.String(), "new=ok") {
		t.Fatalf("level change not logged: %s", logs.String())
	}
}

// TestSignalShutdown runs the real command and stops it with SIGTERM.
func TestSignalShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := t.TempDir() + "/service"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0")
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "serving") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("not serving: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-errc
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("no clean shutdown: %s", stderr.String())
	}
}
