// Package logging builds phoneprov's logger from the [log] section. Under
// systemd, when standard error is the journal's stream (JOURNAL_STREAM, see
// systemd.exec(5)), every line starts with its sd-daemon(3) priority
// ("<3>" for errors), so `journalctl -p err` finds the errors.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// New is the logger the [log] section describes, writing to w. When w is
// the journal's stream (OnJournal with journalStream, the value of the
// JOURNAL_STREAM variable), each line carries its priority and no time:
// the journal stamps every line itself.
func New(c config.LogConfig, w io.Writer, journalStream string) *slog.Logger {
	if f, ok := w.(*os.File); ok && OnJournal(f, journalStream) {
		return slog.New(NewJournalHandler(w, func(w io.Writer) slog.Handler { return newHandler(c, w, dropTime) }))
	}
	return slog.New(NewHandler(c, w))
}

// NewHandler is the text or JSON handler the [log] section asks for,
// writing to w.
func NewHandler(c config.LogConfig, w io.Writer) slog.Handler {
	return newHandler(c, w, nil)
}

// dropTime removes the record's time from a line.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func newHandler(c config.LogConfig, w io.Writer, replace func([]string, slog.Attr) slog.Attr) slog.Handler {
	opts := &slog.HandlerOptions{Level: c.SlogLevel(), ReplaceAttr: replace}
	if c.Format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// OnJournal reports whether f is the stream systemd connected to the
// journal: journalStream ("DEVICE:INODE", in decimal, as systemd sets
// JOURNAL_STREAM) names f's device and inode. systemd.exec(5) asks for
// this comparison, since the variable is inherited by processes whose
// standard error was redirected elsewhere.
func OnJournal(f *os.File, journalStream string) bool {
	devText, inoText, ok := strings.Cut(journalStream, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devText, 10, 64)
	ino, err2 := strconv.ParseUint(inoText, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// Priority is a level's sd-daemon(3) prefix: errors "<3>" (SD_ERR),
// warnings "<4>" (SD_WARNING), information "<6>" (SD_INFO), debugging
// "<7>" (SD_DEBUG).
func Priority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= slog.LevelInfo:
		return "<6>"
	default:
		return "<7>"
	}
}

// journalHandler puts each record's priority in front of the line its
// inner handler writes. The inner handler writes one line per record in
// one Write (as slog's text and JSON handlers do) to a prefixWriter, which
// the handler and every handler derived from it share under one lock.
type journalHandler struct {
	out   *prefixWriter
	inner slog.Handler
}

// prefixWriter writes prefix and then each line handed to it, in one
// write; mu holds prefix steady from Handle to the write.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(append(p.buf[:0], p.prefix...), b...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

// NewJournalHandler wraps the handler newInner makes, writing to w, so
// that each line starts with its record's Priority.
func NewJournalHandler(w io.Writer, newInner func(io.Writer) slog.Handler) slog.Handler {
	out := &prefixWriter{w: w}
	return &journalHandler{out: out, inner: newInner(out)}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.prefix = Priority(r.Level)
	if err := h.inner.Handle(ctx, r); err != nil {
		return fmt.Errorf("journal log line: %w", err)
	}
	return nil
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{out: h.out, inner: h.inner.WithAttrs(attrs)}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{out: h.out, inner: h.inner.WithGroup(name)}
}
