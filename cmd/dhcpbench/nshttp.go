package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// nsGet fetches an http:// URL from inside a namespace: the connection is
// made on a thread switched into ns (a loopback address there is the
// namespace's own), then the request is written on it by hand, since
// http.Client would dial from goroutines outside the namespace. timeout
// bounds the whole request.
func nsGet(ctx context.Context, ns *netlab.Namespace, rawURL string, timeout time.Duration) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("get %s: not an http URL", rawURL)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	err = ns.Do(func() error {
		// One IPv4 address: the dialer creates the socket on this thread.
		var d net.Dialer
		var derr error
		conn, derr = d.DialContext(ctx, "tcp4", u.Host)
		return derr
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", rawURL, resp.Status)
	}
	return body, nil
}
