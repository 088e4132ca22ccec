// Package tftpd is a read-only TFTP server engine: RFC 1350 with option
// negotiation (RFC 2347), blksize (RFC 2348), timeout and tsize (RFC 2349)
// and windowsize (RFC 7440).
//
// It knows nothing of files on disk, metrics or logs: a Handler opens the
// requested file and an observer callback receives a Result for every
// finished (or refused) transfer.
//
// Every transfer runs on its own UDP socket (a new transfer ID) bound to the
// local address the request was sent to, so replies come from the address
// the client talked to. When the listening socket is bound to a wildcard
// address, that address is read from IP_PKTINFO / IPV6_PKTINFO control
// messages. A transfer started while no more transfers run than there are
// processors (GOMAXPROCS) waits for its ACKs in recvfrom(2) on that socket,
// like tftpd-hpa's forked processes; the others wait in Go's network
// poller (see socket). An octet transfer reads its file about 32 KiB at a
// time.
//
// Behaviour worth knowing:
//   - Options: blksize is honoured from 8 up to Config.BlockSizeMax (larger
//     requests get the cap); tsize is answered with the file size — in
//     netascii mode the exact size after conversion, which costs one extra
//     pass over the file; timeout (1..255 s) replaces Config.Timeout for the
//     transfer; windowsize is capped at Config.WindowSizeMax. Unknown or
//     invalid options are ignored. If any option is accepted an OACK is sent
//     and ACK 0 awaited; otherwise DATA 1 is sent at once.
//   - Block numbers roll over from 65535 to 0.
//   - Retransmission is on timeout only, with exponential backoff: the
//     first wait is the client's timeout option or Config.Timeout, and it
//     doubles at every retransmission of the same packet (at most 1 min
//     unless the timeout is longer), so with the defaults a client is
//     given up 1+2+4+8+16+32 = 63 s after the packet was first sent, as
//     tftpd-hpa does. Without the timeout option the OACK is first
//     resent by the timer only after 11 s, past the two ACK 0 resends of a
//     client with the usual 5 s timeout, because a second OACK makes atftp
//     abort; a client that lost the OACK resends its RRQ and gets it then.
//     Duplicate or old ACKs are never answered with a resend (no
//     Sorcerer's Apprentice), but once the backoff has begun, an ACK of the
//     block before the window again cuts the current wait to one timeout:
//     the client is there and lost the data. tftp-hpa's client gives up
//     25 s after its last new block (tftp/main.c, rexmtval and
//     maxtimeout), so the 16 s and 32 s waits would outlast it, as
//     tftpd-hpa's backoff, the same, does (tftpd/tftpd.c). With
//     windowsize, an ACK inside the window restarts the window after it
//     (RFC 7440).
//   - A transfer given up after Config.Retries retransmissions ends
//     silently (no ERROR to a client that is not listening).
//   - A retransmitted RRQ from the same client address and port while its
//     transfer is running starts nothing; while the OACK is unacknowledged
//     it is answered with the OACK again, from the transfer's port (the
//     client did not get the first).
//   - Write requests get error 2; requests with a bad mode or an empty file
//     name get error 4; anything else that is not a request (truncated,
//     unterminated, unknown opcode, DATA/ACK/ERROR/OACK sent to the
//     listening port) is dropped without an answer. All of those except
//     write requests are counted by Server.Malformed.
//   - Packets to a transfer's port from any other address or port get
//     error 5 and are otherwise ignored.
package tftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one read request as received.
type Request struct {
	// Filename is the file name exactly as the client sent it.
	Filename string
	// Mode is the transfer mode, lowercased: "octet" or "netascii".
	Mode string
	// Remote is the client's address and port (its transfer ID).
	Remote *net.UDPAddr
	// Local is the address the request was sent to (the listener's port).
	// Its IP is unspecified when the destination address could not be
	// learned from the listening socket.
	Local *net.UDPAddr
	// Options are the options as requested, keys lowercased.
	Options map[string]string
}

// File is what a Handler opens: a consistent snapshot that can be read at
// any offset. The server reads it with ReadAt only (never reopens it) and
// closes it when the transfer ends.
type File interface {
	io.ReaderAt
	// Size is the length of the snapshot in bytes.
	Size() int64
	// Close releases the snapshot.
	Close() error
}

// Handler opens files for read requests. OpenRead is called on the
// transfer's goroutine, concurrently for different requests; ctx is
// cancelled when the server aborts the transfer.
//
// Errors that wrap ErrNotFound, ErrAccess or ErrBusy are sent to the client
// as TFTP error code 1 ("file not found"), 2 ("access violation") and 0
// ("server busy, try again"); any other error is sent as code 0 with the
// error's message.
type Handler interface {
	OpenRead(ctx context.Context, req Request) (File, error)
}

