package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/phoneprov/phoneprov/fileserve/tftpd/tftplab"
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

// clientLimit bounds one download by a client program: 4 MiB in 512-byte
// blocks is 8,192 round trips, which 100 clients at once on a busy
// machine get through in well under a minute.
const clientLimit = 2 * time.Minute

// clientLoad is a TFTP load made by real client programs, the ones the
// issue measured with: Clients at a time of Client (atftp asking for
// BlockSize, or tftp-hpa's tftp with its 512-byte blocks), each run over
// and over, downloading File from Addr into Dir, while Duration lasts.
type clientLoad struct {
	Addr      string
	File      testFile
	Dir       string
	Client    tftplab.Client
	BlockSize int // atftp only
	Clients   int
	Duration  time.Duration
}

// runClientLoad runs the load. Downloads started inside the window run to
// their end, and the window is stretched to the last end: throughput is
// the bytes of completed (checked) downloads over that time. CPU is that of
// the client processes (they are this process's children).
func runClientLoad(ctx context.Context, l clientLoad) (tftpResult, error) {
	server, err := netip.ParseAddrPort(l.Addr)
	if err != nil {
		return tftpResult{}, fmt.Errorf("tftp client load: %w", err)
	}
	if err := tftplab.Available(l.Client); err != nil {
		return tftpResult{}, err
	}
	cpu0, err := childrenCPU()
	if err != nil {
		return tftpResult{}, err
	}
	start := time.Now()
	deadline := start.Add(l.Duration)
	dl := tftplab.Download{Client: l.Client, BlockSize: l.BlockSize, File: l.File.Name, SHA256: l.File.Sum}
	var (
		mu  sync.Mutex
		res tftpResult
		wg  sync.WaitGroup
	)
	for i := range l.Clients {
		local := filepath.Join(l.Dir, fmt.Sprintf("%s-%d", l.Client, i))
		wg.Go(func() {
			var mine tftpResult
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if err := tftplab.Fetch(ctx, nil, server, dl, local, clientLimit); err != nil {
					mine.Failed++
					if mine.FirstErr == "" {
						mine.FirstErr = err.Error()
					}
					continue
				}
				mine.Completed++
				mine.Bytes += l.File.Size
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
		return tftpResult{}, fmt.Errorf("tftp client load on %s: %w", l.Addr, err)
	}
	res.Window = time.Since(start)
	cpu1, err := childrenCPU()
	if err != nil {
		return tftpResult{}, err
	}
	res.CPU = cpu1 - cpu0
	return res, nil
}

// childrenCPU returns the CPU time of this process's ended children.
func childrenCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
