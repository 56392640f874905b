package auto

import (
	"context"
	"log/slog"
)

// defaultHandler sends records to the handler of slog.Default() as it is
// when each record is logged, not when the handler was made: auto's init
// runs before main, so before the application configures slog, and its
// Watcher's lines must still reach the application's logger (JSON lines
// for a JSON-logging service). Records below min are dropped first.
//
// Attributes and groups added with WithAttrs and WithGroup are kept in
// order and replayed on the current default handler for each record (a
// few allocations per line; the Watcher logs rarely).
type defaultHandler struct {
	min slog.Leveler
	ops []handlerOp
}

// handlerOp is one WithAttrs (attrs) or WithGroup (group) call.
type handlerOp struct {
	attrs []slog.Attr
	group string
}

func newDefaultHandler(min slog.Leveler) *defaultHandler { return &defaultHandler{min: min} }

// current is the default handler with the recorded attributes and groups.
func (h *defaultHandler) current() slog.Handler {
	d := slog.Default().Handler()
	for _, op := range h.ops {
		if op.attrs != nil {
			d = d.WithAttrs(op.attrs)
		} else {
			d = d.WithGroup(op.group)
		}
	}
	return d
}

// Enabled reports whether level passes min and the current default
// handler.
func (h *defaultHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min.Level() && slog.Default().Handler().Enabled(ctx, level)
}

// Handle passes r to the current default handler.
func (h *defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min.Level() {
		return nil
	}
	return h.current().Handle(ctx, r)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *defaultHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs})
}

// WithGroup returns a handler that puts the following attributes in group
// name.
func (h *defaultHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerOp{group: name})
}

func (h *defaultHandler) with(op handlerOp) *defaultHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &defaultHandler{min: h.min, ops: append(ops, op)}
}
