package fileserve

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// AccessEvent is one finished request on any protocol.
type AccessEvent struct {
	Time      time.Time
	Protocol  string // "http", "https" or "tftp"
	Client    netip.AddrPort
	Name      string // as the client asked for it
	Resolved  string // the name served; empty when nothing was
	Source    Source // where the content came from; empty when nothing was served
	Status    int    // HTTP status; TFTP outcomes use the same numbers (see tftpStatus)
	Bytes     int64  // body bytes sent
	Size      int64  // size of what was served (a whole transfer sends Size bytes, a range less)
	Duration  time.Duration
	UserAgent string // HTTP only
	Detail    string // why it failed, or protocol particulars
}

// AccessObserver receives every finished request. It is called on the
// serving goroutine, so it must return quickly.
type AccessObserver interface {
	ObserveAccess(AccessEvent)
}

// logAccess writes the event as one structured log line.
func logAccess(ctx context.Context, log *slog.Logger, ev *AccessEvent) {
	level := slog.LevelInfo
	if ev.Status >= 500 {
		level = slog.LevelWarn
	}
	if !log.Enabled(ctx, level) {
		return // spare the attributes' formatting
	}
	attrs := []slog.Attr{
		slog.String("proto", ev.Protocol),
		slog.String("client", ev.Client.String()),
		slog.String("name", ev.Name),
		slog.Int("status", ev.Status),
		slog.Int64("bytes", ev.Bytes),
		slog.Duration("duration", ev.Duration),
	}
	if ev.Source != "" {
		attrs = append(attrs, slog.String("source", string(ev.Source)))
	}
	if ev.Resolved != "" && ev.Resolved != strings.TrimLeft(ev.Name, "/") {
		attrs = append(attrs, slog.String("served", ev.Resolved))
	}
	if ev.UserAgent != "" {
		attrs = append(attrs, slog.String("user_agent", ev.UserAgent))
	}
	if ev.Detail != "" {
		attrs = append(attrs, slog.String("detail", ev.Detail))
	}
	log.LogAttrs(ctx, level, "access", attrs...)
}
