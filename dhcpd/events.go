package dhcpd

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// LeaseEventKind is what happened to a lease. Its names (String) are the
// one vocabulary of lease events: logs, the inventory and the admin API
// all use them. They are Kea's: its hook points lease4_offer,
// lease4_release, lease4_decline and lease4_expire, and the DHCPACK that
// commits a lease.
type LeaseEventKind uint8

// The lease events.
const (
	// Offered: an address was offered (held in memory, nothing stored).
	Offered LeaseEventKind = iota + 1
	// Acked: a lease was granted or renewed and is on disk.
	Acked
	// Released: the client gave the address back.
	Released
	// Declined: the client found the address in use; it is on probation.
	Declined
	// Expired: the lease ran out.
	Expired
)

var eventNames = [...]string{"", "offer", "ack", "release", "decline", "expire"}

// String returns the event's name, like "ack".
func (k LeaseEventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return "unknown"
}

// LeaseEvent is one change of a lease, for the phone inventory and the
// admin listener.
type LeaseEvent struct {
	Kind LeaseEventKind
	Time time.Time
	// MAC is the client's hardware address; empty for an expired lease of
	// a declined address.
	MAC  net.HardwareAddr
	Addr netip.Addr
	// Subnet is the configured subnet of Addr.
	Subnet netip.Prefix
	// Class is the phone class that matched; empty for none.
	Class string
	// Hostname (option 12) and VendorClass (option 60) as the client sent
	// them, the vendor class without trailing NULs (DisplayVendorClass).
	Hostname    string
	VendorClass string
	// RequestedOptions is the client's parameter request list (option 55);
	// empty for events the server raises itself (expiry).
	RequestedOptions []byte
	// Expiry is when the lease ends; zero for releases.
	Expiry time.Time
}

// LeaseObserver receives every lease event. It is called on the DHCP
// worker that handled the packet, after the reply has been sent, so it
// must return quickly.
type LeaseObserver interface {
	ObserveLease(LeaseEvent)
}

// logEvent writes one line per lease event: offers at debug level (a storm
// would double the log), everything else at info.
func logEvent(ctx context.Context, log *slog.Logger, ev LeaseEvent) {
	level := eventLevel(ev.Kind)
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("event", ev.Kind.String()),
		slog.String("addr", ev.Addr.String()),
		slog.String("mac", ev.MAC.String()),
	}
	if ev.Class != "" {
		attrs = append(attrs, slog.String("class", ev.Class))
	}
	if ev.Hostname != "" {
		attrs = append(attrs, slog.String("hostname", ev.Hostname))
	}
	if ev.VendorClass != "" {
		attrs = append(attrs, slog.String("vendor_class", ev.VendorClass))
	}
	if !ev.Expiry.IsZero() && (ev.Kind == Acked || ev.Kind == Declined) {
		attrs = append(attrs, slog.Time("until", ev.Expiry))
	}
	log.LogAttrs(ctx, level, "dhcp lease", attrs...)
}

func eventLevel(k LeaseEventKind) slog.Level {
	if k == Offered {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
