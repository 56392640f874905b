// Command debugvars is the program of the side-effect test: a service that
// blank-imports memwatch/auto and serves http.DefaultServeMux, as many do.
// Importing memwatch must not make it answer /debug/vars (expvar's
// /debug/vars would expose the command line, -db-password included, and a
// stop-the-world runtime.ReadMemStats on every request).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"

	_ "github.com/go-memwatch/memwatch/memwatch/auto"
)

func main() {
	flag.String("db-password", "", "a secret passed as a flag")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	http.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
	http.Serve(ln, nil)
}
