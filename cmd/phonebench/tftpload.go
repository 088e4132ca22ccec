package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
	"syscall"
	"time"

	"github.com/pin/tftp/v3"
)

// TFTP client settings, the same against every server.
const (
	tftpBlockSize = 1428            // requested blksize
	tftpTimeout   = 1 * time.Second // wait for one packet before resending the ACK
	tftpRetries   = 5               // resends before a transfer is given up
)

// errCut ends transfers still running when the measuring window closes.
var errCut = errors.New("measuring window closed")

// tftpLoad is one TFTP load: Clients goroutines, each downloading File over
// and over from Addr until Duration has passed.
type tftpLoad struct {
	Addr     string
	File     testFile
	Clients  int
	Duration time.Duration
}

// tftpResult is what a TFTP load achieved within its window.
type tftpResult struct {
	Completed int64         // transfers received whole, right size and sha256
	Failed    int64         // transfers that ended in an error or arrived wrong
	Bytes     int64         // payload received inside the window, cut transfers included
	Window    time.Duration // the measuring window
	FirstErr  string        // the first failure, for the report
	CPU       time.Duration // this whole process's CPU time meanwhile: the client's cost
}

// MBps returns the aggregate payload throughput in MB/s (10^6 bytes).
func (r tftpResult) MBps() float64 { return float64(r.Bytes) / 1e6 / r.Window.Seconds() }

// TPS returns completed transfers per second.
func (r tftpResult) TPS() float64 { return float64(r.Completed) / r.Window.Seconds() }

// newTFTPClient returns a pin/tftp client with the benchmark's settings.
func newTFTPClient(addr string, timeout time.Duration, retries int) (*tftp.Client, error) {
	c, err := tftp.NewClient(addr)
	if err != nil {
		return nil, fmt.Errorf("tftp client for %s: %w", addr, err)
	}
	c.SetBlockSize(tftpBlockSize)
	c.RequestTSize(true)
	c.SetTimeout(timeout)
	c.SetRetries(retries)
	c.SetBackoff(func(int) time.Duration { return 0 }) // resend at once, as phones do
	return c, nil
}

// runTFTPLoad runs the load. Payload that arrives after the window closes
// is not counted and the transfers carrying it are cut (the server gets an
// error packet); they count neither as completed nor as failed.
func runTFTPLoad(ctx context.Context, l tftpLoad) (tftpResult, error) {
	cpu0, err := selfCPU()
	if err != nil {
		return tftpResult{}, err
	}
	start := time.Now()
	deadline := start.Add(l.Duration)
	var (
		mu  sync.Mutex
		res = tftpResult{Window: l.Duration}
		wg  sync.WaitGroup
	)
	for range l.Clients {
		c, err := newTFTPClient(l.Addr, tftpTimeout, tftpRetries)
		if err != nil {
			return tftpResult{}, err
		}
		wg.Go(func() {
			var mine tftpResult
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n, err := download(ctx, c, l.File, deadline)
				mine.Bytes += n
				switch {
				case errors.Is(err, errCut):
				case err != nil:
					mine.Failed++
					if mine.FirstErr == "" {
						mine.FirstErr = err.Error()
					}
				default:
					mine.Completed++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Completed += mine.Completed
			res.Failed += mine.Failed
			res.Bytes += mine.Bytes
			if res.FirstErr == "" {
				res.FirstErr = mine.FirstErr
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return tftpResult{}, fmt.Errorf("tftp load on %s: %w", l.Addr, err)
	}
	cpu1, err := selfCPU()
	if err != nil {
		return tftpResult{}, err
	}
	res.CPU = cpu1 - cpu0
	return res, nil
}

// selfCPU returns the CPU time this process has used.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// cutWriter hashes and counts what it is given until a deadline or until
// ctx ends; then it refuses, which makes the client abort the transfer.
type cutWriter struct {
	ctx      context.Context
	deadline time.Time
	h        hash.Hash
	n        int64
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.ctx.Err() != nil || time.Now().After(w.deadline) {
		return 0, errCut
	}
	w.h.Write(p)
	w.n += int64(len(p))
	return len(p), nil
}

// download fetches f once and checks tsize, size and sha256. It returns the
// payload bytes received before the deadline; errCut if it was cut.
func download(ctx context.Context, c *tftp.Client, f testFile, deadline time.Time) (int64, error) {
	wt, err := c.Receive(f.Name, "octet")
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", f.Name, err)
	}
	// Size must be read before WriteTo, which drops the negotiated options.
	var tsize int64
	var ok bool
	if it, isIT := wt.(tftp.IncomingTransfer); isIT {
		tsize, ok = it.Size()
	}
	w := &cutWriter{ctx: ctx, deadline: deadline, h: sha256.New()}
	_, err = wt.WriteTo(w)
	switch {
	case errors.Is(err, errCut):
		return w.n, errCut
	case err != nil:
		return w.n, fmt.Errorf("receive %s: %w", f.Name, err)
	case !ok || tsize != f.Size:
		return w.n, fmt.Errorf("receive %s: tsize %d (offered: %v), want %d", f.Name, tsize, ok, f.Size)
	case w.n != f.Size || [sha256.Size]byte(w.h.Sum(nil)) != f.Sum:
		return w.n, fmt.Errorf("receive %s: %d bytes with another sha256, want %d bytes", f.Name, w.n, f.Size)
	}
	return w.n, nil
}

// tftpProbe downloads f once with short timeouts, to see that a server is up.
func tftpProbe(addr string, f testFile) error {
	c, err := newTFTPClient(addr, 200*time.Millisecond, 1)
	if err != nil {
		return err
	}
	_, err = download(context.Background(), c, f, time.Now().Add(10*time.Second))
	return err
}
