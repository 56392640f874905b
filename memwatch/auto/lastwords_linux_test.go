//go:build linux

package auto

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
)

// envLastWordsHelper makes the test binary run the last-words helper.
const envLastWordsHelper = "MEMWATCH_AUTO_LASTWORDS_HELPER"

// TestLastWordsHelperProcess is the helper body; it does nothing in a
// normal run. auto's init has started the Watcher (configured by
// MEMWATCH_AUTO) before this runs, as it would before a service's main;
// the helper then installs a JSON slog handler on standard error, as a
// service would, and keeps 2 MiB blocks of Go heap, every page written,
// until the kernel kills it.
func TestLastWordsHelperProcess(t *testing.T) {
	if os.Getenv(envLastWordsHelper) == "" {
		return
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if Watcher() == nil {
		fmt.Println("error", Err())
		os.Exit(2)
	}
	limit := Watcher().Latest().Cgroup.Stats.Limit
	fmt.Println("started", limit)
	var keep [][]byte
	for total := uint64(0); total < 2*limit; total += 2 << 20 {
		b := make([]byte, 2<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
		time.Sleep(25 * time.Millisecond)
	}
	fmt.Println("not killed after allocating twice the limit", len(keep))
	os.Exit(3)
}

// TestLastWordsOOMKill runs a program with memwatch/auto on its defaults in
// a real 128 MiB memory cgroup, its live heap growing until the kernel
// kills it: at the default log level its JSON log must explain the death
// (the critical level and the advice to shed that nobody followed), and the
// termination message file must hold the verdict.
func TestLastWordsOOMKill(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: drives a child into an OOM kill")
	}
	const limit = 128 << 20
	cg := cgtest.Create(t, cgtest.WithLimit(limit), cgtest.WithNoSwap())
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestLastWordsHelperProcess$")
	cmd.Env = append(os.Environ(), envLastWordsHelper+"=1", EnvVar+"=termination="+path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ch := cg.Start(t, cmd)
	err = ch.Wait(2 * time.Minute)
	kills, kerr := cg.OOMKills()
	if !ch.Killed() || kerr != nil || kills == 0 {
		t.Fatalf("child not OOM-killed: %v (SIGKILL %v, oom_kill %d %v)\nstdout %s\nstderr %s",
			err, ch.Killed(), kills, kerr, out.String(), errOut.String())
	}
	t.Logf("child stderr:\n%s", errOut.String())
	msgs := map[string]map[string]any{}
	sc := bufio.NewScanner(&errOut)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("not a JSON line: %q", sc.Text())
			continue
		}
		msg, _ := rec["msg"].(string)
		switch {
		case msg == "memwatch: memory critical":
			msgs["critical"] = rec
		case strings.Contains(msg, "of live heap must go and nothing sheds it"):
			msgs["shed"] = rec
		}
	}
	crit, ok := msgs["critical"]
	if !ok {
		t.Fatal("no critical line at the default log level")
	}
	if v, _ := crit["verdict"].(string); !strings.Contains(v, " of 128.0 MiB)") || crit["level"] != "WARN" {
		t.Errorf("critical line %v", crit)
	}
	if shed, ok := msgs["shed"]; !ok || shed["level"] != "ERROR" || !strings.Contains(shed["msg"].(string), "will likely be OOM-killed") {
		t.Errorf("no Error line about the shedding nobody did: %v", shed)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("termination message:\n%s", b)
	if !strings.HasPrefix(string(b), "memwatch: memory critical since ") || !strings.Contains(string(b), " of 128.0 MiB)") {
		t.Errorf("termination message %q", b)
	}
}