// Sentinel errors. Handlers wrap the first three; Results carry all of them.
var (
	// ErrNotFound makes the client see TFTP error 1, "file not found".
	ErrNotFound = errors.New("file not found")
	// ErrAccess makes the client see TFTP error 2, "access violation".
	ErrAccess = errors.New("access violation")
	// ErrBusy makes the client see TFTP error 0, "server busy, try again".
	// Results of requests refused because MaxTransfers was reached wrap it.
	ErrBusy = errors.New("server busy, try again")
	// ErrReadOnly is the Result error of a write request (WRQ). It wraps
	// ErrAccess; the client sees error 2.
	ErrReadOnly = fmt.Errorf("%w: this server is read-only", ErrAccess)
	// ErrTimeout is wrapped by the Result error of a transfer given up
	// because the client stopped answering (Result.TimedOut is then true).
	ErrTimeout = errors.New("client stopped answering")
	// ErrServerClosed is the Result error of a transfer aborted by Shutdown,
	// and what Serve returns when called after Shutdown.
	ErrServerClosed = errors.New("tftpd: server closed")
)

// RemoteError is the Result error of a transfer the client ended by sending
// an ERROR packet (for example code 8 when it refuses the negotiated
// options).
type RemoteError struct {
	Code    int    // TFTP error code the client sent
	Message string // its error message
}

// Error implements error.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("client sent error %d: %q", e.Code, e.Message)
}

// Defaults applied by New to zero Config fields.
const (
	// DefaultBlockSizeMax is 1500 (Ethernet MTU) - 20 (IPv4) - 8 (UDP) -
	// 4 (TFTP header): the largest block that is not fragmented on a plain
	// IPv4 Ethernet LAN. (Over IPv6 the unfragmented size would be 1448.)
	DefaultBlockSizeMax = 1468
	// DefaultTimeout is the first retransmission timeout when the client
	// does not send the timeout option; tftpd-hpa also starts at one
	// second and doubles it at every retransmission.
	DefaultTimeout = time.Second
	// DefaultRetries is how often one packet is resent before giving up:
	// with the doubling waits, 63 s after it was first sent.
	DefaultRetries = 5
	// DefaultMaxTransfers bounds concurrent transfers (each costs one
	// goroutine, one socket and a few KiB of buffers).
	DefaultMaxTransfers = 1000
	// DefaultWindowSizeMax caps the RFC 7440 window: 16 blocks of 1468
	// bytes are about 23 KiB in flight, well inside default socket buffers.
	DefaultWindowSizeMax = 16
)

// Config tunes a Server. The zero value of every field selects its default.
type Config struct {
	// BlockSizeMax caps the negotiated blksize (512..65464); a client asking
	// for more is answered with the cap. Default DefaultBlockSizeMax.
	BlockSizeMax int
	// Timeout is the first retransmission timeout when the client does not
	// send the timeout option (1ms..255s); it doubles at every
	// retransmission of the same packet. Default DefaultTimeout.
	Timeout time.Duration
	// Retries is how often one packet is retransmitted before the transfer
	// is given up (0 selects the default, so at least one retry is made);
	// the transfer ends one (doubled) wait after the last retransmission.
	// Default DefaultRetries.
	Retries int
	// MaxTransfers caps concurrent transfers; requests beyond it get error
	// code 0 "server busy, try again" and a Result wrapping ErrBusy.
	// Default DefaultMaxTransfers.
	MaxTransfers int
	// WindowSizeMax caps the RFC 7440 windowsize (1..65535); 1 disables the
	// option (it is then not acknowledged). Default DefaultWindowSizeMax.
	WindowSizeMax int
}

