package auto

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestDefaultHandlerFollowsSetDefault checks that a logger made before the
// application configures slog (as auto's init does) writes through the
// slog.Default() of the moment of each record, with its attributes and
// groups, and drops records below its minimum level.
func TestDefaultHandlerFollowsSetDefault(t *testing.T) {
	orig := slog.Default()
	t.Cleanup(func() { slog.SetDefault(orig) })

	log := slog.New(newDefaultHandler(slog.LevelWarn)).With("watcher", "auto").WithGroup("g")

	var first, second bytes.Buffer
	slog.SetDefault(slog.New(slog.NewJSONHandler(&first, nil)))
	log.Info("below the minimum")
	log.Warn("memory critical", "verdict", "usage is 95% of limit")
	slog.SetDefault(slog.New(slog.NewTextHandler(&second, &slog.HandlerOptions{Level: slog.LevelError})))
	log.Warn("below the new default's level")
	log.Error("must shrink", "shed_bytes", 42)

	lines := strings.Split(strings.TrimSpace(first.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("JSON default got %d lines, want 1:\n%s", len(lines), first.String())
	}
	var rec struct {
		Level   string `json:"level"`
		Msg     string `json:"msg"`
		Watcher string `json:"watcher"`
		G       struct {
			Verdict string `json:"verdict"`
		} `json:"g"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not a JSON line: %q: %v", lines[0], err)
	}
	if rec.Level != "WARN" || rec.Msg != "memory critical" || rec.Watcher != "auto" || rec.G.Verdict != "usage is 95% of limit" {
		t.Fatalf("JSON record %+v", rec)
	}
	got := second.String()
	if strings.Contains(got, "below") || !strings.Contains(got, `level=ERROR msg="must shrink" watcher=auto g.shed_bytes=42`) {
		t.Fatalf("text default got %q", got)
	}
	if strings.Contains(first.String(), "must shrink") {
		t.Fatal("a record went to the replaced default")
	}
}
