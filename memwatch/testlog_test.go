package memwatch

import (
	"log/slog"

	"github.com/go-memwatch/memwatch/internal/testutil/syncbuf"
)

func newTestLogger(b *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
