// Command memwatch-inspect prints a memwatch snapshot: the human rendering
// by default, JSON with -json.
//
//	memwatch-inspect                      # this machine (this process's view)
//	memwatch-inspect -root DIR            # a fixture tree (DIR/proc, DIR/sys/fs/cgroup)
//	memwatch-inspect -url http://host:8080/debug/memwatch
//	                                      # a running service's Watcher handler
//
// With -root, the Go runtime view is this command's own (a fixture holds
// only kernel files).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
)

func main() {
	fs := flag.NewFlagSet("memwatch-inspect", flag.ExitOnError)
	cfg := config{}
	fs.StringVar(&cfg.root, "root", "/", "resolve /proc and /sys/fs/cgroup under this directory")
	fs.StringVar(&cfg.url, "url", "", "fetch the snapshot from a service's memwatch handler instead")
	fs.BoolVar(&cfg.json, "json", false, "print JSON instead of the human rendering")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "HTTP timeout for -url")
	fs.Parse(os.Args[1:])
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "memwatch-inspect:", err)
		os.Exit(1)
	}
}

type config struct {
	root    string
	url     string
	json    bool
	timeout time.Duration
}

func run(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.url != "" {
		return fetch(ctx, out, cfg)
	}
	s, err := memwatch.Read(memwatch.WithRoot(cfg.root))
	if err != nil {
		return err
	}
	if cfg.json {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	return s.WriteText(out)
}

// fetch asks the handler for the requested format (it serves both) and
// copies the body.
func fetch(ctx context.Context, out io.Writer, cfg config) error {
	u, err := url.Parse(cfg.url)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %q: need an http or https URL", cfg.url)
	}
	q := u.Query()
	accept := "application/json"
	q.Set("format", "json")
	if !cfg.json {
		q.Set("format", "text")
		accept = "text/plain"
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", u.Redacted(), resp.Status, body)
	}
	if cfg.json && !json.Valid(body) {
		return errors.New(u.Redacted() + ": response is not JSON")
	}
	_, err = out.Write(body)
	return err
}
