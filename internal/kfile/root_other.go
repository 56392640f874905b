//go:build !unix

package kfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

var errLoop = errors.New("too many levels of symbolic links")

// resolve checks that path lies under r and resolves its links inside r.
func (r Root) resolve(op, path string) (string, error) {
	rel, err := r.rel(op, path)
	if err != nil {
		return "", err
	}
	p, err := resolveInRoot(r.Dir(), rel)
	if err != nil {
		return "", err
	}
	return filepath.FromSlash(p), nil
}

func (r Root) openRegular(path string) (*os.File, error) {
	p, err := r.resolve("open", path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &NotRegularError{Path: path, Mode: fi.Mode().Type()}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (r Root) openWrite(path string) (*os.File, error) {
	p, err := r.resolve("open", path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Mode: fi.Mode().Type()}
	}
	return os.OpenFile(p, os.O_WRONLY, 0)
}

func (r Root) stat(path string) (fs.FileMode, error) {
	p, err := r.resolve("stat", path)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}

func (r Root) lstat(path string) (fs.FileMode, error) {
	rel, err := r.rel("lstat", path)
	if err != nil {
		return 0, err
	}
	dir, base := filepath.Split(rel)
	p, err := resolveInRoot(r.Dir(), dir)
	if err != nil {
		return 0, err
	}
	fi, err := os.Lstat(filepath.Join(p, base))
	if err != nil {
		return 0, err
	}
	return fi.Mode().Type(), nil
}

// absPath is filepath.Abs (see the unix version for why it is wrapped).
func absPath(p string) (string, error) { return filepath.Abs(p) }

// opener is unused here: every root resolves in user space.
type opener func()

var openContained opener