// withDefaults returns cfg with defaults filled in, or an error naming the
// first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.BlockSizeMax == 0 {
		cfg.BlockSizeMax = DefaultBlockSizeMax
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.MaxTransfers == 0 {
		cfg.MaxTransfers = DefaultMaxTransfers
	}
	if cfg.WindowSizeMax == 0 {
		cfg.WindowSizeMax = DefaultWindowSizeMax
	}
	switch {
	case cfg.BlockSizeMax < 512 || cfg.BlockSizeMax > maxBlockSize:
		return cfg, fmt.Errorf("tftpd: BlockSizeMax %d is outside 512..%d", cfg.BlockSizeMax, maxBlockSize)
	case cfg.Timeout < time.Millisecond || cfg.Timeout > 255*time.Second:
		return cfg, fmt.Errorf("tftpd: Timeout %s is outside 1ms..255s", cfg.Timeout)
	case cfg.Retries < 0:
		return cfg, fmt.Errorf("tftpd: Retries %d is negative", cfg.Retries)
	case cfg.MaxTransfers < 0:
		return cfg, fmt.Errorf("tftpd: MaxTransfers %d is negative", cfg.MaxTransfers)
	case cfg.WindowSizeMax < 1 || cfg.WindowSizeMax > 65535:
		return cfg, fmt.Errorf("tftpd: WindowSizeMax %d is outside 1..65535", cfg.WindowSizeMax)
	}
	return cfg, nil
}

// Result describes one finished transfer, or one refused request.
type Result struct {
	// Request is the request as received.
	Request Request
	// Bytes is the payload acknowledged by the client (after netascii
	// conversion in netascii mode).
	Bytes int64
	// BlockSize is the negotiated block size (512 without the option; 0
	// when no transfer started).
	BlockSize int
	// WindowSize is the negotiated window size (1 without the option; 0
	// when no transfer started).
	WindowSize int
	// Retransmits counts packets (DATA or OACK) sent more than once.
	Retransmits int
	// Duration is the time from receiving the request to the end.
	Duration time.Duration
	// Err is nil on success. It wraps ErrNotFound, ErrAccess, ErrBusy,
	// ErrReadOnly, ErrTimeout, ErrServerClosed or the handler's error, or
	// is a *RemoteError when the client ended the transfer.
	Err error
	// ErrorCode is the TFTP error code sent to the client, or -1 if none
	// was sent.
	ErrorCode int
	// TimedOut is true when the transfer was given up because the client
	// stopped acknowledging.
	TimedOut bool
}

// Server is a read-only TFTP server. Create it with New; it may Serve
// several listening sockets at once.
type Server struct {
	cfg     Config
	handler Handler
	observe func(Result)

	// directMax tells how many transfers may run for a new one to use its
	// socket directly rather than through the network poller (see socket):
	// the runtime's processors at the time, which the appliance sizes to
	// the load.
	directMax func() int

	malformed atomic.Uint64
	repeated  atomic.Uint64
	active    atomic.Int64

	// abortCtx is cancelled when Shutdown gives up waiting.
	abortCtx context.Context
	abortAll context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners map[*net.UDPConn]struct{}
	inflight  map[netip.AddrPort]*transfer // running transfers by client TID
	wg        sync.WaitGroup               // running transfers
}

// New returns a Server that opens files with h and reports every finished
// transfer (and every refused request) to observe, which may be nil. observe
// is called from many goroutines at once, including the receive loop, so it
// must be safe for concurrent use and return quickly.
func New(cfg Config, h Handler, observe func(Result)) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("tftpd: nil Handler")
	}
	if observe == nil {
		observe = func(Result) {}
	}
	abortCtx, abortAll := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		handler:   h,
		directMax: func() int { return runtime.GOMAXPROCS(0) },
		observe:   observe,
		abortCtx:  abortCtx,
		abortAll:  abortAll,
		listeners: make(map[*net.UDPConn]struct{}),
		inflight:  make(map[netip.AddrPort]*transfer),
	}, nil
}

// Active returns the number of transfers in progress.
func (s *Server) Active() int { return int(s.active.Load()) }

// Malformed returns how many packets were dropped (or answered with error
// code 4) because they could not be parsed or did not belong where they
// arrived: truncated or unterminated requests, unknown opcodes, DATA/ACK/
// ERROR/OACK sent to the listening port, bad modes, and garbage sent to a
// transfer's port by its client.
func (s *Server) Malformed() uint64 { return s.malformed.Load() }

// RepeatedRequests returns how many read requests repeated one already
// running from the same client port (a client that sent its request again
// before the first answer reached it). None starts a second transfer.
func (s *Server) RepeatedRequests() uint64 { return s.repeated.Load() }

// Shutdown stops the receive loops (Serve returns nil), lets running
// transfers finish until ctx is done, then aborts the rest (their clients
// get error code 0 "server shutting down") and waits for them to end. It
// returns ctx.Err() if it had to abort. Shutdown may be called more than
// once; after it, Serve returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for c := range s.listeners {
		_ = c.SetReadDeadline(time.Unix(1, 0)) // wake the receive loop
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.abortAll()
		<-done
		return ctx.Err()
	}
}
