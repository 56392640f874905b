// Command demo prints this process's memory as the kernel sees it: the
// process view from /proc (procstat) and the memory cgroup view (cgroupstat),
// in a readable form.
//
//	go run ./examples/demo            # this machine
//	go run ./examples/demo -root DIR  # a fixture tree (DIR/proc, DIR/sys/fs/cgroup)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/go-memwatch/memwatch/cgroupstat"
	"github.com/go-memwatch/memwatch/procstat"
)

func main() {
	root := flag.String("root", "/", "resolve /proc and /sys/fs/cgroup under this directory")
	flag.Parse()
	if err := run(os.Stdout, *root); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, root string) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	defer w.Flush()

	fmt.Fprintln(w, "PROCESS (/proc/self)\t")
	if err := printProcess(w, root); err != nil {
		fmt.Fprintf(w, "  unavailable:\t%v\n", err)
	}
	fmt.Fprintln(w, "\t")
	fmt.Fprintln(w, "MEMORY CGROUP (what the OOM killer acts on)\t")
	if err := printCgroup(w, root); err != nil {
		if errors.Is(err, cgroupstat.ErrUnsupported) || errors.Is(err, cgroupstat.ErrNoCgroup) || errors.Is(err, cgroupstat.ErrNotMounted) {
			fmt.Fprintf(w, "  none:\t%v\n", err)
			return nil
		}
		return err
	}
	return nil
}

func printProcess(w io.Writer, root string) error {
	r, err := procstat.Open(procstat.WithRoot(root))
	if err != nil {
		return err
	}
	defer r.Close()
	var sm procstat.Statm
	if err := r.ReadStatm(&sm); err != nil {
		return err
	}
	fmt.Fprintf(w, "  rss\t%s\n", bytes(sm.Resident))
	fmt.Fprintf(w, "  virtual size\t%s\n", bytes(sm.Size))
	var st procstat.Status
	if err := r.ReadStatus(&st); err == nil {
		fmt.Fprintf(w, "  rss anon / file / shmem\t%s / %s / %s\n", bytes(st.RssAnon), bytes(st.RssFile), bytes(st.RssShmem))
		fmt.Fprintf(w, "  peak rss (VmHWM)\t%s\n", bytes(st.VmHWM))
		fmt.Fprintf(w, "  swap\t%s\n", bytes(st.VmSwap))
		fmt.Fprintf(w, "  threads\t%d\n", st.Threads)
	}
	var mi procstat.Meminfo
	if err := r.ReadMeminfo(&mi); err == nil {
		fmt.Fprintf(w, "  host total / available\t%s / %s\n", bytes(mi.MemTotal), bytes(mi.MemAvailable))
	}
	return nil
}

func printCgroup(w io.Writer, root string) error {
	r, err := cgroupstat.Open(cgroupstat.WithRoot(root))
	if err != nil {
		return err
	}
	defer r.Close()
	var s cgroupstat.Stats
	if err := r.ReadFull(&s); err != nil {
		return err
	}
	loc := r.Location()
	fmt.Fprintf(w, "  version\t%s (hybrid: %v)\n", s.Version, loc.Hybrid)
	fmt.Fprintf(w, "  path\t%s\n", s.Path)
	limit := "none"
	if s.HasLimit() {
		limit = bytes(s.Limit)
		if s.Limit > 0 {
			limit += fmt.Sprintf("  (usage %.0f%%, working set %.0f%%)", pct(s.Usage, s.Limit), pct(s.WorkingSet, s.Limit))
		}
	}
	if s.AncestorsHidden {
		limit += "  (ancestors not visible: limits above may be lower)"
	}
	fmt.Fprintf(w, "  limit\t%s\n", limit)
	if s.High != cgroupstat.Unlimited {
		fmt.Fprintf(w, "  memory.high\t%s\n", bytes(s.High))
	}
	fmt.Fprintf(w, "  usage\t%s\n", bytes(s.Usage))
	fmt.Fprintf(w, "  working set (kubelet)\t%s\n", bytes(s.WorkingSet))
	fmt.Fprintf(w, "  anon / file\t%s / %s\n", bytes(s.Stat.Anon), bytes(s.Stat.File))
	fmt.Fprintf(w, "  file active / inactive\t%s / %s\n", bytes(s.Stat.ActiveFile), bytes(s.Stat.InactiveFile))
	fmt.Fprintf(w, "  shmem / kernel\t%s / %s\n", bytes(s.Stat.Shmem), bytes(s.Stat.Kernel))
	if s.HasPeak {
		fmt.Fprintf(w, "  peak\t%s\n", bytes(s.Peak))
	}
	fmt.Fprintf(w, "  oom kills\t%d\n", s.Events.OOMKill)
	if s.PSI.Source != cgroupstat.PSINone {
		fmt.Fprintf(w, "  pressure (%s)\tsome avg10 %.2f%%, full avg10 %.2f%%\n", s.PSI.Source, s.PSI.Some.Avg10, s.PSI.Full.Avg10)
	}
	return nil
}

func pct(a, b uint64) float64 { return 100 * float64(a) / float64(b) }

// bytes renders n in binary units.
func bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
