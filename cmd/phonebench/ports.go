package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// loopback is the only address any server under test listens on.
const loopback = "127.0.0.1"

// readyTimeout bounds how long a server may take to start listening.
const readyTimeout = 20 * time.Second

// freePort asks the kernel for an unused loopback port of the network
// ("tcp" or "udp"). Another process could take it before the server binds;
// the server then fails to start, which the benchmark reports.
func freePort(network string) (int, error) {
	var addr net.Addr
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return 0, fmt.Errorf("find a free tcp port: %w", err)
		}
		defer l.Close()
		addr = l.Addr()
	case "udp":
		c, err := net.ListenPacket("udp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return 0, fmt.Errorf("find a free udp port: %w", err)
		}
		defer c.Close()
		addr = c.LocalAddr()
	default:
		return 0, fmt.Errorf("find a free port: unknown network %q", network)
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return strconv.Atoi(port)
}

// freePorts returns n distinct free ports of the network.
func freePorts(network string, n int) ([]int, error) {
	seen := make(map[int]bool)
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("find %d free %s ports: kept getting the same ones", n, network)
		}
		p, err := freePort(network)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// hostPort joins the loopback address and port.
func hostPort(port int) string { return net.JoinHostPort(loopback, strconv.Itoa(port)) }

// waitUntil calls probe every 50 ms until it succeeds, the child exits,
// readyTimeout passes or ctx ends.
func waitUntil(ctx context.Context, c *benchkit.Proc, what string, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		if c.Exited() {
			return c.Failure()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready after %v: %w%s", c.Name(), what, readyTimeout, err, benchkit.LogTail(c.Log()))
		case <-c.Done():
			return c.Failure()
		case <-t.C:
		}
	}
}

// dialProbe returns a probe that succeeds once a TCP port accepts.
func dialProbe(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}
