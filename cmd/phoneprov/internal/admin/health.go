package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Check is one condition /readyz requires, such as "the lease store
// answers". Run returns nil when the condition holds, else what is wrong.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// checkTimeout bounds one check, so a hung disk makes /readyz answer "not
// ready" instead of hanging the prober.
const checkTimeout = 2 * time.Second

// run runs one check for at most checkTimeout, even if it ignores its
// context (a check stuck in a system call is left behind, reported failed).
func run(ctx context.Context, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s", checkTimeout)
	}
}

// readiness answers 200 when every check passes and 503 when one fails,
// with one line per check either way:
//
//	ok   leases
//	FAIL dhcp: the DHCP server is not bound
//	not ready
func readiness(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		ready := true
		for _, c := range checks {
			if err := run(r.Context(), c); err != nil {
				ready = false
				fmt.Fprintf(&b, "FAIL %s: %v\n", c.Name, err)
			} else {
				fmt.Fprintf(&b, "ok   %s\n", c.Name)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			b.WriteString("not ready\n")
		} else {
			b.WriteString("ready\n")
		}
		w.Write([]byte(b.String()))
	})
}
