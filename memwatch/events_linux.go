//go:build linux

package memwatch

import (
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"golang.org/x/sys/unix"
)

// psiTrigger asks for a wake-up when tasks of the cgroup stall on memory for
// 150 ms within a 2 s window (2 s: the window granularity allowed without
// CAP_SYS_RESOURCE).
const psiTrigger = "some 150000 2000000"

// kernelSleeper is the Watcher's sleep on Linux: an epoll(7) instance
// holding an eventfd that other goroutines poke (Stop, the end of the Start
// context, a forced sample) and whatever the kernel can signal for the
// cgroup (v2 inotify on memory.events, v1 OOM notification and usage
// thresholds, a PSI trigger). The epoll descriptor itself sits in the Go
// runtime's network poller (an *os.File with a read deadline at the time of
// the next sample), so a sleeping Watcher parks its goroutine like a network
// read does: it holds no P and no thread. A blocking ppoll(2), as the
// sleeper first did, keeps the P in a system call until sysmon takes it
// back, 10–20 ms later when sysmon idles: with GOMAXPROCS=1 every such sleep
// stalled the whole program that long (see "The sleeper and the kernel
// event source" in docs/ARCHITECTURE.md). The Watcher's goroutine wakes once
// per sample or signal: no timer goroutine, no hand-off between goroutines.
// It knows nothing of the Watcher: it is given the files to watch.
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
	ep      int    // the epoll instance watching the descriptors above
	epFile  *os.File
	epConn  syscall.RawConn
	collect func(uintptr) bool // e.collectEvents, bound once: no allocation per sleep
	evs     [8]unix.EpollEvent
	nev     int
	buf     [4096]byte

	pokeMu sync.RWMutex // poke (any goroutine) against close (the Watcher's)
	closed bool
}

// newSleeper returns the Linux sleeper; with events it also registers what
// the kernel and the cgroupfs allow. The mode names what is active
// ("poll", "poll+inotify", "poll+eventfd", "+psi"). Without an eventfd or
// an epoll instance the poller takes (a sandbox refusing them) it falls
// back to a timer.
func newSleeper(cfg eventConfig, events bool) (sleeper, string) {
	e, err := newKernelSleeper(cfg.log, cfg.usageFd)
	if err != nil {
		cfg.log.Debug("memwatch: no epoll in the Go poller; sleeping on a timer", "err", err)
		return newTimerSleeper(), "poll"
	}
	mode := "poll"
	if !events {
		return e, mode
	}
	files, loc, log := cfg.files, cfg.loc, cfg.log
	if files.Events != "" && loc.Version == cgroupstat.V2 {
		if fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err == nil {
			if _, err := unix.InotifyAddWatch(fd, files.Events, unix.IN_MODIFY); err == nil && e.watch(fd, unix.EPOLLIN) == nil {
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
			if _, err := unix.Write(fd, []byte(psiTrigger+"\x00")); err == nil && e.watch(fd, unix.EPOLLPRI) == nil {
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

// newKernelSleeper makes the epoll set with the poke eventfd in it and puts
// the epoll descriptor in the Go poller. An error (no eventfd or epoll, a
// poller that refuses the descriptor) leaves nothing open.
func newKernelSleeper(log *slog.Logger, usageFd int) (*kernelSleeper, error) {
	e := &kernelSleeper{log: log, ctl: -1, inotify: -1, ctlFile: -1, usageFd: usageFd,
		oomCtl: -1, oomEfd: -1, psi: -1, thr: [2]int{-1, -1}, ep: -1}
	e.collect = e.collectEvents
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that os.NewFile registers it with the poller.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, err
	}
	e.ep, e.epFile = ep, os.NewFile(uintptr(ep), "memwatch-epoll")
	if e.ctl, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err == nil {
		err = e.watch(e.ctl, unix.EPOLLIN)
	}
	if err == nil {
		// A descriptor the poller did not take has no deadlines.
		err = e.epFile.SetReadDeadline(time.Time{})
	}
	if err == nil {
		e.epConn, err = e.epFile.SyscallConn()
	}
	if err != nil {
		e.closeFds()
		return nil, err
	}
	return e, nil
}

// watch adds fd to the epoll set (level-triggered).
func (e *kernelSleeper) watch(fd int, events uint32) error {
	return unix.EpollCtl(e.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
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
	if err = e.register(efd, oc, ""); err == nil {
		err = e.watch(efd, unix.EPOLLIN)
	}
	if err != nil {
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
		err = e.register(efd, e.usageFd, strconv.FormatUint(bytes, 10))
		if err == nil {
			err = e.watch(efd, unix.EPOLLIN)
		}
		if err != nil {
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
// and reports what the kernel signalled. It parks the goroutine in the Go
// poller (no P held) and does not allocate.
func (e *kernelSleeper) sleep(d time.Duration) (woke wake) {
	e.nev = 0
	if d <= 0 {
		e.collectEvents(0)
	} else if err := e.epFile.SetReadDeadline(time.Now().Add(d)); err != nil {
		e.log.Debug("memwatch: epoll deadline refused", "err", err)
		time.Sleep(d) // never spin
		return 0
	} else if err := e.epConn.Read(e.collect); err != nil && err != os.ErrDeadlineExceeded {
		e.log.Debug("memwatch: waiting on epoll failed", "err", err)
		time.Sleep(d)
		return 0
	}
	for _, ev := range e.evs[:e.nev] {
		fd := int(ev.Fd)
		if fd == e.psi {
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				// The trigger is gone: the cgroup was removed, or PSI was
				// turned off for it (cgroup.pressure 0), which makes the
				// kernel answer POLLERR|POLLPRI on every poll from then
				// on. Stop watching it (closing it leaves the epoll set);
				// polling carries on, and a trigger is not registered
				// again when PSI comes back.
				unix.Close(e.psi)
				e.psi = -1
				continue
			}
			woke |= wokeKernel
			continue
		}
		// eventfd and inotify: drain (non-blocking).
		unix.Read(fd, e.buf[:])
		switch fd {
		case e.ctl:
		case e.inotify:
			woke |= wokeEvents
		default:
			woke |= wokeKernel
		}
	}
	return woke
}

// collectEvents takes what the epoll set has ready without waiting; false
// (nothing yet) makes the poller park the goroutine until the epoll
// descriptor turns readable or the deadline passes.
func (e *kernelSleeper) collectEvents(uintptr) bool {
	n, err := unix.EpollWait(e.ep, e.evs[:], 0)
	if err != nil || n <= 0 {
		return false
	}
	e.nev = n
	return true
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
	if e.epFile != nil {
		e.epFile.Close() // closes e.ep
		e.epFile, e.ep = nil, -1
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
