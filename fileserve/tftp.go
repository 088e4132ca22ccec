package fileserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/fileserve/tftpd"
)

func tftpConfig(c TFTPConfig) tftpd.Config {
	return tftpd.Config{
		BlockSizeMax:  c.BlockSizeMax,
		WindowSizeMax: c.WindowSizeMax,
		Timeout:       c.Timeout,
		Retries:       c.Retries,
		MaxTransfers:  c.MaxTransfers,
	}
}

// tftpHandler resolves TFTP read requests through the namespace.
type tftpHandler struct {
	srv *Server
	// served remembers what each running transfer resolved to, by the
	// client's address and port (its transfer ID), for the access event.
	served sync.Map // string → served
}

type served struct {
	name   string
	source Source
	size   int64
	detail string
}

// tftpEntry gives an Entry the Size method tftpd.File wants, and ends
// the download's admission when tftpd closes it.
type tftpEntry struct {
	*Entry
	release func() // from the Admitter; may be nil
}

func (e tftpEntry) Size() int64 { return e.Entry.Size }

// Close closes the entry and releases its admission. tftpd closes a file
// once.
func (e tftpEntry) Close() error {
	if e.release != nil {
		defer e.release()
	}
	return e.Entry.Close()
}

func (h *tftpHandler) OpenRead(ctx context.Context, req tftpd.Request) (tftpd.File, error) {
	client := Client{Protocol: "tftp"}
	if ap := udpAddrPort(req.Remote); ap.IsValid() {
		client.Addr = ap.Addr()
	}
	if ap := udpAddrPort(req.Local); ap.IsValid() && !ap.Addr().IsUnspecified() {
		client.Local = ap.Addr()
	}
	key := req.Remote.String()
	e, err := h.srv.state.Load().ns.Open(ctx, req.Filename, client)
	if err != nil {
		h.served.Store(key, served{detail: h.srv.openFailed(err)})
		var refused *RefusedError
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("%s: %w", req.Filename, tftpd.ErrNotFound)
		case errors.As(err, &refused):
			return nil, fmt.Errorf("%s: %w", req.Filename, tftpd.ErrAccess)
		}
		return nil, err
	}
	release, _, ok := h.srv.admit(e.Name, client)
	if !ok {
		e.Close()
		h.served.Store(key, served{name: e.Name, source: e.Source, size: e.Size, detail: refusedBusy})
		return nil, fmt.Errorf("%s: %w", req.Filename, tftpd.ErrBusy)
	}
	h.served.Store(key, served{name: e.Name, source: e.Source, size: e.Size})
	return tftpEntry{Entry: e, release: release}, nil
}

func udpAddrPort(a *net.UDPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// tftpStatus maps a TFTP outcome to the HTTP status numbers every access
// event uses: 200 sent, 404 not found, 403 refused or a write request,
// 503 busy, 408 the client stopped answering, 499 the client ended it,
// 500 anything else.
func tftpStatus(r tftpd.Result) int {
	var remote *tftpd.RemoteError
	switch {
	case r.Err == nil:
		return http.StatusOK
	case r.TimedOut || errors.Is(r.Err, tftpd.ErrTimeout):
		return http.StatusRequestTimeout
	case errors.Is(r.Err, tftpd.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(r.Err, tftpd.ErrAccess):
		return http.StatusForbidden
	case errors.Is(r.Err, tftpd.ErrBusy):
		return http.StatusServiceUnavailable
	case errors.As(r.Err, &remote):
		return 499
	}
	return http.StatusInternalServerError
}

// tftpFinished turns a tftpd Result into an access event.
func (s *Server) tftpFinished(r tftpd.Result) {
	ev := AccessEvent{
		Time:     time.Now().Add(-r.Duration),
		Protocol: "tftp",
		Client:   udpAddrPort(r.Request.Remote),
		Name:     r.Request.Filename,
		Status:   tftpStatus(r),
		Bytes:    r.Bytes,
		Duration: r.Duration,
	}
	if r.Request.Remote != nil {
		if v, ok := s.tftp.handler.served.LoadAndDelete(r.Request.Remote.String()); ok {
			sv := v.(served)
			ev.Resolved, ev.Source, ev.Size, ev.Detail = sv.name, sv.source, sv.size, sv.detail
		}
	}
	if r.Err != nil && ev.Detail == "" {
		ev.Detail = r.Err.Error()
	}
	if r.BlockSize > 0 {
		ev.Detail = fmt.Sprintf("%sblksize=%d windowsize=%d retransmits=%d", prefixed(ev.Detail), r.BlockSize, r.WindowSize, r.Retransmits)
	}
	s.metrics.tftpRetransmits.Add(float64(r.Retransmits))
	if r.TimedOut {
		s.metrics.tftpTimeouts.Inc()
	}
	s.finish(context.Background(), &ev)
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return s + "; "
}

// tftpCounter reads one of the TFTP engine's counters for a metric; 0
// while TFTP is off.
func (s *Server) tftpCounter(read func(*tftpd.Server) uint64) func() float64 {
	return func() float64 {
		if s.tftp == nil {
			return 0
		}
		return float64(read(s.tftp.server))
	}
}
