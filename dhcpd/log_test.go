package dhcpd

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// testLogger writes to the test log, so a failing test shows what the
// server said. Lines logged after the test ended are dropped.
func testLogger(t testing.TB, also ...io.Writer) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(io.MultiWriter(append([]io.Writer{w}, also...)...), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p[:len(p)-1]))
	}
	return len(p), nil
}

func newBufLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
