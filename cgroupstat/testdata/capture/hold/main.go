// hold allocates anon MiB, writes a file of fileMiB (left dirty in page cache), prints ready, and sleeps.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	anon, _ := strconv.Atoi(os.Args[1])
	fileMiB, _ := strconv.Atoi(os.Args[2])
	b := make([]byte, anon<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	if fileMiB > 0 {
		f, err := os.Create(os.Args[3])
		if err != nil {
			panic(err)
		}
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		for i := 0; i < fileMiB; i++ {
			f.Write(chunk)
		}
		f.Close()
	}
	fmt.Println("ready", os.Getpid())
	time.Sleep(time.Hour)
	_ = b[len(b)-1]
}
