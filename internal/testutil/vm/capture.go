package vm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// CaptureFile is one file of a capture stream, as parsed by ParseCapture.
type CaptureFile struct {
	Path string // absolute guest path
	Data []byte
}

// errCapture reports a malformed capture block.
var errCapture = errors.New("malformed capture block")

// readCaptureBlock reads one "@@FILE <path> <len>@@" block whose header line
// was already consumed: exactly len bytes of content, an optional newline
// (added when the content did not end with one), then "@@END@@".
func readCaptureBlock(br *bufio.Reader, header string) (CaptureFile, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(header, "@@FILE "), "@@")
	i := strings.LastIndexByte(h, ' ')
	if i < 0 {
		return CaptureFile{}, fmt.Errorf("%w: header %q", errCapture, header)
	}
	name, ns := h[:i], h[i+1:]
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 || n > 64<<20 {
		return CaptureFile{}, fmt.Errorf("%w: header %q", errCapture, header)
	}
	clean := path.Clean(name)
	if !path.IsAbs(clean) || clean != name || clean == "/" {
		return CaptureFile{}, fmt.Errorf("%w: path %q must be absolute and clean", errCapture, name)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return CaptureFile{}, fmt.Errorf("%w: path %q has a control character", errCapture, name)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(br, data); err != nil {
		return CaptureFile{}, fmt.Errorf("%w: %s: %v", errCapture, name, err)
	}
	for {
		l, err := br.ReadString('\n')
		t := strings.TrimRight(l, "\r\n")
		if t == "@@END@@" {
			return CaptureFile{Path: name, Data: data}, nil
		}
		if t != "" || err != nil {
			return CaptureFile{}, fmt.Errorf("%w: %s: want @@END@@ after %d bytes, got %q", errCapture, name, n, l)
		}
	}
}

// WriteCaptureFile writes cf under dir at its guest path.
func WriteCaptureFile(dir string, cf CaptureFile) error {
	dst := filepath.Join(dir, filepath.FromSlash(cf.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, cf.Data, 0o644)
}

// ParseCapture reads a capture stream (as printed by the capture program)
// and returns its files; other lines are ignored.
func ParseCapture(r io.Reader) ([]CaptureFile, error) {
	br := bufio.NewReader(r)
	var files []CaptureFile
	for {
		l, err := br.ReadString('\n')
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "@@FILE ") {
			cf, cerr := readCaptureBlock(br, t)
			if cerr != nil {
				return files, cerr
			}
			files = append(files, cf)
			continue
		}
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return files, err
		}
	}
}
