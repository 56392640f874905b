package auto_test

import (
	"fmt"

	"github.com/go-memwatch/memwatch/memwatch/auto"
)

// Import the package for its side effect to keep GOMEMLIMIT under the
// container's memory limit:
//
//	import _ "github.com/go-memwatch/memwatch/memwatch/auto"
//
// The started Watcher is available to read what it did.
func ExampleWatcher() {
	w := auto.Watcher()
	if w == nil {
		fmt.Println("memwatch/auto is off:", auto.Err())
		return
	}
	s := w.Latest()
	if s.Actions.MemLimit > 0 {
		fmt.Printf("GOMEMLIMIT set to %d bytes: %s\n", s.Actions.MemLimit, s.Actions.MemLimitReason)
	} else {
		fmt.Println("GOMEMLIMIT left alone:", s.Actions.MemLimitReason)
	}
}
