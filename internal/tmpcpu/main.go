package main

import (
	"context"
	"fmt"
	"os"
	
	"time"

	"github.com/go-memwatch/memwatch/memwatch"
	"golang.org/x/sys/unix"
)

func cpu() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	opts := []memwatch.WatcherOption{}
	if len(os.Args) > 1 && os.Args[1] == "poll" {
		opts = append(opts, memwatch.WithEvents(false))
	}
	if len(os.Args) > 1 && os.Args[1] == "nocheck" {
		opts = append(opts, memwatch.WithEvents(false), memwatch.WithPollCheck(0))
	}
	if len(os.Args) > 1 && os.Args[1] == "ticker" {
		go func() {
			for range time.Tick(50 * time.Millisecond) {
			}
		}()
		opts = append(opts, memwatch.WithEvents(false), memwatch.WithPollCheck(0), memwatch.WithInterval(time.Hour))
	}
	c0 := cpu()
	time.Sleep(5 * time.Second)
	fmt.Println("idle", (cpu()-c0)/5)
	w, _ := memwatch.New(opts...)
	w.Start(context.Background())
	f, _ := os.Create("/tmp/cpu.prof")
	_ = f
	c0 = cpu()
	time.Sleep(10 * time.Second)
	var ru unix.Rusage; unix.Getrusage(unix.RUSAGE_SELF, &ru); fmt.Println("watcher", (cpu()-c0)/10, w.Latest().Sampling.Mode, "nvcsw", ru.Nvcsw, "nivcsw", ru.Nivcsw, "utime", ru.Utime, "stime", ru.Stime)
	
	w.Stop()
}
