package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
)

// notifier tells systemd how the service is doing, as sd_notify(3) does:
// newline-separated "KEY=value" states in one datagram to the socket
// systemd names in NOTIFY_SOCKET (a path, or an abstract name written
// with a leading '@'). Without NOTIFY_SOCKET (not under systemd, or a
// Type= other than notify) it sends nothing.
type notifier struct {
	conn *net.UnixConn // nil: nobody listens
	log  *slog.Logger
}

// newNotifier connects to socket, the value of NOTIFY_SOCKET; "" makes a
// notifier that sends nothing.
func newNotifier(socket string, log *slog.Logger) (*notifier, error) {
	if socket == "" {
		return &notifier{log: log}, nil
	}
	if socket[0] != '/' && socket[0] != '@' {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: only a socket path or an abstract name (@name) is supported", socket)
	}
	// Go's Linux sockaddr turns a leading '@' into the NUL byte of an
	// abstract name, as systemd means it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: %w", socket, err)
	}
	return &notifier{conn: conn, log: log}, nil
}

// send sends states in one datagram. A failure is logged: systemd then
// acts on the states it did not get (a start or watchdog timeout).
func (n *notifier) send(states ...string) {
	if n.conn == nil {
		return
	}
	if _, err := n.conn.Write([]byte(strings.Join(states, "\n"))); err != nil {
		n.log.Warn("cannot tell systemd", "states", strings.Join(states, " "), "err", err)
	}
}

// close closes the socket.
func (n *notifier) close() {
	if n.conn != nil {
		n.conn.Close()
	}
}

// reloading is the message that starts a reload; systemd wants the
// CLOCK_MONOTONIC time with it (sd_notify(3), RELOADING=1).
func reloading() []string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return []string{"RELOADING=1"}
	}
	return []string{"RELOADING=1", "MONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)}
}

// watchdogInterval is how often to send WATCHDOG=1: half of WATCHDOG_USEC
// (usec), as sd_watchdog_enabled(3) advises, when the watchdog is meant
// for this process (WATCHDOG_PID, when set, is self). 0: no watchdog.
func watchdogInterval(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pid != "" && pid != strconv.Itoa(self) {
		return 0, nil // the variables were meant for a parent process
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds", usec)
	}
	return time.Duration(n) * time.Microsecond / 2, nil
}

// systemdPart tells systemd the appliance is ready (every listener is
// bound before the parts run, so connections wait in the kernel's queues
// until the servers take them), pets the watchdog every interval while
// the readiness checks pass, and says STOPPING=1 when the appliance stops.
// A wedged part (a check that does not answer within half the interval)
// or a failing one stops the petting, and systemd restarts the service.
func (n *notifier) systemdPart(interval time.Duration, status string, checks []admin.Check) supervise.Part {
	return supervise.Part{Name: "systemd", Run: func(ctx context.Context) error {
		n.send("READY=1", "STATUS="+status)
		var tick <-chan time.Time
		if interval > 0 {
			t := time.NewTicker(interval)
			defer t.Stop()
			tick = t.C
		}
		healthy := true
		for {
			select {
			case <-ctx.Done():
				n.send("STOPPING=1", "STATUS=stopping")
				return nil
			case <-tick:
			}
			err := passes(ctx, checks, interval/2)
			switch {
			case err == nil:
				if !healthy {
					n.log.Info("readiness checks pass again; the systemd watchdog is fed", "checks", len(checks))
				}
				n.send("WATCHDOG=1")
			case healthy:
				n.log.Error("readiness check failed; the systemd watchdog is no longer fed and will restart the service", "err", err)
			}
			healthy = err == nil
		}
	}}
}

// passes runs every check, all of them within timeout, and returns the
// failures. A check that does not return in time counts as failed.
func passes(ctx context.Context, checks []admin.Check, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var errs []error
		for _, c := range checks {
			if err := c.Run(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			}
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the checks did not answer within %s", timeout)
	}
}

// listenStatus is the STATUS= line systemctl status shows: where each
// protocol listens.
func listenStatus(addrs map[string][]net.Addr) string {
	var parts []string
	for _, proto := range slices.Sorted(maps.Keys(addrs)) {
		var list []string
		for _, a := range addrs[proto] {
			list = append(list, a.String())
		}
		parts = append(parts, proto+" "+strings.Join(list, " "))
	}
	if len(parts) == 0 {
		return "serving"
	}
	return "serving " + strings.Join(parts, ", ")
}
