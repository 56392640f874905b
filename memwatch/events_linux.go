//go:build linux

package memwatch

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"golang.org/x/sys/unix"
)

// psiTrigger asks for a wake-up when tasks of the cgroup stall on memory for
// 150 ms within a 2 s window (2 s: the window granularity allowed without
// CAP_SYS_RESOURCE).
const psiTrigger = "some 150000 2000000"

// linuxEvents owns every descriptor of the kernel wake-ups and the
// goroutine polling them. It knows nothing of the Watcher: it is given the
// files to watch and a function to call when the kernel signals.
type linuxEvents struct {
	log      *slog.Logger
	wake     func()
	ctl      int // eventfd: shutdown and threshold changes
	inotify  int // v2 memory.events watch, or -1
	ctlFile  int // v1 cgroup.event_control (write-only), or -1
	usageFd  int // the Sampler's memory.usage_in_bytes (not ours)
	oomCtl   int // v1 memory.oom_control (ours), or -1
	oomEfd   int // v1 OOM notification eventfd, or -1
	psi      int // PSI trigger fd, or -1
	thrMu    sync.Mutex
	thr      [2]int // v1 threshold eventfds (−1 when unset); only the poll goroutine touches them after start
	pending  bool
	pendWarn uint64
	pendCrit uint64
	closing  bool
	done     chan struct{}
}

// startEvents registers what the kernel and the cgroupfs allow and starts
// the poll goroutine. It returns nil and "poll" when nothing could be
// registered; otherwise the mode names what is active ("poll+inotify",
// "poll+eventfd", "+psi").
func startEvents(cfg eventConfig) (eventSource, string) {
	files, loc, usageFd := cfg.files, cfg.loc, cfg.usageFd
	log := cfg.log
	e := &linuxEvents{log: log, wake: cfg.wake, ctl: -1, inotify: -1, ctlFile: -1, usageFd: usageFd, oomCtl: -1, oomEfd: -1, psi: -1, thr: [2]int{-1, -1}, done: make(chan struct{})}
	mode := "poll"
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
	if !loc.ReadOnly && files.EventControl != "" && usageFd >= 0 && isCgroupFS(files.EventControl) {
		if fd, err := unix.Open(files.EventControl, unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
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
	if mode == "poll" {
		return nil, mode
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		e.closeFds()
		return nil, "poll"
	}
	e.ctl = fd
	go e.loop()
	return e, mode
}

// registerOOM registers a v1 OOM notification on memory.oom_control.
func (e *linuxEvents) registerOOM(path string) error {
	if path == "" {
		return errors.New("no memory.oom_control")
	}
	oc, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
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
func (e *linuxEvents) probeThreshold() error {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(efd)
	return e.register(efd, e.usageFd, strconv.FormatUint(1<<62, 10))
}

// register writes "<efd> <fd> [arg]" to cgroup.event_control.
func (e *linuxEvents) register(efd, fd int, arg string) error {
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

// setThresholds asks the poll goroutine to replace the v1 usage thresholds
// (0 removes them).
func (e *linuxEvents) setThresholds(warn, crit uint64) {
	if e.ctlFile < 0 {
		return
	}
	e.thrMu.Lock()
	e.pending, e.pendWarn, e.pendCrit = true, warn, crit
	e.thrMu.Unlock()
	e.kick()
}

func (e *linuxEvents) kick() {
	var one = [8]byte{1}
	unix.Write(e.ctl, one[:])
}

// applyThresholds runs on the poll goroutine. Closing an eventfd removes its
// registration in the kernel.
func (e *linuxEvents) applyThresholds() {
	e.thrMu.Lock()
	pending, warn, crit := e.pending, e.pendWarn, e.pendCrit
	e.pending = false
	e.thrMu.Unlock()
	if !pending {
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

func (e *linuxEvents) loop() {
	defer close(e.done)
	var buf [4096]byte
	var fds [6]unix.PollFd
	for {
		e.applyThresholds()
		e.thrMu.Lock()
		closing := e.closing
		e.thrMu.Unlock()
		if closing {
			return
		}
		n := 0
		add := func(fd int, ev int16) {
			if fd >= 0 {
				fds[n] = unix.PollFd{Fd: int32(fd), Events: ev}
				n++
			}
		}
		add(e.ctl, unix.POLLIN)
		add(e.inotify, unix.POLLIN)
		add(e.oomEfd, unix.POLLIN)
		add(e.thr[0], unix.POLLIN)
		add(e.thr[1], unix.POLLIN)
		add(e.psi, unix.POLLPRI)
		if _, err := unix.Poll(fds[:n], -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			e.log.Debug("memwatch: poll failed; kernel wake-ups stop", "err", err)
			return
		}
		wake := false
		for i := range fds[:n] {
			p := &fds[i]
			if p.Revents == 0 {
				continue
			}
			if int(p.Fd) == e.psi {
				if p.Revents&unix.POLLERR != 0 && p.Revents&unix.POLLPRI == 0 {
					// The cgroup is gone or the trigger invalid: stop
					// watching it.
					unix.Close(e.psi)
					e.psi = -1
					continue
				}
				wake = true
				continue
			}
			// eventfd and inotify: drain (non-blocking).
			unix.Read(int(p.Fd), buf[:])
			if int(p.Fd) != e.ctl {
				wake = true
			}
		}
		if wake {
			e.wake()
		}
	}
}

func (e *linuxEvents) close() {
	e.thrMu.Lock()
	e.closing = true
	e.thrMu.Unlock()
	e.kick()
	<-e.done
	e.closeFds()
}

func (e *linuxEvents) closeFds() {
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
