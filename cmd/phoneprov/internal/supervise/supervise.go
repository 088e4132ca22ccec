// Package supervise runs the long-lived parts of a process as one: they
// start together, the first to fail stops the others, and the process
// learns why. A service manager (systemd) can only restart a process that
// exits; a part that died quietly while the others kept the process alive
// would never be restarted.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Part is one long-lived piece of work: a listener, a worker loop.
type Part struct {
	// Name says which part failed, in logs and errors.
	Name string
	// Run works until ctx ends and then returns nil (or ctx's error).
	// Any return before ctx ends is a failure, nil included: a part that
	// stops on its own has stopped doing its job.
	Run func(ctx context.Context) error
}

// Run starts every part and returns when they have stopped: after ctx
// ends, or after the first failure, which cancels the others. The parts
// then have grace to return; Run does not wait longer, and names those
// that had not returned. The result is nil after a clean stop, else the
// first failure (with its part's name) joined with any later ones.
func Run(ctx context.Context, grace time.Duration, log *slog.Logger, parts ...Part) error {
	if len(parts) == 0 {
		return errors.New("supervise: no parts to run")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		part string
		err  error
	}
	results := make(chan result, len(parts))
	for _, p := range parts {
		go func() {
			err := p.Run(ctx)
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped on its own")
			}
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				err = nil
			}
			results <- result{p.Name, err}
		}()
	}

	var errs []error
	running := make(map[string]int, len(parts))
	for _, p := range parts {
		running[p.Name]++
	}
	done := func(r result) {
		running[r.part]--
		if r.err == nil {
			return
		}
		err := fmt.Errorf("%s: %w", r.part, r.err)
		if len(errs) == 0 {
			log.Error("a part failed; stopping the others", "part", r.part, "err", r.err)
		} else {
			log.Error("a part failed while stopping", "part", r.part, "err", r.err)
		}
		errs = append(errs, err)
	}
	left := len(parts)
	select {
	case <-ctx.Done():
	case r := <-results:
		left--
		done(r)
	}
	cancel()
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for ; left > 0; left-- {
		select {
		case r := <-results:
			done(r)
		case <-deadline.C:
			var stuck []string
			for name, n := range running {
				if n > 0 {
					stuck = append(stuck, name)
				}
			}
			slices.Sort(stuck)
			err := fmt.Errorf("not stopped %s after the stop: %s", grace, strings.Join(stuck, ", "))
			log.Error("parts did not stop in time; leaving them", "parts", strings.Join(stuck, ","), "grace", grace)
			return errors.Join(append(errs, err)...)
		}
	}
	return errors.Join(errs...)
}
