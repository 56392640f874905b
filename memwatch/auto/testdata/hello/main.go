// Command hello is a hello-world that blank-imports memwatch/auto, for
// scripts/binsize.sh: its size minus hello-plain's is what the import adds.
package main

import (
	"fmt"

	_ "github.com/go-memwatch/memwatch/memwatch/auto"
)

func main() { fmt.Println("hello, world") }
