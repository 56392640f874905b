// Command hello-plain is the same hello-world without memwatch, the
// baseline of scripts/binsize.sh.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
