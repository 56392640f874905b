package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lab runs workers in fresh memory cgroups, one per run.
type lab struct {
	hier     hierarchy
	self     string // this executable
	limit    uint64
	duration time.Duration
	garbage  int
	interval time.Duration
	file     string // page-cache file, when a scenario needs one
	verbose  bool
	seq      int
}

// run runs one worker and returns its result; err is for failures of the
// lab itself (cgroup set-up), not of the worker.
func (l *lab) run(ctx context.Context, scn scenario, pol policy, rep int) (result, error) {
	res := result{Scenario: scn.Name, Policy: pol.Name, Rep: rep}
	start := l.limit
	if scn.StartLimit > 1 {
		start = uint64(scn.StartLimit * float64(l.limit))
	}
	var high uint64
	if scn.High > 0 {
		high = uint64(scn.High * float64(l.limit))
	}
	l.seq++
	cg, err := l.hier.newRun(fmt.Sprintf("oomlab-%d-%d", os.Getpid(), l.seq), start, high)
	if err != nil {
		return res, err
	}
	defer func() {
		if err := cg.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "oomlab: removing %s: %v\n", cg.dir(), err)
		}
	}()

	cfg := workerConfig{
		Scenario: scn, Policy: pol, CgroupDir: cg.dir(), Limit: l.limit,
		Duration: l.duration, Garbage: l.garbage, Interval: l.interval,
	}
	if scn.PageCache {
		cfg.PageCacheFile = l.file
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return res, err
	}
	cmd := exec.Command(l.self)
	cmd.Env = append(workerEnv(), envWorker+"="+string(raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	after, err := cg.startIn(cmd)
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	err = cmd.Start()
	after()
	if err != nil {
		return res, err
	}

	// The in-place resize, at LowerAt of the run.
	lowered := make(chan struct{})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if scn.StartLimit > 1 {
		go func() {
			defer close(lowered)
			select {
			case <-runCtx.Done():
				return
			case <-time.After(time.Duration(scn.LowerAt * float64(l.duration))):
			}
			if err := cg.setLimit(l.limit, 2*time.Second); err != nil {
				res.LowerErr = err.Error()
				return
			}
			res.LoweredAt = time.Now().UnixNano()
			// On v2 a lowering below what cannot be reclaimed OOM-kills
			// inside the write: no re-reading of the limit can help then.
			if c, err := cg.counters(); err == nil && c.OOMKills > 0 {
				res.KilledAtCut = true
			}
		}()
	} else {
		close(lowered)
	}

	// A run that outlives its duration by far is killed (it is thrashing,
	// not serving); so is every run when the lab is interrupted.
	var timedOut atomic.Bool
	timer := time.AfterFunc(l.duration+30*time.Second, func() {
		timedOut.Store(true)
		_ = cmd.Process.Kill()
	})
	defer timer.Stop()
	stopOnCancel := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stopOnCancel()

	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var p progress
		if json.Unmarshal(sc.Bytes(), &p) == nil {
			res.Last = p
		}
	}
	waitErr := cmd.Wait()
	end := time.Now()
	res.Wall = end.Sub(t0)
	cancel()
	<-lowered

	if res.Counters, err = cg.counters(); err != nil {
		return res, err
	}
	res.OOMKills = res.Counters.OOMKills
	// The oom_kill counter decides; a SIGKILL the lab did not send counts
	// too (kernels before 4.13 have no counter).
	var ws syscall.WaitStatus
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		ws = st
	}
	res.Killed = res.OOMKills > 0 ||
		ws.Signaled() && ws.Signal() == syscall.SIGKILL && !timedOut.Load() && ctx.Err() == nil
	res.Peak = res.Counters.Peak
	if res.LoweredAt > 0 && res.Last.LimitSeen > 0 {
		// memwatch may see the new memory.max while the write still
		// reclaims (v2): that counts as following at once.
		res.Followed = true
		res.Reaction = time.Duration(max(0, res.Last.LimitSeen-res.LoweredAt))
	}
	if res.LoweredAt > 0 && res.Killed {
		res.DiedAfterCut = time.Duration(max(0, end.UnixNano()-res.LoweredAt))
	}
	switch {
	case res.Killed:
	case ctx.Err() != nil:
		res.Err = "interrupted"
	case res.LowerErr != "":
		// The scenario did not happen: the run proves nothing either way.
		res.Err = "lowering the limit failed: " + res.LowerErr
	case timedOut.Load():
		res.Err = fmt.Sprintf("still running %s after its end; killed", 30*time.Second)
	case waitErr != nil:
		res.Err = waitErr.Error() // its stderr follows below
	case res.Last.Err != "":
		res.Err = res.Last.Err
	case !res.Last.Done:
		res.Err = "worker ended without its final report"
	}
	if l.verbose || (res.Err != "" && !res.Killed) {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			fmt.Fprintf(os.Stderr, "--- %s/%s rep %d worker stderr:\n%s\n", scn.Name, pol.Name, rep, s)
		}
	}
	return res, nil
}

// workerEnv is the lab's environment without settings that would change
// the policies under test.
func workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOGC", "GOMEMLIMIT", "GODEBUG", "AUTOMEMLIMIT", "AUTOMEMLIMIT_DEBUG", "MEMWATCH_AUTO", envWorker, envSidecar:
			continue
		}
		env = append(env, kv)
	}
	return env
}

// makePageCacheFile writes a file of n bytes under dir for the page-cache
// scenario, syncs it and drops it from the cache, so the workers fault it in
// (and are charged for it) themselves. It refuses memory-backed file
// systems, where the file would be shmem, not page cache.
func makePageCacheFile(dir string, n uint64) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", err
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		return "", fmt.Errorf("%s is memory-backed (tmpfs/ramfs): its files are shmem, not page cache; pass -dir on a disk", dir)
	}
	f, err := os.CreateTemp(dir, "oomlab-pagecache-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	buf := bytes.Repeat([]byte("memwatch oomlab page cache\n"), (1<<20)/27+1)[:1<<20]
	for written := uint64(0); written < n && err == nil; written += uint64(len(buf)) {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// checkRoot says why the lab cannot run here, if it cannot.
func checkRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root to create memory cgroups")
	}
	return nil
}

// selfPath is this executable, for re-executing it as a worker.
func selfPath() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}
