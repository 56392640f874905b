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
//
// # Exit status
//
//	0  the snapshot was printed and every view read cleanly, or is merely
//	   unsupported here (no memory cgroup, as on a laptop; not Linux)
//	1  usage or I/O error, nothing useful printed: a bad flag, a -root that
//	   is not a directory, output that could not be written, a -url that did
//	   not answer with a snapshot
//	2  partial: the snapshot was printed as far as it could be read, but a
//	   view failed, or a part of the cgroup view (a kernel file missing,
//	   unreadable or malformed; a file this kernel does not provide is not a
//	   failure); the reasons are on standard error and in the output
//	   ("unavailable: ..." and "unknown ..." in the text; cgroup.error,
//	   cgroup.errors, process.error and host.error in the JSON)
//
// A bad kernel file is never status 1: what could be read is printed and the
// status is 2. With -url the status says whether the service answered; how
// its views read is in what it answered.
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

// Exit statuses (see the package documentation).
const (
	exitOK      = 0
	exitError   = 1
	exitPartial = 2
)

func main() { os.Exit(mainStatus(os.Args[1:], os.Stdout, os.Stderr)) }

// mainStatus is main without the process: it parses args, runs, reports
// the error on stderr and returns the exit status.
func mainStatus(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitError // the flag package has printed the error and the usage
	}
	err = run(context.Background(), stdout, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "memwatch-inspect:", err)
	}
	return exitStatus(err)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("memwatch-inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.StringVar(&cfg.root, "root", "/", "resolve /proc and /sys/fs/cgroup under this directory")
	fs.StringVar(&cfg.url, "url", "", "fetch the snapshot from a service's memwatch handler instead")
	fs.BoolVar(&cfg.json, "json", false, "print JSON instead of the human rendering")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "HTTP timeout for -url")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(stderr, "memwatch-inspect:", err)
		fs.Usage()
		return cfg, err
	}
	return cfg, nil
}

// partialError is returned by run when the snapshot was printed but a view
// failed for a reason other than being unsupported (Snapshot.Err).
type partialError struct{ err error }

func (e *partialError) Error() string { return "partial snapshot: " + e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// exitStatus maps run's error to the exit status.
func exitStatus(err error) int {
	var p *partialError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &p):
		return exitPartial
	}
	return exitError
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
		if err != nil {
			return err
		}
	} else if err := s.WriteText(out); err != nil {
		return err
	}
	// Printed: now say whether everything read (unsupported views and
	// parts the kernel does not provide are fine).
	err = s.Err()
	if s.Cgroup.Available {
		if d := s.Cgroup.Stats.Degraded(); d != nil {
			err = errors.Join(err, fmt.Errorf("cgroup view, parts unknown: %w", d))
		}
	}
	if err != nil {
		return &partialError{err}
	}
	return nil
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
