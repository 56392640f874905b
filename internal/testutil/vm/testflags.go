package vm

import (
	"path/filepath"
	"strings"
)

// outputFlags are -test.* flags naming files the binary writes; they are
// returned to the host after the run.
var outputFlags = map[string]bool{
	"coverprofile": true, "cpuprofile": true, "memprofile": true,
	"blockprofile": true, "mutexprofile": true, "trace": true,
}

// testFlag returns the value of -test.<name> (or --test.<name>) in args.
func testFlag(args []string, name string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := strings.TrimPrefix(args[i], "-")
		a = strings.TrimPrefix(a, "-")
		if a == "test."+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "test."+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// guestFiles works out the directories to create in the guest and the output
// files to send back, from the -test.* flags.
func guestFiles(args []string, dir string) (mkdirs, outputs []string) {
	outDir, _ := testFlag(args, "outputdir")
	if outDir != "" {
		if !filepath.IsAbs(outDir) {
			outDir = filepath.Join(dir, outDir)
		}
		mkdirs = append(mkdirs, outDir)
	}
	if v, ok := testFlag(args, "testlogfile"); ok && v != "" {
		// Created so the binary can write it; deliberately not returned, so
		// go test never caches a result that depends on the guest.
		if !filepath.IsAbs(v) {
			v = filepath.Join(dir, v)
		}
		mkdirs = append(mkdirs, filepath.Dir(v))
	}
	if v, ok := testFlag(args, "gocoverdir"); ok && v != "" {
		if !filepath.IsAbs(v) {
			v = filepath.Join(dir, v)
		}
		mkdirs = append(mkdirs, v)
		outputs = append(outputs, v)
	}
	names := make([]string, 0, len(outputFlags))
	for n := range outputFlags {
		names = append(names, n)
	}
	for _, n := range names {
		v, ok := testFlag(args, n)
		if !ok || v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			if outDir != "" {
				v = filepath.Join(outDir, v)
			} else {
				v = filepath.Join(dir, v)
			}
		}
		mkdirs = append(mkdirs, filepath.Dir(v))
		outputs = append(outputs, v)
	}
	return mkdirs, outputs
}
