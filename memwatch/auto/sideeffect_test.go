package auto

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoDebugVars builds and runs a service that blank-imports
// memwatch/auto and serves http.DefaultServeMux (testdata/debugvars), and
// checks that importing memwatch registered nothing there: /debug/vars
// answers 404, so neither the command line (with a secret flag) nor a
// stop-the-world runtime.ReadMemStats is exposed.
func TestNoDebugVars(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program with the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command: ", err)
	}
	bin := filepath.Join(t.TempDir(), "debugvars")
	if out, err := exec.Command(gobin, "build", "-o", bin, "./testdata/debugvars").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-db-password=hunter2")
	cmd.Env = append(os.Environ(), EnvVar+"=log=off")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addrc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addrc <- strings.TrimSpace(line)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatal("the program did not print its address")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/hello"); code != 200 {
		t.Fatalf("/hello: %d %s (the program does not serve)", code, body)
	}
	for _, path := range []string{"/debug/vars", "/debug/pprof/", "/debug/memwatch"} {
		code, body := get(path)
		if code != http.StatusNotFound || strings.Contains(body, "hunter2") {
			t.Errorf("%s: %d %.200s; want 404: importing memwatch/auto must register nothing", path, code, body)
		}
	}
}
