package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-memwatch/memwatch/internal/testutil/cgtest"
	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

// These paths are relative to this package's directory.
const (
	rulesFile     = "../../deploy/prometheus/memwatch-rules.yml"
	rulesTestFile = "../../deploy/prometheus/memwatch-rules.test.yml"
	dashboardFile = "../../deploy/grafana/memwatch-service.json"
	scrapeJob     = "memwatch-service"
)

// TestRealPrometheus runs this service and a real Prometheus server
// (Debian's prometheus package) scraping its /metrics every second, then
// checks through Prometheus's HTTP API that the scraped values agree with the
// service's own JSON snapshot, and that every expression of the shipped
// rules and dashboard evaluates on that server, with data unless it has a
// reason not to (listed in mayBeEmpty). It also lints a real scrape with
// promtool check metrics and unit-tests the rules with promtool.
//
// As root the service runs in a fresh memory cgroup with a 256 MiB limit, so
// the limit-relative expressions have data; otherwise in the test's own
// cgroup. It skips when prometheus or promtool is not on PATH, unless
// MEMWATCH_REQUIRE_PROMETHEUS is set (scripts/test-metrics.sh sets it, so CI
// never skips). With MEMWATCH_SCRAPE_OUT=file it saves the scrape.
func TestRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service and a Prometheus server (about 20 s)")
	}
	prom, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		msg := "prometheus and promtool are not on PATH (Debian: apt-get install --no-install-recommends prometheus; scripts/test-metrics.sh installs it)"
		if os.Getenv("MEMWATCH_REQUIRE_PROMETHEUS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	deadline := time.Now().Add(3 * time.Minute) // bounds every wait below

	t.Run("promtool", func(t *testing.T) {
		for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
			out, err := exec.Command(promtool, args...).CombinedOutput()
			if err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})

	bin := filepath.Join(t.TempDir(), "service")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	svc := startService(t, bin, deadline)
	p := startPrometheus(t, prom, svc.public, deadline)

	// Wait for a few scrapes and one evaluation of every rule group.
	p.waitFor(t, deadline, "5 scrapes", func() bool {
		v, err := p.query(fmt.Sprintf(`count_over_time(memwatch_up{job=%q}[5m])`, scrapeJob))
		return err == nil && len(v) == 1 && v[0].value >= 5
	})

	c := &client{http: &http.Client{Timeout: 10 * time.Second}}
	t.Run("agreement", func(t *testing.T) { checkAgreement(t, c, p, svc, deadline) })
	t.Run("rules", func(t *testing.T) { checkRules(t, p, svc, deadline) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, p, svc) })
	t.Run("promtool check metrics", func(t *testing.T) {
		body, err := c.get("http://" + svc.public + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
		if out := os.Getenv("MEMWATCH_SCRAPE_OUT"); out != "" {
			if err := os.WriteFile(out, body, 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	if svc.cg != nil && !t.Failed() {
		t.Run("OOM kill fires MemwatchOOMKill", func(t *testing.T) { checkOOMAlert(t, c, p, svc, deadline) })
	}
}

// TestHelperProcess is the memory hog of checkOOMAlert (cgtest's helper);
// in a normal test run it does nothing.
func TestHelperProcess(t *testing.T) { cgtest.RunHelper(nil) }

// checkOOMAlert makes the kernel OOM-kill a memory hog in the service's
// cgroup and waits until the shipped MemwatchOOMKill alert fires on the
// Prometheus server for this service, then compares the scrape with the
// JSON again (the kill counted in both).
func checkOOMAlert(t *testing.T, c *client, p *promServer, svc *service, deadline time.Time) {
	h := svc.cg.StartWorkload(t, cgtest.Workload{AnonMiB: 512, OOMScoreAdj: 1000})
	if h.Ready() {
		t.Fatal("a 512 MiB helper was not OOM-killed in the 256 MiB cgroup")
	}
	if kills, err := svc.cg.OOMKills(); err != nil || kills == 0 {
		t.Fatalf("the cgroup counts %d OOM kills (%v)", kills, err)
	}
	p.waitFor(t, deadline, "MemwatchOOMKill firing", func() bool {
		var d struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if err := p.call("/api/v1/alerts", nil, &d); err != nil {
			return false
		}
		for _, a := range d.Alerts {
			if a.Labels["alertname"] == "MemwatchOOMKill" && a.Labels["instance"] == svc.public && a.State == "firing" {
				return true
			}
		}
		return false
	})
	select {
	case <-svc.done:
		t.Fatal("the service was OOM-killed instead of the hog")
	default:
	}
	v, err := p.query(fmt.Sprintf(`memwatch_cgroup_oom_kills_total{job=%q}`, scrapeJob))
	if err != nil || len(v) != 1 || v[0].value < 1 {
		t.Fatalf("memwatch_cgroup_oom_kills_total: %v %v", v, err)
	}
	checkAgreement(t, c, p, svc, deadline)
}

// service is the running service.
type service struct {
	public, debug string // host:port
	cgroup        string // "v1" or "v2" as its snapshot says, "" without a cgroup view
	hasPSI        bool
	cg            *cgtest.Cgroup // the memory cgroup made for it, or nil
	done          <-chan struct{}
}

// servingRE finds the addresses in the service's log (slog's text format
// quotes a message with spaces).
var servingRE = regexp.MustCompile(`msg=(serving|"serving debug endpoints") addr=(\S+)`)

// startService starts bin on 127.0.0.1 (ports chosen by the kernel, read
// from its log), in a memory cgroup with a 256 MiB limit when possible, and
// stops it (SIGTERM, then SIGKILL) when the test ends.
func startService(t *testing.T, bin string, deadline time.Time) *service {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0", "-interval", "2s")
	// An inherited GOMEMLIMIT would switch the adaptive limit off.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	var done <-chan struct{}
	var cg *cgtest.Cgroup
	if os.Geteuid() == 0 {
		cg = cgtest.Create(t, cgtest.WithLimit(256*cgtest.MiB), cgtest.WithNoSwap())
		t.Logf("service in memory cgroup %s (v%d, limit 256 MiB)", cg.Path(), cg.Version())
		done = cg.Start(t, cmd).Done()
	} else {
		t.Log("not root: the service runs in the test's cgroup (limit-relative expressions may have no data)")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ch := make(chan struct{})
		go func() { cmd.Wait(); close(ch) }()
		done = ch
		t.Cleanup(func() { cmd.Process.Kill(); <-ch })
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("service did not stop on SIGTERM:\n%s", stderr.String())
		}
		if t.Failed() {
			t.Logf("service log:\n%s", stderr.String())
		}
	})
	s := &service{cg: cg, done: done}
	for s.public == "" || s.debug == "" {
		for _, m := range servingRE.FindAllStringSubmatch(stderr.String(), -1) {
			if m[1] == "serving" {
				s.public = m[2]
			} else {
				s.debug = m[2]
			}
		}
		select {
		case <-done:
			t.Fatalf("service exited:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service not serving:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// promServer is a running Prometheus server.
type promServer struct {
	url string
	api *http.Client
}

// startPrometheus runs a Prometheus server on 127.0.0.1 with a temporary
// configuration (scrape target every second, the shipped rules evaluated
// every second) and storage, and stops it when the test ends.
func startPrometheus(t *testing.T, bin, target string, deadline time.Time) *promServer {
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: %q
    static_configs:
      - targets: [%q]
`, rules, scrapeJob, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		addr := freePort(t)
		cmd := exec.Command(bin,
			"--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
			"--log.level=warn")
		var logs syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		p := &promServer{url: "http://" + addr, api: &http.Client{Timeout: 10 * time.Second}}
		ready := false
		for !ready && time.Now().Before(deadline) {
			select {
			case <-exited:
			default:
				if resp, err := p.api.Get(p.url + "/-/ready"); err == nil {
					ready = resp.StatusCode == http.StatusOK
					resp.Body.Close()
				}
				if !ready {
					time.Sleep(100 * time.Millisecond)
				}
				continue
			}
			break
		}
		if ready {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("prometheus log:\n%s", logs.String())
				}
			})
			return p
		}
		stop()
		if attempt == 3 || time.Now().After(deadline) {
			t.Fatalf("prometheus not ready:\n%s", logs.String())
		}
		t.Logf("prometheus did not start on %s (port taken?), retrying:\n%s", addr, logs.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sample is one series of an instant vector.
type sample struct {
	labels map[string]string
	value  float64
}

// key is the series' name and labels other than job and instance.
func (s sample) key() string {
	var ls []string
	for k, v := range s.labels {
		if k != "__name__" && k != "job" && k != "instance" {
			ls = append(ls, k+"="+strconv.Quote(v))
		}
	}
	sort.Strings(ls)
	return s.labels["__name__"] + "{" + strings.Join(ls, ",") + "}"
}

// apiError is an error answer of the HTTP API (a bad expression).
type apiError struct{ typ, msg string }

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

// call GETs an API path and decodes its data.
func (p *promServer) call(path string, params url.Values, data any) error {
	resp, err := p.api.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: %d: %w", path, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return &apiError{r.ErrorType, r.Error}
	}
	return json.Unmarshal(r.Data, data)
}

// query evaluates expr now and returns the instant vector (a scalar is one
// sample without labels).
func (p *promServer) query(expr string) ([]sample, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.call("/api/v1/query", url.Values{"query": {expr}}, &d); err != nil {
		return nil, err
	}
	parse := func(v [2]any) (float64, error) {
		s, _ := v[1].(string)
		return strconv.ParseFloat(s, 64)
	}
	switch d.ResultType {
	case "vector":
		var res []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &res); err != nil {
			return nil, err
		}
		out := make([]sample, 0, len(res))
		for _, r := range res {
			f, err := parse(r.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, sample{r.Metric, f})
		}
		return out, nil
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(d.Result, &v); err != nil {
			return nil, err
		}
		f, err := parse(v)
		return []sample{{map[string]string{}, f}}, err
	}
	return nil, fmt.Errorf("query %s: result type %s", expr, d.ResultType)
}

func (p *promServer) waitFor(t *testing.T, deadline time.Time, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type client struct{ http *http.Client }

func (c *client) get(u string) ([]byte, error) {
	resp, err := c.http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// snapshot is the service's JSON snapshot, decoded loosely: numbers stay
// json.Number, null stays nil.
type snapshot map[string]any

func (s snapshot) get(path ...string) any {
	var v any = map[string]any(s)
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// num returns the number at path and whether it is there (not null).
func (s snapshot) num(t *testing.T, path ...string) (float64, bool) {
	switch v := s.get(path...).(type) {
	case nil:
		return 0, false
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			t.Fatalf("%v: %v", path, err)
		}
		return f, true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	default:
		t.Fatalf("%v: %T %v is not a number", path, v, v)
	}
	return 0, false
}

func (s snapshot) str(path ...string) string {
	v, _ := s.get(path...).(string)
	return v
}

// expected derives from the JSON snapshot every series the collector
// exports, by name and labels (without job and instance). notInJSON lists
// the series the JSON does not carry.
func expected(t *testing.T, s snapshot) (want map[string]float64, notInJSON map[string]bool) {
	want = map[string]float64{}
	set := func(key string, path ...string) {
		if v, ok := s.num(t, path...); ok {
			want[key] = v
		}
	}
	want["memwatch_up{}"] = 1
	want["memwatch_level{}"] = map[string]float64{"unknown": 0, "ok": 1, "warn": 2, "critical": 3}[s.str("level")]
	set("memwatch_sampling_interval_seconds{}", "sampling", "interval_seconds")
	if s.get("cgroup", "available") == true {
		want[`memwatch_cgroup_info{version=`+strconv.Quote(s.str("cgroup", "version"))+`}`] = 1
		set("memwatch_cgroup_usage_bytes{}", "cgroup", "usage_bytes")
		set("memwatch_cgroup_working_set_bytes{}", "cgroup", "working_set_bytes")
		set("memwatch_cgroup_limit_bytes{}", "cgroup", "limit_bytes")
		set("memwatch_cgroup_high_bytes{}", "cgroup", "high_bytes")
		set("memwatch_cgroup_oom_kills_total{}", "cgroup", "events", "oom_kill")
		set("memwatch_cgroup_failcnt_total{}", "cgroup", "events", "failcnt")
		for _, e := range []string{"low", "high", "max", "oom", "oom_group_kill"} {
			set(`memwatch_cgroup_memory_events_total{event="`+e+`"}`, "cgroup", "events", e)
		}
		if src := s.str("cgroup", "psi", "source"); src != "" {
			for kind, name := range map[string]string{"some": "waiting", "full": "stalled"} {
				if us, ok := s.num(t, "cgroup", "psi", kind, "total_us"); ok {
					want[`memwatch_pressure_memory_`+name+`_seconds_total{scope="`+src+`"}`] = us / 1e6
				}
			}
		}
	}
	set("memwatch_headroom_bytes{}", "headroom", "available_before_oom_bytes")
	if parts, ok := s.get("attribution").(map[string]any); ok {
		for part := range parts {
			recl := s.str("gap", "reclaim", part) == "reclaimable"
			set(fmt.Sprintf(`memwatch_attribution_bytes{part=%q,reclaimable="%t"}`, part, recl), "attribution", part)
		}
	}
	notInJSON = map[string]bool{
		"memwatch_snapshot_timestamp_seconds{}":           true, // compared separately
		"memwatch_time_to_limit_seconds{}":                true,
		`memwatch_actions_total{action="set_gomemlimit"}`: true,
		`memwatch_actions_total{action="set_gogc"}`:       true,
		`memwatch_actions_total{action="advise_shed"}`:    true,
		"memwatch_wont_fit_episodes_total{}":              true,
	}
	if s.get("actions") != nil {
		if _, ok := s.num(t, "actions", "memlimit_bytes"); ok {
			set("memwatch_gomemlimit_bytes{}", "actions", "memlimit_bytes")
			want["memwatch_gomemlimit_at_floor{}"] = map[bool]float64{true: 1, false: 0}[s.str("actions", "memlimit_bound") == "floor"]
		}
		set("memwatch_gogc_percent{}", "actions", "gogc_percent")
		set(`memwatch_actions_total{action="free_os_memory"}`, "actions", "free_os_memory_count")
		if s.str("actions", "shed", "reason") != "" {
			set("memwatch_shed_advised_bytes{}", "actions", "shed", "bytes")
			set("memwatch_wont_fit{}", "actions", "shed", "wont_fit")
		}
	}
	return want, notInJSON
}

// checkAgreement finds a scrape of the same snapshot the JSON endpoint
// serves (the Watcher samples every 2 s, Prometheus scrapes every second)
// and compares every series with the JSON.
func checkAgreement(t *testing.T, c *client, p *promServer, svc *service, deadline time.Time) {
	sel := fmt.Sprintf(`{__name__=~"memwatch_.+",job=%q}`, scrapeJob)
	for time.Now().Before(deadline) {
		body, err := c.get("http://" + svc.debug + "/debug/memwatch")
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var s snapshot
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		jt, err := time.Parse(time.RFC3339Nano, s.str("time"))
		if err != nil {
			t.Fatal(err)
		}
		svc.cgroup, svc.hasPSI = s.str("cgroup", "version"), s.str("cgroup", "psi", "source") != ""
		want := float64(jt.UnixNano()) / 1e9
		for time.Now().Before(deadline) {
			got, err := p.query(sel)
			if err != nil {
				t.Fatal(err)
			}
			var pt float64
			for _, g := range got {
				if g.labels["__name__"] == "memwatch_snapshot_timestamp_seconds" {
					pt = g.value
				}
			}
			switch {
			case math.Abs(pt-want) < 1e-6: // the same sample
				compare(t, s, got)
				return
			case pt > want: // Prometheus has a newer sample: fetch the JSON again
			default: // the scrape of this sample is still to come
				time.Sleep(200 * time.Millisecond)
				continue
			}
			break
		}
	}
	t.Fatal("timed out: found no scrape of the snapshot the JSON endpoint served")
}

func compare(t *testing.T, s snapshot, got []sample) {
	want, notInJSON := expected(t, s)
	seen := map[string]bool{}
	var skipped []string
	for _, g := range got {
		k := g.key()
		seen[k] = true
		if notInJSON[k] {
			skipped = append(skipped, k)
			continue
		}
		w, ok := want[k]
		switch {
		case !ok:
			t.Errorf("Prometheus has %s = %v, the JSON snapshot has no such value", k, g.value)
		case g.value != w:
			t.Errorf("%s: Prometheus %v, JSON %v", k, g.value, w)
		}
	}
	for k, w := range want {
		if !seen[k] {
			t.Errorf("%s = %v in the JSON snapshot, not in Prometheus", k, w)
		}
	}
	sort.Strings(skipped)
	t.Logf("%d series compared with the JSON snapshot of %s; not in the JSON: %v", len(got)-len(skipped), s.str("time"), skipped)
	if len(want) < 20 {
		t.Errorf("only %d series compared", len(want))
	}
}

// mayBeEmpty says why expr legitimately has no data on this server (a calm
// service, cgroup v1 or v2, with or without PSI), or "" when it must have
// data.
func mayBeEmpty(expr string, svc *service) string {
	switch {
	case svc.cgroup != "v2" && (strings.Contains(expr, "memory_events") || strings.Contains(expr, "memory_high") ||
		strings.Contains(expr, "memwatch_cgroup_high_bytes")):
		return "memory.events and memory.high are cgroup v2 only"
	case svc.cgroup != "v1" && strings.Contains(expr, "memwatch_cgroup_failcnt_total"):
		return "memory.failcnt is cgroup v1 only"
	case !svc.hasPSI && strings.Contains(expr, "pressure_memory"):
		return "no PSI on this kernel"
	case strings.Contains(expr, "memwatch_time_to_limit_seconds"):
		return "no forecast while the working set does not grow"
	case strings.Contains(expr, "memwatch_gogc_percent"):
		return "memwatch sets GOGC only with WithAdaptiveGOGC, which the service does not use"
	}
	return ""
}

// comparisonRE splits an alert expression "operand OP number" so that the
// operand, unlike the alert on a calm host, can be checked for data.
var comparisonRE = regexp.MustCompile(`^\s*(\S+)\s+(?:>|>=|==|<|<=)\s+[0-9.e+-]+\s*$`)

// checkExpr evaluates expr and fails when it errors, or when it has no data
// and mayBeEmpty gives no reason (nor calm, for alert expressions).
func checkExpr(t *testing.T, p *promServer, svc *service, what, expr, calm string) {
	t.Helper()
	v, err := p.query(expr)
	if err != nil {
		t.Errorf("%s: %s: %v", what, expr, err)
		return
	}
	if len(v) > 0 {
		return
	}
	if why := mayBeEmpty(expr, svc); why != "" {
		t.Logf("%s: no data (%s): %s", what, why, expr)
		return
	}
	if calm != "" {
		t.Logf("%s: no data (%s): %s", what, calm, expr)
		return
	}
	t.Errorf("%s: no data: %s", what, expr)
}

// checkRules waits until Prometheus has evaluated every shipped rule, then
// checks each one's health and evaluates its expression.
func checkRules(t *testing.T, p *promServer, svc *service, deadline time.Time) {
	type rule struct {
		Name           string    `json:"name"`
		Query          string    `json:"query"`
		Health         string    `json:"health"`
		LastError      string    `json:"lastError"`
		Type           string    `json:"type"`
		State          string    `json:"state"`
		LastEvaluation time.Time `json:"lastEvaluation"`
	}
	var rules []rule
	p.waitFor(t, deadline, "every rule evaluated", func() bool {
		var d struct {
			Groups []struct {
				Rules []rule `json:"rules"`
			} `json:"groups"`
		}
		if err := p.call("/api/v1/rules", nil, &d); err != nil {
			return false
		}
		rules = rules[:0]
		for _, g := range d.Groups {
			rules = append(rules, g.Rules...)
		}
		for _, r := range rules {
			if r.LastEvaluation.Year() < 2000 {
				return false
			}
		}
		return len(rules) > 0
	})
	if n, err := exec.Command("grep", "-cE", `^\s*- (record|alert):`, rulesFile).Output(); err == nil {
		if want, _ := strconv.Atoi(strings.TrimSpace(string(n))); want != len(rules) {
			t.Errorf("Prometheus loaded %d rules, %s has %d", len(rules), rulesFile, want)
		}
	}
	for _, r := range rules {
		if r.Health != "ok" || r.LastError != "" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
		if r.Type == "recording" {
			checkExpr(t, p, svc, "recording rule "+r.Name, r.Query, "")
			checkExpr(t, p, svc, "recorded series "+r.Name, r.Name, "")
			continue
		}
		checkExpr(t, p, svc, "alert "+r.Name, r.Query, "a calm service does not meet the condition")
		if r.State != "inactive" {
			t.Errorf("alert %s is %s on a calm service", r.Name, r.State)
		}
		if m := comparisonRE.FindStringSubmatch(r.Query); m != nil {
			checkExpr(t, p, svc, "operand of alert "+r.Name, m[1], "")
		}
	}
}

// checkDashboard evaluates every query of the shipped dashboard (panel
// targets and template variables) with the variables set to this service.
func checkDashboard(t *testing.T, p *promServer, svc *service) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$job", scrapeJob, "$instance", svc.public, "$__rate_interval", "1m")
	n := 0
	for _, pan := range d.Panels {
		for _, tg := range pan.Targets {
			n++
			checkExpr(t, p, svc, fmt.Sprintf("panel %q %s", pan.Title, tg.RefID), vars.Replace(tg.Expr), "")
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable %s: unexpected query %v", v.Name, v.Query)
			continue
		}
		n++
		checkExpr(t, p, svc, "variable "+v.Name, vars.Replace(m[1]), "")
	}
	if n < 20 {
		t.Errorf("only %d dashboard queries found", n)
	}
	t.Logf("%d dashboard queries evaluated", n)
}
