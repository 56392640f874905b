package vm

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// streamParser splits the guest console into boot log, test output, output
// file blocks, capture blocks and the exit marker.
type streamParser struct {
	nonce      string
	stdout     io.Writer
	stderr     io.Writer
	debug      bool
	captureOut string
	// outputs are the host paths (files, or directories for everything
	// under them) that output blocks may write; others are refused.
	outputs []string

	onStart func()
	onExit  func()

	boot     []string // last lines before the start marker
	started  bool
	exited   bool
	status   int
	captured int
}

const bootLines = 200

// parse consumes the console stream until EOF. It returns the first error
// met while writing returned files; parsing goes on after it.
func (p *streamParser) parse(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err != nil {
			fmt.Fprintf(p.stderr, "vmexec: %v\n", err)
		}
	}
	for {
		raw, err := br.ReadString('\n')
		if raw == "" && err != nil {
			return firstErr
		}
		line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		// Markers are searched anywhere in the line: the firmware leaves
		// escape sequences without a newline before the first guest line.
		if i := strings.Index(line, StartMarker+" "); i >= 0 && !p.started &&
			line[i+len(StartMarker)+1:] == p.nonce+"@@" {
			p.started = true
			if p.onStart != nil {
				p.onStart()
			}
			continue
		}
		if i := strings.Index(line, ExitMarker+" "); i >= 0 && !p.exited {
			if st, ok := p.exitStatus(line[i:]); ok {
				if i > 0 && p.started {
					fmt.Fprintln(p.stdout, line[:i])
				}
				p.exited = true
				p.status = st
				if p.onExit != nil {
					p.onExit()
				}
				continue
			}
		}
		switch {
		case p.started && strings.HasPrefix(line, OutMarker+" "+p.nonce+" "):
			keep(p.readOut(br, line))
			continue
		case p.started && p.captureOut != "" && strings.HasPrefix(line, "@@FILE "):
			keep(p.readCapture(br, line))
			continue
		}
		switch {
		case strings.HasPrefix(line, "vm-init:"):
			fmt.Fprintln(p.stderr, line)
		case !p.started || p.exited:
			if p.debug {
				fmt.Fprintln(p.stderr, line)
			}
			if !p.started {
				p.boot = append(p.boot, line)
				if len(p.boot) > bootLines {
					p.boot = p.boot[len(p.boot)-bootLines:]
				}
			}
		default:
			if strings.HasSuffix(raw, "\n") {
				fmt.Fprintln(p.stdout, line)
			} else {
				fmt.Fprint(p.stdout, line)
			}
		}
		if err != nil {
			return firstErr
		}
	}
}

// exitStatus parses "@@MEMWATCH-VM-EXIT <status> <nonce>@@". The nonce "-"
// is accepted with StatusSetupFailed: the init reports it when it could not
// read its configuration.
func (p *streamParser) exitStatus(line string) (int, bool) {
	body, ok := strings.CutSuffix(strings.TrimPrefix(line, ExitMarker+" "), "@@")
	f := strings.Fields(body)
	if !ok || len(f) != 2 {
		return 0, false
	}
	st, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, false
	}
	if f[1] == p.nonce || (f[1] == "-" && st == StatusSetupFailed) {
		return st, true
	}
	return 0, false
}

// readOut reads a base64 block "@@MEMWATCH-VM-OUT <nonce> <len> <path>@@" and
// writes the file on the host at path.
func (p *streamParser) readOut(br *bufio.Reader, header string) error {
	f := strings.SplitN(strings.TrimSuffix(header, "@@"), " ", 4)
	if len(f) != 4 {
		return fmt.Errorf("bad output header %q", header)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 0 {
		return fmt.Errorf("bad output header %q", header)
	}
	dst := f[3]
	var enc strings.Builder
	end := EndMarker + " " + p.nonce + "@@"
	for {
		l, err := br.ReadString('\n')
		l = strings.TrimRight(l, "\r\n")
		if l == end {
			break
		}
		if err != nil {
			return fmt.Errorf("output %s: stream ended inside the block", dst)
		}
		enc.WriteString(l)
	}
	b, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return fmt.Errorf("output %s: %v", dst, err)
	}
	if len(b) != n {
		return fmt.Errorf("output %s: got %d bytes, header says %d", dst, len(b), n)
	}
	if !p.outputAllowed(dst) {
		return fmt.Errorf("output %s: not a requested output file", dst)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// outputAllowed reports whether dst is one of p.outputs or lies under one.
func (p *streamParser) outputAllowed(dst string) bool {
	if !filepath.IsAbs(dst) || filepath.Clean(dst) != dst {
		return false
	}
	for _, o := range p.outputs {
		if dst == o || strings.HasPrefix(dst, o+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (p *streamParser) readCapture(br *bufio.Reader, header string) error {
	cf, err := readCaptureBlock(br, header)
	if err != nil {
		return err
	}
	if err := WriteCaptureFile(p.captureOut, cf); err != nil {
		return err
	}
	p.captured++
	return nil
}
