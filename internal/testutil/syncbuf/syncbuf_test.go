package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("ab"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if s := b.String(); len(s) != 1600 || strings.Count(s, "ab") != 800 {
		t.Fatalf("got %d bytes, %d pairs; want 1600, 800", len(s), strings.Count(s, "ab"))
	}
}
