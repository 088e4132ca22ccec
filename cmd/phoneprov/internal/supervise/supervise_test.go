package supervise

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// worker is a part that works until told to stop and records that it was.
type worker struct {
	mu      sync.Mutex
	stopped bool
}

func (w *worker) run(ctx context.Context) error {
	<-ctx.Done()
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	return nil
}

func (w *worker) wasStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

func runAsync(ctx context.Context, grace time.Duration, log *slog.Logger, parts ...Part) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Run(ctx, grace, log, parts...) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// Each part in turn fails after it has started; the others must be
// stopped and Run must return the failure under the part's name.
func TestTheFirstFailureStopsEveryPart(t *testing.T) {
	names := []string{"fileserve", "dhcp", "admin", "inventory", "reload", "memory"}
	for _, failing := range names {
		t.Run(failing, func(t *testing.T) {
			started := make(chan struct{}, len(names))
			fail := make(chan struct{})
			workers := map[string]*worker{}
			var parts []Part
			for _, name := range names {
				w := &worker{}
				workers[name] = w
				run := func(ctx context.Context) error {
					started <- struct{}{}
					return w.run(ctx)
				}
				if name == failing {
					run = func(ctx context.Context) error {
						started <- struct{}{}
						select {
						case <-fail:
							return errors.New("listener closed")
						case <-ctx.Done():
							return nil
						}
					}
				}
				parts = append(parts, Part{Name: name, Run: run})
			}
			var logs bytes.Buffer
			done := runAsync(context.Background(), 5*time.Second, slog.New(slog.NewTextHandler(&logs, nil)), parts...)
			for range names {
				<-started
			}
			close(fail)
			err := wait(t, done)
			if err == nil || err.Error() != failing+": listener closed" {
				t.Fatalf("Run returned %v, want %q", err, failing+": listener closed")
			}
			for name, w := range workers {
				if name != failing && !w.wasStopped() {
					t.Errorf("%s was not stopped", name)
				}
			}
			if !strings.Contains(logs.String(), "part="+failing) || !strings.Contains(logs.String(), "listener closed") {
				t.Errorf("the cause is not logged:\n%s", logs.String())
			}
		})
	}
}

func TestAPartThatReturnsNilOnItsOwnIsAFailure(t *testing.T) {
	w := &worker{}
	err := wait(t, runAsync(context.Background(), 5*time.Second, slog.New(slog.DiscardHandler),
		Part{Name: "admin", Run: func(context.Context) error { return nil }},
		Part{Name: "inventory", Run: w.run}))
	if err == nil || !strings.Contains(err.Error(), "admin: stopped on its own") {
		t.Fatalf("Run returned %v", err)
	}
	if !w.wasStopped() {
		t.Error("inventory was not stopped")
	}
}

func TestACleanStopIsNil(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, b := &worker{}, &worker{}
	done := runAsync(ctx, 5*time.Second, slog.New(slog.DiscardHandler),
		Part{Name: "a", Run: a.run},
		Part{Name: "b", Run: func(ctx context.Context) error { b.run(ctx); return ctx.Err() }})
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	if !a.wasStopped() || !b.wasStopped() {
		t.Error("a part was not stopped")
	}
}

// An error while stopping (a drain that failed) is not lost.
func TestAnErrorWhileStoppingIsReported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, 5*time.Second, slog.New(slog.DiscardHandler),
		Part{Name: "inventory", Run: func(ctx context.Context) error { <-ctx.Done(); return errors.New("disk full") }})
	cancel()
	if err := wait(t, done); err == nil || err.Error() != "inventory: disk full" {
		t.Fatalf("Run returned %v", err)
	}
}

// A part that does not stop does not keep the process: Run gives up
// after the grace period and names it, with the failure that started it.
func TestAPartThatDoesNotStopIsLeftAfterTheGrace(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	err := wait(t, runAsync(context.Background(), 100*time.Millisecond, slog.New(slog.DiscardHandler),
		Part{Name: "dhcp", Run: func(context.Context) error { return errors.New("socket gone") }},
		Part{Name: "fileserve", Run: func(context.Context) error { <-release; return nil }}))
	if err == nil || !strings.Contains(err.Error(), "dhcp: socket gone") || !strings.Contains(err.Error(), "not stopped 100ms after the stop: fileserve") {
		t.Fatalf("Run returned %v", err)
	}
}

func TestNoParts(t *testing.T) {
	if err := Run(context.Background(), time.Second, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("Run without parts returned nil")
	}
}
