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
// order and applied to each record (see apply; a few allocations per line;
// the Watcher logs rarely).
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

// current is the default handler of the moment.
func (h *defaultHandler) current() slog.Handler { return slog.Default().Handler() }

// apply nests the record's attributes under the recorded groups and puts
// the recorded attributes before them, as the default handler's own
// WithAttrs and WithGroup would. It rebuilds the record instead of calling
// them: calling a handler's WithAttrs or WithGroup through the interface
// links those methods of every slog handler into every program importing
// memwatch/auto (about 12 KB, scripts/binsize.sh), for a path memwatch
// itself never takes.
func (h *defaultHandler) apply(r slog.Record) slog.Record {
	if len(h.ops) == 0 {
		return r
	}
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	for i := len(h.ops) - 1; i >= 0; i-- {
		op := h.ops[i]
		if op.attrs != nil {
			attrs = append(append([]slog.Attr(nil), op.attrs...), attrs...)
		} else if len(attrs) > 0 {
			attrs = []slog.Attr{{Key: op.group, Value: slog.GroupValue(attrs...)}}
		}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(attrs...)
	return out
}

func (h *defaultHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min.Level() && slog.Default().Handler().Enabled(ctx, level)
}

// Handle passes r to the current default handler.
func (h *defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min.Level() {
		return nil
	}
	return h.current().Handle(ctx, h.apply(r))
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
