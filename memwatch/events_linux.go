//go:build linux

package memwatch

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"golang.org/x/sys/unix"
)

// psiTrigger asks for a wake-up when tasks of the cgroup stall on memory for
// 150 ms within a 2 s window (2 s: the window granularity allowed without
// CAP_SYS_RESOURCE).
const psiTrigger = "some 150000 2000000"

// kernelSleeper is the Watcher's sleep on Linux: one ppoll(2) on an
// eventfd that other goroutines poke (Stop, the end of the Start context, a
// forced sample) and on whatever the kernel can signal for the cgroup (v2
// inotify on memory.events, v1 OOM notification and usage thresholds, a
// PSI trigger), with the time to the next sample as its timeout. The
// Watcher's goroutine thus sleeps in the kernel and wakes once per sample or
// signal: no timer goroutine, no hand-off between goroutines. It knows
// nothing of the Watcher: it is given the files to watch.
type kernelSleeper struct {
	log     *slog.Logger
	ctl     int    // eventfd poked by other goroutines
	inotify int    // v2 memory.events watch, or -1
	ctlFile int    // v1 cgroup.event_control (write-only), or -1
	usageFd int    // the Sampler's memory.usage_in_bytes (not ours)
	oomCtl  int    // v1 memory.oom_control (ours), or -1
	oomEfd  int    // v1 OOM notification eventfd, or -1
	psi     int    // PSI trigger fd, or -1
	thr     [2]int // v1 usage threshold eventfds, or -1
	fds     [7]unix.PollFd
	buf     [4096]byte

	pokeMu sync.RWMutex // poke (any goroutine) against close (the Watcher's)
	closed bool
}

// newSleeper returns the Linux sleeper; with events it also registers what
// the kernel and the cgroupfs allow. The mode names what is active
// ("poll", "poll+inotify", "poll+eventfd", "+psi"). Without an eventfd (a
// sandbox refusing it) it falls back to a timer.
func newSleeper(cfg eventConfig, events bool) (sleeper, string) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		cfg.log.Debug("memwatch: eventfd refused; sleeping on a timer", "err", err)
		return newTimerSleeper(), "poll"
	}
	e := &kernelSleeper{log: cfg.log, ctl: fd, inotify: -1, ctlFile: -1, usageFd: cfg.usageFd,
		oomCtl: -1, oomEfd: -1, psi: -1, thr: [2]int{-1, -1}}
	mode := "poll"
	if !events {
		return e, mode
	}
	files, loc, log := cfg.files, cfg.loc, cfg.log
	if files.Events != "" && loc.Version == cgroupstat.V2 {
		if fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err == nil {
			if _, err := unix.InotifyAddWatch(fd, files.Events, unix.IN_MODIFY); err == nil {
				e.inotify = fd
				mode += "+inotify"
			} else {
				log.Debug("memwatch: inotify on memory.events failed; polling", "file", files.Events, "err", err)
				unix.Close(fd)
			}
		}
	}
	if !loc.ReadOnly && files.EventControl != "" && cfg.usageFd >= 0 && isCgroupFS(files.EventControl) {
		if fd, err := unix.Open(files.EventControl, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			e.ctlFile = fd
			if e.registerOOM(files.Events) == nil {
				mode += "+eventfd"
			} else if e.probeThreshold() == nil {
				mode += "+eventfd"
			} else {
				unix.Close(fd)
				e.ctlFile = -1
			}
		} else {
			log.Debug("memwatch: cgroup.event_control not writable; polling", "file", files.EventControl, "err", err)
		}
	}
	if !loc.ReadOnly && files.Pressure != "" && files.PressureSource == cgroupstat.PSICgroup && isCgroupFS(files.Pressure) {
		if fd, err := unix.Open(files.Pressure, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			if _, err := unix.Write(fd, []byte(psiTrigger+"\x00")); err == nil {
				e.psi = fd
				mode += "+psi"
			} else {
				log.Debug("memwatch: PSI trigger refused; polling", "file", files.Pressure, "err", err)
				unix.Close(fd)
			}
		}
	}
	return e, mode
}

// registerOOM registers a v1 OOM notification on memory.oom_control.
func (e *kernelSleeper) registerOOM(path string) error {
	if path == "" {
		return errors.New("no memory.oom_control")
	}
	oc, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(oc)
		return err
	}
	if err := e.register(efd, oc, ""); err != nil {
		unix.Close(efd)
		unix.Close(oc)
		return err
	}
	e.oomCtl, e.oomEfd = oc, efd
	return nil
}

// probeThreshold checks that thresholds can be registered at all (when the
// OOM notification could not be), with a threshold nothing reaches.
func (e *kernelSleeper) probeThreshold() error {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(efd)
	return e.register(efd, e.usageFd, strconv.FormatUint(1<<62, 10))
}

// register writes "<efd> <fd> [arg]" to cgroup.event_control.
func (e *kernelSleeper) register(efd, fd int, arg string) error {
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], int64(efd), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(fd), 10)
	if arg != "" {
		b = append(b, ' ')
		b = append(b, arg...)
	}
	_, err := unix.Write(e.ctlFile, b)
	return err
}

// setThresholds replaces the v1 usage thresholds (0 removes them). Closing
// an eventfd removes its registration in the kernel. Only the Watcher's
// goroutine calls it.
func (e *kernelSleeper) setThresholds(warn, crit uint64) {
	if e.ctlFile < 0 {
		return
	}
	for i, fd := range e.thr {
		if fd >= 0 {
			unix.Close(fd)
			e.thr[i] = -1
		}
	}
	for i, bytes := range [2]uint64{warn, crit} {
		if bytes == 0 {
			continue
		}
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			continue
		}
		if err := e.register(efd, e.usageFd, strconv.FormatUint(bytes, 10)); err != nil {
			e.log.Debug("memwatch: usage threshold registration failed", "bytes", bytes, "err", err)
			unix.Close(efd)
			continue
		}
		e.thr[i] = efd
	}
}

// poke makes a sleep in progress (or the next one) return at once. Any
// goroutine may call it, also after close.
func (e *kernelSleeper) poke() {
	e.pokeMu.RLock()
	defer e.pokeMu.RUnlock()
	if !e.closed {
		one := [8]byte{1}
		unix.Write(e.ctl, one[:])
	}
}

// sleep blocks until d has passed, poke is called or the kernel signals,
// and reports whether the kernel signalled. It does not allocate.
func (e *kernelSleeper) sleep(d time.Duration) (kernel bool) {
	n := 0
	add := func(fd int, ev int16) {
		if fd >= 0 {
			e.fds[n] = unix.PollFd{Fd: int32(fd), Events: ev}
			n++
		}
	}
	add(e.ctl, unix.POLLIN)
	add(e.inotify, unix.POLLIN)
	add(e.oomEfd, unix.POLLIN)
	add(e.thr[0], unix.POLLIN)
	add(e.thr[1], unix.POLLIN)
	add(e.psi, unix.POLLPRI)
	ts := unix.NsecToTimespec(int64(max(d, 0)))
	if _, err := unix.Ppoll(e.fds[:n], &ts, nil); err != nil {
		if err != unix.EINTR {
			e.log.Debug("memwatch: ppoll failed", "err", err)
			time.Sleep(d) // never spin
		}
		return false
	}
	for i := range e.fds[:n] {
		p := &e.fds[i]
		if p.Revents == 0 {
			continue
		}
		if int(p.Fd) == e.psi {
			if p.Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
				// The trigger is gone: the cgroup was removed, or PSI was
				// turned off for it (cgroup.pressure 0), which makes the
				// kernel answer POLLERR|POLLPRI on every poll from then
				// on. Stop watching it; polling carries on, and a trigger
				// is not registered again when PSI comes back.
				unix.Close(e.psi)
				e.psi = -1
				continue
			}
			kernel = true
			continue
		}
		// eventfd and inotify: drain (non-blocking).
		unix.Read(int(p.Fd), e.buf[:])
		if int(p.Fd) != e.ctl {
			kernel = true
		}
	}
	return kernel
}

// close releases every descriptor; later pokes do nothing.
func (e *kernelSleeper) close() {
	e.pokeMu.Lock()
	e.closed = true
	e.pokeMu.Unlock()
	e.closeFds()
}

func (e *kernelSleeper) closeFds() {
	for _, p := range []*int{&e.ctl, &e.inotify, &e.oomEfd, &e.oomCtl, &e.thr[0], &e.thr[1], &e.psi, &e.ctlFile} {
		if *p >= 0 {
			unix.Close(*p)
			*p = -1
		}
	}
}

// isCgroupFS reports whether path lives on a cgroup file system: writes that
// register notifications make sense only there, not in a fixture tree of
// plain files.
func isCgroupFS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC
}
